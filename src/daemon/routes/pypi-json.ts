/** The PyPI JSON API: `/pypi/<project>/json` and `/pypi/<project>/<version>/json`. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { normalizeName } from '../../shared/names.js';
import { NotFound } from '../errors.js';
import { sendPage } from './respond.js';
import { baseUrlOf } from './base-url.js';

export default async function pypiJsonRoutes(app: FastifyInstance, opts: { publicUrl?: string }): Promise<void> {
  const answer = async (req: FastifyRequest, reply: FastifyReply, project: string, version: string | undefined, tail: string) => {
    const normalized = normalizeName(project);
    if (normalized !== project) {
      const path = `/pypi/${encodeURIComponent(normalized)}/${version !== undefined ? `${encodeURIComponent(version)}/` : ''}${tail}`;
      return reply.code(301).header('location', path).send();
    }
    const page = await app.reader.pypiJson(normalized, version, baseUrlOf(req, opts.publicUrl));
    if (!page) {
      throw new NotFound(
        version === undefined ? `No project named '${project}' on this index.` : `Project '${project}' has no release '${version}'.`,
      );
    }
    return sendPage(req, reply, page, 'application/json');
  };
  for (const tail of ['json', 'json/']) {
    app.get<{ Params: { project: string } }>(`/pypi/:project/${tail}`, (req, reply) =>
      answer(req, reply, req.params.project, undefined, tail),
    );
    app.get<{ Params: { project: string; version: string } }>(`/pypi/:project/:version/${tail}`, (req, reply) =>
      answer(req, reply, req.params.project, req.params.version, tail),
    );
  }
}
