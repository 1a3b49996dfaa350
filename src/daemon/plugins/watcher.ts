/**
 * Keeps the catalog in step with the packages folder: one reconcile when the server is
 * ready (in the background, so health answers at once from the existing catalog),
 * and a folder watcher for files copied in or deleted while running.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { FolderWatcher } from '../services/folder-watcher.js';
import { hasDistExtension } from '../../shared/distfiles.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Settles when the first reconcile with the folder is done. */
    initialIndexing: Promise<void>;
  }
}

export interface WatcherPluginOptions {
  /** Watch the folder for files added or removed while running. */
  watch: boolean;
  /**
   * Start the first reconcile once the server listens rather than once it is ready: the
   * catalog as it is then answers the first requests while the folder is compared with it
   * (reading the catalog's 60,000 stamps alone takes a noticeable moment). Without a
   * listen (app.inject()) it starts at ready.
   */
  afterListen?: boolean;
}

async function watcherPlugin(app: FastifyInstance, opts: WatcherPluginOptions): Promise<void> {
  const index = app.index;
  let watcher: FolderWatcher | undefined;
  let closing = false;
  let resolveIndexing: () => void = () => undefined;
  app.decorate(
    'initialIndexing',
    new Promise<void>((resolve) => {
      resolveIndexing = resolve;
    }),
  );

  const startWatching = () => {
    watcher = new FolderWatcher(index.blobs.dir, {
      file: (relpath) => {
        if (!hasDistExtension(relpath)) return;
        index.publisher
          .adopt(relpath, 'folder')
          .catch((err: unknown) => app.log.error({ err }, `Could not index '${relpath}'`));
      },
      gone: (relpath) => {
        index.publisher.forgetFolderPath(relpath).catch((err: unknown) => app.log.error({ err }, `Could not forget '${relpath}'`));
      },
      error: (err, relpath) => app.log.error({ err }, `Watching '${relpath || '.'}' in the packages folder failed`),
    });
    return watcher;
  };

  const indexInBackground = () => {
    const shared = app.shared;
    if (shared) {
      // The shared mode: the packages folder is this daemon's copy of the bucket, kept by
      // following the shared catalog (in the background, like the reconcile below).
      void (async () => {
        try {
          const started = Date.now();
          await shared.attach({ catalog: index.catalog, blobs: index.blobs, events: app.events, changed: (project) => index.changed(project) });
          app.log.info(`Caught up with the shared catalog ${shared.where.catalog} in ${Date.now() - started} ms.`);
        } catch (err) {
          app.log.error({ err }, 'Catching up with the shared catalog failed; it is tried again at its next change');
        } finally {
          index.indexing = false;
          resolveIndexing();
        }
      })();
      return;
    }
    // In the background: health answers at once from the catalog as it is.
    void (async () => {
      try {
        // The scan lists each folder once: the watcher starts on each just before, so a file
        // that arrives meanwhile is caught by one or the other.
        const watching = opts.watch ? startWatching() : undefined;
        if (closing) return;
        const started = Date.now();
        const r = await index.reconcile(undefined, watching && ((dir) => watching.watchFolder(dir)));
        if (r.leftovers > 0) app.log.info(`Removed ${r.leftovers} unfinished upload(s) left by an earlier stop.`);
        app.log.info(
          `Packages folder indexed in ${Date.now() - started} ms: ${r.indexed} new or changed, ${r.removed} gone, ${r.unchanged} unchanged${r.readAhead ? ' (read ahead: the disk was cold)' : ''}.`,
        );
      } catch (err) {
        app.log.error({ err }, 'Indexing the packages folder failed');
      } finally {
        index.indexing = false;
        resolveIndexing();
      }
    })();
  };

  app.addHook('onReady', async () => {
    index.indexing = true;
    if (!opts.afterListen) indexInBackground();
  });
  if (opts.afterListen) app.addHook('onListen', async () => indexInBackground());

  app.addHook('preClose', async () => {
    closing = true;
    watcher?.close();
  });
}

export default fp(watcherPlugin, { name: 'pyrepo-watcher', dependencies: ['pyrepo-index'] });
