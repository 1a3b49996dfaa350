/**
 * The upstream proxy in `npm run bench` (BENCH_ONLY=upstream runs it alone): one built daemon
 * that has local projects and an upstream (a fake simple index on 127.0.0.1, in this
 * process), measured with wrk on loopback:
 *
 * - a cached upstream project page against a local project page, in requests per second,
 *   with pip's Accept header; target: the upstream page at 90% of the local one or better;
 * - a cached upstream file against a local file (`/packages/<filename>`, pip's User-Agent
 *   so that both are counted as downloads); the same target.
 *
 * The cache is filled first (every page and file fetched once), so the loads measure pyrepo
 * alone, never the upstream. Loads alternate local, upstream, local, upstream, and the best
 * run of each is kept, so that a burst of other work on the machine does not decide it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildWheel, wheelFilename, type DistSpec } from '../helpers/dists.js';
import { startFakeUpstream } from '../helpers/upstream.js';
import { launchDaemon, stopDaemon } from './daemon.js';
import { which } from './procs.js';
import { fmt, type Row } from './report.js';
import { PIP_ACCEPT, runWrk, type WrkResult } from './wrk.js';

export interface UpstreamBenchOptions {
  cli: string;
  runDir: string;
  logDir: string;
  quick: boolean;
  log: (line: string) => void;
}

export interface UpstreamBenchResult {
  projects: number;
  localPage: WrkResult;
  upstreamPage: WrkResult;
  localFile: WrkResult;
  upstreamFile: WrkResult;
}

/** The upstream figure must reach this share of the local one. */
const TARGET_RATIO = 0.9;
const PIP_AGENT = 'pip/24.0 {"installer":{"name":"pip","version":"24.0"},"python":"3.11.2"}';

export async function runUpstreamBench(o: UpstreamBenchOptions): Promise<UpstreamBenchResult> {
  const wrk = which('wrk', ['/usr/bin', '/usr/local/bin']);
  if (!wrk) throw new Error('wrk is not installed (apt-get install wrk)');
  const projects = o.quick ? 20 : 100;
  const seconds = o.quick ? 3 : 8;
  const dir = join(o.runDir, 'upstream-bench');
  const packagesDir = join(dir, 'packages');
  mkdirSync(packagesDir, { recursive: true });
  const spec = (name: string): DistSpec => ({ name, version: '1.0', summary: `bench project ${name}` });
  const local = Array.from({ length: projects }, (_, i) => spec(`bench-local-${i}`));
  for (const s of local) writeFileSync(join(packagesDir, wheelFilename(s)), buildWheel(s));

  const upstream = await startFakeUpstream();
  const remote = Array.from({ length: projects }, (_, i) => upstream.add(spec(`bench-up-${i}`)));
  const { daemon } = await launchDaemon(
    { label: 'upstream-proxy', cli: o.cli, packagesDir, dataDir: join(dir, 'data'), logLevel: 'info', logDir: o.logDir, extraArgs: ['--upstream', upstream.url] },
    60_000,
  );
  try {
    // Fill the cache: every upstream page and file once.
    for (let i = 0; i < projects; i++) {
      const page = await fetch(`${daemon.url}/simple/bench-up-${i}/`, { headers: { accept: PIP_ACCEPT } });
      if (page.status !== 200) throw new Error(`the upstream page of bench-up-${i} answered ${page.status}`);
      await page.arrayBuffer();
      const file = await fetch(`${daemon.url}/packages/${remote[i]!.filename}`);
      if (file.status !== 200) throw new Error(`the upstream file ${remote[i]!.filename} answered ${file.status}`);
      await file.arrayBuffer();
    }
    const before = upstream.requests.length;
    const load = (label: string, paths: string[], headers: Record<string, string> = {}) =>
      runWrk({ wrk, workDir: o.runDir, baseUrl: daemon.url, paths, accept: PIP_ACCEPT, connections: 32, seconds, label, headers });
    const best = (a: WrkResult, b: WrkResult) => (b.rps > a.rps ? b : a);
    const pages = { local: local.map((s) => `/simple/${s.name}/`), upstream: remote.map((_, i) => `/simple/bench-up-${i}/`) };
    const files = { local: local.map((s) => `/packages/${wheelFilename(s)}`), upstream: remote.map((r) => `/packages/${r.filename}`) };
    await load('upstream warm-up', pages.upstream);
    let localPage = await load('local page', pages.local);
    let upstreamPage = await load('cached upstream page', pages.upstream);
    localPage = best(localPage, await load('local page', pages.local));
    upstreamPage = best(upstreamPage, await load('cached upstream page', pages.upstream));
    const agent = { 'User-Agent': PIP_AGENT };
    let localFile = await load('local file', files.local, agent);
    let upstreamFile = await load('cached upstream file', files.upstream, agent);
    localFile = best(localFile, await load('local file', files.local, agent));
    upstreamFile = best(upstreamFile, await load('cached upstream file', files.upstream, agent));
    // The loads were answered from the cache: upstream saw (at most) background revalidations.
    const during = upstream.requests.slice(before).filter((p) => p.startsWith('/files/'));
    if (during.length > 0) throw new Error(`upstream was asked for ${during.length} file(s) during the loads: the cache did not hold them`);
    for (const r of [localPage, upstreamPage, localFile, upstreamFile]) {
      if (r.non2xx3xx > 0) throw new Error(`${r.label}: ${r.non2xx3xx} answers were not 2xx/3xx`);
    }
    o.log(
      `Upstream proxy: page ${fmt.rps(upstreamPage.rps)} cached upstream vs ${fmt.rps(localPage.rps)} local; file ${fmt.rps(upstreamFile.rps)} vs ${fmt.rps(localFile.rps)}`,
    );
    return { projects, localPage, upstreamPage, localFile, upstreamFile };
  } finally {
    await stopDaemon(daemon);
    await upstream.stop();
  }
}

export function upstreamRows(r: UpstreamBenchResult): Row[] {
  const row = (id: string, what: string, up: WrkResult, local: WrkResult): Row => ({
    id,
    what,
    target: `>= ${fmt.pct(TARGET_RATIO)} of local`,
    measured: `${fmt.rps(up.rps)} vs ${fmt.rps(local.rps)} (${fmt.pct(up.rps / local.rps)}); p99 ${fmt.lat(up.latencyMs.p99)} vs ${fmt.lat(local.latencyMs.p99)}`,
    pass: up.rps >= TARGET_RATIO * local.rps,
  });
  return [
    row('U1', `cached upstream page /simple/<p>/ (${r.projects} projects, pip Accept)`, r.upstreamPage, r.localPage),
    row('U2', 'cached upstream file /packages/<file> (pip User-Agent)', r.upstreamFile, r.localFile),
  ];
}
