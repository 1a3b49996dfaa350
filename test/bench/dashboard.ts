/**
 * The dashboard's speed (`npm run bench` runs it after the daemon's figures; it runs alone
 * too: `tsx test/bench/dashboard.ts`, BENCH_QUICK=1 for 1,000 projects):
 *
 *   1. first full frame: the built `pyrepo tui` on a pseudo-terminal, against a daemon of
 *      N projects (10,000), from the moment the snapshot (health and the project list) has
 *      arrived to the first frame that shows the whole list (`Projects  N`);
 *   2. keypress to frame: moves, pages, sorts (10,000 rows sorted again), a filter typed
 *      and cleared; the time from the key to the first byte of the next frame, paced like
 *      a fast typist (one key per frame and throttle interval);
 *   3. a download storm: a bounded load loop of 1,000 downloads a second for 6 s on
 *      loopback, at 160×48 and at 80×24, while the dashboard shows them: its CPU (one core
 *      = 100%) and frames a second;
 *   4. download throughput (wrk on /packages/ with pip's User-Agent, downloads.ts):
 *      counting and batching must not slow downloads.
 *
 * The dashboard reaches the daemon through an HTTP proxy in this process (the daemon's
 * state file names it), which times when the snapshot's answers have arrived.
 */
import { spawn as spawnPty, type IPty } from '@lydell/node-pty';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isolatedEnv, prepareIsolatedEnv } from '../helpers/daemon.js';
import { ensureDataset } from './dataset.js';
import { BENCH_DIR, downloadThroughput, PIP_USER_AGENT, type DownloadThroughput } from './downloads.js';
import { cpuSecondsOf, installExitHandlers, killAllSync, onExitCleanup, sleep, spawnManaged } from './procs.js';
import { fmt, type Row } from './report.js';

export const DASHBOARD_TARGETS = { firstFrameMs: 1_000, keypressP95Ms: 50, stormCpu: 0.2, stormFps: 10 };

export interface KeyLatency {
  kind: string;
  keys: number;
  p50: number;
  p95: number;
  max: number;
}

export interface Storm {
  size: string;
  seconds: number;
  downloads: number;
  rate: number;
  failed: number;
  tuiCpu: number;
  daemonCpu: number;
  frames: number;
  fps: number;
}

export interface DashboardResults {
  projects: number;
  snapshotBytes: number;
  /** From the request for the list to its last byte. */
  snapshotMs: number;
  firstFrameMs: number;
  keys: KeyLatency[];
  storms: Storm[];
  downloads?: DownloadThroughput;
  errors: string[];
}

const REPO = resolve(BENCH_DIR, '..');
const CLI = join(REPO, 'dist', 'cli', 'index.js');

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b[()][0-9A-Za-z]|\u001b[=>78]/g;

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** An HTTP proxy that times the answers passing through it. */
class TimingProxy {
  private server: Server | undefined;
  private readonly agent = new Agent({ keepAlive: true });
  port = 0;
  /** `performance.now()` when each answer of a path ended, in order. */
  readonly ended: { path: string; at: number; bytes: number; ms: number }[] = [];

  constructor(private readonly target: number) {}

  async listen(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const started = performance.now();
      const up = request({ host: '127.0.0.1', port: this.target, path: req.url, method: req.method, headers: req.headers, agent: this.agent }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.flushHeaders();
        let bytes = 0;
        answer.on('data', (b: Buffer) => {
          bytes += b.length;
          res.write(b);
        });
        answer.on('end', () => res.end(() => this.ended.push({ path: req.url ?? '', at: performance.now(), bytes, ms: performance.now() - started })));
        answer.on('error', () => res.destroy());
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
      res.on('close', () => up.destroy());
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    this.port = (this.server?.address() as { port: number }).port;
  }

  close(): void {
    this.server?.closeAllConnections();
    this.server?.close();
    this.agent.destroy();
  }
}

/** The dashboard on a pseudo-terminal, its output chunks timed. */
class Screen {
  readonly pty: IPty;
  private raw = '';
  private readonly waiters: (() => void)[] = [];
  chunks = 0;
  /** Frames drawn: Ink wraps each in a synchronized update (CSI ?2026h … CSI ?2026l). */
  frames = 0;
  lastChunkAt = 0;

  constructor(env: NodeJS.ProcessEnv, cols: number, rows: number) {
    const clean = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));
    // BENCH_TUI_PROFILE=<folder>: a CPU profile of the dashboard (node --cpu-prof), written when it quits.
    const profile = process.env.BENCH_TUI_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${resolve(process.env.BENCH_TUI_PROFILE)}`] : [];
    this.pty = spawnPty(process.execPath, [...profile, CLI, 'tui'], { name: 'xterm-256color', cols, rows, cwd: REPO, env: clean });
    onExitCleanup(() => {
      try {
        process.kill(this.pty.pid, 'SIGKILL');
      } catch {
        // gone
      }
    });
    this.pty.onData((data) => {
      this.chunks += 1;
      this.frames += data.split('\u001b[?2026h').length - 1;
      this.lastChunkAt = performance.now();
      this.raw += data;
      if (this.raw.length > 4_000_000) this.raw = this.raw.slice(-1_000_000);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Resolves with the time of the next output chunk (rejects after `ms`). */
  nextChunk(ms = 5_000): Promise<number> {
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`no output within ${ms} ms`)), ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolvePromise(this.lastChunkAt);
      });
    });
  }

  /** Waits until the plain text written since `from` matches; returns the time of that chunk. */
  async waitFor(re: RegExp, ms: number, from = 0): Promise<number> {
    const deadline = performance.now() + ms;
    for (;;) {
      if (re.test(this.raw.slice(from).replace(ANSI, ''))) return this.lastChunkAt;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`the dashboard did not show ${re} within ${ms} ms:\n${this.raw.slice(-2000).replace(ANSI, '')}`);
      await this.nextChunk(left).catch(() => undefined);
    }
  }

  get length(): number {
    return this.raw.length;
  }
}

async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const p = spawnManaged(`pyrepo ${args[0]}`, process.execPath, [CLI, ...args], { capture: true, marker: `pyrepo-bench-${args[0]}`, env });
  await p.exited;
  if (p.exit?.code !== 0 && !(args[0] === 'status' && p.exit?.code === 3)) throw new Error(`pyrepo ${args.join(' ')} failed (${p.exit?.code}):\n${p.stdout}\n${p.stderr}`);
  return p.stdout;
}

/** A load loop: `rate` downloads a second of random files for `seconds`, at most 64 in flight. */
async function downloadStorm(baseUrl: string, paths: string[], rate: number, seconds: number): Promise<{ done: number; failed: number; elapsed: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  let sent = 0;
  let done = 0;
  let failed = 0;
  let inFlight = 0;
  const started = performance.now();
  const one = () =>
    new Promise<void>((resolveOne) => {
      const path = paths[Math.floor(Math.random() * paths.length)] as string;
      const req = request(`${baseUrl}${path}`, { agent, headers: { 'user-agent': PIP_USER_AGENT } }, (res) => {
        if (res.statusCode !== 200) failed += 1;
        res.resume();
        res.on('end', () => resolveOne());
      });
      req.on('error', () => {
        failed += 1;
        resolveOne();
      });
      req.end();
    });
  while (performance.now() - started < seconds * 1000) {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    while (sent < due && inFlight < 64) {
      sent += 1;
      inFlight += 1;
      void one().then(() => {
        inFlight -= 1;
        done += 1;
      });
    }
    await sleep(5);
  }
  while (inFlight > 0) await sleep(5);
  agent.destroy();
  return { done, failed, elapsed: (performance.now() - started) / 1000 };
}

export async function runDashboardBench(opts: { projects: number; log: (line: string) => void; withDownloads?: boolean }): Promise<DashboardResults> {
  const { projects, log } = opts;
  const results: DashboardResults = { projects, snapshotBytes: 0, snapshotMs: NaN, firstFrameMs: NaN, keys: [], storms: [], errors: [] };
  if (!existsSync(CLI)) throw new Error('dist/ is missing: npm run build');
  const ds = ensureDataset(BENCH_DIR, projects, log);
  const home = join(BENCH_DIR, `dashboard-home-${projects}`);
  mkdirSync(home, { recursive: true });
  await prepareIsolatedEnv(home);
  const env: NodeJS.ProcessEnv = { ...isolatedEnv(home), TERM: 'xterm-256color' };
  for (const k of ['CI', 'CONTINUOUS_INTEGRATION', 'NO_COLOR']) delete env[k];

  log(`Dashboard: daemon of ${fmt.int(projects)} projects (pyrepo start, catalog kept in ${home})`);
  await runCli(['start', '--port', '0', '--authenticate', 'none', '--packages-dir', ds.dir], env);
  let proxy: TimingProxy | undefined;
  let screen: Screen | undefined;
  /** The state file and what it said before it named the proxy (put back before stopping). */
  let restoreState: (() => void) | undefined;
  try {
    let status = JSON.parse(await runCli(['status', '--json'], env)) as { url: string; indexing?: boolean; dataDir: string; pid: number; files?: number };
    const deadline = performance.now() + 300_000;
    while (status.indexing !== false || (status.files ?? 0) < ds.files) {
      if (performance.now() > deadline) throw new Error('the daemon did not finish indexing in 5 minutes');
      await sleep(500);
      status = JSON.parse(await runCli(['status', '--json'], env)) as typeof status;
    }
    const stateFile = join(status.dataDir, 'daemon.json');
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { url: string; pid: number };
    const daemonUrl = state.url;
    proxy = new TimingProxy(Number(new URL(daemonUrl).port));
    await proxy.listen();
    const original = readFileSync(stateFile, 'utf8');
    restoreState = () => writeFileSync(stateFile, original, { mode: 0o600 });
    writeFileSync(stateFile, JSON.stringify({ ...state, url: `http://127.0.0.1:${proxy.port}` }), { mode: 0o600 });

    // 1. The first full frame.
    screen = new Screen(env, 160, 48);
    const framed = await screen.waitFor(new RegExp(`Projects  ${projects}  by`), 60_000);
    const list = proxy.ended.find((e) => e.path === '/-/api/projects');
    const health = proxy.ended.find((e) => e.path === '/-/health');
    if (!list) throw new Error('the dashboard showed the list without asking for it');
    const arrived = Math.max(list.at, health?.at ?? 0);
    results.snapshotBytes = list.bytes;
    results.snapshotMs = list.ms;
    results.firstFrameMs = framed - arrived;
    log(`  first full frame ${fmt.ms(results.firstFrameMs)} after the snapshot arrived (list ${(list.bytes / 1e6).toFixed(1)} MB in ${fmt.ms(list.ms)})`);
    await screen.waitFor(/● live/, 10_000);

    // 2. Keypresses, each timed to the first byte of its frame.
    const plan: [string, string][] = [
      ...Array.from({ length: 30 }, (): [string, string] => ['move', 'j']),
      ...Array.from({ length: 10 }, (): [string, string] => ['move', 'k']),
      ...Array.from({ length: 10 }, (): [string, string] => ['page', '\u001b[6~']),
      ['page', 'G'],
      ['page', 'g'],
      ...Array.from({ length: 8 }, (): [string, string] => ['sort', '>']),
      ['sort', 'r'],
      ['sort', 'r'],
      ...[...'/bench-proj-0012'].map((k): [string, string] => ['filter', k]),
      ...Array.from({ length: 4 }, (): [string, string] => ['filter', '\u007f']),
      ['filter', '\u001b'],
      ['pane', '\t'],
      ['pane', '\t'],
      ['pane', '\t'],
    ];
    const times = new Map<string, number[]>();
    for (const [kind, key] of plan) {
      // Paced: past Ink's throttle window, as a fast typist is.
      await sleep(60);
      const sent = performance.now();
      const next = screen.nextChunk(5_000);
      screen.pty.write(key);
      try {
        const at = await next;
        times.set(kind, [...(times.get(kind) ?? []), at - sent]);
      } catch {
        times.set(kind, [...(times.get(kind) ?? []), Infinity]);
      }
    }
    const all = [...times.values()].flat();
    for (const [kind, values] of [['all', all] as [string, number[]], ...times]) {
      const sorted = [...values].sort((a, b) => a - b);
      results.keys.push({ kind, keys: sorted.length, p50: pct(sorted, 50), p95: pct(sorted, 95), max: sorted.at(-1) ?? NaN });
    }
    for (const k of results.keys) log(`  keys (${k.kind}, ${k.keys}): p50 ${fmt.lat(k.p50)}, p95 ${fmt.lat(k.p95)}, max ${fmt.lat(k.max)}`);

    // 3. Download storms, at two sizes.
    const paths = readdirSync(ds.dir)
      .filter((f) => f.endsWith('.whl') || f.endsWith('.tar.gz'))
      .map((f) => `/packages/${f}`);
    for (const [cols, rows] of [
      [160, 48],
      [80, 24],
    ] as const) {
      screen.pty.resize(cols, rows);
      await sleep(500);
      const cpu0 = cpuSecondsOf(screen.pty.pid) ?? NaN;
      const dcpu0 = cpuSecondsOf(state.pid) ?? NaN;
      const frames0 = screen.frames;
      const storm = await downloadStorm(daemonUrl, paths, 1000, 6);
      // The last batches and frames of the storm.
      await sleep(500);
      const cpu = (cpuSecondsOf(screen.pty.pid) ?? NaN) - cpu0;
      const dcpu = (cpuSecondsOf(state.pid) ?? NaN) - dcpu0;
      const seconds = storm.elapsed + 0.5;
      const frames = screen.frames - frames0;
      const s: Storm = {
        size: `${cols}×${rows}`,
        seconds,
        downloads: storm.done,
        rate: storm.done / storm.elapsed,
        failed: storm.failed,
        tuiCpu: cpu / seconds,
        daemonCpu: dcpu / seconds,
        frames,
        fps: frames / seconds,
      };
      results.storms.push(s);
      log(`  storm ${s.size}: ${fmt.int(s.downloads)} downloads (${Math.round(s.rate)}/s, ${s.failed} failed); dashboard ${fmt.pct(s.tuiCpu)} of a core, ${s.fps.toFixed(1)} frames/s; daemon ${fmt.pct(s.daemonCpu)}`);
    }
    screen.pty.write('q');
    await screen.waitFor(/$^/, 3_000).catch(() => undefined);
  } finally {
    try {
      if (screen) process.kill(screen.pty.pid, 'SIGTERM');
    } catch {
      // gone
    }
    // `pyrepo stop` finds the daemon by its state file: with the proxy gone, it would take it for stopped.
    restoreState?.();
    proxy?.close();
    await runCli(['stop'], env).catch((err: unknown) => results.errors.push(`stop: ${(err as Error).message}`));
  }

  // 4. Download throughput.
  if (opts.withDownloads !== false) {
    log('Download throughput (/packages/ under wrk, pip User-Agent, 100 projects)');
    const [d] = await downloadThroughput([CLI], { rounds: 3, seconds: 8, log });
    if (d) results.downloads = d;
  }
  return results;
}

/** The rows `npm run bench` prints for the dashboard. */
export function dashboardRows(r: DashboardResults): Row[] {
  const T = DASHBOARD_TARGETS;
  const N = fmt.int(r.projects);
  const rows: Row[] = [
    { id: 'D1', what: `Dashboard, ${N} projects: snapshot arrived -> first full frame`, target: `< ${fmt.ms(T.firstFrameMs)}`, measured: fmt.ms(r.firstFrameMs), pass: r.firstFrameMs < T.firstFrameMs },
    { id: 'D1', what: '  the project list: size, request -> last byte', target: '', measured: `${(r.snapshotBytes / 1e6).toFixed(1)} MB, ${fmt.ms(r.snapshotMs)}`, pass: null },
  ];
  for (const k of r.keys) {
    rows.push(
      k.kind === 'all'
        ? { id: 'D2', what: `Keypress -> frame, p95 (${k.keys} keys; p50 ${fmt.lat(k.p50)}, max ${fmt.lat(k.max)})`, target: `< ${T.keypressP95Ms} ms`, measured: fmt.lat(k.p95), pass: k.p95 < T.keypressP95Ms }
        : { id: 'D2', what: `  ${k.kind} (${k.keys}): p50 / p95`, target: '', measured: `${fmt.lat(k.p50)} / ${fmt.lat(k.p95)}`, pass: null },
    );
  }
  for (const s of r.storms) {
    rows.push({
      id: 'D3',
      what: `${Math.round(s.rate)} downloads/s for ${s.seconds.toFixed(0)} s at ${s.size}: dashboard CPU (${s.fps.toFixed(1)} frames/s)`,
      target: `< ${fmt.pct(T.stormCpu)}, <= ~${T.stormFps} fps`,
      measured: fmt.pct(s.tuiCpu),
      pass: s.tuiCpu < T.stormCpu && s.fps <= T.stormFps * 1.2 && s.rate >= 900,
    });
    rows.push({ id: 'D3', what: '  the daemon meanwhile (CPU; failed downloads)', target: '', measured: `${fmt.pct(s.daemonCpu)}; ${s.failed}`, pass: null });
  }
  if (r.downloads) rows.push({ id: 'D4', what: `/packages/ downloads under wrk (pip UA; median of ${r.downloads.rps.length}, p99 ${fmt.lat(r.downloads.p99Ms)})`, target: '', measured: fmt.rps(r.downloads.medianRps), pass: null });
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  installExitHandlers();
  const projects = process.env.BENCH_QUICK === '1' ? 1_000 : 10_000;
  const log = (l: string) => process.stdout.write(`${l}\n`);
  runDashboardBench({ projects, log, withDownloads: process.env.BENCH_DOWNLOADS !== '0' }).then(
    async (r) => {
      const { formatTable } = await import('./report.js');
      log(`\n${formatTable(dashboardRows(r))}`);
      writeFileSync(join(BENCH_DIR, 'dashboard.json'), `${JSON.stringify(r, null, 2)}\n`);
      killAllSync();
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`dashboard bench: ${err instanceof Error ? err.stack : String(err)}\n`);
      killAllSync();
      process.exit(2);
    },
  );
}
