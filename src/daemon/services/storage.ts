/**
 * The packages folder: plain distribution files, flat or in subfolders (a pypiserver
 * folder works as it is). New files are written to a temporary file in the same folder,
 * fsynced, then renamed into place, so a crash leaves either no file or a whole one.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fstatSync, fsync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, rm, unlink, type FileHandle } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { hasDistExtension } from '../../shared/distfiles.js';

/** Temporary upload files start with this; they are hidden (dot) and removed at start. */
export const TEMP_PREFIX = '.pyrepo-upload-';

/** An upload being written: hidden in the packages folder until it is renamed into place. */
export interface TempFile {
  path: string;
  /** Open while a streamed upload is written. */
  handle?: FileHandle;
  /** Open while a small upload written from memory awaits its fsync. */
  fd?: number;
  /** Set once the file has been renamed into place. */
  committed?: boolean;
}

/** Files stat'ed between two turns of the event loop while the folder is scanned (about a millisecond). */
const STATS_PER_TURN = 500;

/** A distribution file found in the folder. */
export interface FoundFile {
  relpath: string;
  filename: string;
  size: number;
  mtimeMs: number;
}

/** What a scan of the folder found, and the unfinished uploads of earlier runs it removed. */
export interface ScanResult {
  files: FoundFile[];
  leftovers: string[];
}

export class PackageStorage {
  /** Temporary names: unique per process run, then a counter (no entropy needed per upload). */
  private readonly tempStem = `${process.pid}-${randomBytes(6).toString('hex')}`;
  private tempCount = 0;
  private dirHandle: Promise<FileHandle> | undefined;
  /** The folder fsync running now, and the one that waits for it (see syncDir). */
  private dirSyncRunning: Promise<void> | undefined;
  private dirSyncNext: Promise<void> | undefined;

  /** The folder's path with its separator, for {@link pathOf}. */
  private readonly dirPrefix: string;

  constructor(readonly dir: string) {
    this.dirPrefix = join(dir, 'x').slice(0, -1);
  }

  /** Creates the folder if needed; the first {@link scan} removes what a crash left. */
  async create(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  /** Creates the folder if needed and removes temporary files left by a crash. */
  async prepare(): Promise<string[]> {
    await this.create();
    const removed: string[] = [];
    for (const name of await readdir(this.dir)) {
      if (name.startsWith(TEMP_PREFIX)) {
        await rm(join(this.dir, name), { force: true });
        removed.push(name);
      }
    }
    return removed;
  }

  private nextTempPath(): string {
    return join(this.dir, `${TEMP_PREFIX}${this.tempStem}-${++this.tempCount}.part`);
  }

  /** Creates a new temporary file in the folder, for an upload streamed to disk. */
  async createTemp(): Promise<TempFile> {
    const path = this.nextTempPath();
    return { path, handle: await open(path, 'wx') };
  }

  /**
   * Writes a small upload held in memory to a new temporary file. The write goes to the
   * page cache at memory speed, so it is done synchronously; the fsync (seal) is not.
   */
  writeTemp(bytes: Buffer): TempFile {
    const path = this.nextTempPath();
    const fd = openSync(path, 'wx');
    try {
      for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
    } catch (err) {
      closeSync(fd);
      rmSync(path, { force: true });
      throw err;
    }
    return { path, fd };
  }

  /** Flushes a finished temporary file to disk and closes it; returns its mtime. */
  async seal(temp: TempFile): Promise<number> {
    if (temp.fd !== undefined) {
      const fd = temp.fd;
      temp.fd = undefined;
      try {
        await new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
        return Math.trunc(fstatSync(fd).mtimeMs);
      } finally {
        closeSync(fd);
      }
    }
    const handle = temp.handle as FileHandle;
    try {
      await handle.sync();
      return Math.trunc((await handle.stat()).mtimeMs);
    } finally {
      await handle.close();
    }
  }

  /** True when a file of that name is at the folder's top level (a cached-metadata lookup). */
  hasTopLevel(filename: string): boolean {
    return existsSync(join(this.dir, filename));
  }

  /** Absolute path of a file from its catalog relpath. */
  pathOf(relpath: string): string {
    // A file at the top of the folder (nearly every one) by concatenation: path.join's
    // normalizing was 2.5% of a download's CPU when most downloads opened their file.
    if (relpath !== '' && relpath !== '.' && relpath !== '..' && !relpath.includes('/') && !relpath.includes(sep)) return this.dirPrefix + relpath;
    return join(this.dir, ...relpath.split('/'));
  }

  /** The relpath (always `/`-separated) of an absolute path inside the folder. */
  relpathOf(path: string): string {
    return relative(this.dir, path).split(sep).join('/');
  }

  /**
   * Moves a sealed temporary file into place as `filename` at the folder's top level:
   * rename (atomic on one filesystem), then fsync the folder entry.
   */
  async commit(temp: TempFile, filename: string): Promise<string> {
    // A rename within one local folder is a short in-kernel metadata change: done inline,
    // it saves a thread-pool round trip per upload. The fsync that follows stays async.
    renameSync(temp.path, join(this.dir, filename));
    temp.committed = true;
    await this.syncDir();
    return filename;
  }

  /**
   * Makes renames and deletions in the folder durable; the folder stays open between calls.
   * Concurrent callers share fsyncs: one that comes while an fsync runs waits for the next
   * one, which starts when that ends and covers every rename made before it (group commit:
   * eight uploads at once cost about two folder fsyncs, not eight in a row).
   */
  private syncDir(): Promise<void> {
    if (!this.dirSyncRunning) {
      this.dirSyncRunning = this.runDirSync();
      return this.dirSyncRunning;
    }
    this.dirSyncNext ??= this.dirSyncRunning.then(() => {
      this.dirSyncRunning = this.dirSyncNext;
      this.dirSyncNext = undefined;
      return this.runDirSync();
    });
    return this.dirSyncNext;
  }

  private async runDirSync(): Promise<void> {
    try {
      this.dirHandle ??= open(this.dir, 'r');
      await (await this.dirHandle).sync();
    } catch {
      // Some filesystems cannot fsync a directory; the rename itself is still atomic.
      this.dirHandle = undefined;
    } finally {
      if (!this.dirSyncNext) this.dirSyncRunning = undefined;
    }
  }

  /** Releases the folder handle (at shutdown). */
  async close(): Promise<void> {
    const handle = this.dirHandle;
    this.dirHandle = undefined;
    await (await handle?.catch(() => undefined))?.close();
  }

  /** Deletes a file of the folder; a file already gone is not an error. */
  async remove(relpath: string): Promise<void> {
    try {
      await unlink(this.pathOf(relpath));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await this.syncDir();
  }

  /** Closes and removes a temporary file, unless it was committed (renamed into place). */
  async discard(temp: TempFile): Promise<void> {
    if (temp.committed) return;
    if (temp.fd !== undefined) closeSync(temp.fd);
    temp.fd = undefined;
    await temp.handle?.close().catch(() => undefined);
    await rm(temp.path, { force: true });
  }

  /**
   * Every distribution file in the folder and its subfolders (hidden entries skipped), and
   * the unfinished uploads an earlier run left at the top level, which are removed (this
   * run's own are kept). `beforeReading` is told each folder just before it is listed: a
   * watcher started there sees any file the listing misses.
   *
   * One listing of each folder serves it all (at 60,000 files each listing is tens of
   * milliseconds and megabytes of names). Sizes and times come from synchronous stats, a
   * few hundred between turns of the event loop: a stat of a listed file costs a couple of
   * microseconds, while a trip through the thread pool and a promise per file cost several
   * times that and left most of the garbage of a start.
   */
  async scan(opts: { beforeReading?: (dir: string) => void } = {}): Promise<ScanResult> {
    const files: FoundFile[] = [];
    const leftovers: string[] = [];
    const ownTemps = `${TEMP_PREFIX}${this.tempStem}-`;
    let sinceTurn = 0;
    const walk = async (dir: string, top: boolean): Promise<void> => {
      opts.beforeReading?.(dir);
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const entry of entries) {
        const name = entry.name;
        if (name.startsWith('.')) {
          if (top && name.startsWith(TEMP_PREFIX) && !name.startsWith(ownTemps)) {
            await rm(join(dir, name), { force: true });
            leftovers.push(name);
          }
          continue;
        }
        const path = join(dir, name);
        if (entry.isDirectory()) {
          await walk(path, false);
        } else if (entry.isFile() && hasDistExtension(name)) {
          let st;
          try {
            st = statSync(path, { throwIfNoEntry: false });
          } catch {
            // Unreadable now (permissions): as if not there, like a file removed meanwhile.
          }
          if (st) files.push({ relpath: top ? name : this.relpathOf(path), filename: name, size: st.size, mtimeMs: Math.trunc(st.mtimeMs) });
          if (++sinceTurn >= STATS_PER_TURN) {
            sinceTurn = 0;
            await new Promise((resolve) => setImmediate(resolve));
          }
        }
      }
    };
    await walk(this.dir, true);
    return { files, leftovers };
  }
}
