/**
 * The index's services as one fastify plugin: the catalog (closed on shutdown, with
 * download counts flushed every second), the packages folder, the event bus and the
 * index service, decorated onto the instance for routes to use.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { Catalog } from '../services/catalog.js';
import { EventBus } from '../services/events.js';
import { IndexService } from '../services/index-service.js';
import { PackageStorage } from '../services/storage.js';

declare module 'fastify' {
  interface FastifyInstance {
    index: IndexService;
    events: EventBus;
  }
}

export interface IndexPluginOptions {
  catalogFile: string;
  packagesDir: string;
  overwrite: boolean;
}

async function indexPlugin(app: FastifyInstance, opts: IndexPluginOptions): Promise<void> {
  const storage = new PackageStorage(opts.packagesDir);
  const removed = await storage.prepare();
  if (removed.length > 0) app.log.info(`Removed ${removed.length} unfinished upload(s) left by an earlier stop.`);
  const catalog = new Catalog(opts.catalogFile);
  const events = new EventBus();
  const index = new IndexService({ catalog, storage, events, log: app.log, overwrite: opts.overwrite });
  app.decorate('index', index);
  app.decorate('events', events);
  const flush = setInterval(() => {
    try {
      catalog.flushDownloads();
    } catch (err) {
      app.log.error({ err }, 'Could not write download counts');
    }
  }, 1000);
  flush.unref();
  app.addHook('onClose', async () => {
    clearInterval(flush);
    catalog.close();
    await storage.close();
  });
}

export default fp(indexPlugin, { name: 'pyrepo-index' });
