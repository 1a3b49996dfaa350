/**
 * Child processes of the benchmark (daemons, nginx, wrk): every one is started in its
 * own process group, recorded, and ended by its id when the benchmark stops, normally
 * or not (exit, signals, uncaught errors). A registry file remembers the groups of a
 * run that was killed outright (SIGKILL) so the next run can end them.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface Managed {
  name: string;
  pid: number;
  child: ChildProcess;
  /** A string found in the process's command line; used to recognise leftovers of a killed run. */
  marker: string;
  /** Set once the process has exited. */
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  /** Captured stdout/stderr when spawned with capture: true. */
  stdout: string;
  stderr: string;
}

const live = new Set<Managed>();
const cleanups: (() => void)[] = [];
let registryFile: string | undefined;

function writeRegistry(): void {
  if (!registryFile) return;
  const entries = [...live].map((m) => ({ name: m.name, pid: m.pid, marker: m.marker }));
  try {
    writeFileSync(registryFile, `${JSON.stringify(entries, null, 2)}\n`);
  } catch {
    // The registry is only a safety net.
  }
}

function cmdlineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

/**
 * Uses `file` as the registry of running children, first ending the process groups a
 * previous run left behind (only those whose command line still carries their marker).
 */
export function useRegistry(file: string): string[] {
  registryFile = file;
  const ended: string[] = [];
  if (!existsSync(file)) return ended;
  let entries: { name: string; pid: number; marker: string }[] = [];
  try {
    entries = JSON.parse(readFileSync(file, 'utf8')) as typeof entries;
  } catch {
    entries = [];
  }
  for (const e of entries) {
    const cmdline = cmdlineOf(e.pid);
    if (cmdline && e.marker && cmdline.includes(e.marker)) {
      try {
        process.kill(-e.pid, 'SIGKILL');
        ended.push(`${e.name} (pid ${e.pid})`);
      } catch {
        // Already gone.
      }
    }
  }
  writeRegistry();
  return ended;
}

/** Finds an executable on PATH (and in `extraDirs`), or undefined. */
export function which(name: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...extraDirs].filter(Boolean);
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

export interface SpawnOptions {
  /** Append stdout / stderr to these files (what a user redirecting output gets). */
  stdoutFile?: string;
  stderrFile?: string;
  /** Keep stdout and stderr in memory instead (for wrk). */
  capture?: boolean;
  marker: string;
  cwd?: string;
  /** The environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

/** Starts a process in its own process group and tracks it until it exits. */
export function spawnManaged(name: string, command: string, args: string[], opts: SpawnOptions): Managed {
  const fds: number[] = [];
  let stdio: StdioOptions;
  if (opts.capture) {
    stdio = ['ignore', 'pipe', 'pipe'];
  } else {
    const out = opts.stdoutFile ? openSync(opts.stdoutFile, 'a') : 'ignore';
    const err = opts.stderrFile ? openSync(opts.stderrFile, 'a') : 'ignore';
    for (const fd of [out, err]) if (typeof fd === 'number') fds.push(fd);
    stdio = ['ignore', out, err];
  }
  let child: ChildProcess;
  try {
    child = spawn(command, args, { detached: true, stdio, cwd: opts.cwd, env: opts.env ?? process.env });
  } finally {
    for (const fd of fds) closeSync(fd);
  }
  if (child.pid === undefined) {
    // The 'error' event (ENOENT, EACCES) follows; without a listener it would be fatal.
    child.once('error', () => undefined);
    throw new Error(`Could not start ${name} (${command}).`);
  }
  let resolveExited: () => void = () => undefined;
  const m: Managed = {
    name,
    pid: child.pid,
    child,
    marker: opts.marker,
    exited: new Promise<void>((resolve) => {
      resolveExited = resolve;
    }),
    stdout: '',
    stderr: '',
  };
  if (opts.capture) {
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (m.stdout += s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (m.stderr += s));
  }
  child.once('error', (err) => {
    m.stderr += `\n${err.message}`;
  });
  child.once('exit', (code, signal) => {
    m.exit = { code, signal };
    live.delete(m);
    writeRegistry();
    resolveExited();
  });
  live.add(m);
  writeRegistry();
  return m;
}

function signalGroup(m: Managed, signal: NodeJS.Signals): void {
  try {
    process.kill(-m.pid, signal);
  } catch {
    // The group is gone.
  }
}

function withTimeout(p: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    p.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Stops a process: `signal` to the process itself, then, after `graceMs`, SIGKILL to
 * its whole group. Also sends SIGKILL to the group after a clean exit, so that no
 * grandchild (an nginx worker) outlives its parent.
 */
export async function stopManaged(m: Managed, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (!m.exit) {
    try {
      process.kill(m.pid, signal);
    } catch {
      // Already gone.
    }
    if (!(await withTimeout(m.exited, graceMs))) {
      signalGroup(m, 'SIGKILL');
      await withTimeout(m.exited, 5_000);
    }
  }
  signalGroup(m, 'SIGKILL');
  live.delete(m);
  writeRegistry();
}

/** Synchronous last resort: SIGKILL to every group still running, then the cleanups. */
export function killAllSync(): void {
  for (const m of live) signalGroup(m, 'SIGKILL');
  live.clear();
  writeRegistry();
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      fn();
    } catch {
      // Best effort while exiting.
    }
  }
}

/** Registers synchronous cleanup (temporary folders) to run on any exit. */
export function onExitCleanup(fn: () => void): void {
  cleanups.push(fn);
}

/** Ends every child on exit, on SIGINT/SIGTERM/SIGHUP, and on uncaught errors. */
export function installExitHandlers(): void {
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\nbench: received ${sig}; stopping every process it started.\n`);
      killAllSync();
      process.exit(130);
    });
  }
  const fatal = (err: unknown) => {
    process.stderr.write(`\nbench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    killAllSync();
    process.exit(1);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}

// ---- /proc -------------------------------------------------------------------------

/** VmRSS and VmHWM (peak) of a process in MB (10^6 bytes), or undefined once it is gone. */
export function memoryOf(pid: number): { rssMB: number; hwmMB: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  // /proc says kB but means KiB.
  const mb = (key: string) => (Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024) / 1e6;
  return { rssMB: mb('VmRSS'), hwmMB: mb('VmHWM') };
}

const CLOCK_TICKS = 100;

/** CPU seconds (user + system, all threads) a process has used, or undefined once it is gone. */
export function cpuSecondsOf(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
