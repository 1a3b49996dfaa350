/**
 * The upstream proxy as a fastify plugin: `app.upstream` is the proxy when the settings
 * name an upstream, undefined otherwise (the routes then answer as they always did).
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { UpstreamConfig } from '../../shared/upstream-config.js';
import type { UpstreamProxy } from '../services/upstream/proxy.js';

declare module 'fastify' {
  interface FastifyInstance {
    upstream: UpstreamProxy | undefined;
  }
}

export interface UpstreamPluginOptions {
  /** Undefined: no upstream. */
  config: UpstreamConfig | undefined;
  /** `<data>/upstream`. */
  dir: string;
  /** How long a connection, headers or a pause in a body may take (default 5 s; tests shorten it). */
  timeoutMs?: number;
}

async function upstreamPlugin(app: FastifyInstance, opts: UpstreamPluginOptions): Promise<void> {
  if (!opts.config) {
    app.decorate('upstream', undefined);
    return;
  }
  // Loaded only when an upstream is set: its HTTP client (undici) is a third of the daemon's
  // code, and a daemon without an upstream (the default) never runs it.
  const { UpstreamProxy } = await import('../services/upstream/proxy.js');
  const proxy = new UpstreamProxy({
    config: opts.config,
    dir: opts.dir,
    catalog: app.index.catalog,
    log: app.log,
    // Read at request time: the watcher plugin, registered later, decorates initialIndexing.
    indexing: () => (app.index.indexing ? app.initialIndexing : undefined),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
  });
  await proxy.open();
  app.decorate('upstream', proxy);
  app.log.info(`Projects not on this index come from ${opts.config.url} (private names never do).`);
  app.addHook('onClose', () => proxy.close());
}

export default fp(upstreamPlugin, { name: 'pyrepo-upstream', dependencies: ['pyrepo-index'] });
