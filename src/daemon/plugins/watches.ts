/**
 * Auto-publish as a plugin: the watched build folders (services/watches.ts), started once
 * the server is ready and closed before it stops. Routes reach it as `app.watches`.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { AuthAction } from '../../shared/settings.js';
import { WatchService } from '../services/watches.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The build folders the daemon watches to publish from (`pyrepo watch`). */
    watches: WatchService;
  }
}

export interface WatchesPluginOptions {
  dataDir: string;
  packagesDir: string;
  /** What needs credentials: when uploads do, a watch's user's ownership rules apply. */
  authenticate: AuthAction[];
  /** Settle interval of the folder watchers (tests shorten it). */
  settleMs?: number;
}

async function watchesPlugin(app: FastifyInstance, opts: WatchesPluginOptions): Promise<void> {
  const service = new WatchService({
    dataDir: opts.dataDir,
    packagesDir: opts.packagesDir,
    publisher: app.index.publisher,
    identities: app.identities,
    events: app.events,
    log: app.log,
    uploadsNeedCredentials: opts.authenticate.includes('upload'),
    ...(opts.settleMs !== undefined ? { settleMs: opts.settleMs } : {}),
  });
  app.decorate('watches', service);
  app.addHook('onReady', async () => {
    // In the background: the index answers at once; a folder full of builds is published meanwhile.
    service.start().catch((err: unknown) => app.log.error({ err }, 'Starting the watched build folders failed'));
  });
  app.addHook('preClose', async () => {
    await service.close();
  });
}

export default fp(watchesPlugin, { name: 'pyrepo-watches', dependencies: ['pyrepo-index', 'pyrepo-auth'] });
