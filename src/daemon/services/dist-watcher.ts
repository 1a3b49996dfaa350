/**
 * Watches one build output folder (a project's dist/) and hands over each distribution
 * file once it is complete. Builders write there in three ways (setuptools in place,
 * hatchling by rename or by copy across filesystems, uv through temporary folders inside
 * dist/), so nothing is trusted to be whole because it appeared:
 *
 * - only `*.whl`, `*.tar.gz` and `*.zip` directly in the folder count; dotfiles, temporary
 *   files and subfolders are ignored;
 * - a file is offered once its size and mtime stayed the same over a settle interval, and
 *   the receiver proves it complete (publisher.ts reads the whole archive: a wheel's zip
 *   directory and every member's CRC, an sdist's gzip trailer and tar stream) before it
 *   publishes; a file that is not complete yet waits for its next change;
 * - where `python -m build --report FILE` wrote its report (build 1.5.1 and later, written
 *   atomically), the files it lists are offered at once when their size matches, and the
 *   receiver checks their sha256 against it.
 *
 * Changes are noticed with chokidar (the design's choice). The packages folder's own
 * watcher (folder-watcher.ts) avoids chokidar because it re-lists the folder on every
 * event, which costs seconds in a folder of 60,000 files; a dist/ folder holds a handful,
 * and chokidar brings polling for network filesystems and a clean fallback when the
 * system's inotify watch limit is reached. Measured (`npm run bench`, section 8, on 2
 * cores): fifty idle watched folders cost no measurable CPU (0.37% of a core against 0.57%
 * with none over 30 s: the noise of the daemon's own once-a-second timers), and a finished
 * build is installable in about 0.52 s (p95 0.53 s; 26 ms with a build report).
 *
 * A one-second tick (driven by the owner, one timer for all folders) notices a folder
 * that disappeared (deleted, unmounted) or was replaced (`rm -rf dist` before a build),
 * a report that changed, and files still waiting to be complete: it costs a few stat
 * calls per folder.
 */
import { statSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { FSWatcher } from 'chokidar';
import { hasDistExtension } from '../../shared/distfiles.js';

/** What `python -m build --report` (build ≥ 1.5.1) says one artifact is. */
export interface ReportedArtifact {
  size: number;
  sha256: string;
}

/** A file of the folder whose size and mtime held still (or that the build report lists). */
export interface CandidateFile {
  filename: string;
  path: string;
  size: number;
  mtimeMs: number;
  /** What the build report says it is, when it lists it with this size. */
  reported?: ReportedArtifact;
}

/** What the receiver made of a candidate. */
export type CandidateResult =
  /** Published, already there, or refused for good (until the file changes). */
  | 'handled'
  /** Not a complete distribution (yet): offered again when it changes. */
  | 'incomplete'
  /** The file changed while it was read, or did not match the report: offered again once it holds still. */
  | 'unsettled';

export type WatchMode = 'events' | 'polling';

export interface DistWatcherHandlers {
  /** A file to publish. Never called twice at once for one file. */
  candidate(file: CandidateFile): Promise<CandidateResult>;
  /** Whether this exact file (`size:mtime`) was handled before (published or skipped), so that a restart does not redo it. */
  seen(filename: string, stamp: string): boolean;
  /** A file left the folder. */
  gone(filename: string): void;
  /** The folder is watched, missing, or cannot be watched. */
  state(state: 'watching' | 'missing' | 'error', detail: string | null): void;
  /** Polling took over (asked for, or because filesystem events failed). */
  mode(mode: WatchMode, reason: string | null): void;
  /** Files seen but not handled yet changed (for the watch list). */
  pending(filenames: string[]): void;
}

export interface DistWatcherOptions {
  dir: string;
  /** The build report to follow. */
  report: string;
  /** Poll instead of filesystem events. */
  poll: boolean;
  /** How long size and mtime must hold still; default {@link SETTLE_MS}. */
  settleMs?: number;
  /** How often polling looks; default {@link POLL_INTERVAL_MS}. */
  pollIntervalMs?: number;
}

/** How long a file's size and mtime must hold still before it is read. */
export const SETTLE_MS = 250;
/** How often polling looks at the folder (network filesystems; the event limit reached). */
export const POLL_INTERVAL_MS = 1000;

/** Errors of filesystem events that mean "too many watches": polling takes over. */
const LIMIT_ERRORS = new Set(['ENOSPC', 'EMFILE', 'ENFILE']);

const stampOf = (size: number, mtimeMs: number) => `${size}:${Math.trunc(mtimeMs)}`;

interface FileState {
  timer?: NodeJS.Timeout;
  busy: boolean;
  /** Another look was asked for while busy. */
  again: boolean;
  /** The stamp last handed over and what came of it. */
  offered?: { stamp: string; result: CandidateResult };
}

function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EACCES' || e.code === 'EPERM') return `the daemon's user (uid ${process.getuid?.() ?? '?'}) may not read it (${e.code})`;
  return e.message ?? String(err);
}

export class DistWatcher {
  readonly dir: string;
  private readonly report: string;
  private readonly handlers: DistWatcherHandlers;
  private readonly settleMs: number;
  private readonly pollIntervalMs: number;
  private fsw: FSWatcher | undefined;
  private polling: boolean;
  private pollReason: string | null = null;
  private state: 'watching' | 'missing' | 'error' | 'starting' = 'starting';
  private stateDetail: string | null = null;
  /** dev:ino of the folder being watched: another one at the same path is watched afresh. */
  private identity: string | undefined;
  private reportStamp = '';
  private reported = new Map<string, ReportedArtifact>();
  private readonly files = new Map<string, FileState>();
  private closed = false;
  private ticking = false;

  constructor(opts: DistWatcherOptions, handlers: DistWatcherHandlers) {
    this.dir = opts.dir;
    this.report = opts.report;
    this.polling = opts.poll;
    this.handlers = handlers;
    this.settleMs = opts.settleMs ?? SETTLE_MS;
    this.pollIntervalMs = opts.pollIntervalMs ?? POLL_INTERVAL_MS;
    if (opts.poll) this.handlers.mode('polling', null);
  }

  /** Starts watching (or waiting for the folder to appear). */
  async start(): Promise<void> {
    await this.tick();
  }

  /** Looks at every file of the folder again, including ones refused before (a new registration). */
  async rescan(): Promise<void> {
    for (const f of this.files.values()) f.offered = undefined;
    if (this.state === 'watching') await this.scan();
  }

  /**
   * The periodic look (about once a second): the folder's presence and identity, the build
   * report, and files waiting to be complete. Cheap: a few stat calls.
   */
  async tick(): Promise<void> {
    if (this.closed || this.ticking) return;
    this.ticking = true;
    try {
      await this.checkFolder();
      if (this.state !== 'watching') return;
      // A report in the folder is seen by the events like the files; one elsewhere, or while polling, is looked at here.
      if (this.polling || dirname(this.report) !== this.dir) await this.checkReport();
      for (const [filename, f] of this.files) {
        if (f.offered?.result === 'incomplete' && !f.busy && !f.timer) {
          const st = await stat(join(this.dir, filename)).catch(() => undefined);
          if (!st) this.fileGone(filename);
          else if (stampOf(st.size, st.mtimeMs) !== f.offered.stamp) this.schedule(filename);
        }
      }
    } finally {
      this.ticking = false;
    }
  }

  private async checkFolder(): Promise<void> {
    let st;
    try {
      // Synchronous on purpose: one stat of a folder costs microseconds, a trip through the
      // thread pool and a promise costs more than the stat, once a second for every folder.
      st = statSync(this.dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return this.becomeMissing();
      return this.fail(`Cannot look at ${this.dir}: ${describeError(err)}.`);
    }
    if (!st.isDirectory()) return this.fail(`${this.dir} is not a folder.`);
    const identity = `${st.dev}:${st.ino}`;
    if (this.state === 'watching' && identity === this.identity) return;
    // New, back, or another folder at the same path (a clean build removed and made it again).
    await this.stopEvents();
    this.identity = identity;
    try {
      await readdir(this.dir);
    } catch (err) {
      return this.fail(`Cannot read ${this.dir}: ${describeError(err)}. Make it readable for that user, or watch another folder.`);
    }
    // The scan comes after chokidar is ready: a file written in between is then seen by one or the other.
    await this.startEvents();
    if (this.closed) return;
    this.setState('watching', null);
    await this.scan();
  }

  private becomeMissing(): void {
    if (this.state === 'missing') return;
    void this.stopEvents();
    this.identity = undefined;
    for (const filename of [...this.files.keys()]) this.fileGone(filename, false);
    this.setState('missing', `${this.dir} does not exist (not built yet, deleted or unmounted); watching resumes when it is there.`);
  }

  private fail(detail: string): void {
    void this.stopEvents();
    this.identity = undefined;
    this.setState('error', detail);
  }

  private setState(state: 'watching' | 'missing' | 'error', detail: string | null): void {
    if (this.state === state && this.stateDetail === detail) return;
    this.state = state;
    this.stateDetail = detail;
    this.handlers.state(state, detail);
  }

  private relevant(name: string): boolean {
    if (name.startsWith('.')) return false;
    return hasDistExtension(name) || join(this.dir, name) === this.report;
  }

  /** Starts filesystem events (or polling); resolves once they are in place. */
  private async startEvents(): Promise<void> {
    // chokidar is loaded by the first watched folder: most daemons watch none.
    const { watch: chokidarWatch } = await import('chokidar');
    if (this.closed) return;
    const fsw = chokidarWatch(this.dir, {
      depth: 0,
      ignoreInitial: true,
      followSymlinks: false,
      usePolling: this.polling,
      interval: this.pollIntervalMs,
      binaryInterval: this.pollIntervalMs,
      // Only the folder itself and distribution files directly in it: never a subfolder.
      ignored: (path: string) => path !== this.dir && !(dirname(path) === this.dir && this.relevant(basename(path))),
    });
    const onFile = (path: string) => {
      const name = basename(path);
      if (dirname(path) !== this.dir) return;
      if (path === this.report) void this.checkReport();
      else this.schedule(name);
    };
    fsw.on('add', onFile);
    fsw.on('change', onFile);
    fsw.on('unlink', (path: string) => {
      if (dirname(path) === this.dir && path !== this.report) this.fileGone(basename(path));
    });
    fsw.on('unlinkDir', (path: string) => {
      if (path === this.dir) void this.tick();
    });
    fsw.on('error', (err: unknown) => this.eventsFailed(err));
    this.fsw = fsw;
    return new Promise((resolve) => {
      fsw.once('ready', resolve);
      // A failure before ready is handled by eventsFailed; do not wait for a ready that may never come.
      fsw.once('error', () => resolve());
    });
  }

  private eventsFailed(err: unknown): void {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (!this.polling && LIMIT_ERRORS.has(code)) {
      // inotify's limit (fs.inotify.max_user_watches / max_user_instances) or open files: poll instead.
      this.polling = true;
      this.pollReason = `filesystem events failed (${code}: the system's watch limit is reached; raise fs.inotify.max_user_watches to go back to events), so polling took over`;
      this.handlers.mode('polling', this.pollReason);
      void this.stopEvents()
        .then(async () => {
          if (this.closed || this.state !== 'watching') return;
          await this.startEvents();
          await this.scan();
        })
        .catch(() => undefined);
      return;
    }
    this.fail(`Watching ${this.dir} failed: ${describeError(err)}.`);
  }

  private async stopEvents(): Promise<void> {
    const fsw = this.fsw;
    this.fsw = undefined;
    await fsw?.close().catch(() => undefined);
  }

  /** Offers every distribution file now in the folder (once each holds still). */
  private async scan(): Promise<void> {
    let entries;
    try {
      entries = await readdir(this.dir, { withFileTypes: true });
    } catch {
      return; // the tick says what is wrong
    }
    const present = new Set<string>();
    for (const e of entries) {
      if (!e.isFile() || !this.relevant(e.name) || join(this.dir, e.name) === this.report) continue;
      present.add(e.name);
      this.schedule(e.name);
    }
    for (const filename of [...this.files.keys()]) if (!present.has(filename)) this.fileGone(filename);
  }

  private async checkReport(): Promise<void> {
    const st = await stat(this.report).catch(() => undefined);
    const stamp = st ? `${st.ino}:${st.size}:${st.mtimeMs}` : '';
    if (stamp === this.reportStamp) return;
    this.reportStamp = stamp;
    this.reported = st ? await readBuildReport(this.report, this.dir) : new Map();
    for (const filename of this.reported.keys()) this.schedule(filename, 0);
  }

  /** Looks at a file after `delayMs` of quiet (each new event starts the wait again). */
  private schedule(filename: string, delayMs = this.settleMs): void {
    if (this.closed || !this.relevant(filename)) return;
    let f = this.files.get(filename);
    if (!f) {
      f = { busy: false, again: false };
      this.files.set(filename, f);
      this.reportPending();
    }
    if (f.busy) {
      f.again = true;
      return;
    }
    if (f.timer) clearTimeout(f.timer);
    const state = f;
    state.timer = setTimeout(() => {
      state.timer = undefined;
      void this.settle(filename, state);
    }, delayMs);
    state.timer.unref();
  }

  /** Hands the file over once its size and mtime held still (or match the build report). */
  private async settle(filename: string, f: FileState): Promise<void> {
    if (this.closed || this.files.get(filename) !== f || f.busy) return;
    const path = join(this.dir, filename);
    const first = await stat(path).catch(() => undefined);
    if (!first?.isFile()) {
      if (!first) this.fileGone(filename);
      return;
    }
    const stamp = stampOf(first.size, first.mtimeMs);
    if (f.offered?.stamp === stamp && f.offered.result !== 'unsettled') return;
    if (this.handlers.seen(filename, stamp)) {
      f.offered = { stamp, result: 'handled' };
      this.reportPending();
      return;
    }
    const reported = this.reported.get(filename);
    const byReport = reported !== undefined && reported.size === first.size;
    if (!byReport) {
      await new Promise((r) => setTimeout(r, this.settleMs).unref());
      if (this.closed || f.busy) return;
      const second = await stat(path).catch(() => undefined);
      if (!second || stampOf(second.size, second.mtimeMs) !== stamp) {
        this.schedule(filename);
        return;
      }
    }
    f.busy = true;
    let result: CandidateResult;
    try {
      result = await this.handlers.candidate({ filename, path, size: first.size, mtimeMs: Math.trunc(first.mtimeMs), ...(byReport ? { reported } : {}) });
    } finally {
      f.busy = false;
    }
    if (this.files.get(filename) !== f) return;
    f.offered = { stamp, result };
    // A file that did not match its report is judged as any other file from now on.
    if (result === 'unsettled' && byReport) this.reported.delete(filename);
    this.reportPending();
    if (f.again || result === 'unsettled') {
      f.again = false;
      this.schedule(filename);
    }
  }

  private fileGone(filename: string, tell = true): void {
    const f = this.files.get(filename);
    if (f?.timer) clearTimeout(f.timer);
    this.files.delete(filename);
    this.reported.delete(filename);
    if (tell) this.handlers.gone(filename);
    this.reportPending();
  }

  private reportPending(): void {
    this.handlers.pending([...this.files].filter(([, f]) => f.offered?.result !== 'handled').map(([name]) => name).sort());
  }

  /** How changes are noticed now, and why polling when it was not asked for. */
  get modeNow(): { mode: WatchMode; reason: string | null } {
    return { mode: this.polling ? 'polling' : 'events', reason: this.pollReason };
  }

  /** True while files are waiting to be looked at or handed over (for a caller that waits for the first scan). */
  get busy(): boolean {
    if (this.state === 'starting') return true;
    for (const f of this.files.values()) if (f.busy || f.timer || !f.offered) return true;
    return false;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const f of this.files.values()) if (f.timer) clearTimeout(f.timer);
    this.files.clear();
    await this.stopEvents();
  }

  /** For tests: the chokidar instance in use (to inject a watch-limit error). */
  get eventSource(): FSWatcher | undefined {
    return this.fsw;
  }
}

/**
 * The artifacts a `python -m build --report` file lists in `dir`, by filename. The report
 * is `{version: "1.0", artifacts: [{name, path, kind, size, hashes: {sha256}}]}`; anything
 * else (an older or newer format, a damaged file) lists nothing, and the folder is watched
 * as if there were no report.
 */
export async function readBuildReport(file: string, dir: string): Promise<Map<string, ReportedArtifact>> {
  const found = new Map<string, ReportedArtifact>();
  let report: unknown;
  try {
    report = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return found;
  }
  const r = report as { version?: unknown; artifacts?: unknown };
  if (typeof r.version !== 'string' || !r.version.startsWith('1.') || !Array.isArray(r.artifacts)) return found;
  for (const a of r.artifacts as { name?: unknown; path?: unknown; size?: unknown; hashes?: { sha256?: unknown } }[]) {
    const path = typeof a?.path === 'string' ? a.path : typeof a?.name === 'string' ? a.name : undefined;
    const sha256 = a?.hashes?.sha256;
    if (!path || typeof a.size !== 'number' || typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(sha256)) continue;
    // A relative path is relative to the folder the build ran in (the project's); the name is what counts in dist/.
    if (path.startsWith('/') && dirname(path) !== dir) continue;
    found.set(basename(path), { size: a.size, sha256: sha256.toLowerCase() });
  }
  return found;
}
