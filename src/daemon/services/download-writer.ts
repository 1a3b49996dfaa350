/**
 * Writes download counts into the catalog from a worker thread, so that a storm of
 * downloads never waits for SQLite: at a few thousand downloads a second of different
 * files, a second's counts took 50-200 ms to write, and the event loop stood still for it
 * (the p99 latency of every request). The worker has its own connection (WAL lets the
 * daemon keep reading meanwhile) and writes each batch in its own short transaction.
 *
 * Every batch has an id, and the catalog's meta row `downloads-batch` records the last
 * one written, in the same transaction as its counts. So a batch is written once whoever
 * writes it (the worker, or the catalog itself when it closes or is copied), readers know
 * which counts the database already has, and a crash loses at most the batches in memory.
 *
 * What a batch costs is the pages it rewrites. Its rows come in file-number order, which is
 * nearly filename order (PendingDownloads), into a table kept in that order (schema 4): under
 * random downloads of 60,000 files a 500-row batch rewrites a few dozen neighbouring pages,
 * where in random order into a table by rowid it rewrote about 500 (4 KiB each into the WAL,
 * then the checkpoint). The writer took a quarter of a core at 17,000 downloads a second
 * then, and a fifteenth since: the core the daemon's own thread and the clients share.
 *
 * The thread is the largest part of what downloads add to the daemon's memory, and it stays.
 * Measured under random downloads of 60,000 files (10 s, 32 connections, three runs each):
 * the daemon's peak was 136-138 MB, 125-127 MB with the batches made but not written (no
 * thread: its own V8 heap is about 7 MB, most of it Node's start-up in the thread), and no
 * higher than the restart's own peak with nothing counted. Writing the batches on the
 * daemon's thread instead, 100 rows a turn of the event loop, saved those 10 MB but cost 12%
 * of the downloads' throughput (slower in 7 of 7 alternated rounds) and 2.5 ms of their p99.
 */
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import type { Database as DB } from 'better-sqlite3';
import { startThread, WORKER_YOUNG_GENERATION_MB } from '../../shared/heap-limits.js';

/** One row of a batch: filename, UTC day, installer, CI (1 or 0), count. */
export type DownloadRow = [filename: string, day: string, installer: string, ci: 0 | 1, count: number];

/** The catalog's meta key of the last batch written. */
export const WRITTEN_BATCH_KEY = 'downloads-batch';

/**
 * Writes batch `id` unless it (or a later one) already is; true when it wrote. It uses
 * nothing but its arguments: its source is also the worker's.
 */
export function writeDownloadBatch(db: DB, id: number, rows: DownloadRow[]): boolean {
  const apply = db.transaction(() => {
    const written = db.prepare("SELECT value FROM meta WHERE key = 'downloads-batch'").pluck().get() as string | undefined;
    if (written !== undefined && Number(written) >= id) return false;
    // Counts of a file deleted meanwhile are dropped here. Positional parameters: binding an
    // object's five named ones cost 0.7 of a row's 4.9 µs (random files of 60,000, 500 a batch).
    const add = db.prepare(`INSERT INTO downloads (filename, day, installer, ci, count) SELECT ?, ?, ?, ?, ?
      WHERE EXISTS (SELECT 1 FROM files WHERE filename = ?)
      ON CONFLICT (filename, day, installer, ci) DO UPDATE SET count = count + excluded.count`);
    for (const [filename, day, installer, ci, count] of rows) add.run(filename, day, installer, ci, count, filename);
    db.prepare("INSERT INTO meta (key, value) VALUES ('downloads-batch', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(id));
    return true;
  });
  return apply.immediate();
}

/** What the worker answers for each batch. */
type WorkerReply = { written: number } | { failed: number; message: string };

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const db = new Database(workerData.file, { timeout: 10000 });
db.pragma('synchronous = NORMAL');
// The batch checks that each file still exists (in its transaction); the foreign-key check would look it up twice.
db.pragma('foreign_keys = OFF');
// 2 MB: batches touch few pages, and what the cache misses the OS page cache holds.
db.pragma('cache_size = -2000');
const writeDownloadBatch = ${writeDownloadBatch.toString()};
parentPort.on('message', ({ id, rows }) => {
  try {
    writeDownloadBatch(db, id, rows);
    parentPort.postMessage({ written: id });
  } catch (err) {
    parentPort.postMessage({ failed: id, message: String(err && err.message || err) });
  }
});
`;

/** The worker, started at the first batch; `onWritten` and `onFailed` run on the daemon's thread. */
export class DownloadWriter {
  private worker: Worker | undefined;

  constructor(
    private readonly file: string,
    private readonly onWritten: (id: number) => void,
    private readonly onFailed: (id: number, message: string) => void,
  ) {}

  post(id: number, rows: DownloadRow[]): void {
    if (!this.worker) {
      const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
      const worker = startThread(WORKER_SOURCE, { eval: true, workerData: { file: this.file, sqlite }, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
      worker.on('message', (reply: WorkerReply) => ('written' in reply ? this.onWritten(reply.written) : this.onFailed(reply.failed, reply.message)));
      worker.on('error', (err) => this.onFailed(-1, err.message));
      // Never the reason the process stays alive: the catalog writes what is left when it closes.
      worker.unref();
      this.worker = worker;
    }
    this.worker.postMessage({ id, rows });
  }

  /** Stops the worker; a batch it was writing is rolled back, or done: either way the id says. */
  stop(): void {
    void this.worker?.terminate();
    this.worker = undefined;
  }
}
