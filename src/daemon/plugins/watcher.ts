/**
 * Keeps the catalog in step with the packages folder: one reconcile when the server is
 * ready (in the background, so health answers at once from the existing catalog),
 * then chokidar events for files copied in or deleted while running.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { basename } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { hasDistExtension } from '../../shared/distfiles.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Settles when the first reconcile with the folder is done. */
    initialIndexing: Promise<void>;
  }
}

export interface WatcherPluginOptions {
  /** Watch the folder after the first reconcile. */
  watch: boolean;
}

async function watcherPlugin(app: FastifyInstance, opts: WatcherPluginOptions): Promise<void> {
  const index = app.index;
  let watcher: FSWatcher | undefined;
  let closing = false;
  let resolveIndexing: () => void = () => undefined;
  app.decorate(
    'initialIndexing',
    new Promise<void>((resolve) => {
      resolveIndexing = resolve;
    }),
  );

  /** Starts chokidar and resolves once it watches every folder (so no change can slip by). */
  const startWatching = () =>
    new Promise<void>((resolve) => {
      const dir = index.storage.dir;
      watcher = watch(dir, {
        ignoreInitial: true,
        // Hidden entries include pyrepo's own temporary upload files.
        ignored: (path, stats) => basename(path).startsWith('.') || (stats?.isFile() === true && !hasDistExtension(path)),
        // A file being copied in is indexed once its size stops changing.
        awaitWriteFinish: { stabilityThreshold: 250, pollInterval: 50 },
      });
      const onFile = (path: string) => {
        const relpath = index.storage.relpathOf(path);
        index
          .indexFolderFile({ relpath, filename: basename(path), size: 0, mtimeMs: 0 }, 'folder')
          .catch((err: unknown) => app.log.error({ err }, `Could not index '${relpath}'`));
      };
      watcher.on('add', onFile);
      watcher.on('change', onFile);
      watcher.on('unlink', (path) => index.forgetFolderFile(index.storage.relpathOf(path)));
      watcher.on('error', (err) => app.log.error({ err }, 'Watching the packages folder failed'));
      watcher.once('ready', () => resolve());
    });

  app.addHook('onReady', async () => {
    // In the background: health answers at once from the catalog as it is. The watcher
    // starts first, so a file that arrives during the scan is caught by one or the other.
    index.indexing = true;
    void (async () => {
      try {
        if (opts.watch) await startWatching();
        if (closing) return;
        const started = Date.now();
        const r = await index.reconcile();
        app.log.info(
          `Packages folder indexed in ${Date.now() - started} ms: ${r.indexed} new or changed, ${r.removed} gone, ${r.unchanged} unchanged.`,
        );
      } catch (err) {
        app.log.error({ err }, 'Indexing the packages folder failed');
      } finally {
        index.indexing = false;
        resolveIndexing();
      }
    })();
  });

  app.addHook('preClose', async () => {
    closing = true;
    await watcher?.close();
  });
}

export default fp(watcherPlugin, { name: 'pyrepo-watcher', dependencies: ['pyrepo-index'] });
