/**
 * MicroPython boards' view of the index (services/board-index.ts) as a fastify plugin:
 * the board cache is read once the server is ready, and what was derived from a
 * distribution is dropped when that file is replaced or leaves the index.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { BoardIndex } from '../services/board-index.js';

declare module 'fastify' {
  interface FastifyInstance {
    boards: BoardIndex;
  }
}

export interface BoardsPluginOptions {
  /** Folder of the board cache, inside the data folder. */
  cacheDir: string;
}

async function boardsPlugin(app: FastifyInstance, opts: BoardsPluginOptions): Promise<void> {
  const boards = new BoardIndex({ reader: app.reader, cacheDir: opts.cacheDir, log: app.log });
  app.decorate('boards', boards);
  const unsubscribe = app.events.subscribe((event) => {
    if ((event.type !== 'upload' && event.type !== 'delete') || !boards.concerns(event.filename)) return;
    boards.fileChanged(event.filename).catch((err: unknown) => app.log.error({ err }, `Could not update the board cache for ${event.filename}`));
  });
  app.addHook('onReady', async () => {
    // In the background, like the folder scan: requests for boards wait for it, nothing else does.
    void boards.load();
  });
  app.addHook('onClose', async () => unsubscribe());
}

export default fp(boardsPlugin, { name: 'pyrepo-boards', dependencies: ['pyrepo-index'] });
