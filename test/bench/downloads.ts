/**
 * Download throughput: `/packages/<file>` under wrk, with pip's User-Agent (which the daemon
 * reads to count downloads by installer), on a daemon of 100 projects. Counting and batching
 * downloads must not slow them down: the dashboard bench runs this, and it runs alone
 * against any built CLI to compare two builds:
 *
 *   tsx test/bench/downloads.ts [cli …]     (default: dist/cli/index.js)
 *
 * Several CLIs are measured in alternating rounds (BENCH_REPEAT, default 3), so that other
 * work on the machine skews them alike; the median of each is reported.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureDataset } from './dataset.js';
import { launchDaemon, stopDaemon, waitForIndexed } from './daemon.js';
import { installExitHandlers, killAllSync, which } from './procs.js';
import { runWrk, type WrkResult } from './wrk.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BENCH_DIR = join(REPO, '.bench');

/** What pip 23.2 sends (captured), with CI unknown: the JSON the daemon parses once per distinct agent. */
export const PIP_USER_AGENT =
  'pip/23.2.1 {"ci":null,"cpu":"x86_64","distro":{"id":"bookworm","libc":{"lib":"glibc","version":"2.36"},"name":"Debian GNU/Linux","version":"12"},' +
  '"implementation":{"name":"CPython","version":"3.11.7"},"installer":{"name":"pip","version":"23.2.1"},"openssl_version":"OpenSSL 3.0.11 19 Sep 2023",' +
  '"python":"3.11.7","setuptools_version":"65.5.0","system":{"name":"Linux","release":"6.1.0"}}';

export interface DownloadThroughput {
  cli: string;
  rps: number[];
  medianRps: number;
  p99Ms: number;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;

/**
 * wrk on `/packages/` for each CLI in turn, `rounds` times; one daemon per CLI, started once
 * on its own copy of the 100-project folder's catalog.
 */
export async function downloadThroughput(clis: string[], opts: { rounds: number; seconds: number; log: (line: string) => void }): Promise<DownloadThroughput[]> {
  const wrk = which('wrk');
  if (!wrk) throw new Error('wrk is not installed (apt-get install wrk)');
  const ds = ensureDataset(BENCH_DIR, 100, opts.log);
  const work = mkdtempSync(join(BENCH_DIR, 'downloads-'));
  const logDir = join(BENCH_DIR, 'logs');
  mkdirSync(logDir, { recursive: true });
  const paths = readdirSync(ds.dir)
    .filter((f) => f.endsWith('.whl') || f.endsWith('.tar.gz'))
    .map((f) => `/packages/${f}`);
  const daemons = [];
  try {
    for (const [i, cli] of clis.entries()) {
      const { daemon } = await launchDaemon(
        { label: `downloads-${i}`, cli, packagesDir: ds.dir, dataDir: join(work, `data-${i}`), logLevel: 'info', logDir },
        30_000,
      );
      daemons.push(daemon);
      await waitForIndexed(daemon, 120_000);
    }
    const results = clis.map((cli) => ({ cli, runs: [] as WrkResult[] }));
    for (let round = 0; round < opts.rounds; round++) {
      for (const [i, d] of daemons.entries()) {
        const r = await runWrk({ wrk, label: `downloads-${i}-${round}`, baseUrl: d.url, paths, accept: '*/*', headers: { 'User-Agent': PIP_USER_AGENT }, seconds: opts.seconds, connections: 32, workDir: work });
        if (r.non2xx3xx > 0) throw new Error(`${r.non2xx3xx} downloads failed (${clis[i]})`);
        results[i]?.runs.push(r);
        opts.log(`  ${clis[i]}: ${Math.round(r.rps)} req/s, p99 ${r.latencyMs.p99} ms`);
      }
    }
    return results.map(({ cli, runs }) => ({
      cli,
      rps: runs.map((r) => Math.round(r.rps)),
      medianRps: Math.round(median(runs.map((r) => r.rps))),
      p99Ms: median(runs.map((r) => r.latencyMs.p99)),
    }));
  } finally {
    for (const d of daemons) await stopDaemon(d);
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  installExitHandlers();
  const clis = process.argv.slice(2).map((c) => resolve(c));
  const rounds = Math.min(Math.max(Number(process.env.BENCH_REPEAT ?? 3) || 3, 1), 9);
  downloadThroughput(clis.length > 0 ? clis : [join(REPO, 'dist', 'cli', 'index.js')], { rounds, seconds: 8, log: (l) => process.stdout.write(`${l}\n`) }).then(
    (results) => {
      for (const r of results) process.stdout.write(`${r.cli}: median ${r.medianRps} req/s (runs ${r.rps.join(', ')}), p99 ${r.p99Ms} ms\n`);
      killAllSync();
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`downloads bench: ${err instanceof Error ? err.stack : String(err)}\n`);
      killAllSync();
      process.exit(2);
    },
  );
}
