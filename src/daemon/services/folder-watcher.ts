/**
 * Watches the packages folder and its subfolders with one `fs.watch` (inotify, FSEvents,
 * ReadDirectoryChangesW) per folder, and reports single files: added or changed once no
 * event has arrived for `settleMs` (a copy in progress keeps resetting the timer), or gone.
 *
 * Not chokidar: on every event in a folder it re-lists that whole folder, which costs
 * seconds per upload in a flat pypiserver folder of 60,000 files, and it keeps a record
 * of every file in memory. Here an event costs one lstat of the path it names.
 */
import { lstatSync, watch, type FSWatcher } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

export interface FolderWatcherHandlers {
  /** A file appeared or changed and has been quiet for settleMs. */
  file(relpath: string): void;
  /** A file or a whole subfolder (relpath of the folder) disappeared. */
  gone(relpath: string): void;
  error(err: unknown, relpath: string): void;
}

export class FolderWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly root: string,
    private readonly handlers: FolderWatcherHandlers,
    private readonly settleMs = 250,
  ) {}

  private rel(path: string): string {
    return relative(this.root, path).split(sep).join('/');
  }

  /** Watches the root and every subfolder; resolves once all are watched. */
  async start(): Promise<void> {
    await this.watchTree(this.root, false);
  }

  /**
   * Watches one folder, not the folders below it: for a caller that lists the tree anyway
   * (the first scan of the packages folder) and calls this for each folder before listing
   * it, so that one listing serves both.
   */
  watchFolder(dir: string): void {
    if (this.closed || this.watchers.has(dir)) return;
    try {
      const watcher = watch(dir, { persistent: false }, (_event, name) => {
        if (name && !name.startsWith('.')) this.schedule(join(dir, name.toString()));
      });
      watcher.on('error', (err) => this.handlers.error(err, this.rel(dir)));
      this.watchers.set(dir, watcher);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.handlers.error(err, this.rel(dir));
    }
  }

  /** Watches `dir` and the folders below it; with `announce`, reports the files found. */
  private async watchTree(dir: string, announce: boolean): Promise<void> {
    if (this.closed || this.watchers.has(dir)) return;
    try {
      this.watchFolder(dir);
      if (!this.watchers.has(dir)) return;
      const entries = await readdir(dir, { withFileTypes: true });
      for (const entry of entries) {
        if (entry.name.startsWith('.')) continue;
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await this.watchTree(path, announce);
        else if (announce && entry.isFile()) this.handlers.file(this.rel(path));
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.handlers.error(err, this.rel(dir));
    }
  }

  private schedule(path: string): void {
    const pending = this.timers.get(path);
    if (pending) clearTimeout(pending);
    const timer = setTimeout(() => {
      this.timers.delete(path);
      void this.settle(path);
    }, this.settleMs);
    timer.unref();
    this.timers.set(path, timer);
  }

  private async settle(path: string): Promise<void> {
    if (this.closed) return;
    // Synchronous: a stat of a path just named by the kernel costs microseconds, a trip
    // through the thread pool and a promise several times that, and the handler stats the
    // file synchronously right after anyway. (Every upload comes back here once.)
    let st;
    try {
      st = lstatSync(path, { throwIfNoEntry: false });
    } catch (err) {
      return this.handlers.error(err, this.rel(path));
    }
    if (!st) {
      this.unwatchTree(path);
      this.handlers.gone(this.rel(path));
    } else if (st.isFile()) {
      this.handlers.file(this.rel(path));
    } else if (st.isDirectory()) {
      await this.watchTree(path, true);
    }
  }

  private unwatchTree(dir: string): void {
    for (const [path, watcher] of this.watchers) {
      if (path === dir || path.startsWith(dir + sep)) {
        watcher.close();
        this.watchers.delete(path);
      }
    }
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }
}
