/**
 * The background daemon's lifecycle, as Nx and pm2 do it: start spawns the daemon entry
 * detached with its output appended to a log file and polls /-/health a bounded number
 * of times; the daemon writes its state file (pid, URL, version) once it listens and
 * removes it when it stops; stop sends SIGTERM, waits, and escalates to SIGKILL.
 * A state file whose process is gone (kill -9, a crash, a reboot) is stale and removed.
 */
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Check } from '@sinclair/typebox/value';
import { DaemonStateSchema, type DaemonState, type Health } from '../../shared/api.js';
import { daemonClientFor } from '../../shared/client.js';
import { DAEMON_NODE_FLAGS, daemonMallocEnv } from '../../shared/heap-limits.js';
import { daemonLogFile, dataLayout, type PyrepoPaths } from '../../shared/paths.js';
import type { DaemonSettings } from '../../shared/settings.js';
import { PYREPO_ROOT } from '../../shared/version.js';
import { AbortError, BugError } from '../errors.js';
import { explainingLines, linesSince, logSize, rotateIfLarge } from './daemon-log.js';
import { portAdvice } from './daemon-settings.js';
import { isAlive, mayBeDaemon, signal } from './process-info.js';
import { withStartLock } from './start-lock.js';

/** What is known about the daemon of one data folder. */
export type DaemonProbe =
  | { kind: 'running'; state: DaemonState; health: Health }
  /** Its process lives but /-/health did not answer in time (busy, hung or still starting). */
  | { kind: 'unresponsive'; state: DaemonState; reason: string }
  /** Not running; `stale` is the state file of a daemon that died without removing it (now removed). */
  | { kind: 'stopped'; stale?: DaemonState };

/** Limits on every wait, so no command hangs. */
export const WAITS = {
  /** One /-/health request. */
  healthMs: 2_000,
  /** From spawn to a healthy daemon. */
  startMs: 20_000,
  /** From SIGTERM to exit, before SIGKILL. */
  stopMs: 10_000,
  /** From SIGKILL to exit. */
  killMs: 3_000,
  pollMs: 100,
};

function readState(stateFile: string): DaemonState | 'invalid' | undefined {
  let text: string;
  try {
    text = readFileSync(stateFile, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const state: unknown = JSON.parse(text);
    return Check(DaemonStateSchema, state) ? state : 'invalid';
  } catch {
    return 'invalid';
  }
}

/** Removes the state file only if it still describes `pid` (a new daemon may have replaced it). */
function removeStateOf(stateFile: string, pid: number | undefined): void {
  const current = readState(stateFile);
  if (current === 'invalid' || current === undefined || current.pid === pid) rmSync(stateFile, { force: true });
}

/** Finds out whether the daemon of `dataDir` runs, cleaning a stale state file. */
export async function probeDaemon(dataDir: string): Promise<DaemonProbe> {
  const { stateFile } = dataLayout(dataDir);
  const state = readState(stateFile);
  if (state === undefined) return { kind: 'stopped' };
  if (state === 'invalid') {
    rmSync(stateFile, { force: true });
    return { kind: 'stopped' };
  }
  if (!mayBeDaemon(state.pid)) {
    removeStateOf(stateFile, state.pid);
    return { kind: 'stopped', stale: state };
  }
  try {
    const health = await daemonClientFor(state, { timeoutMs: WAITS.healthMs }).health();
    if (health.pid === state.pid) return { kind: 'running', state, health };
    // Another process answers there: the pid was reused after the daemon died.
    removeStateOf(stateFile, state.pid);
    return { kind: 'stopped', stale: state };
  } catch (err) {
    const status = (err as { status?: number }).status;
    const code = (err as { code?: string }).code;
    // Nothing listens on its port, or a daemon there does not know this state file's
    // instance id (it is another one): the pid belongs to some other process now.
    if ((status === 0 && code === 'PYREPO_CLIENT_UNREACHABLE') || code === 'PYREPO_CLIENT_HEALTH_WITHHELD') {
      removeStateOf(stateFile, state.pid);
      return { kind: 'stopped', stale: state };
    }
    return { kind: 'unresponsive', state, reason: (err as Error).message };
  }
}

/** The built daemon entry that `start` runs. */
export function daemonEntry(): string {
  const entry = PYREPO_ROOT ? join(PYREPO_ROOT, 'dist', 'daemon', 'main.js') : undefined;
  if (!entry || !existsSync(entry)) throw new BugError('The daemon entry (dist/daemon/main.js) is missing: pyrepo is not built. Run `npm run build`.');
  return entry;
}

export interface StartResult {
  alreadyRunning: boolean;
  state: DaemonState;
  health: Health;
  logFile: string;
}

const DAEMON_WORDS = 'pyrepo daemon: ';

/** The daemon's own last words ("pyrepo daemon: …"), if it wrote any to the log since `fromOffset`. */
function daemonError(logFile: string, fromOffset: number): string | undefined {
  const last = linesSince(logFile, fromOffset)
    .reverse()
    .find((l) => l.startsWith(DAEMON_WORDS));
  return last?.slice(DAEMON_WORDS.length);
}

/** A start that failed: the reason in one sentence, what to do, and the log lines that explain it. */
export class StartFailure extends AbortError {
  constructor(
    /** Why, in the daemon's words where it gave some. */
    readonly reason: string,
    /** What to do about it. */
    readonly hint: string,
    /** The few log lines of this start that explain it, as text. */
    readonly logLines: string[],
    readonly logFile: string,
  ) {
    super(`The daemon did not start: ${reason}`, [hint, ...(logLines.length > 0 ? [`From the log (${logFile}):`, ...logLines.map((l) => `  ${l}`)] : [])].join('\n'), 2);
  }
}

/** What to do after a failed start, by its reason. */
function hintFor(reason: string, settings: DaemonSettings, command: 'start' | 'restart'): string {
  if (/already in use/.test(reason)) return portAdvice(settings.port, command);
  if (/\bTLS\b/.test(reason)) return 'Fix the file, or serve plain HTTP again with `pyrepo config unset tls-cert tls-key`.';
  if (/uploads open to anyone/.test(reason)) return 'Keep uploads authenticated: `pyrepo config set authenticate upload`.';
  return '`pyrepo logs` shows the whole log.';
}

function failure(fallback: string, logFile: string, fromOffset: number, settings: DaemonSettings, command: 'start' | 'restart'): StartFailure {
  const own = daemonError(logFile, fromOffset);
  const reason = own ?? fallback;
  const lines = explainingLines(logFile, fromOffset, { skip: (l) => l.startsWith(DAEMON_WORDS), onlySerious: own !== undefined });
  return new StartFailure(reason, hintFor(reason, settings, command), lines, logFile);
}

/**
 * Starts the daemon in the background unless it already runs; resolves once /-/health
 * answers. Two calls at once start one daemon.
 */
export async function startDaemon(settings: DaemonSettings, paths: PyrepoPaths, options: { command?: 'start' | 'restart' } = {}): Promise<StartResult> {
  const command = options.command ?? 'start';
  const logFile = daemonLogFile(paths);
  const layout = dataLayout(settings.dataDir);
  try {
    mkdirSync(layout.dataDir, { recursive: true });
    mkdirSync(paths.logDir, { recursive: true });
  } catch (err) {
    throw new AbortError(`Cannot create pyrepo's folders: ${(err as Error).message}`, 'Fix the permissions, or set PYREPO_HOME to a folder you own.');
  }
  return withStartLock(join(layout.dataDir, 'start.lock'), async () => {
    const probe = await probeDaemon(settings.dataDir);
    if (probe.kind === 'running') return { alreadyRunning: true, state: probe.state, health: probe.health, logFile };
    if (probe.kind === 'unresponsive') {
      throw new AbortError(
        `A pyrepo daemon (pid ${probe.state.pid}) is running but does not answer at ${probe.state.url}: ${probe.reason}`,
        '`pyrepo stop` ends it (forcefully if it has to); then start again.',
      );
    }
    rotateIfLarge(logFile);
    // Only what this start writes explains a failure of it.
    const fromOffset = logSize(logFile);
    // The daemon writes to the log file itself, through an inherited descriptor: its output
    // must not pass through this process, which exits long before the daemon does.
    // (execa's types accept only literal descriptor numbers, hence the cast.)
    // Loaded here: `status` and `stop` use this module too, and need no child processes.
    const { execa } = await import('execa');
    const fd = openSync(logFile, 'a', 0o600) as 3;
    const spawnDaemon = () =>
      execa(process.execPath, [...DAEMON_NODE_FLAGS, daemonEntry(), '--settings', JSON.stringify(settings)], {
        detached: true,
        stdin: 'ignore',
        stdout: fd,
        stderr: fd,
        cleanup: false,
        reject: false,
        env: { ...process.env, NO_COLOR: '1', ...daemonMallocEnv(process.env) },
      });
    let child: ReturnType<typeof spawnDaemon>;
    try {
      child = spawnDaemon();
    } finally {
      closeSync(fd);
    }
    child.unref();
    let exited: { exitCode?: number; signal?: string } | undefined;
    void child.then((r) => {
      exited = { exitCode: r.exitCode, signal: r.signal };
    });
    const pid = child.pid;
    const deadline = Date.now() + WAITS.startMs;
    while (Date.now() < deadline) {
      await sleep(WAITS.pollMs);
      if (exited) {
        const how = exited.signal ? `was ended by ${exited.signal}` : `exited with code ${exited.exitCode}`;
        throw failure(`it ${how} before it answered.`, logFile, fromOffset, settings, command);
      }
      const state = readState(layout.stateFile);
      if (state && state !== 'invalid' && state.pid === pid) {
        try {
          const health = await daemonClientFor(state, { timeoutMs: WAITS.healthMs }).health();
          return { alreadyRunning: false, state, health, logFile };
        } catch {
          // listening but not answering yet: poll again
        }
      }
    }
    if (pid !== undefined) signal(pid, 'SIGKILL');
    throw failure(`it did not answer on /-/health within ${WAITS.startMs / 1000} s, and was stopped.`, logFile, fromOffset, settings, command);
  });
}

export interface StopResult {
  wasRunning: boolean;
  pid?: number;
  /** SIGTERM was not enough: it was killed. */
  forced: boolean;
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(WAITS.pollMs);
  }
  return !isAlive(pid);
}

/**
 * Stops the daemon of `dataDir`: SIGTERM (requests in flight finish), then SIGKILL after
 * `timeoutMs` with `onEscalate` called first. "Already stopped" is success.
 */
export async function stopDaemon(dataDir: string, options: { timeoutMs?: number; onEscalate?: (pid: number) => void } = {}): Promise<StopResult> {
  const probe = await probeDaemon(dataDir);
  if (probe.kind === 'stopped') return { wasRunning: false, forced: false };
  const { pid } = probe.state;
  const { stateFile } = dataLayout(dataDir);
  if (!signal(pid, 'SIGTERM')) {
    removeStateOf(stateFile, pid);
    return { wasRunning: false, forced: false };
  }
  if (await waitGone(pid, options.timeoutMs ?? WAITS.stopMs)) {
    removeStateOf(stateFile, pid);
    return { wasRunning: true, pid, forced: false };
  }
  options.onEscalate?.(pid);
  signal(pid, 'SIGKILL');
  if (!(await waitGone(pid, WAITS.killMs))) {
    throw new AbortError(`The daemon (pid ${pid}) is still running after SIGKILL.`, 'It may be stuck in the kernel (a hung disk?); check it with `ps`.');
  }
  removeStateOf(stateFile, pid);
  return { wasRunning: true, pid, forced: true };
}
