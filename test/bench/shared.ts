/**
 * The shared mode in `npm run bench` (BENCH_ONLY=shared runs it alone): a throwaway
 * PostgreSQL cluster and s3rver on loopback, two built daemons sharing them, and one daemon
 * on its own data folder for comparison:
 *
 * - uploads into PostgreSQL + S3 with 8 connections; target at least 100 a second;
 * - project pages `/simple/<p>/` from the second shared daemon (its copy, filled by
 *   following the first) against the daemon on its own, with wrk; target 90% or better;
 * - how long a change made on one daemon takes to show on the other (an upload, then the
 *   other's page polled every few ms); target p99 within 1 s.
 *
 * s3rver is a test server written in JavaScript, slower than any real object store: the
 * upload figure is a floor.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startPostgres } from '../helpers/postgres.js';
import { startS3 } from '../helpers/s3.js';
import { launchDaemon, stopDaemon, type Daemon } from './daemon.js';
import { which } from './procs.js';
import { fmt, type Row } from './report.js';
import { makeUploads, uploadConcurrently, uploadSequentially, type UploadResult } from './upload.js';
import { PIP_ACCEPT, runWrk, type WrkResult } from './wrk.js';

export interface SharedBenchOptions {
  cli: string;
  runDir: string;
  logDir: string;
  quick: boolean;
  log: (line: string) => void;
}

export interface SharedBenchResult {
  uploads: UploadResult;
  ownPage: WrkResult;
  sharedPage: WrkResult;
  /** Milliseconds from an upload's answer on one daemon to its file on the other's page, sorted. */
  visibleMs: number[];
}

const PAGE_RATIO = 0.9;
const UPLOADS_PER_S = 100;
const VISIBLE_P99_MS = 1000;

const p99 = (sorted: number[]) => sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] ?? Number.NaN;

async function listed(d: Daemon, project: string, filename: string): Promise<boolean> {
  const res = await fetch(`${d.url}/simple/${project}/`, { headers: { accept: PIP_ACCEPT }, signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  return res.status === 200 && text.includes(filename);
}

export async function runSharedBench(o: SharedBenchOptions): Promise<SharedBenchResult> {
  const wrk = which('wrk', ['/usr/bin', '/usr/local/bin']);
  if (!wrk) throw new Error('wrk is not installed (apt-get install wrk)');
  const dir = join(o.runDir, 'shared-bench');
  mkdirSync(dir, { recursive: true });
  const [pg, s3] = await Promise.all([startPostgres(), startS3()]);
  const daemons: Daemon[] = [];
  try {
    const shared = (n: number) =>
      launchDaemon(
        {
          label: `shared-${n}`,
          cli: o.cli,
          packagesDir: join(dir, `shared-${n}`, 'packages'),
          dataDir: join(dir, `shared-${n}`, 'data'),
          logLevel: 'warn',
          logDir: o.logDir,
          extraArgs: ['--catalog', pg.url, '--storage', `s3://${s3.bucket}/bench`],
          env: s3.env,
        },
        60_000,
      );
    const first = (await shared(1)).daemon;
    daemons.push(first);
    const second = (await shared(2)).daemon;
    daemons.push(second);
    const own = (await launchDaemon({ label: 'own-folder', cli: o.cli, packagesDir: join(dir, 'own', 'packages'), dataDir: join(dir, 'own', 'data'), logLevel: 'warn', logDir: o.logDir }, 60_000)).daemon;
    daemons.push(own);

    const count = o.quick ? 200 : 1000;
    const files = makeUploads(count, Date.now() % 100_000);
    const uploads = await uploadConcurrently(first.url, files, 120_000, 8);
    if (uploads.failures > 0) throw new Error(`uploads into the shared mode failed: ${uploads.firstFailure ?? ''}`);
    o.log(`Shared mode: ${uploads.uploaded} uploads in ${uploads.seconds.toFixed(1)} s (${fmt.rps(uploads.perSecond)}) with 8 connections`);
    const own8 = await uploadConcurrently(own.url, files, 120_000, 8);
    if (own8.failures > 0) throw new Error(`uploads into the daemon on its own folder failed: ${own8.firstFailure ?? ''}`);

    // The second daemon's copy is complete before its pages are measured.
    const last = files[files.length - 1]!;
    const deadline = Date.now() + 60_000;
    while (!(await listed(second, last.name, last.filename))) {
      if (Date.now() > deadline) throw new Error('the second shared daemon did not catch up within 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const pages = [...new Set(files.map((f) => `/simple/${f.name}/`))];
    const seconds = o.quick ? 3 : 6;
    const load = (d: Daemon, label: string) => runWrk({ wrk, workDir: o.runDir, baseUrl: d.url, paths: pages, accept: PIP_ACCEPT, connections: 32, seconds, label });
    const best = (a: WrkResult, b: WrkResult) => (b.rps > a.rps ? b : a);
    let ownPage = await load(own, 'own-folder page');
    let sharedPage = await load(second, 'shared page');
    ownPage = best(ownPage, await load(own, 'own-folder page'));
    sharedPage = best(sharedPage, await load(second, 'shared page'));

    // Visibility: one upload at a time on the first daemon, the second's page polled.
    const probes = makeUploads(o.quick ? 20 : 50, (Date.now() % 100_000) + 1, count);
    const visibleMs: number[] = [];
    for (const f of probes) {
      const r = await uploadSequentially(first.url, [f], 10_000);
      if (r.failures > 0) throw new Error(`a probe upload failed: ${r.firstFailure ?? ''}`);
      const t = performance.now();
      while (!(await listed(second, f.name, f.filename))) {
        if (performance.now() - t > 10_000) throw new Error(`${f.filename} did not show on the second daemon within 10 s`);
        await new Promise((res) => setTimeout(res, 5));
      }
      visibleMs.push(performance.now() - t);
    }
    visibleMs.sort((a, b) => a - b);
    o.log(
      `Shared mode: pages ${fmt.rps(sharedPage.rps)} vs ${fmt.rps(ownPage.rps)} on its own folder; a change shows on the other daemon in p50 ${fmt.lat(visibleMs[Math.floor(visibleMs.length / 2)] ?? 0)}, p99 ${fmt.lat(p99(visibleMs))}`,
    );
    return { uploads, ownPage, sharedPage, visibleMs };
  } finally {
    for (const d of daemons) await stopDaemon(d);
    await pg.destroy();
    await s3.close();
  }
}

export function sharedRows(r: SharedBenchResult): Row[] {
  const p99Ms = p99(r.visibleMs);
  return [
    {
      id: 'S1',
      what: 'shared mode: uploads into PostgreSQL + S3 (s3rver), 8 connections',
      target: `>= ${UPLOADS_PER_S}/s`,
      measured: `${fmt.rps(r.uploads.perSecond)} (p99 ${fmt.lat(r.uploads.p99Ms)})`,
      pass: r.uploads.perSecond >= UPLOADS_PER_S,
    },
    {
      id: 'S2',
      what: 'shared mode: /simple/<p>/ from a following daemon vs a daemon on its own folder',
      target: `>= ${fmt.pct(PAGE_RATIO)}`,
      measured: `${fmt.rps(r.sharedPage.rps)} vs ${fmt.rps(r.ownPage.rps)} (${fmt.pct(r.sharedPage.rps / r.ownPage.rps)}); p99 ${fmt.lat(r.sharedPage.latencyMs.p99)}`,
      pass: r.sharedPage.rps >= PAGE_RATIO * r.ownPage.rps,
    },
    {
      id: 'S3',
      what: `shared mode: an upload on one daemon listed on the other (${r.visibleMs.length} uploads)`,
      target: `p99 <= ${VISIBLE_P99_MS} ms`,
      measured: `p50 ${fmt.lat(r.visibleMs[Math.floor(r.visibleMs.length / 2)] ?? 0)}, p99 ${fmt.lat(p99Ms)}`,
      pass: p99Ms <= VISIBLE_P99_MS,
    },
  ];
}
