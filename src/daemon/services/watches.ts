/**
 * Auto-publish: the build folders the daemon watches (`pyrepo watch`), each published
 * through the same publisher as an HTTP upload, as the user who registered it.
 *
 * The list lives in the data folder (`watches.json`, written atomically), so watching goes
 * on after the terminal closes and survives restarts. With it each folder keeps the files
 * it has handled (`name → size:mtime`): after a restart, even one by `kill -9` in the middle
 * of a build, every other file in the folder is looked at again and published once complete.
 *
 * What happens to a complete file:
 * - new to the index: published, recorded with the user as uploader and the folder named;
 * - identical to the file of that name on the index: skipped quietly;
 * - a different file of a name already on the index (rebuilt without a version bump):
 *   refused, with the fix, in the watch list, the log and the event stream, unless the
 *   watch allows replacing (`--replace`), which is then recorded as a replacement;
 * - refused by the ownership rules or the checks every upload gets: refused, with why.
 * Files deleted from the folder (a clean build) are never removed from the index.
 *
 * The daemon only reads watched folders; it never writes or deletes there.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { WatchInfo, WatchRegistration, WatchRequest } from '../../shared/api.js';
import { writeFileAtomic } from '../../shared/atomic-file.js';
import { hasDistExtension, parseDistFilename } from '../../shared/distfiles.js';
import { DistContentError, DistFilenameError, DistMismatchError } from '../../shared/errors.js';
import { BadRequest, Forbidden, NotFound } from '../errors.js';
import { DistWatcher, type CandidateFile, type CandidateResult } from './dist-watcher.js';
import type { EventBus } from './events.js';
import type { Identities } from './identities.js';
import { FileConflictError, type Publisher } from './publisher.js';

/** The name of the watch list in the data folder. */
export const WATCH_FILE = 'watches.json';
/** The build report pyrepo follows in a watched folder unless told another one. */
export const DEFAULT_REPORT = 'build-report.json';
/** A file that stays incomplete (unchanged) this long is reported as refused: a damaged file, or a writer that died. */
export const INCOMPLETE_REFUSAL_MS = 30_000;
/** Files read and published at once, over every watched folder (the machine has other work). */
const CONCURRENT_PUBLISHES = 4;
/** How often every folder gets its cheap look (presence, report, waiting files). */
const TICK_MS = 1000;
/** At most this many folders are watched. */
const MAX_WATCHES = 1000;

/** One watch as the list in the data folder keeps it. */
interface StoredWatch {
  id: string;
  dir: string;
  project: string | null;
  user: string;
  replace: boolean;
  poll: boolean;
  report: string;
  createdAt: string;
  /** Files handled (published, skipped as identical, or there before a `--new-only` registration): name → size:mtime. */
  seen: Record<string, string>;
  lastPublish: WatchInfo['lastPublish'];
}

interface WatchFile {
  version: 1;
  watches: StoredWatch[];
}

interface Watch {
  stored: StoredWatch;
  watcher: DistWatcher;
  state: WatchInfo['state'];
  stateDetail: string | null;
  mode: WatchInfo['mode'];
  modeReason: string | null;
  refusals: Map<string, WatchInfo['refusals'][number]>;
  /** Files that were read but are not complete distributions (yet), since when, and why. */
  incomplete: Map<string, { since: number; reason: string; stamp: string }>;
  pending: string[];
  /** The watcher has reported its first state. */
  started: boolean;
}

export interface WatchServiceOptions {
  dataDir: string;
  packagesDir: string;
  publisher: Publisher;
  identities: Identities;
  events: EventBus;
  log: FastifyBaseLogger;
  /** Whether uploads need credentials: then the ownership rules of the watch's user apply, as they would to that user's upload. */
  uploadsNeedCredentials: boolean;
  /** Settle interval of the folder watchers (tests shorten it). */
  settleMs?: number;
}

/** A stable id for a folder: the same folder always gets the same one. */
export function watchIdOf(dir: string): string {
  return createHash('sha256').update(dir).digest('hex').slice(0, 16);
}

const stampOf = (size: number, mtimeMs: number) => `${size}:${Math.trunc(mtimeMs)}`;

function isInside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}

/** The real path of `path`, resolving the part that exists (a watched folder may not exist yet). */
async function realPathOf(path: string): Promise<string> {
  const rest: string[] = [];
  let at = path;
  for (;;) {
    try {
      return join(await realpath(at), ...rest.reverse());
    } catch {
      const parent = dirname(at);
      if (parent === at) return path;
      rest.push(basename(at));
      at = parent;
    }
  }
}

/** A tiny counting semaphore. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free += 1;
  }
}

export class WatchService {
  private readonly opts: WatchServiceOptions;
  private readonly file: string;
  private readonly watches = new Map<string, Watch>();
  private readonly slots = new Slots(CONCURRENT_PUBLISHES);
  private ticker: NodeJS.Timeout | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private refused: { data: string; packages: string } | undefined;

  constructor(opts: WatchServiceOptions) {
    this.opts = opts;
    this.file = join(opts.dataDir, WATCH_FILE);
  }

  /** Reads the watch list and starts watching each folder (in the background). */
  async start(): Promise<void> {
    for (const stored of this.load()) this.open(stored);
    await Promise.all([...this.watches.values()].map((w) => w.watcher.start().catch((err: unknown) => this.opts.log.error({ err }, `Watching ${w.stored.dir} failed`))));
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    this.ticker.unref();
  }

  private load(): StoredWatch[] {
    if (!existsSync(this.file)) return [];
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as WatchFile;
      if (parsed.version !== 1 || !Array.isArray(parsed.watches)) throw new Error('not a pyrepo watch list');
      return parsed.watches.filter((w) => typeof w?.dir === 'string' && typeof w.user === 'string' && isAbsolute(w.dir)).map((w) => ({
        ...w,
        id: watchIdOf(w.dir),
        seen: w.seen && typeof w.seen === 'object' ? w.seen : {},
        lastPublish: w.lastPublish ?? null,
        report: typeof w.report === 'string' ? w.report : join(w.dir, DEFAULT_REPORT),
      }));
    } catch (err) {
      // Keep the damaged list for a person to look at; start with none rather than not at all.
      const kept = `${this.file}.damaged-${Date.now()}`;
      try {
        renameSync(this.file, kept);
      } catch {
        // left in place
      }
      this.opts.log.error(`The watch list ${this.file} cannot be read (${(err as Error).message}); it was kept as ${kept} and no folder is watched. Register them again with \`pyrepo watch\`.`);
      return [];
    }
  }

  /** Writes the list soon (changes come in bursts when many builds finish at once). */
  private save(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => this.saveNow(), 100);
    this.saveTimer.unref();
  }

  private saveNow(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    const data: WatchFile = { version: 1, watches: [...this.watches.values()].map((w) => w.stored) };
    try {
      writeFileAtomic(this.file, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
    } catch (err) {
      this.opts.log.error({ err }, `Cannot write the watch list ${this.file}`);
    }
  }

  private tick(): void {
    const now = Date.now();
    for (const w of this.watches.values()) {
      void w.watcher.tick().catch((err: unknown) => this.opts.log.error({ err }, `Watching ${w.stored.dir} failed`));
      for (const [filename, inc] of w.incomplete) {
        if (now - inc.since >= INCOMPLETE_REFUSAL_MS && !w.refusals.has(filename)) {
          this.refuse(w, filename, `${inc.reason} It has not changed for ${Math.round(INCOMPLETE_REFUSAL_MS / 1000)} s.`, 'If a build is still writing it, it is published once it is complete; otherwise build it again.');
        }
      }
    }
  }

  // ---- the list ------------------------------------------------------------------

  /** The watched folders, in the order they were registered. */
  folders(): string[] {
    return [...this.watches.values()].map((w) => w.stored.dir);
  }

  list(): WatchInfo[] {
    return [...this.watches.values()].map((w) => this.info(w));
  }

  /** True while a folder has files waiting to be looked at or published (a caller waiting for the first scan). */
  busy(id: string): boolean {
    return this.watches.get(id)?.watcher.busy ?? false;
  }

  private info(w: Watch): WatchInfo {
    const s = w.stored;
    return {
      id: s.id,
      dir: s.dir,
      project: s.project,
      user: s.user,
      replace: s.replace,
      poll: s.poll,
      mode: w.mode,
      modeReason: w.modeReason,
      state: w.state,
      stateDetail: w.stateDetail,
      report: s.report,
      createdAt: s.createdAt,
      lastPublish: s.lastPublish,
      refusals: [...w.refusals.values()],
      pending: w.pending.filter((f) => !w.refusals.has(f)),
    };
  }

  // ---- registering and removing ----------------------------------------------------

  /**
   * Watches a folder for builds to publish as `user` (the caller, or `request.as`).
   * Refuses a relative path, a folder inside the packages or data folder, something that is
   * not a folder, and a folder the daemon's user cannot read.
   */
  async register(request: WatchRequest, caller: string): Promise<WatchRegistration> {
    if (!isAbsolute(request.dir)) throw new BadRequest(`The folder to watch must be an absolute path, not '${request.dir}'.`);
    const dir = resolve(request.dir);
    await this.checkFolder(dir);
    const user = request.as ?? caller;
    if (!this.opts.identities.has(user)) throw new NotFound(`There is no user '${user}' to publish as; add them first (pyrepo user add ${user}).`);
    if (this.opts.identities.identityOf(user)?.role === 'reader') {
      throw new Forbidden(`The user '${user}' may only read (role reader), so builds cannot be published as them.`);
    }
    const report = request.report ? resolve(request.report) : join(dir, DEFAULT_REPORT);
    const id = watchIdOf(dir);
    const known = this.watches.get(id);
    if (known) {
      const s = known.stored;
      const restart = s.poll !== (request.poll ?? s.poll) || s.report !== report;
      Object.assign(s, {
        user,
        replace: request.replace ?? s.replace,
        poll: request.poll ?? s.poll,
        report,
        project: request.project ?? s.project,
      });
      this.saveNow();
      if (restart) await this.reopen(known);
      else {
        known.refusals.clear();
        await known.watcher.rescan();
      }
      return { created: false, existing: [], watch: this.info(this.watches.get(id) as Watch) };
    }
    if (this.watches.size >= MAX_WATCHES) throw new BadRequest(`pyrepo watches at most ${MAX_WATCHES} folders; remove some first (pyrepo watch remove DIR).`);
    const present = await this.distFilesIn(dir);
    const seen: Record<string, string> = {};
    if (request.newOnly) for (const f of present) seen[f.name] = f.stamp;
    const stored: StoredWatch = {
      id,
      dir,
      project: request.project ?? null,
      user,
      replace: request.replace ?? false,
      poll: request.poll ?? false,
      report,
      createdAt: new Date().toISOString(),
      seen,
      lastPublish: null,
    };
    const w = this.open(stored);
    this.saveNow();
    this.opts.log.info(`Watching ${dir} for builds to publish as ${user}${stored.replace ? ' (rebuilds may replace files of the same version)' : ''}.`);
    await w.watcher.start();
    return { created: true, existing: request.newOnly ? [] : present.map((f) => f.name), watch: this.info(w) };
  }

  /** Stops watching a folder; what it published stays on the index. */
  async remove(id: string): Promise<WatchInfo> {
    const w = this.watches.get(id);
    if (!w) throw new NotFound(`No folder is watched with the id '${id}'; \`pyrepo watch list\` shows them.`);
    this.watches.delete(id);
    await w.watcher.close();
    this.saveNow();
    this.opts.log.info(`No longer watching ${w.stored.dir}.`);
    return this.info(w);
  }

  /** The watch of a folder, by its path (absolute) or id. */
  find(dirOrId: string): WatchInfo | undefined {
    const w = this.watches.get(dirOrId) ?? this.watches.get(watchIdOf(resolve(dirOrId)));
    return w && this.info(w);
  }

  private async checkFolder(dir: string): Promise<void> {
    const real = await realPathOf(dir);
    this.refused ??= { data: await realPathOf(resolve(this.opts.dataDir)), packages: await realPathOf(resolve(this.opts.packagesDir)) };
    if (isInside(real, this.refused.packages)) {
      throw new BadRequest(
        `${dir} is ${real === this.refused.packages ? 'the packages folder' : 'inside the packages folder'} (${this.opts.packagesDir}): files there are on the index already. Watch the build folder (dist/) of a project.`,
      );
    }
    if (isInside(real, this.refused.data)) throw new BadRequest(`${dir} is inside pyrepo's data folder (${this.opts.dataDir}); watch the build folder (dist/) of a project.`);
    let st;
    try {
      st = await stat(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return; // not built yet: watched for
      if (code === 'ENOTDIR') throw new BadRequest(`${dir} cannot be a folder: a part of its path is a file.`);
      throw this.unreadable(dir, err);
    }
    if (!st.isDirectory()) throw new BadRequest(`${dir} is not a folder; watch the folder builds are written to (dist/).`);
    try {
      await readdir(dir);
    } catch (err) {
      throw this.unreadable(dir, err);
    }
  }

  private unreadable(dir: string, err: unknown): Error {
    const code = (err as NodeJS.ErrnoException).code ?? 'an error';
    return new Forbidden(
      `The daemon cannot read ${dir} (${code}): it runs as uid ${process.getuid?.() ?? '?'}, which may not list that folder. Make the folder readable for that user (chmod), or run pyrepo as a user who can read it.`,
    );
  }

  private async distFilesIn(dir: string): Promise<{ name: string; stamp: string }[]> {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    const out: { name: string; stamp: string }[] = [];
    for (const e of entries) {
      if (!e.isFile() || e.name.startsWith('.') || !hasDistExtension(e.name)) continue;
      const st = await stat(join(dir, e.name)).catch(() => undefined);
      if (st) out.push({ name: e.name, stamp: stampOf(st.size, st.mtimeMs) });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  private open(stored: StoredWatch): Watch {
    const w: Watch = {
      stored,
      // Made just below: its handlers need this record.
      watcher: undefined as unknown as DistWatcher,
      state: 'missing',
      stateDetail: null,
      mode: stored.poll ? 'polling' : 'events',
      modeReason: null,
      refusals: new Map(),
      incomplete: new Map(),
      pending: [],
      started: false,
    };
    w.watcher = this.makeWatcher(w);
    this.watches.set(stored.id, w);
    return w;
  }

  private async reopen(w: Watch): Promise<void> {
    await w.watcher.close();
    w.refusals.clear();
    w.incomplete.clear();
    w.mode = w.stored.poll ? 'polling' : 'events';
    w.modeReason = null;
    w.started = false;
    w.watcher = this.makeWatcher(w);
    await w.watcher.start();
  }

  private makeWatcher(w: Watch): DistWatcher {
    const s = w.stored;
    return new DistWatcher(
      { dir: s.dir, report: s.report, poll: s.poll, ...(this.opts.settleMs !== undefined ? { settleMs: this.opts.settleMs } : {}) },
      {
        candidate: (file) => this.candidate(w, file),
        seen: (filename, stamp) => s.seen[filename] === stamp,
        gone: (filename) => {
          w.refusals.delete(filename);
          w.incomplete.delete(filename);
          if (filename in s.seen) {
            delete s.seen[filename];
            this.save();
          }
        },
        state: (state, detail) => {
          // The first state is where the watch starts, not a change: logged, not announced.
          const first = !w.started;
          const before = w.state;
          w.started = true;
          w.state = state;
          w.stateDetail = detail;
          if (this.closed || (before === state && !first)) return;
          if (first) {
            if (state !== 'watching') this.opts.log.info(detail ?? `${s.dir}: ${state}`);
            return;
          }
          const line = state === 'watching' ? `Watching ${s.dir}${before === 'missing' ? ' again: it is back' : ''}.` : (detail ?? `${s.dir}: ${state}`);
          if (state === 'error') this.opts.log.error(line);
          else this.opts.log.info(line);
          this.opts.events.publish({ type: 'watch', project: s.project ?? '', watch: s.dir, state, detail: line });
        },
        mode: (mode, reason) => {
          w.mode = mode;
          w.modeReason = reason;
          if (reason) {
            this.opts.log.warn(`${s.dir}: ${reason}.`);
            this.opts.events.publish({ type: 'watch', project: s.project ?? '', watch: s.dir, state: 'watching', detail: `${s.dir}: ${reason}.` });
          }
        },
        pending: (filenames) => {
          w.pending = filenames;
        },
      },
    );
  }

  // ---- publishing ------------------------------------------------------------------

  private async candidate(w: Watch, file: CandidateFile): Promise<CandidateResult> {
    await this.slots.acquire();
    try {
      if (this.closed || this.watches.get(w.stored.id) !== w) return 'handled';
      return await this.publishFile(w, file);
    } finally {
      this.slots.release();
    }
  }

  private async publishFile(w: Watch, file: CandidateFile): Promise<CandidateResult> {
    const s = w.stored;
    const stamp = stampOf(file.size, file.mtimeMs);
    let received;
    try {
      received = await this.opts.publisher.receive(file.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'unsettled';
      this.refuse(w, file.filename, `Cannot read it: ${(err as Error).message}.`, null);
      return 'handled';
    }
    const discard = async () => {
      if (received.temp) await this.opts.publisher.discard(received.temp);
    };
    // What was read must be what is there now: a writer that went on meanwhile gets another look.
    const after = await stat(file.path).catch(() => undefined);
    if (!after || stampOf(after.size, after.mtimeMs) !== stamp || received.digests.size !== file.size) {
      await discard();
      return 'unsettled';
    }
    if (file.reported && file.reported.sha256 !== received.digests.sha256) {
      await discard();
      this.opts.log.info(`${file.filename} in ${s.dir} does not match the build report ${s.report} (sha256); it is published once it holds still and is complete.`);
      return 'unsettled';
    }
    if (!this.opts.identities.has(s.user)) {
      await discard();
      this.refuse(w, file.filename, `The user '${s.user}' this folder publishes as no longer exists.`, `Register the folder again as another user: pyrepo watch ${s.dir} --as USER.`);
      return 'handled';
    }
    const identity = this.opts.uploadsNeedCredentials ? this.opts.identities.identityOf(s.user) : undefined;
    try {
      const outcome = await this.opts.publisher.publish(received, {
        ...(identity ? { identity } : {}),
        by: { user: s.user, address: s.dir },
        origin: { source: 'watch', watch: s.dir },
        replace: s.replace,
      });
      w.incomplete.delete(file.filename);
      w.refusals.delete(file.filename);
      s.seen[file.filename] = stamp;
      if (outcome.status !== 'identical') {
        const f = outcome.file;
        s.lastPublish = { filename: f.filename, project: f.project, version: f.version, time: f.uploadTime, status: outcome.status };
        s.project = f.project;
        this.opts.log.info(`Published ${f.filename} from ${s.dir} as ${s.user}${outcome.status === 'replaced' ? ', replacing the file of the same name (--replace)' : ''}.`);
      }
      this.save();
      return 'handled';
    } catch (err) {
      return this.refusalOf(w, file, stamp, err);
    }
  }

  private refusalOf(w: Watch, file: CandidateFile, stamp: string, err: unknown): CandidateResult {
    const s = w.stored;
    const { filename } = file;
    if (err instanceof DistContentError) {
      // Most often a file still being written (a writer that paused): wait for its next change.
      const known = w.incomplete.get(filename);
      if (known?.stamp !== stamp) w.incomplete.set(filename, { since: Date.now(), reason: `Not a complete distribution: ${err.message}`, stamp });
      return 'incomplete';
    }
    w.incomplete.delete(filename);
    if (err instanceof FileConflictError) {
      this.refuse(
        w,
        filename,
        `${filename} is already on the index with other content (sha256 ${err.existingSha256.slice(0, 12)}…): it was rebuilt without a new version, and a published version never changes.`,
        `Bump the version and build again. For a local development loop, \`pyrepo watch ${s.dir} --replace\` lets a rebuild replace the same version.`,
      );
      return 'handled';
    }
    if (err instanceof Forbidden) {
      const project = parseProject(filename);
      this.refuse(
        w,
        filename,
        `${(err as Error).message} (this folder publishes as '${s.user}')`,
        `An owner of ${project || 'the project'} can add them: pyrepo owner add ${project || 'PROJECT'} ${s.user}; or register the folder to publish as an owner: pyrepo watch ${s.dir} --as OWNER.`,
      );
      return 'handled';
    }
    if (err instanceof DistMismatchError || err instanceof DistFilenameError) {
      this.refuse(w, filename, err.message, 'Fix the project metadata and build again.');
      return 'handled';
    }
    this.opts.log.error({ err }, `Publishing ${filename} from ${s.dir} failed`);
    this.refuse(w, filename, `Publishing failed: ${(err as Error).message}. It is tried again when the file changes, or when the folder is registered again.`, null);
    return 'handled';
  }

  private refuse(w: Watch, filename: string, reason: string, fix: string | null): void {
    const s = w.stored;
    w.refusals.set(filename, { filename, reason, fix, time: new Date().toISOString() });
    this.opts.log.warn(`Not publishing ${filename} from ${s.dir}: ${reason}${fix ? ` ${fix}` : ''}`);
    const version = parseVersion(filename);
    this.opts.events.publish({
      type: 'refused',
      project: parseProject(filename),
      ...(version ? { version } : {}),
      filename,
      source: 'watch',
      watch: s.dir,
      reason,
      fix,
      user: s.user,
      address: null,
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    if (this.saveTimer) this.saveNow();
    await Promise.all([...this.watches.values()].map((w) => w.watcher.close()));
  }
}

function parseProject(filename: string): string {
  try {
    return parseDistFilename(filename).project;
  } catch {
    return '';
  }
}

function parseVersion(filename: string): string | undefined {
  try {
    return parseDistFilename(filename).rawVersion;
  } catch {
    return undefined;
  }
}
