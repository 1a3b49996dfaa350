/**
 * `npm run bench`: the built daemon (`node dist/cli/index.js serve`, in the environment
 * `pyrepo start` gives it: MALLOC_ARENA_MAX=2) against its targets, and against nginx
 * serving the same pages from disk.
 *
 *   1. packages folders of N projects (10,000; 1,000 with BENCH_QUICK=1) and 100 projects,
 *      3 versions × (wheel + sdist) each, cached in .bench/
 *   2. first indexing of the N-project folder, and the daemon's memory
 *   3. restart on the built catalog: spawn → /-/health 200
 *   4. /simple/<project>/ under wrk (random projects, pip's Accept) vs nginx; p99 latency
 *   5. /simple/ (N projects, HTML) vs nginx
 *   6. /simple/<project>/ throughput at 100 vs N projects: both daemons up at once, loads
 *      alternated round by round, medians compared (separate runs minutes apart are shown too)
 *   7. sequential uploads over keep-alive at 100 and at N projects (flatness measured the
 *      same interleaved way), after a warm-up of 200 uploads: the rate is the steady state
 *      of a running daemon, not of code the JIT has not compiled yet (the first hundred
 *      uploads of a fresh process run at about three quarters of the speed)
 *   8. auto-publish (`pyrepo watch`, test/bench/watch.ts): from the end of a build to the
 *      version being installable (in place, by rename, with a build report), and the CPU of
 *      fifty idle watched folders against none
 *   9. the dashboard (test/bench/dashboard.ts): first full frame with N projects, keypress to
 *      frame, CPU under 1,000 downloads a second, and /packages/ download throughput
 *  10. a freshly started daemon at N projects: uploads from the first one over one
 *      connection, then over eight at once; `pyrepo status` and `pyrepo --version`
 *   and in the default-logging and --log-level warn runs, random files of the N-project
 *   folder under /packages/ (pip's User-Agent, so every one is counted) vs nginx
 *   serving the same folder, then the web home and the /packages/ listing once each (their
 *   memory is in the serving peak); each target is issue 15's table (PASS/FAIL per row),
 *   and diagnostics that explain failures: the start-up floor (Node + module loading), and
 *   the N-project daemon again with `serve --no-watch` (load, uploads, memory).
 *
 * Every daemon runs with default logging (info: an access line per request to stdout,
 * redirected to a file) — the headline — and again with --log-level warn. Loads run one
 * at a time with one wrk thread (the machine has 2 cores). Everything listens on
 * 127.0.0.1; every process started is ended on exit, signals and errors.
 * Results: a table on stdout, JSON in .bench/results.json, daemon logs in .bench/logs/.
 * BENCH_STRICT=1 makes a failed target fail the command (exit 1); BENCH_REPEAT=n (1-5) runs
 * each measured load n times and keeps the best; BENCH_ONLY=watch runs only section 8,
 * BENCH_ONLY=dashboard only section 9, BENCH_ONLY=upstream only the upstream proxy (test/bench/upstream.ts),
 * BENCH_ONLY=shared only the shared mode on PostgreSQL + S3 (test/bench/shared.ts)
 * (BENCH_ONLY=serving only sections 1-7; a comma-separated list runs several).
 * BENCH_DAEMON_NODE_ARGS passes Node options to every daemon it starts, e.g.
 * "--cpu-prof --cpu-prof-dir=DIR" to profile them.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureDataset, FILES_PER_PROJECT, removeUploadLeftovers, type Dataset } from './dataset.js';
import { freePort, indexedLogLine, launchDaemon, listeningLoggedMs, stopDaemon, waitForIndexed, waitForQuiet, type Daemon, type LogLevel } from './daemon.js';
import { startNginx, stopNginx } from './nginx.js';
import { installExitHandlers, killAllSync, memoryOf, onExitCleanup, sleep, useRegistry, which } from './procs.js';
import { dashboardRows, runDashboardBench, type DashboardResults } from './dashboard.js';
import { fmt, formatTable, type Row } from './report.js';
import { makeUploads, uploadConcurrently, uploadSequentially, type UploadResult } from './upload.js';
import { benchWatch, type WatchBenchResult } from './watch.js';
import { runUpstreamBench, upstreamRows, type UpstreamBenchResult } from './upstream.js';
import { runSharedBench, sharedRows, type SharedBenchResult } from './shared.js';
import { HTML_ACCEPT, PIP_ACCEPT, runWrk, type WrkResult } from './wrk.js';
import { PIP_USER_AGENT } from './downloads.js';

const QUICK = process.env.BENCH_QUICK === '1';
/** Sections to run: `serving` (1-7), `watch` (8) and `dashboard` (9); all when BENCH_ONLY is not set. */
const ONLY = (process.env.BENCH_ONLY ?? '').split(',').map((x) => x.trim()).filter(Boolean);
const runs = (section: 'serving' | 'watch' | 'dashboard' | 'upstream' | 'shared') => ONLY.length === 0 || ONLY.includes(section);
const STRICT = process.env.BENCH_STRICT === '1';
/** Run each measured load this many times and keep the best (less skew from other work on the machine). */
const REPEAT = Math.min(Math.max(Math.trunc(Number(process.env.BENCH_REPEAT ?? 1)) || 1, 1), 5);
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BENCH_DIR = join(REPO, '.bench');
const CLI = join(REPO, 'dist', 'cli', 'index.js');

const CONFIG = QUICK
  ? { projects: 1_000, smallProjects: 100, loadSeconds: 3, warmSeconds: 1, connections: 32, uploads: 100, uploadWarm: 100, uploadMaxMs: 10_000, totalLimitMin: 15 }
  : { projects: 10_000, smallProjects: 100, loadSeconds: 10, warmSeconds: 3, connections: 32, uploads: 500, uploadWarm: 200, uploadMaxMs: 30_000, totalLimitMin: 30 };

/** Issue 15's table: nginx serving the same bytes from disk is the reference. */
const TARGETS = {
  firstIndexingMs: 15_000,
  /** Peak RSS (VmHWM) of the daemon at N projects: through first indexing, and through a restart with loads and uploads. */
  rssMB: 120,
  /** Spawn to the first 200 on /simple/ with the catalog built. */
  restartFirstPageMs: 500,
  /** Random files under /packages/. */
  fileVsNginx: 0.5,
  fileP99Ms: 5,
  projectVsNginx: 0.8,
  p99Ms: 3,
  /** /simple/ was at 106% of nginx: keep it there. */
  rootVsNginx: 0.95,
  flatness: 0.15,
  /** Sequential uploads after a warm-up (the steady state), at 100 and N projects. */
  uploadsPerSecond: 200,
  /** Uploads from a freshly started daemon, no warm-up: one connection, and eight at once. */
  freshUploadsPerSecond: 300,
  freshUploads8PerSecond: 400,
  /** The CLI, whole process: `pyrepo status` against the running daemon, and `pyrepo --version`. */
  statusMs: 200,
  versionMs: 100,
  /** From the end of a build to the version being installable, p95. */
  watchP95Ms: 2_000,
  /** Fifty idle watched folders over none, in percent of one core: no measurable cost. */
  idleWatchCpuPct: 0.5,
};

/** Bounds on every wait. */
const LIMITS = { healthMs: 30_000, indexingMs: 180_000, quietMs: 120_000 };

const started = performance.now();
function log(line: string): void {
  const s = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`[${s}s] ${line}\n`);
}

// ---- what is measured -------------------------------------------------------------

interface MemorySample {
  rssMB: number;
  hwmMB: number;
}

interface FirstIndexing {
  healthMs: number;
  indexedMs: number;
  /** The slowest /-/health poll until indexing:false. */
  slowestHealthMs: number;
  /** From indexing:false until the daemon's CPU use dropped below 5% (watcher start-up). */
  settledAfterIndexedMs: number;
  settled: boolean;
  projects: number;
  files: number;
  rssAfterIndexing?: MemorySample;
  rssSettled?: MemorySample;
  /** Highest VmRSS seen while polling. */
  maxRssSeenMB: number;
  daemonLog?: string;
  /** Microseconds a file to read a sample of the folder just before (see folderReadMicros). */
  folderReadUs?: number;
}

interface ServingRun {
  label: string;
  logLevel: LogLevel;
  projects: number;
  healthMs: number;
  /** Spawn to the first 200 on /simple/ (when asked for: the restart). */
  firstPageMs?: number;
  /** Spawn to the daemon's "Server listening" log line (info level only). */
  listeningMs?: number;
  indexedMs: number;
  /** The slowest /-/health poll until indexing:false (event-loop stalls while starting). */
  slowestHealthMs: number;
  settledAfterIndexedMs: number;
  /** Fetching every project page once (first request renders it): pages per second. */
  coldPagesPerSecond?: number;
  /** The same fetch again, every page cached: the difference is the rendering. */
  cachedPagesPerSecond?: number;
  projectLoad?: WrkResult;
  rootLoad?: WrkResult;
  /** Random files under /packages/ with pip's User-Agent (each one counted as a download). */
  fileLoad?: WrkResult;
  uploads?: UploadResult;
  memory: { settled?: MemorySample; afterLoads?: MemorySample; afterUploads?: MemorySample };
  daemonLog?: string;
  cleanStop?: boolean;
}

/** Per-round figures of the interleaved flatness phase, small index first in each round. */
interface Flatness {
  pages: { small: number[]; large: number[] };
  uploads: { small: number[]; large: number[] };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

interface FreshRun {
  /** One connection, from the first upload on. */
  one: UploadResult;
  /** Eight connections at once, right after. */
  eight: UploadResult;
  /** Peak RSS through it all. */
  memory?: MemorySample;
  /** `pyrepo status` against this daemon, whole process, best of 5. */
  statusMs?: number;
  /** `pyrepo --version`, whole process, best of 5. */
  versionMs?: number;
  /** The same two without NODE_EXTRA_CA_CERTS, when the environment sets it. */
  statusBareMs?: number;
  versionBareMs?: number;
}

interface StartupFloor {
  /** `node -e 0`: Node's own start, with this environment. */
  nodeMs: number;
  /** `node -e 0` without NODE_EXTRA_CA_CERTS, when the environment sets it. */
  nodeBareMs?: number;
  /** `node dist/cli/index.js --help`: Node start and the CLI's modules. */
  cliHelpMs: number;
  /** `node -e 'await import("dist/daemon/main.js")'`: Node start and the daemon's modules. */
  daemonImportMs: number;
}

interface Results {
  quick: boolean;
  startedAt: string;
  finishedAt?: string;
  totalSeconds?: number;
  machine: { cpus: number; cpuModel: string; node: string; loadavgStart: number[]; loadavgEnd?: number[] };
  config: typeof CONFIG;
  targets: typeof TARGETS;
  datasets: { projects: number; files: number; dir: string; generatedSeconds: number | null }[];
  firstIndexing?: FirstIndexing;
  restart?: ServingRun;
  large: Partial<Record<LogLevel, ServingRun>>;
  small: Partial<Record<LogLevel, ServingRun>>;
  nginx?: { projectLoad?: WrkResult; rootLoad?: WrkResult; fileLoad?: WrkResult };
  /** A freshly started daemon at N projects: uploads with no warm-up, and the CLI against it. */
  fresh?: FreshRun;
  /** Figures that explain others: start-up floor, uploads without the folder watcher. */
  diagnostics: { startup?: StartupFloor; noWatch?: ServingRun };
  /** Both sizes served at once, loads alternated: the fair comparison for the flatness targets. */
  flatness?: Flatness;
  /** Auto-publish: build-to-installable latencies and the idle cost of watched folders. */
  watch?: WatchBenchResult;
  /** The dashboard: first frame, keypress to frame, CPU under a download storm, download throughput. */
  dashboard?: DashboardResults;
  upstream?: UpstreamBenchResult;
  shared?: SharedBenchResult;
  errors: string[];
  rows?: Row[];
}

// ---- helpers ----------------------------------------------------------------------

function preflight(): { wrk: string; nginx: string } {
  const wrk = which('wrk', ['/usr/bin', '/usr/local/bin']);
  const nginx = which('nginx', ['/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin']);
  const missing = [!wrk && 'wrk', !nginx && 'nginx'].filter(Boolean);
  if (missing.length > 0) {
    throw new Error(`The benchmark needs ${missing.join(' and ')}: install with apt-get install wrk nginx-light`);
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run bench\` (it builds first) or \`npm run build\`.`);
  return { wrk: wrk as string, nginx: nginx as string };
}

const simplePath = (project: string) => `/simple/${project}/`;

/** The part of a restart no daemon code can shorten: starting Node and loading modules (best of 3). */
function startupFloor(): StartupFloor {
  const best = (args: string[], bare = false) => {
    let ms = Infinity;
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const r = spawnSync(process.execPath, args, { stdio: 'ignore', timeout: 30_000, env: envFor({}, bare) });
      if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed (status ${r.status}).`);
      ms = Math.min(ms, performance.now() - t);
    }
    return ms;
  };
  const main = pathToFileURL(join(REPO, 'dist', 'daemon', 'main.js')).href;
  return {
    nodeMs: best(['-e', '0']),
    ...(EXTRA_CA ? { nodeBareMs: best(['-e', '0'], true) } : {}),
    cliHelpMs: best([CLI, '--help']),
    daemonImportMs: best(['--input-type=module', '-e', `await import(${JSON.stringify(main)});`]),
  };
}

/**
 * Requests every project page once with pip's Accept header (the daemon renders pages on
 * first request), checking each answer; with `saveTo`, writes each page where nginx
 * serves it (`simple/<p>/index.json`). Returns pages per second.
 */
async function fetchAllPages(url: string, names: string[], saveTo?: string): Promise<number> {
  const t = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++] as string;
      const res = await fetch(`${url}${simplePath(name)}`, { headers: { accept: PIP_ACCEPT }, signal: AbortSignal.timeout(10_000) });
      const body = Buffer.from(await res.arrayBuffer());
      const type = res.headers.get('content-type') ?? '';
      if (res.status !== 200 || !type.startsWith('application/vnd.pypi.simple.v1+json')) {
        throw new Error(`GET ${simplePath(name)} answered ${res.status} ${type}: ${body.toString('utf8').slice(0, 200)}`);
      }
      if (saveTo) {
        const page = JSON.parse(body.toString('utf8')) as { files?: unknown[] };
        if (page.files?.length !== FILES_PER_PROJECT) throw new Error(`${simplePath(name)} lists ${page.files?.length} files, not ${FILES_PER_PROJECT}.`);
        const dir = join(saveTo, 'simple', name);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'index.json'), body);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return names.length / ((performance.now() - t) / 1000);
}

/** `/simple/` as HTML, checked to list every project; saved as nginx's simple/index.html. */
async function saveRootPage(url: string, projects: number, saveTo: string): Promise<void> {
  const res = await fetch(`${url}/simple/`, { headers: { accept: HTML_ACCEPT }, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  const links = text.match(/<a /g)?.length ?? 0;
  if (res.status !== 200 || !(res.headers.get('content-type') ?? '').startsWith('text/html') || links !== projects) {
    throw new Error(`GET /simple/ answered ${res.status} ${res.headers.get('content-type')} with ${links} links (expected ${projects}).`);
  }
  mkdirSync(join(saveTo, 'simple'), { recursive: true });
  writeFileSync(join(saveTo, 'simple', 'index.html'), text);
}

/**
 * The pages that list every project or file, `GET /` (the web home) and `/packages/`, each
 * fetched once and checked to list them all: the serving peak covers what a person opening
 * them in a browser costs the daemon.
 */
async function fetchListings(url: string, projects: number): Promise<string> {
  const said: string[] = [];
  for (const [path, pattern, expected] of [
    ['/', /<li data-name=/g, projects],
    ['/packages/', /<a href=/g, projects * FILES_PER_PROJECT],
  ] as const) {
    const t = performance.now();
    const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    const ms = performance.now() - t;
    const listed = text.match(pattern)?.length ?? 0;
    if (res.status !== 200 || listed !== expected) throw new Error(`GET ${path} answered ${res.status} listing ${listed} (expected ${expected}).`);
    said.push(`${path} ${(Buffer.byteLength(text) / 1e6).toFixed(1)} MB in ${fmt.ms(ms)}`);
  }
  return said.join(', ');
}

function checkLoad(r: WrkResult): WrkResult {
  const errs = r.socketErrors;
  const parts = [
    r.non2xx3xx > 0 && `${r.non2xx3xx} non-2xx/3xx responses`,
    errs.connect + errs.read + errs.write + errs.timeout > 0 && `socket errors ${JSON.stringify(errs)}`,
    r.requests === 0 && 'no requests completed',
  ].filter(Boolean);
  if (parts.length > 0) throw new Error(`Load '${r.label}' had ${parts.join(', ')}:\n${r.raw}`);
  return r;
}

function describeLoad(r: WrkResult, withLoadavg = true): string {
  const text = `${fmt.rps(r.rps)}, p50 ${fmt.lat(r.latencyMs.p50)}, p99 ${fmt.lat(r.latencyMs.p99)}`;
  return withLoadavg ? `${text} (load avg before ${r.loadavgBefore[0]?.toFixed(2)})` : text;
}

interface LoadSpec {
  wrk: string;
  workDir: string;
  baseUrl: string;
  label: string;
  paths: string[];
  accept: string;
  headers?: Record<string, string>;
}

/** `/packages/<file>` of every file of a dataset. */
function filePaths(ds: Dataset): string[] {
  return readdirSync(ds.dir)
    .filter((f) => f.endsWith('.whl') || f.endsWith('.tar.gz'))
    .map((f) => `/packages/${f}`);
}

/** A short warm-up load (results discarded but checked), then the measured one. */
async function load(s: LoadSpec): Promise<WrkResult> {
  const common = { wrk: s.wrk, workDir: s.workDir, baseUrl: s.baseUrl, paths: s.paths, accept: s.accept, connections: CONFIG.connections, ...(s.headers ? { headers: s.headers } : {}) };
  checkLoad(await runWrk({ ...common, label: `${s.label} warm-up`, seconds: CONFIG.warmSeconds }));
  let best: WrkResult | undefined;
  const all: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    await sleep(500);
    const r = checkLoad(await runWrk({ ...common, label: s.label, seconds: CONFIG.loadSeconds }));
    all.push(r.rps);
    if (!best || r.rps > best.rps) best = r;
  }
  const r = best as WrkResult;
  log(`  ${s.label}: ${describeLoad(r)}${REPEAT > 1 ? ` (best of ${all.map((n) => Math.round(n)).join(', ')})` : ''}`);
  await sleep(500);
  return { ...r, ...(REPEAT > 1 ? { allRps: all } : {}) };
}

async function settle(d: Daemon): Promise<{ indexedMs: number; slowestHealthMs: number; settledAfterIndexedMs: number }> {
  const indexed = await waitForIndexed(d, LIMITS.indexingMs);
  const quiet = await waitForQuiet(d.proc.pid, LIMITS.quietMs);
  if (!quiet.quiet) log(`  (the daemon was still busy ${fmt.ms(quiet.ms)} after indexing; measuring anyway)`);
  return { indexedMs: indexed.ms, slowestHealthMs: indexed.slowestPollMs, settledAfterIndexedMs: quiet.ms };
}

// ---- phases -----------------------------------------------------------------------

interface Env {
  wrk: string;
  nginx: string;
  runDir: string;
  logDir: string;
  results: Results;
}

/** Measurement 2: first indexing on an empty data folder, with memory. */
/**
 * Microseconds a file to read 300 files spread over the folder: whether the first indexing
 * meets a cold disk. Each file is read there (about 8 µs a file from the page cache, 65-80 µs
 * from this kind of machine's disk), and the same folder took 9.8 s to index from the cache,
 * 18.5 s after the cache was dropped. (It warms those 300 of the folder's files.)
 */
function folderReadMicros(ds: Dataset): number {
  const names = readdirSync(ds.dir);
  const step = Math.max(1, Math.floor(names.length / 300));
  const started = performance.now();
  let read = 0;
  for (let i = 0; i < names.length; i += step, read++) readFileSync(join(ds.dir, names[i] as string));
  return ((performance.now() - started) * 1000) / Math.max(1, read);
}

async function firstIndexing(env: Env, ds: Dataset, dataDir: string): Promise<void> {
  log(`First indexing: ${fmt.int(ds.projects)} projects, ${fmt.int(ds.files)} files, empty data folder (default logging)`);
  const folderReadUs = folderReadMicros(ds);
  log(`  the folder before: ${folderReadUs.toFixed(0)} µs a file read (page cache about 8 µs, a cold disk 65-80 µs)`);
  const { daemon, ready } = await launchDaemon({ label: 'large-first-indexing', cli: CLI, packagesDir: ds.dir, dataDir, logLevel: 'info', logDir: env.logDir }, LIMITS.healthMs);
  try {
    let maxRssSeenMB = 0;
    const sample = () => {
      const m = memoryOf(daemon.proc.pid);
      if (m) maxRssSeenMB = Math.max(maxRssSeenMB, m.rssMB);
    };
    log(`  /-/health 200 after ${fmt.ms(ready.ms)}`);
    const indexed = await waitForIndexed(daemon, LIMITS.indexingMs, 100, sample);
    const rssAfterIndexing = memoryOf(daemon.proc.pid);
    log(
      `  indexing:false after ${fmt.ms(indexed.ms)}: ${fmt.int(indexed.health.projects)} projects, ${fmt.int(indexed.health.files)} files ` +
        `(slowest /-/health answer ${fmt.ms(indexed.slowestPollMs)})`,
    );
    const quiet = await waitForQuiet(daemon.proc.pid, LIMITS.quietMs, sample);
    const rssSettled = memoryOf(daemon.proc.pid);
    log(`  CPU idle ${fmt.ms(quiet.ms)} after that; RSS ${fmt.mb(rssSettled?.rssMB ?? NaN)}, peak ${fmt.mb(rssSettled?.hwmMB ?? NaN)}`);
    env.results.firstIndexing = {
      healthMs: ready.ms,
      indexedMs: indexed.ms,
      slowestHealthMs: indexed.slowestPollMs,
      settledAfterIndexedMs: quiet.ms,
      settled: quiet.quiet,
      projects: indexed.health.projects,
      files: indexed.health.files,
      ...(rssAfterIndexing ? { rssAfterIndexing } : {}),
      ...(rssSettled ? { rssSettled } : {}),
      maxRssSeenMB,
      folderReadUs,
      ...(indexedLogLine(daemon) ? { daemonLog: indexedLogLine(daemon) } : {}),
    };
    if (indexed.health.files !== ds.files || indexed.health.projects !== ds.projects) {
      throw new Error(`Indexed ${indexed.health.projects} projects / ${indexed.health.files} files, expected ${ds.projects} / ${ds.files}.`);
    }
  } finally {
    await stopDaemon(daemon);
  }
}

interface ServeOptions {
  label: string;
  ds: Dataset;
  dataDir: string;
  logLevel: LogLevel;
  /** Fetch every page and run the /simple/<p>/ load. */
  pages: boolean;
  root: boolean;
  uploads: boolean;
  extraArgs?: string[];
  /** Fetch every page a second time, cached, to isolate the cost of rendering. */
  measureRender?: boolean;
  /** Write the pages nginx serves here. */
  nginxRoot?: string;
  /** Run the random-file download load. */
  files?: boolean;
  /** Time the first 200 on /simple/ from the spawn (the restart target). */
  firstPage?: boolean;
}

/** A daemon on an existing (or new) data folder: readiness, loads, uploads. */
async function serving(env: Env, o: ServeOptions): Promise<ServingRun> {
  log(`${o.label}: ${fmt.int(o.ds.projects)} projects, --log-level ${o.logLevel} ${(o.extraArgs ?? []).join(' ')}`);
  const { daemon, ready } = await launchDaemon(
    {
      label: o.label,
      cli: CLI,
      packagesDir: o.ds.dir,
      dataDir: o.dataDir,
      logLevel: o.logLevel,
      logDir: env.logDir,
      ...(o.extraArgs ? { extraArgs: o.extraArgs } : {}),
      ...(o.firstPage ? { firstPagePath: '/simple/' } : {}),
    },
    LIMITS.healthMs,
  );
  const run: ServingRun = { label: o.label, logLevel: o.logLevel, projects: o.ds.projects, healthMs: ready.ms, indexedMs: NaN, slowestHealthMs: NaN, settledAfterIndexedMs: NaN, memory: {} };
  if (ready.firstPageMs !== undefined) run.firstPageMs = ready.firstPageMs;
  const memory = () => memoryOf(daemon.proc.pid);
  try {
    const listening = listeningLoggedMs(daemon);
    if (listening !== undefined) run.listeningMs = listening;
    const firstPage = ready.firstPageMs === undefined ? '' : `/simple/ 200 after ${fmt.ms(ready.firstPageMs)}, `;
    log(`  ${firstPage}/-/health 200 after ${fmt.ms(ready.ms)}${listening === undefined ? '' : ` ("Server listening" logged after ${fmt.ms(listening)})`}`);
    Object.assign(run, await settle(daemon));
    run.memory.settled = memory();
    log(`  indexing:false after ${fmt.ms(run.indexedMs)} (slowest /-/health answer ${fmt.ms(run.slowestHealthMs)}), CPU idle ${fmt.ms(run.settledAfterIndexedMs)} later`);
    const daemonLog = indexedLogLine(daemon);
    if (daemonLog) run.daemonLog = daemonLog;

    const spec = { wrk: env.wrk, workDir: env.runDir, baseUrl: daemon.url };
    if (o.pages) {
      run.coldPagesPerSecond = await fetchAllPages(daemon.url, o.ds.names, o.nginxRoot);
      log(`  first request of every project page: ${fmt.int(Math.round(run.coldPagesPerSecond))} pages/s (8 at a time)`);
      if (o.measureRender) {
        run.cachedPagesPerSecond = await fetchAllPages(daemon.url, o.ds.names);
        log(`  the same again, cached: ${fmt.int(Math.round(run.cachedPagesPerSecond))} pages/s`);
      }
      if (o.nginxRoot) await saveRootPage(daemon.url, o.ds.projects, o.nginxRoot);
      run.projectLoad = await load({ ...spec, label: `${o.label} /simple/<p>/`, paths: o.ds.names.map(simplePath), accept: PIP_ACCEPT });
    }
    if (o.root) run.rootLoad = await load({ ...spec, label: `${o.label} /simple/`, paths: ['/simple/'], accept: HTML_ACCEPT });
    if (o.files) run.fileLoad = await load({ ...spec, label: `${o.label} /packages/<file>`, paths: filePaths(o.ds), accept: '*/*', headers: { 'User-Agent': PIP_USER_AGENT } });
    if (o.pages) log(`  the pages listing everything, once each: ${await fetchListings(daemon.url, o.ds.projects)}`);
    if (o.pages || o.root || o.files) run.memory.afterLoads = memory();

    if (o.uploads) {
      const stamp = Math.floor(Date.now() / 1000) % 1_000_000;
      const files = makeUploads(CONFIG.uploads, stamp, CONFIG.uploadWarm);
      await warmUpUploads(daemon.url, stamp);
      run.uploads = await uploadSequentially(daemon.url, files, CONFIG.uploadMaxMs);
      const u = run.uploads;
      log(`  uploads: ${u.uploaded}/${u.attempted} in ${u.seconds.toFixed(2)} s = ${u.perSecond.toFixed(0)}/s (p50 ${fmt.lat(u.p50Ms)}, p99 ${fmt.lat(u.p99Ms)}, max ${fmt.lat(u.maxMs)})`);
      if (u.failures > 0) throw new Error(`${u.failures} uploads failed; first: ${u.firstFailure}`);
      run.memory.afterUploads = memory();
      const m = run.memory.afterUploads;
      if (m) log(`  RSS after uploads ${fmt.mb(m.rssMB)} (peak ${fmt.mb(m.hwmMB)})`);
    }
    return run;
  } finally {
    run.cleanStop = (await stopDaemon(daemon)).clean;
    if (o.uploads) removeUploadLeftovers(o.ds.dir);
  }
}

/**
 * NODE_EXTRA_CA_CERTS, when this environment sets it: Node 20 then reads and parses the whole
 * CA bundle before running any code (about 40 ms here; Node 22 and 24 read it when TLS first
 * needs it), so every CLI row is also measured without it, to show pyrepo's own part.
 */
const EXTRA_CA = process.env.NODE_EXTRA_CA_CERTS;

/** This process's environment with `env` added, and without NODE_EXTRA_CA_CERTS when `bare`. */
function envFor(env: Record<string, string>, bare: boolean): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (bare) delete out.NODE_EXTRA_CA_CERTS;
  return out;
}

/** Whole-process time of a CLI command, best of `times`; `env` adds to this process's environment. */
function cliMs(args: string[], env: Record<string, string>, times = 5, bare = false): number {
  let ms = Infinity;
  for (let i = 0; i < times; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, [CLI, ...args], { stdio: 'pipe', timeout: 30_000, env: envFor(env, bare) });
    if (r.status !== 0) throw new Error(`pyrepo ${args.join(' ')} failed (status ${r.status}): ${String(r.stderr).slice(0, 500)}${String(r.stdout).slice(0, 500)}`);
    ms = Math.min(ms, performance.now() - t);
  }
  return ms;
}

/**
 * Uploads as a user starting the daemon and publishing at once meets them: a fresh daemon
 * (default settings) at N projects, its first uploads over one connection with no warm-up,
 * then over eight at once; and the CLI's `status` and `--version` against it.
 */
async function freshPhase(env: Env, ds: Dataset, dataDir: string, home: string): Promise<FreshRun> {
  log(`Fresh daemon at ${fmt.int(ds.projects)} projects: uploads from the first one, then 8 connections; the CLI`);
  const { daemon } = await launchDaemon({ label: 'fresh-uploads', cli: CLI, packagesDir: ds.dir, dataDir, logLevel: 'info', logDir: env.logDir }, LIMITS.healthMs);
  try {
    await settle(daemon);
    const stamp = (Math.floor(Date.now() / 1000) + 700_000) % 1_000_000;
    const one = await uploadSequentially(daemon.url, makeUploads(CONFIG.uploads, stamp, 0), CONFIG.uploadMaxMs);
    if (one.failures > 0) throw new Error(`${one.failures} uploads failed; first: ${one.firstFailure}`);
    log(`  one connection: ${one.uploaded} in ${one.seconds.toFixed(2)} s = ${one.perSecond.toFixed(0)}/s (p50 ${fmt.lat(one.p50Ms)}, p99 ${fmt.lat(one.p99Ms)}, first ${fmt.lat(one.maxMs)} max)`);
    const eight = await uploadConcurrently(daemon.url, makeUploads(CONFIG.uploads, stamp, CONFIG.uploads), CONFIG.uploadMaxMs, 8);
    if (eight.failures > 0) throw new Error(`${eight.failures} uploads failed; first: ${eight.firstFailure}`);
    log(`  eight connections: ${eight.uploaded} in ${eight.seconds.toFixed(2)} s = ${eight.perSecond.toFixed(0)}/s (p50 ${fmt.lat(eight.p50Ms)}, p99 ${fmt.lat(eight.p99Ms)})`);
    const memory = memoryOf(daemon.proc.pid);
    const run: FreshRun = { one, eight, ...(memory ? { memory } : {}) };
    try {
      run.statusMs = cliMs(['status'], { PYREPO_HOME: home });
      run.versionMs = cliMs(['--version'], { PYREPO_HOME: home });
      log(`  pyrepo status ${fmt.ms(run.statusMs)}, pyrepo --version ${fmt.ms(run.versionMs)} (whole process, best of 5)`);
      if (EXTRA_CA) {
        run.statusBareMs = cliMs(['status'], { PYREPO_HOME: home }, 5, true);
        run.versionBareMs = cliMs(['--version'], { PYREPO_HOME: home }, 5, true);
        log(`  without NODE_EXTRA_CA_CERTS: pyrepo status ${fmt.ms(run.statusBareMs)}, pyrepo --version ${fmt.ms(run.versionBareMs)}`);
      }
    } catch (err) {
      env.results.errors.push(`CLI timing: ${(err as Error).message}`);
    }
    return run;
  } finally {
    await stopDaemon(daemon);
    removeUploadLeftovers(ds.dir);
  }
}

/** Sends the first CONFIG.uploadWarm uploads of `stamp`: what is measured after them runs on compiled code. */
async function warmUpUploads(url: string, stamp: number): Promise<void> {
  const w = await uploadSequentially(url, makeUploads(CONFIG.uploadWarm, stamp, 0), Math.min(5_000, CONFIG.uploadMaxMs));
  if (w.failures > 0) throw new Error(`Warm-up uploads failed: ${w.firstFailure}`);
}

/**
 * Flatness measured fairly: run separately minutes apart, the two sizes meet different
 * machine noise (ratios swung from 75% to 151%). Here both daemons serve at the same
 * time (default logging), and the loads and upload batches alternate small/large each
 * round (each daemon's uploads warmed up first, as in the sequential runs); the medians are
 * compared.
 */
async function flatnessPhase(env: Env, large: Dataset, small: Dataset, largeData: string, smallData: string): Promise<Flatness> {
  const rounds = QUICK ? 2 : 3;
  const result: Flatness = { pages: { small: [], large: [] }, uploads: { small: [], large: [] } };
  const both: { key: 'small' | 'large'; ds: Dataset; daemon: Daemon }[] = [];
  const stamp = (Math.floor(Date.now() / 1000) + 500_000) % 1_000_000;
  try {
    for (const [key, ds, dataDir] of [
      ['small', small, smallData],
      ['large', large, largeData],
    ] as const) {
      const { daemon } = await launchDaemon({ label: `flat-${key}`, cli: CLI, packagesDir: ds.dir, dataDir, logLevel: 'info', logDir: env.logDir }, LIMITS.healthMs);
      both.push({ key, ds, daemon });
      await settle(daemon);
      await fetchAllPages(daemon.url, ds.names);
      // Uploads warmed up as in the sequential runs: without, the first round's ran on code
      // not compiled yet at about two thirds of the speed for both sizes (277 vs 268/s,
      // 290 vs 287/s, then 400-450/s), and a median of three then rested on two rounds.
      await warmUpUploads(daemon.url, (stamp + 1) % 1_000_000);
    }
    for (let round = 0; round < rounds; round++) {
      for (const { key, ds, daemon } of both) {
        await sleep(500);
        const r = checkLoad(
          await runWrk({ wrk: env.wrk, workDir: env.runDir, baseUrl: daemon.url, paths: ds.names.map(simplePath), accept: PIP_ACCEPT, connections: CONFIG.connections, label: `flat-${key} /simple/<p>/`, seconds: CONFIG.loadSeconds }),
        );
        result.pages[key].push(r.rps);
      }
      for (const { key, daemon } of both) {
        const first = CONFIG.uploadWarm + CONFIG.uploads + (round * 2 + (key === 'large' ? 1 : 0)) * 100;
        const u = await uploadSequentially(daemon.url, makeUploads(100, stamp, first), CONFIG.uploadMaxMs);
        if (u.failures > 0) throw new Error(`${u.failures} uploads failed; first: ${u.firstFailure}`);
        result.uploads[key].push(u.perSecond);
      }
      log(
        `  round ${round + 1}: /simple/<p>/ ${fmt.rps(result.pages.small[round] as number)} (${fmt.int(small.projects)}) vs ${fmt.rps(result.pages.large[round] as number)} (${fmt.int(large.projects)}); ` +
          `uploads ${(result.uploads.small[round] as number).toFixed(0)}/s vs ${(result.uploads.large[round] as number).toFixed(0)}/s`,
      );
    }
    return result;
  } finally {
    for (const { ds, daemon } of both) {
      await stopDaemon(daemon);
      removeUploadLeftovers(ds.dir);
    }
  }
}

async function nginxLoads(env: Env, root: string, ds: Dataset): Promise<NonNullable<Results['nginx']>> {
  log(`nginx: the same pages from disk, 1 worker`);
  const n = await startNginx(env.nginx, join(env.runDir, 'nginx'), root, await freePort(), ds.dir);
  try {
    const spec = { wrk: env.wrk, workDir: env.runDir, baseUrl: n.url };
    const projectLoad = await load({ ...spec, label: 'nginx /simple/<p>/', paths: ds.names.map(simplePath), accept: PIP_ACCEPT });
    const rootLoad = await load({ ...spec, label: 'nginx /simple/', paths: ['/simple/'], accept: HTML_ACCEPT });
    const fileLoad = await load({ ...spec, label: 'nginx /packages/<file>', paths: filePaths(ds), accept: '*/*', headers: { 'User-Agent': PIP_USER_AGENT } });
    return { projectLoad, rootLoad, fileLoad };
  } finally {
    await stopNginx(n);
  }
}

// ---- the table --------------------------------------------------------------------

function watchRows(r: Results): Row[] {
  const w = r.watch;
  const latencyTarget = `p95 < ${fmt.ms(TARGETS.watchP95Ms)}`;
  const idleTarget = `< +${TARGETS.idleWatchCpuPct}% of a core`;
  if (!w) {
    return [
      { id: '8', what: 'Auto-publish: end of build -> installable', target: latencyTarget, measured: 'not measured (see errors)', pass: false },
      { id: '8', what: 'Auto-publish: 50 idle watched folders, CPU', target: idleTarget, measured: 'not measured (see errors)', pass: false },
    ];
  }
  const lat = (f: WatchBenchResult['inPlace']) => `p50 ${fmt.ms(f.p50Ms)}, p95 ${fmt.ms(f.p95Ms)}, max ${fmt.ms(f.maxMs)} (${f.builds} builds)`;
  const rows: Row[] = [];
  for (const [what, f] of [
    ['written in place (setuptools)', w.inPlace],
    ['renamed into place (hatchling)', w.renamed],
    ['with a build report (build --report)', w.reported],
  ] as const) {
    rows.push({ id: '8', what: `Auto-publish: end of build -> installable, ${what}`, target: latencyTarget, measured: lat(f), pass: f.p95Ms < TARGETS.watchP95Ms });
  }
  const extra = w.idle.watchedCpuPct - w.idle.baselineCpuPct;
  rows.push({
    id: '8',
    what: `Auto-publish: ${w.idle.watches} idle watched folders vs none, daemon CPU over ${w.idle.seconds} s`,
    target: idleTarget,
    measured: `${w.idle.watchedCpuPct.toFixed(2)}% vs ${w.idle.baselineCpuPct.toFixed(2)}% of a core (${extra >= 0 ? '+' : ''}${extra.toFixed(2)})`,
    pass: extra < TARGETS.idleWatchCpuPct,
  });
  return rows;
}

function rowsOf(r: Results): Row[] {
  if (!runs('serving')) return runs('watch') ? watchRows(r) : [];
  const rows: Row[] = [];
  const N = fmt.int(CONFIG.projects);
  const S = fmt.int(CONFIG.smallProjects);
  const missing = (id: string, what: string, target: string) => rows.push({ id, what, target, measured: 'not measured (see errors)', pass: false });
  const within = (ratio: number) => Math.abs(ratio - 1) <= TARGETS.flatness;

  const fi = r.firstIndexing;
  if (fi) {
    rows.push({ id: '2', what: `First indexing, ${N} projects (spawn -> indexing:false)`, target: `<= ${fmt.ms(TARGETS.firstIndexingMs)}`, measured: fmt.ms(fi.indexedMs), pass: fi.indexedMs <= TARGETS.firstIndexingMs });
    rows.push({ id: '2', what: '  spawn -> /-/health 200 (empty catalog)', target: '', measured: fmt.ms(fi.healthMs), pass: null });
    if (fi.folderReadUs !== undefined) {
      rows.push({ id: '2', what: '  a file of the folder read just before (cache ~8 µs, cold disk 65-80 µs)', target: '', measured: `${fi.folderReadUs.toFixed(0)} µs`, pass: null });
    }
    rows.push({ id: '2', what: '  slowest /-/health answer while indexing', target: '', measured: fmt.ms(fi.slowestHealthMs), pass: null });
    rows.push({ id: '2', what: '  CPU busy after indexing:false (watcher start)', target: '', measured: `${fmt.ms(fi.settledAfterIndexedMs)}${fi.settled ? '' : ' (not idle yet)'}`, pass: null });
    const peak = fi.rssSettled?.hwmMB ?? NaN;
    rows.push({ id: '2', what: `Daemon peak RSS (VmHWM) through first indexing, ${N} projects`, target: `< ${TARGETS.rssMB} MB`, measured: fmt.mb(peak), pass: peak < TARGETS.rssMB });
    rows.push({ id: '2', what: '  RSS at indexing:false / when idle', target: '', measured: `${fmt.mb(fi.rssAfterIndexing?.rssMB ?? NaN)} / ${fmt.mb(fi.rssSettled?.rssMB ?? NaN)}`, pass: null });
  } else {
    missing('2', `First indexing, ${N} projects`, `<= ${fmt.ms(TARGETS.firstIndexingMs)}`);
    missing('2', 'Daemon peak RSS (VmHWM) through first indexing', `< ${TARGETS.rssMB} MB`);
  }

  const servingPeak = Math.max(...[r.restart?.memory.afterUploads?.hwmMB, r.fresh?.memory?.hwmMB].filter((m): m is number => m !== undefined));
  if (Number.isFinite(servingPeak)) {
    rows.push({ id: '2', what: `Daemon peak RSS serving ${N} projects (loads, uploads)`, target: `< ${TARGETS.rssMB} MB`, measured: fmt.mb(servingPeak), pass: servingPeak < TARGETS.rssMB });
  } else missing('2', `Daemon peak RSS serving ${N} projects (loads, uploads)`, `< ${TARGETS.rssMB} MB`);

  const rs = r.restart;
  const restartTarget = `< ${fmt.ms(TARGETS.restartFirstPageMs)}`;
  if (rs?.firstPageMs !== undefined) {
    rows.push({ id: '3', what: `Restart with catalog built: spawn -> first 200 on /simple/`, target: restartTarget, measured: fmt.ms(rs.firstPageMs), pass: rs.firstPageMs < TARGETS.restartFirstPageMs });
  } else missing('3', 'Restart with catalog built: spawn -> first 200 on /simple/', restartTarget);
  if (rs) {
    rows.push({ id: '3', what: '  restart: spawn -> /-/health 200 (polled after /simple/)', target: '', measured: fmt.ms(rs.healthMs), pass: null });
    if (rs.listeningMs !== undefined) {
      rows.push({ id: '3', what: "  restart: spawn -> 'Server listening' logged", target: '', measured: fmt.ms(rs.listeningMs), pass: null });
    }
    rows.push({ id: '3', what: '  restart: spawn -> indexing:false (reconcile)', target: '', measured: fmt.ms(rs.indexedMs), pass: null });
    rows.push({ id: '3', what: '  restart: slowest /-/health answer until then', target: '', measured: fmt.ms(rs.slowestHealthMs), pass: null });
    const nw = r.diagnostics.noWatch;
    if (nw) {
      rows.push({ id: '3', what: '  same with serve --no-watch: indexing:false / slowest', target: '', measured: `${fmt.ms(nw.indexedMs)} / ${fmt.ms(nw.slowestHealthMs)}`, pass: null });
    }
  }
  const smallRestart = r.small.warn;
  if (smallRestart) {
    rows.push({ id: '3', what: `  restart at ${S} projects: spawn -> /-/health 200`, target: '', measured: fmt.ms(smallRestart.healthMs), pass: null });
  }
  const floor = r.diagnostics.startup;
  if (floor) {
    rows.push({ id: '3', what: '  floor: node alone (node -e 0)', target: '', measured: fmt.ms(floor.nodeMs), pass: null });
    if (floor.nodeBareMs !== undefined) rows.push({ id: '3', what: '  floor: node alone without NODE_EXTRA_CA_CERTS', target: '', measured: fmt.ms(floor.nodeBareMs), pass: null });
    rows.push({ id: '3', what: '  floor: node + CLI modules (--help)', target: '', measured: fmt.ms(floor.cliHelpMs), pass: null });
    rows.push({ id: '3', what: '  floor: node + daemon modules (import main.js)', target: '', measured: fmt.ms(floor.daemonImportMs), pass: null });
  }

  const ng = r.nginx;
  const fileTarget = `>= ${fmt.pct(TARGETS.fileVsNginx)} of nginx`;
  for (const level of ['info', 'warn'] as const) {
    const name = level === 'info' ? 'default logging' : '--log-level warn';
    const load = r.large[level]?.fileLoad;
    const what = `/packages/<file> (random of ${fmt.int(CONFIG.projects * FILES_PER_PROJECT)}), ${name}`;
    if (load && ng?.fileLoad) {
      const ratio = load.rps / ng.fileLoad.rps;
      rows.push({ id: '1', what, target: fileTarget, measured: `${fmt.rps(load.rps)} = ${fmt.pct(ratio)}`, pass: ratio >= TARGETS.fileVsNginx });
    } else missing('1', what, fileTarget);
    if (load) {
      rows.push({ id: '1', what: `/packages/<file> p99 latency, ${name}`, target: `< ${TARGETS.fileP99Ms} ms`, measured: fmt.lat(load.latencyMs.p99), pass: load.latencyMs.p99 < TARGETS.fileP99Ms });
    } else missing('1', `/packages/<file> p99 latency, ${name}`, `< ${TARGETS.fileP99Ms} ms`);
  }
  if (ng?.fileLoad) rows.push({ id: '1', what: `  nginx /packages/<file> (reference)`, target: '', measured: `${fmt.rps(ng.fileLoad.rps)}, p99 ${fmt.lat(ng.fileLoad.latencyMs.p99)}`, pass: null });

  const projectTarget = `>= ${fmt.pct(TARGETS.projectVsNginx)} of nginx`;
  for (const level of ['info', 'warn'] as const) {
    const run = r.large[level];
    const name = level === 'info' ? 'default logging' : '--log-level warn';
    const load = run?.projectLoad;
    if (load && ng?.projectLoad) {
      const ratio = load.rps / ng.projectLoad.rps;
      rows.push({ id: '4', what: `/simple/<p>/ at ${N}, ${name}`, target: projectTarget, measured: `${fmt.rps(load.rps)} = ${fmt.pct(ratio)}`, pass: ratio >= TARGETS.projectVsNginx });
    } else missing('4', `/simple/<p>/ at ${N}, ${name}`, projectTarget);
    if (load) {
      rows.push({ id: '4', what: `/simple/<p>/ p99 latency, ${name}`, target: `< ${TARGETS.p99Ms} ms`, measured: fmt.lat(load.latencyMs.p99), pass: load.latencyMs.p99 < TARGETS.p99Ms });
    } else missing('4', `/simple/<p>/ p99 latency, ${name}`, `< ${TARGETS.p99Ms} ms`);
  }
  if (ng?.projectLoad) rows.push({ id: '4', what: `  nginx /simple/<p>/ (reference)`, target: '', measured: `${fmt.rps(ng.projectLoad.rps)}, p99 ${fmt.lat(ng.projectLoad.latencyMs.p99)}`, pass: null });

  const rootTarget = `>= ${fmt.pct(TARGETS.rootVsNginx)} of nginx (keep)`;
  for (const level of ['info', 'warn'] as const) {
    const name = level === 'info' ? 'default logging' : '--log-level warn';
    const load = r.large[level]?.rootLoad;
    if (load && ng?.rootLoad) {
      const ratio = load.rps / ng.rootLoad.rps;
      rows.push({ id: '5', what: `/simple/ (${N} projects, HTML), ${name}`, target: rootTarget, measured: `${fmt.rps(load.rps)} = ${fmt.pct(ratio)}`, pass: ratio >= TARGETS.rootVsNginx });
    } else missing('5', `/simple/ (${N} projects, HTML), ${name}`, rootTarget);
  }
  if (ng?.rootLoad) rows.push({ id: '5', what: `  nginx /simple/ (reference)`, target: '', measured: `${fmt.rps(ng.rootLoad.rps)}, p99 ${fmt.lat(ng.rootLoad.latencyMs.p99)}`, pass: null });

  const flatTarget = `within ${fmt.pct(TARGETS.flatness)}`;
  const flat = r.flatness;
  if (flat && flat.pages.large.length > 0) {
    const big = median(flat.pages.large);
    const small = median(flat.pages.small);
    const ratio = big / small;
    rows.push({ id: '6', what: `/simple/<p>/ flatness ${N} vs ${S} (served at once, alternated, medians)`, target: flatTarget, measured: `${fmt.rps(big)} vs ${fmt.rps(small)} = ${fmt.pct(ratio)}`, pass: within(ratio) });
  } else missing('6', `/simple/<p>/ flatness ${N} vs ${S}`, flatTarget);
  for (const level of ['info', 'warn'] as const) {
    const name = level === 'info' ? 'default logging' : '--log-level warn';
    const big = r.large[level]?.projectLoad;
    const small = r.small[level]?.projectLoad;
    if (big && small) {
      rows.push({ id: '6', what: `  separate runs, minutes apart, ${name}`, target: '', measured: `${fmt.rps(big.rps)} vs ${fmt.rps(small.rps)} = ${fmt.pct(big.rps / small.rps)}`, pass: null });
    }
  }

  const noWatchLoad = r.diagnostics.noWatch?.projectLoad;
  if (noWatchLoad) {
    rows.push({ id: '6', what: `  diagnostic: /simple/<p>/ at ${N}, default logging, --no-watch`, target: '', measured: describeLoad(noWatchLoad, false), pass: null });
  }

  const upTarget = `>= ${TARGETS.uploadsPerSecond}/s`;
  const upSmall = r.small.info?.uploads;
  const upBig = r.large.info?.uploads;
  for (const [size, u] of [
    [S, upSmall],
    [N, upBig],
  ] as const) {
    if (u) rows.push({ id: '7', what: `Sequential uploads at ${size} projects`, target: upTarget, measured: `${u.perSecond.toFixed(0)}/s (p99 ${fmt.lat(u.p99Ms)})`, pass: u.perSecond >= TARGETS.uploadsPerSecond && u.failures === 0 });
    else missing('7', `Sequential uploads at ${size} projects`, upTarget);
  }
  if (flat && flat.uploads.large.length > 0) {
    const big = median(flat.uploads.large);
    const small = median(flat.uploads.small);
    const ratio = big / small;
    rows.push({ id: '7', what: `Upload flatness ${N} vs ${S} (served at once, alternated, medians)`, target: flatTarget, measured: `${big.toFixed(0)}/s vs ${small.toFixed(0)}/s = ${fmt.pct(ratio)}`, pass: within(ratio) });
  } else missing('7', `Upload flatness ${N} vs ${S}`, flatTarget);
  if (upSmall && upBig) {
    rows.push({ id: '7', what: '  separate runs, minutes apart', target: '', measured: fmt.pct(upBig.perSecond / upSmall.perSecond), pass: null });
  }
  const fresh = r.fresh;
  const fresh1Target = `>= ${TARGETS.freshUploadsPerSecond}/s`;
  const fresh8Target = `>= ${TARGETS.freshUploads8PerSecond}/s`;
  if (fresh) {
    const f1 = fresh.one;
    const f8 = fresh.eight;
    rows.push({ id: '7', what: `Uploads from a fresh daemon at ${N}, one connection, from the first`, target: fresh1Target, measured: `${f1.perSecond.toFixed(0)}/s (p99 ${fmt.lat(f1.p99Ms)})`, pass: f1.perSecond >= TARGETS.freshUploadsPerSecond && f1.failures === 0 });
    rows.push({ id: '7', what: `Uploads from a fresh daemon at ${N}, 8 connections`, target: fresh8Target, measured: `${f8.perSecond.toFixed(0)}/s (p99 ${fmt.lat(f8.p99Ms)})`, pass: f8.perSecond >= TARGETS.freshUploads8PerSecond && f8.failures === 0 });
  } else {
    missing('7', `Uploads from a fresh daemon at ${N}, one connection, from the first`, fresh1Target);
    missing('7', `Uploads from a fresh daemon at ${N}, 8 connections`, fresh8Target);
  }
  const noWatchUp = r.diagnostics.noWatch?.uploads;
  if (noWatchUp) {
    rows.push({ id: '7', what: `  diagnostic: uploads at ${N}, serve --no-watch`, target: '', measured: `${noWatchUp.perSecond.toFixed(0)}/s (p99 ${fmt.lat(noWatchUp.p99Ms)})`, pass: null });
  }

  const cold = r.large.info?.coldPagesPerSecond;
  const cached = r.large.info?.cachedPagesPerSecond;
  if (cold !== undefined && cached !== undefined) {
    const renderMs = 1000 / cold - 1000 / cached;
    rows.push({
      id: '-',
      what: `Every ${N} project pages, first (render) vs cached fetch`,
      target: '',
      measured: `${fmt.int(Math.round(cold))} vs ${fmt.int(Math.round(cached))} pages/s (~${renderMs.toFixed(2)} ms/page to render)`,
      pass: null,
    });
  }
  const mem = (m: MemorySample | undefined) => (m ? `${fmt.mb(m.rssMB)} (peak ${fmt.mb(m.hwmMB)})` : 'not measured');
  const memRows: [string, MemorySample | undefined][] = [
    [`RSS at ${N}, idle after restart, watching the folder`, r.large.warn?.memory.settled],
    [`RSS at ${N}, idle after restart, serve --no-watch`, r.diagnostics.noWatch?.memory.settled],
    [`RSS at ${N} after the loads (default logging)`, r.large.info?.memory.afterLoads],
    [`RSS at ${N} after the uploads (default logging)`, r.large.info?.memory.afterUploads],
    [`RSS at ${N} after the uploads, serve --no-watch`, r.diagnostics.noWatch?.memory.afterUploads],
  ];
  for (const [what, m] of memRows) if (m) rows.push({ id: '-', what, target: '', measured: mem(m), pass: null });

  const statusTarget = `< ${fmt.ms(TARGETS.statusMs)}`;
  const versionTarget = `< ${fmt.ms(TARGETS.versionMs)}`;
  if (fresh?.statusMs !== undefined) rows.push({ id: '10', what: '`pyrepo status` (whole process, daemon running)', target: statusTarget, measured: fmt.ms(fresh.statusMs), pass: fresh.statusMs < TARGETS.statusMs });
  else missing('10', '`pyrepo status` (whole process, daemon running)', statusTarget);
  if (fresh?.versionMs !== undefined) rows.push({ id: '10', what: '`pyrepo --version` (whole process)', target: versionTarget, measured: fmt.ms(fresh.versionMs), pass: fresh.versionMs < TARGETS.versionMs });
  else missing('10', '`pyrepo --version` (whole process)', versionTarget);
  if (fresh?.statusBareMs !== undefined && fresh.versionBareMs !== undefined) {
    rows.push({ id: '10', what: '  the same without NODE_EXTRA_CA_CERTS: status', target: '', measured: fmt.ms(fresh.statusBareMs), pass: null });
    rows.push({ id: '10', what: '  the same without NODE_EXTRA_CA_CERTS: --version', target: '', measured: fmt.ms(fresh.versionBareMs), pass: null });
  }
  if (runs('watch')) rows.push(...watchRows(r));
  return rows;
}

// ---- main -------------------------------------------------------------------------

const RUN_DIR_PREFIX = 'pyrepo-bench-';

/** Removes the temporary folders of earlier runs that were killed outright (their owner is gone). */
function removeStaleRunDirs(): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(RUN_DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8'));
    } catch {
      continue; // not (yet) marked: leave it
    }
    let alive = false;
    try {
      alive = readFileSync(`/proc/${owner}/cmdline`, 'utf8').includes('bench');
    } catch {
      alive = false;
    }
    if (!alive) {
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    }
  }
  return removed;
}

async function main(): Promise<number> {
  process.umask(0o022); // nginx workers (another user when run as root) must read the pages
  installExitHandlers();
  const limitMs = CONFIG.totalLimitMin * 60_000;
  setTimeout(() => {
    process.stderr.write(`\nbench: still running after ${CONFIG.totalLimitMin} minutes; stopping everything.\n`);
    killAllSync();
    process.exit(3);
  }, limitMs).unref();

  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run bench\` (it builds first) or \`npm run build\`.`);
  const tools = runs('serving') ? preflight() : { wrk: '', nginx: '' };
  mkdirSync(BENCH_DIR, { recursive: true });
  const ended = useRegistry(join(BENCH_DIR, 'children.json'));
  if (ended.length > 0) log(`Ended processes left by an interrupted run: ${ended.join(', ')}`);
  const logDir = join(BENCH_DIR, 'logs');
  rmSync(logDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  const stale = removeStaleRunDirs();
  if (stale.length > 0) log(`Removed temporary folders of interrupted runs: ${stale.join(', ')}`);
  const runDir = mkdtempSync(join(tmpdir(), RUN_DIR_PREFIX));
  chmodSync(runDir, 0o755);
  writeFileSync(join(runDir, 'owner.pid'), String(process.pid));
  onExitCleanup(() => rmSync(runDir, { recursive: true, force: true }));

  const results: Results = {
    quick: QUICK,
    startedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', node: process.version, loadavgStart: loadavg() },
    config: CONFIG,
    targets: TARGETS,
    datasets: [],
    large: {},
    small: {},
    diagnostics: {},
    errors: [],
  };
  log(`pyrepo bench${QUICK ? ' (BENCH_QUICK: smaller and shorter)' : ''}: ${results.machine.cpus} cores, node ${process.version}, load avg ${loadavg()[0]?.toFixed(2)}`);

  const withServing = runs('serving');
  const large = withServing ? ensureDataset(BENCH_DIR, CONFIG.projects, log) : (undefined as unknown as Dataset);
  const small = withServing ? ensureDataset(BENCH_DIR, CONFIG.smallProjects, log) : (undefined as unknown as Dataset);
  for (const ds of withServing ? [large, small] : []) {
    results.datasets.push({ projects: ds.projects, files: ds.files, dir: ds.dir, generatedSeconds: ds.generatedSeconds });
    if (ds.generatedSeconds === null) log(`Using cached ${ds.dir} (${fmt.int(ds.files)} files)`);
    onExitCleanup(() => removeUploadLeftovers(ds.dir));
  }

  const env: Env = { ...tools, runDir, logDir, results };
  const nginxRoot = join(runDir, 'nginx-root');
  // PYREPO_HOME's shape (<home>/data), so that `pyrepo status` finds the daemon.
  const largeHome = join(runDir, 'home-large');
  const largeData = join(largeHome, 'data');
  const smallData = join(runDir, 'data-small');
  const phase = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      results.errors.push(`${name}: ${message}`);
      log(`ERROR in ${name}: ${message}`);
    }
  };

  try {
    if (withServing) await servingPhases();
    if (runs('watch')) {
      await phase('auto-publish', async () => {
        results.watch = await benchWatch({
          cli: CLI,
          runDir,
          logDir,
          builds: QUICK ? 20 : 40,
          idleSeconds: QUICK ? 10 : 30,
          watches: 50,
          log,
        });
      });
    }
    if (runs('dashboard')) {
      await phase('dashboard', async () => {
        results.dashboard = await runDashboardBench({ projects: CONFIG.projects, log });
      });
    }
    if (runs('upstream')) await phase('upstream proxy', async () => void (results.upstream = await runUpstreamBench({ cli: CLI, runDir, logDir, quick: QUICK, log })));
    if (runs('shared')) await phase('shared mode', async () => void (results.shared = await runSharedBench({ cli: CLI, runDir, logDir, quick: QUICK, log })));
  } finally {
    killAllSync();
  }

  async function servingPhases(): Promise<void> {
    await phase('start-up floor', async () => {
      const floor = startupFloor();
      results.diagnostics.startup = floor;
      log(`Start-up floor: node ${fmt.ms(floor.nodeMs)}${floor.nodeBareMs !== undefined ? ` (${fmt.ms(floor.nodeBareMs)} without NODE_EXTRA_CA_CERTS)` : ""}, node + CLI --help ${fmt.ms(floor.cliHelpMs)}, node + daemon modules ${fmt.ms(floor.daemonImportMs)}`);
    });
    await phase('first indexing', () => firstIndexing(env, large, largeData));
    await phase('restart, default logging', async () => {
      const run = await serving(env, {
        label: 'large-info',
        ds: large,
        dataDir: largeData,
        logLevel: 'info',
        pages: true,
        root: true,
        files: true,
        uploads: true,
        measureRender: true,
        nginxRoot,
        firstPage: true,
      });
      results.restart = run;
      results.large.info = run;
    });
    await phase('--log-level warn', async () => {
      results.large.warn = await serving(env, { label: 'large-warn', ds: large, dataDir: largeData, logLevel: 'warn', pages: true, root: true, files: true, uploads: false });
    });
    await phase('fresh daemon: uploads and the CLI', async () => {
      results.fresh = await freshPhase(env, large, largeData, largeHome);
    });
    await phase('serve --no-watch (diagnostic)', async () => {
      results.diagnostics.noWatch = await serving(env, {
        label: 'large-info-nowatch',
        ds: large,
        dataDir: largeData,
        logLevel: 'info',
        pages: true,
        root: false,
        uploads: true,
        extraArgs: ['--no-watch'],
      });
    });
    await phase('nginx', async () => {
      if (!existsSync(join(nginxRoot, 'simple', 'index.html'))) throw new Error('no pages for nginx (the default-logging phase failed)');
      results.nginx = await nginxLoads(env, nginxRoot, large);
    });
    await phase(`${CONFIG.smallProjects} projects, default logging`, async () => {
      results.small.info = await serving(env, { label: 'small-info', ds: small, dataDir: smallData, logLevel: 'info', pages: true, root: false, uploads: true });
    });
    await phase(`${CONFIG.smallProjects} projects, --log-level warn`, async () => {
      results.small.warn = await serving(env, { label: 'small-warn', ds: small, dataDir: smallData, logLevel: 'warn', pages: true, root: false, uploads: false });
    });
    await phase('flatness, both sizes at once', async () => {
      log(`Flatness: ${fmt.int(CONFIG.smallProjects)} and ${fmt.int(CONFIG.projects)} projects served at once, loads alternated`);
      results.flatness = await flatnessPhase(env, large, small, largeData, smallData);
    });
  }

  const rows = [...rowsOf(results), ...(results.dashboard ? dashboardRows(results.dashboard) : []), ...(results.upstream ? upstreamRows(results.upstream) : []), ...(results.shared ? sharedRows(results.shared) : [])];
  results.rows = rows;
  results.finishedAt = new Date().toISOString();
  results.totalSeconds = (performance.now() - started) / 1000;
  results.machine.loadavgEnd = loadavg();
  writeFileSync(join(BENCH_DIR, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);

  const failed = rows.filter((r) => r.pass === false).length;
  const targets = rows.filter((r) => r.pass !== null).length;
  process.stdout.write(`\n${formatTable(rows)}\n\n`);
  process.stdout.write(
    `${targets - failed} of ${targets} targets met${QUICK ? ` (BENCH_QUICK: ${fmt.int(CONFIG.projects)} projects, ${CONFIG.loadSeconds} s loads)` : ''}; ` +
      `whole bench ${fmt.ms(results.totalSeconds * 1000)}; load avg ${loadavg()
        .map((n) => n.toFixed(2))
        .join(' ')} (other work on this machine skews the figures).\n`,
  );
  process.stdout.write(`Results: ${join(BENCH_DIR, 'results.json')}; daemon logs: ${logDir}\n`);
  if (results.errors.length > 0) {
    process.stdout.write(`\n${results.errors.length} measurement(s) could not run:\n${results.errors.map((e) => `  - ${e.split('\n')[0]}`).join('\n')}\n`);
    return 1;
  }
  return STRICT && failed > 0 ? 1 : 0;
}

main().then(
  (code) => {
    killAllSync();
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    killAllSync();
    process.exit(2);
  },
);
