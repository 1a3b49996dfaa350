/**
 * Auto-publish (`pyrepo watch`) in `npm run bench`: the built daemon with watched build
 * folders, measured from outside.
 *
 * - From the end of a build to the version being installable: a wheel is written into a
 *   watched folder the way builders write it (in place, as setuptools does; by rename, as
 *   hatchling does; with a build report, as `python -m build --report` does), and the clock
 *   runs from the moment the writer is done until `/simple/<project>/` lists the file.
 *   Target: p95 under 2 s.
 * - Idle cost: the daemon's CPU time over a quiet window with no watches, then with fifty
 *   watched folders (from /proc, in clock ticks of 10 ms). Target: no measurable difference
 *   (under 0.5% of one core).
 */
import { closeSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { accessFiles, readAccessFile, writeAccessFile } from '../../src/shared/access-file.js';
import { hashPassword, setHtpasswdUser } from '../../src/shared/htpasswd.js';
import { buildWheel, wheelFilename } from '../helpers/dists.js';
import { launchDaemon, stopDaemon, waitForQuiet, type LogLevel } from './daemon.js';
import { cpuSecondsOf, sleep } from './procs.js';

export interface WatchBenchOptions {
  cli: string;
  runDir: string;
  logDir: string;
  /** Builds timed per way of writing. */
  builds: number;
  /** Length of each idle CPU window, in seconds. */
  idleSeconds: number;
  /** Idle watched folders. */
  watches: number;
  log: (line: string) => void;
}

export interface LatencyFigures {
  builds: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

export interface WatchBenchResult {
  /** Written in place (setuptools). */
  inPlace: LatencyFigures;
  /** Written elsewhere, renamed into the folder (hatchling). */
  renamed: LatencyFigures;
  /** Written in place, then a build report (build >= 1.5.1) replaced atomically. */
  reported: LatencyFigures;
  idle: { seconds: number; watches: number; baselineCpuPct: number; watchedCpuPct: number };
}

const ADMIN = { user: 'bench-admin', password: 'bench-admin-password' };
const LOG_LEVEL: LogLevel = 'warn';

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

function figures(ms: number[]): LatencyFigures {
  return { builds: ms.length, p50Ms: percentile(ms, 50), p95Ms: percentile(ms, 95), maxMs: Math.max(...ms) };
}

/** An admin for the control API, in the data folder before the daemon starts. */
async function ensureAdmin(dataDir: string): Promise<string> {
  mkdirSync(dataDir, { recursive: true });
  const files = accessFiles(dataDir);
  writeFileSync(files.htpasswd, setHtpasswdUser('', ADMIN.user, await hashPassword(ADMIN.password, 4)), { mode: 0o600 });
  const access = readAccessFile(files.access);
  writeAccessFile(files.access, { ...access, roles: { ...access.roles, [ADMIN.user]: 'admin' } });
  return `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}`;
}

async function addWatch(url: string, authorization: string, dir: string): Promise<void> {
  const res = await fetch(`${url}/-/api/watches`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ dir }),
  });
  if (res.status !== 200) throw new Error(`Registering ${dir} failed: ${res.status} ${await res.text()}`);
}

/** Polls the project's page until it lists `filename`; milliseconds since `t0`. */
async function untilListed(url: string, project: string, filename: string, t0: number, timeoutMs = 30_000): Promise<number> {
  for (;;) {
    const res = await fetch(`${url}/simple/${project}/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
    if (res.status === 200) {
      const body = (await res.json()) as { files: { filename: string }[] };
      if (body.files.some((f) => f.filename === filename)) return performance.now() - t0;
    } else {
      await res.arrayBuffer();
    }
    if (performance.now() - t0 > timeoutMs) throw new Error(`${filename} was not listed within ${timeoutMs / 1000} s`);
    await sleep(10);
  }
}

/** Writes bytes into a file in place, in chunks, as a zip writer does. */
function writeInPlace(path: string, bytes: Buffer): void {
  const fd = openSync(path, 'w');
  try {
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, Math.min(16 * 1024, bytes.length - at));
  } finally {
    closeSync(fd);
  }
}

/** CPU used by `pid` over `seconds`, as a percentage of one core. */
async function cpuPercent(pid: number, seconds: number): Promise<number> {
  const before = cpuSecondsOf(pid) ?? NaN;
  const t = performance.now();
  await sleep(seconds * 1000);
  const after = cpuSecondsOf(pid) ?? NaN;
  return ((after - before) / ((performance.now() - t) / 1000)) * 100;
}

export async function benchWatch(o: WatchBenchOptions): Promise<WatchBenchResult> {
  const dataDir = join(o.runDir, 'data-watch');
  const packagesDir = join(o.runDir, 'packages-watch');
  const authorization = await ensureAdmin(dataDir);
  const { daemon } = await launchDaemon({ label: 'watch', cli: o.cli, dataDir, packagesDir, logLevel: LOG_LEVEL, logDir: o.logDir }, 30_000);
  try {
    const pid = daemon.proc.pid;
    await waitForQuiet(pid, 30_000);
    o.log(`Auto-publish: idle CPU with no watches, ${o.idleSeconds} s`);
    const baselineCpuPct = await cpuPercent(pid, o.idleSeconds);
    for (let i = 0; i < o.watches; i++) {
      const dir = join(o.runDir, 'idle-projects', `p${i}`, 'dist');
      mkdirSync(dir, { recursive: true });
      await addWatch(daemon.url, authorization, dir);
    }
    await waitForQuiet(pid, 30_000);
    o.log(`Auto-publish: idle CPU with ${o.watches} watched folders, ${o.idleSeconds} s`);
    const watchedCpuPct = await cpuPercent(pid, o.idleSeconds);

    const dist = join(o.runDir, 'timed-project', 'dist');
    mkdirSync(dist, { recursive: true });
    await addWatch(daemon.url, authorization, dist);
    const timed = async (how: 'inPlace' | 'renamed' | 'reported'): Promise<LatencyFigures> => {
      const ms: number[] = [];
      for (let i = 0; i < o.builds; i++) {
        const spec = { name: `bench-watch-${how.toLowerCase()}`, version: `1.0.${i}`, modules: { [`bench_watch/data.py`]: `DATA = ${JSON.stringify(createHash('sha256').update(`${how}${i}`).digest('hex').repeat(400))}\n` } };
        const filename = wheelFilename(spec);
        const bytes = buildWheel(spec);
        const path = join(dist, filename);
        let t0: number;
        if (how === 'renamed') {
          const temp = join(o.runDir, `${filename}.tmp`);
          writeFileSync(temp, bytes);
          renameSync(temp, path);
          t0 = performance.now();
        } else {
          writeInPlace(path, bytes);
          if (how === 'reported') {
            const report = { version: '1.0', artifacts: [{ name: filename, path, kind: 'wheel', size: bytes.length, hashes: { sha256: createHash('sha256').update(bytes).digest('hex') } }] };
            writeFileSync(join(dist, 'tmp-report'), JSON.stringify(report));
            renameSync(join(dist, 'tmp-report'), join(dist, 'build-report.json'));
          }
          t0 = performance.now();
        }
        ms.push(await untilListed(daemon.url, spec.name, filename, t0));
        await sleep(100);
      }
      return figures(ms);
    };
    o.log(`Auto-publish: end of build -> installable, ${o.builds} builds each way`);
    const inPlace = await timed('inPlace');
    const renamed = await timed('renamed');
    const reported = await timed('reported');
    return { inPlace, renamed, reported, idle: { seconds: o.idleSeconds, watches: o.watches, baselineCpuPct, watchedCpuPct } };
  } finally {
    await stopDaemon(daemon);
  }
}
