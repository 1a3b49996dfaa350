/**
 * Runs the real daemon the way a user does: `node dist/cli/index.js serve ...` with
 * stdout and stderr redirected to files, and watches it from outside: `/-/health`,
 * /proc memory and CPU.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { accessFiles } from '../../src/shared/access-file.js';
import { HealthSchema, type Health } from '../../src/shared/api.js';
import { hashPassword, parseHtpasswd, setHtpasswdUser } from '../../src/shared/htpasswd.js';
import { DAEMON_NODE_FLAGS, daemonMallocEnv } from '../../src/shared/heap-limits.js';
import { cpuSecondsOf, sleep, spawnManaged, stopManaged, type Managed } from './procs.js';

export type LogLevel = 'info' | 'warn';

export interface Daemon {
  label: string;
  proc: Managed;
  port: number;
  url: string;
  /** performance.now() just before the spawn. */
  spawnedAt: number;
  /** Date.now() just before the spawn (to compare with the times in the daemon's log). */
  spawnedAtEpoch: number;
  stdoutFile: string;
  stderrFile: string;
  dataDir: string;
  packagesDir: string;
  logLevel: LogLevel;
}

export interface DaemonOptions {
  label: string;
  cli: string;
  packagesDir: string;
  dataDir: string;
  logLevel: LogLevel;
  logDir: string;
  /** More `serve` flags, e.g. `--no-watch`. */
  extraArgs?: string[];
  /** More environment (the shared mode's AWS variables). */
  env?: NodeJS.ProcessEnv;
  /**
   * Also time the first 200 on this path (`/simple/`: what pip asks first), polled alone from
   * the spawn; `/-/health` is then polled once that answered.
   */
  firstPagePath?: string;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** The first `bytes` of a file (logs grow large under load). */
function readPart(file: string, bytes: number, fromEnd: boolean): string {
  if (!existsSync(file)) return '';
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(bytes, size);
    const buf = Buffer.alloc(length);
    const n = readSync(fd, buf, 0, length, fromEnd ? size - length : 0);
    return (fromEnd && size > length ? '...' : '') + buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The first `bytes` of a file (logs grow large under load). */
const head = (file: string, bytes = 4_000_000) => readPart(file, bytes, false);
const tail = (file: string, bytes = 2000) => readPart(file, bytes, true);

export function daemonOutput(d: Daemon): string {
  const out = tail(d.stdoutFile).trim();
  const err = tail(d.stderrFile).trim();
  return [out && `stdout (${d.stdoutFile}):\n${out}`, err && `stderr (${d.stderrFile}):\n${err}`].filter(Boolean).join('\n') || '(no output)';
}

class DaemonExited extends Error {
  constructor(
    readonly daemon: Daemon,
    message: string,
  ) {
    super(message);
  }
}

function spawnDaemon(o: DaemonOptions, port: number, attempt: number): Daemon {
  const stdoutFile = join(o.logDir, `${o.label}${attempt ? `-${attempt}` : ''}.stdout.log`);
  const stderrFile = join(o.logDir, `${o.label}${attempt ? `-${attempt}` : ''}.stderr.log`);
  const args = [
    // BENCH_DAEMON_NODE_ARGS profiles the daemons, e.g. "--cpu-prof --cpu-prof-dir=DIR".
    ...(process.env.BENCH_DAEMON_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    ...DAEMON_NODE_FLAGS,
    o.cli,
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--data-dir',
    o.dataDir,
    '--packages-dir',
    o.packagesDir,
    '--log-level',
    o.logLevel,
    ...(o.extraArgs ?? []),
  ];
  const spawnedAtEpoch = Date.now();
  const spawnedAt = performance.now();
  // The environment and Node options `pyrepo init` and `pyrepo start` (and the service unit and
  // the container image) start the daemon with: two malloc arenas, semi-spaces of at most 2 MB
  // (heap-limits.ts). `serve` run by hand without the arenas peaked 10-15 MB higher.
  const env = { ...process.env, ...daemonMallocEnv(process.env), ...o.env };
  const proc = spawnManaged(`daemon ${o.label}`, process.execPath, args, { stdoutFile, stderrFile, marker: o.dataDir, env });
  return { label: o.label, proc, port, url: `http://127.0.0.1:${port}`, spawnedAt, spawnedAtEpoch, stdoutFile, stderrFile, dataDir: o.dataDir, packagesDir: o.packagesDir, logLevel: o.logLevel };
}

/** `/-/health` once, or undefined when the daemon does not answer 200 (yet). */
export async function fetchHealth(url: string, timeoutMs = 1000): Promise<Health | undefined> {
  try {
    const res = await fetch(`${url}/-/health`, { signal: AbortSignal.timeout(timeoutMs) });
    if (res.status !== 200) {
      await res.arrayBuffer();
      return undefined;
    }
    const body: unknown = await res.json();
    if (!Value.Check(HealthSchema, body)) throw new Error(`/-/health answered an unexpected body: ${JSON.stringify(body).slice(0, 300)}`);
    return body;
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('/-/health')) throw err;
    return undefined;
  }
}

export interface Waited {
  /** Milliseconds from the spawn. */
  ms: number;
  /** Milliseconds from the spawn to the first 200 on DaemonOptions.firstPagePath, when given. */
  firstPageMs?: number;
  health: Health;
  /** The slowest /-/health poll (answer or time-out), in ms: how responsive the daemon stayed. */
  slowestPollMs: number;
}

/** Polls `/-/health` until it answers 200; throws if the daemon exits or `timeoutMs` passes. */
export async function waitForHealth(d: Daemon, timeoutMs: number, pollMs = 25): Promise<Waited> {
  const deadline = d.spawnedAt + timeoutMs;
  let slowestPollMs = 0;
  for (;;) {
    if (d.proc.exit) throw new DaemonExited(d, `The daemon ${d.label} exited (code ${d.proc.exit.code}, signal ${d.proc.exit.signal}) before answering /-/health.\n${daemonOutput(d)}`);
    const t = performance.now();
    const health = await fetchHealth(d.url, 500);
    slowestPollMs = Math.max(slowestPollMs, performance.now() - t);
    if (health) return { ms: performance.now() - d.spawnedAt, health, slowestPollMs };
    if (performance.now() > deadline) throw new Error(`The daemon ${d.label} did not answer /-/health within ${timeoutMs / 1000} s.\n${daemonOutput(d)}`);
    await sleep(pollMs);
  }
}

/** Polls `path` (as a browser asks for it) until it answers 200; milliseconds from the spawn. */
export async function waitForFirst200(d: Daemon, path: string, timeoutMs: number, pollMs = 10): Promise<number> {
  const deadline = d.spawnedAt + timeoutMs;
  for (;;) {
    if (d.proc.exit) throw new DaemonExited(d, `The daemon ${d.label} exited (code ${d.proc.exit.code}, signal ${d.proc.exit.signal}) before answering ${path}.\n${daemonOutput(d)}`);
    try {
      const res = await fetch(`${d.url}${path}`, { headers: { accept: 'text/html' }, signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - d.spawnedAt;
    } catch {
      // Not listening yet.
    }
    if (performance.now() > deadline) throw new Error(`The daemon ${d.label} did not answer ${path} with 200 within ${timeoutMs / 1000} s.\n${daemonOutput(d)}`);
    await sleep(pollMs);
  }
}

/** Polls `/-/health` every `pollMs` until `indexing` is false; `onPoll` runs at each poll (memory sampling). */
export async function waitForIndexed(d: Daemon, timeoutMs: number, pollMs = 100, onPoll: () => void = () => undefined): Promise<Waited> {
  const deadline = d.spawnedAt + timeoutMs;
  let slowestPollMs = 0;
  for (;;) {
    onPoll();
    if (d.proc.exit) throw new Error(`The daemon ${d.label} exited while indexing.\n${daemonOutput(d)}`);
    const t = performance.now();
    const health = await fetchHealth(d.url, 5000);
    slowestPollMs = Math.max(slowestPollMs, performance.now() - t);
    if (health && !health.indexing) return { ms: performance.now() - d.spawnedAt, health, slowestPollMs };
    if (performance.now() > deadline) throw new Error(`The daemon ${d.label} was still indexing after ${timeoutMs / 1000} s.\n${daemonOutput(d)}`);
    await sleep(pollMs);
  }
}

/**
 * Waits until the process uses less than `maxCpuFraction` of one core over `windowMs`
 * (after indexing, the folder watcher's own initial scan still runs). Returns how long
 * that took and whether it happened within `timeoutMs`.
 */
export async function waitForQuiet(
  pid: number,
  timeoutMs: number,
  onPoll: () => void = () => undefined,
  maxCpuFraction = 0.05,
  windowMs = 1000,
): Promise<{ ms: number; quiet: boolean }> {
  const started = performance.now();
  const samples: { t: number; cpu: number }[] = [];
  const stepMs = 100;
  for (;;) {
    onPoll();
    const cpu = cpuSecondsOf(pid);
    const t = performance.now();
    if (cpu === undefined) throw new Error(`Process ${pid} is gone.`);
    samples.push({ t, cpu });
    while (samples.length > 1 && (samples[1] as { t: number }).t <= t - windowMs) samples.shift();
    const first = samples[0] as { t: number; cpu: number };
    if (t - first.t >= windowMs * 0.95 && (cpu - first.cpu) / ((t - first.t) / 1000) < maxCpuFraction) {
      return { ms: t - started, quiet: true };
    }
    if (t - started > timeoutMs) return { ms: t - started, quiet: false };
    await sleep(stepMs);
  }
}

/** The credentials the upload load sends (uploads need them, as by default). */
export const BENCH_USER = { user: 'bench', password: 'bench-password' };

/**
 * Makes the upload user known to a data folder (an uploader, as users are by default),
 * before the daemon starts: uploads are measured with credentials checked, as users run it.
 */
async function ensureBenchUser(dataDir: string): Promise<void> {
  const { htpasswd } = accessFiles(dataDir);
  mkdirSync(dataDir, { recursive: true });
  const text = existsSync(htpasswd) ? readFileSync(htpasswd, 'utf8') : '';
  if (parseHtpasswd(text).entries.some((e) => e.user === BENCH_USER.user)) return;
  writeFileSync(htpasswd, setHtpasswdUser(text, BENCH_USER.user, await hashPassword(BENCH_USER.password)), { mode: 0o600 });
}

/**
 * Starts a daemon on a free port and waits for its first 200 from `/-/health`. A port
 * taken between choosing and listening is retried with another one (up to 3 times).
 */
export async function launchDaemon(o: DaemonOptions, healthTimeoutMs: number): Promise<{ daemon: Daemon; ready: Waited }> {
  await ensureBenchUser(o.dataDir);
  for (let attempt = 0; ; attempt++) {
    const d = spawnDaemon(o, await freePort(), attempt);
    try {
      const firstPageMs = o.firstPagePath === undefined ? undefined : await waitForFirst200(d, o.firstPagePath, healthTimeoutMs);
      const ready = await waitForHealth(d, healthTimeoutMs);
      return { daemon: d, ready: firstPageMs === undefined ? ready : { ...ready, firstPageMs } };
    } catch (err) {
      await stopDaemon(d);
      if (err instanceof DaemonExited && attempt < 2 && /already in use/.test(readFileSync(d.stderrFile, 'utf8'))) continue;
      throw err;
    }
  }
}

/** SIGTERM (the daemon finishes requests in flight), SIGKILL after 15 s. */
export async function stopDaemon(d: Daemon): Promise<{ clean: boolean }> {
  await stopManaged(d.proc, 'SIGTERM', 15_000);
  return { clean: d.proc.exit?.code === 0 };
}

/** Milliseconds from the spawn to the daemon's "Server listening" log line (info level only). */
export function listeningLoggedMs(d: Daemon): number | undefined {
  const m = /^\{[^\n]*"time":(\d+)[^\n]*"msg":"Server listening/m.exec(head(d.stdoutFile));
  return m ? Number(m[1]) - d.spawnedAtEpoch : undefined;
}

/** The daemon's own report of the first reconcile, from its info log. */
export function indexedLogLine(d: Daemon): string | undefined {
  const m = /Packages folder indexed in (\d+) ms: ([^"]*)/.exec(head(d.stdoutFile));
  return m ? `${m[1]} ms (${m[2]})` : undefined;
}
