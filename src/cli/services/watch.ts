/**
 * `pyrepo watch`: which folder to watch (a project's dist/, or the folder given), and
 * talking to the daemon that does the watching: register, wait for the files already
 * there, list, remove, follow the publishes as they happen. No yargs, no process.exit.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parse } from 'smol-toml';
import type { IndexEvent, WatchInfo, WatchRegistration, WatchRequest } from '../../shared/api.js';
import type { DaemonClient } from '../../shared/client.js';
import { AbortError } from '../errors.js';
import { asAbort } from './daemon-access.js';

/** The files that make a folder a Python project (whose builds go to its dist/). */
const PROJECT_FILES = ['pyproject.toml', 'setup.py', 'setup.cfg'];

/** The folder to watch and the project it builds. */
export interface WatchTarget {
  dir: string;
  /** The project's name from its pyproject.toml, when there is one. */
  project: string | null;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isProject(dir: string): boolean {
  return PROJECT_FILES.some((f) => existsSync(join(dir, f)));
}

/** The project name a pyproject.toml gives (`[project]` or poetry's `[tool.poetry]`), or null. */
export function projectNameIn(dir: string): string | null {
  try {
    const toml = parse(readFileSync(join(dir, 'pyproject.toml'), 'utf8')) as { project?: { name?: unknown }; tool?: { poetry?: { name?: unknown } } };
    const name = toml.project?.name ?? toml.tool?.poetry?.name;
    return typeof name === 'string' && name.length > 0 ? name : null;
  } catch {
    return null;
  }
}

/**
 * The folder `pyrepo watch [DIR]` means: without DIR, `./dist` (of the project here, or an
 * existing one); a project folder means its `dist/`, which need not exist yet (the daemon
 * waits for it); any other folder is watched as it is.
 */
export function resolveWatchTarget(cwd: string, given?: string): WatchTarget {
  const at = resolve(cwd, given ?? '.');
  if (given === undefined) {
    if (isProject(at) || isDir(join(at, 'dist'))) return { dir: join(at, 'dist'), project: projectNameIn(at) };
    if (basename(at) === 'dist') return { dir: at, project: projectNameIn(dirname(at)) };
    throw new AbortError(
      `There is no ./dist here, and ${at} is not a Python project (no ${PROJECT_FILES.join(', ')}).`,
      'Run it in a project folder, or name the folder to watch: `pyrepo watch path/to/project` or `pyrepo watch path/to/dist`.',
    );
  }
  if (existsSync(at) && !isDir(at)) throw new AbortError(`${at} is a file, not a folder.`, 'Name the folder builds are written to (dist/), or the project folder.');
  if (isDir(at) && isProject(at)) return { dir: join(at, 'dist'), project: projectNameIn(at) };
  if (isDir(at)) return { dir: at, project: projectNameIn(dirname(at)) };
  // Not there yet: fine for the dist/ of a project that has not been built.
  if (isProject(dirname(at))) return { dir: at, project: projectNameIn(dirname(at)) };
  throw new AbortError(`${at} does not exist.`, 'Name an existing folder, or a project folder (its dist/ is watched, built or not).');
}

/** Registers the folder with the daemon. */
export async function registerWatch(client: DaemonClient, target: WatchTarget, options: Omit<WatchRequest, 'dir' | 'project'>): Promise<WatchRegistration> {
  try {
    return await client.addWatch({ dir: target.dir, ...(target.project ? { project: target.project } : {}), ...options });
  } catch (err) {
    throw asAbort(err);
  }
}

/**
 * Waits (at most `timeoutMs`) until the daemon has looked at every file that was in the
 * folder, and returns the watch as it is then (its refusals say what was not published).
 */
export async function settleWatch(client: DaemonClient, id: string, timeoutMs = 60_000, intervalMs = 200): Promise<WatchInfo | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const watch = await findById(client, id);
    if (!watch || watch.pending.length === 0 || Date.now() > deadline) return watch;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

async function findById(client: DaemonClient, id: string): Promise<WatchInfo | undefined> {
  try {
    return (await client.watches()).watches.find((w) => w.id === id);
  } catch (err) {
    throw asAbort(err);
  }
}

/** Every watched folder. */
export async function listWatches(client: DaemonClient): Promise<WatchInfo[]> {
  try {
    return (await client.watches()).watches;
  } catch (err) {
    throw asAbort(err);
  }
}

/** Stops watching the folder `pyrepo watch remove DIR` names (as given, or the dist/ of the project given). */
export async function removeWatch(client: DaemonClient, cwd: string, given: string): Promise<WatchInfo> {
  const watches = await listWatches(client);
  const asGiven = resolve(cwd, given);
  const candidates = [asGiven, join(asGiven, 'dist')];
  const watch = watches.find((w) => candidates.includes(w.dir));
  if (!watch) {
    const known = watches.length > 0 ? `Watched: ${watches.map((w) => w.dir).join(', ')}.` : 'No folder is watched.';
    throw new AbortError(`${asGiven} is not watched. ${known}`, '`pyrepo watch list` shows the watched folders.');
  }
  try {
    return (await client.removeWatch(watch.id)).removed;
  } catch (err) {
    throw asAbort(err);
  }
}

/** One line of `pyrepo watch --follow` for an event about watched folders; undefined for other events. */
export function followLine(event: IndexEvent): string | undefined {
  const time = event.time.slice(11, 19);
  switch (event.type) {
    case 'upload':
      if (event.source !== 'watch') return undefined;
      return `${time} published ${event.filename} (${event.project} ${event.version})${event.replaced ? ', replacing the file of the same name' : ''} from ${event.watch ?? '?'}`;
    case 'refused':
      return `${time} refused ${event.filename} from ${event.watch}: ${event.reason}${event.fix ? `\n         ${event.fix}` : ''}`;
    case 'watch':
      return `${time} ${event.detail}`;
    default:
      return undefined;
  }
}

/** Waits between attempts to reach the daemon again; the last one repeats. */
const FOLLOW_BACKOFF_MS = [500, 1000, 2000, 4000] as const;

/**
 * Streams the publishes, refusals and state changes of watched folders until `signal`
 * aborts. A broken stream (the daemon restarted) is resumed with `Last-Event-ID`, so that
 * nothing published meanwhile is missed; `show` hears once that it is reconnecting.
 */
export async function followWatches(client: DaemonClient, show: (line: string) => void, signal: AbortSignal): Promise<void> {
  let lastEventId: string | undefined;
  let attempt = 0;
  while (!signal.aborted) {
    try {
      await client.events({
        signal,
        ...(lastEventId !== undefined ? { lastEventId } : {}),
        onOpen: () => {
          if (attempt > 0) show('Connected again.');
          attempt = 0;
        },
        onEvent: (event, id) => {
          if (id !== undefined) lastEventId = id;
          const line = followLine(event);
          if (line) show(line);
        },
      });
      if (signal.aborted) return;
      throw new Error('the daemon ended the stream');
    } catch (err) {
      if (signal.aborted) return;
      if (attempt === 0) show(`Lost the daemon (${err instanceof Error ? err.message : String(err)}); reconnecting…`);
      const wait = FOLLOW_BACKOFF_MS[Math.min(attempt, FOLLOW_BACKOFF_MS.length - 1)];
      attempt += 1;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
  }
}
