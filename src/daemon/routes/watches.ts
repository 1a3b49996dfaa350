/** `/-/api/watches`: the build folders the daemon publishes from (`pyrepo watch`); schemas in src/shared/api.ts. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  ControlRoutes,
  WatchListSchema,
  WatchParamsSchema,
  WatchRegistrationSchema,
  WatchRemovalSchema,
  WatchRequestSchema,
} from '../../shared/api.js';
import { BadRequest } from '../errors.js';

export default async function watchRoutes(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get(ControlRoutes.watches, { schema: { response: { 200: WatchListSchema } } }, () => ({ watches: app.watches.list() }));

  // The control API takes the admin's password: the admin registers, and builds are
  // published as the admin or as the user named in `as`.
  api.post(ControlRoutes.watches, { schema: { body: WatchRequestSchema, response: { 200: WatchRegistrationSchema } } }, async (req) => {
    const caller = app.actorOf(req).user;
    if (!caller) throw new BadRequest('Registering a watched folder needs the admin identity.');
    return app.watches.register(req.body, caller);
  });

  api.delete(ControlRoutes.watch, { schema: { params: WatchParamsSchema, response: { 200: WatchRemovalSchema } } }, async (req) => ({
    removed: await app.watches.remove(req.params.id),
  }));
}
