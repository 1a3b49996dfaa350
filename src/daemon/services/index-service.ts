/**
 * The index, put together: its reader (index-reader.ts: pages, details, files to serve,
 * download counts) and its publisher (publisher.ts: every change, from uploads, watched
 * build folders, the packages folder and the control API), over the catalog and the blob
 * store of this machine: the embedded catalog and the packages folder (in the shared mode,
 * this daemon's copy of the shared ones). Routes see only the reader and the publisher;
 * the daemon's plugins (the folder watcher, the shared mode's follower) reach the two
 * stores through this.
 */
import type { FastifyBaseLogger } from 'fastify';
import { stampOf } from './catalog.js';
import type { EventBus } from './events.js';
import { IndexReader } from './index-reader.js';
import { Publisher } from './publisher.js';
import { ReadAhead } from './read-ahead.js';
import type { FoundFile } from './storage.js';
import type { PageFile } from './page-file.js';
import type { IndexPrimary } from './shared-index.js';
import type { LocalCatalog } from '../stores/local-catalog.js';
import type { FolderBlobs } from '../stores/folder-blobs.js';
import { ProcessLocks } from '../stores/locks.js';
import { takeTurns } from './turns.js';

export interface IndexServiceOptions {
  catalog: LocalCatalog;
  blobs: FolderBlobs;
  events: EventBus;
  log: FastifyBaseLogger;
  overwrite: boolean;
  /** How long downloads are gathered into one event (DOWNLOAD_BATCH_MS). */
  downloadBatchMs?: number;
  /** The shared catalog (shared mode): changes are made there first, then to this daemon's copy. */
  primary?: IndexPrimary;
  /** Where rendered pages are kept (default: in memory). */
  pageFile?: PageFile;
}

export class IndexService {
  readonly catalog: LocalCatalog;
  readonly blobs: FolderBlobs;
  readonly reader: IndexReader;
  /** The one way files enter the index and every change is made. */
  readonly publisher: Publisher;
  private readonly log: FastifyBaseLogger;

  constructor(opts: IndexServiceOptions) {
    this.catalog = opts.catalog;
    this.blobs = opts.blobs;
    this.log = opts.log;
    this.reader = new IndexReader({
      catalog: opts.catalog,
      blobs: opts.blobs,
      snapshot: (path) => opts.catalog.snapshot(path),
      events: opts.events,
      primary: opts.primary,
      ...(opts.pageFile ? { pageFile: opts.pageFile } : {}),
      ...(opts.downloadBatchMs !== undefined ? { downloadBatchMs: opts.downloadBatchMs } : {}),
    });
    this.publisher = new Publisher({
      catalog: opts.catalog,
      blobs: opts.blobs,
      events: opts.events,
      log: opts.log,
      overwrite: opts.overwrite,
      locks: new ProcessLocks(),
      changed: (project) => this.reader.changed(project),
      primary: opts.primary,
    });
  }

  /** True while the first reconcile with the folder (or the shared catalog) runs. */
  get indexing(): boolean {
    return this.reader.indexing;
  }
  set indexing(on: boolean) {
    this.reader.indexing = on;
  }

  /** A project's pages must be rendered again (the shared mode's follower changed it). */
  changed(project: string): void {
    this.reader.changed(project);
  }

  /**
   * Brings the catalog in line with the folder: new and changed files are indexed,
   * vanished ones forgotten. Reads keep being served from the catalog meanwhile.
   */
  async reconcile(concurrency = 8, beforeReading?: (dir: string) => void): Promise<{ indexed: number; removed: number; unchanged: number; leftovers: number; readAhead: boolean }> {
    this.indexing = true;
    this.publisher.beginBatch();
    try {
      // What is left in `known` after the scan is gone from the folder.
      const known = await this.catalog.fileStamps();
      const { files: found, leftovers } = await this.blobs.scan(beforeReading ? { beforeReading } : {});
      const todo: FoundFile[] = [];
      for (const f of found) {
        if (known.get(f.relpath) !== stampOf(f.size, f.mtimeMs)) todo.push(f);
        known.delete(f.relpath);
      }
      const removed = known.size;
      for (const relpath of known.keys()) await this.publisher.forgetFolderPath(relpath);
      let indexed = 0;
      let next = 0;
      // Each is read on the event loop: from a cold disk, read ahead in the thread pool.
      const readAhead = new ReadAhead(todo.length, (i) => this.blobs.pathOf((todo[i] as FoundFile).relpath));
      // Small files are read and inspected without a trip through the thread pool, so the
      // workers could keep the event loop to themselves: requests get their turn every few ms.
      const turn = takeTurns();
      const worker = async () => {
        while (next < todo.length) {
          await turn();
          if (next >= todo.length) break;
          const f = todo[next++] as FoundFile;
          readAhead.reach(next - 1);
          try {
            if (await this.publisher.adopt(f.relpath, 'reconcile')) indexed += 1;
          } catch (err) {
            this.log.error({ err }, `Could not index '${f.relpath}'`);
          }
        }
      };
      try {
        await Promise.all(Array.from({ length: concurrency }, worker));
      } finally {
        readAhead.stop();
      }
      return { indexed, removed, unchanged: found.length - todo.length, leftovers: leftovers.length, readAhead: readAhead.readingAhead };
    } finally {
      await this.publisher.endBatch();
      this.indexing = false;
    }
  }
}
