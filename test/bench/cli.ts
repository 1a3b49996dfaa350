/**
 * The CLI's own start-up (section 10 of `npm run bench`): the whole process of `pyrepo --version`
 * and of `pyrepo status` against a running daemon, spawn to exit, against `node -e 0` (the
 * floor no command can go under). Each is run a number of times, one at a time, and the median
 * is the figure (the best run is shown beside it: the gap is other work on the machine).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolatedEnv, prepareIsolatedEnv } from '../helpers/daemon.js';
import { fmt, type Row } from './report.js';

/** Whole-process wall time, in milliseconds. */
export const CLI_TARGETS = { statusMs: 200, versionMs: 100 };

export interface CliTimes {
  /** Median and best of the runs, in ms. */
  median: number;
  best: number;
}

export interface CliBenchResult {
  runs: number;
  node: CliTimes;
  version: CliTimes;
  status: CliTimes;
}

function timeRuns(runs: number, command: string, args: string[], env: NodeJS.ProcessEnv, okCodes: number[]): CliTimes {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const r = spawnSync(command, args, { env, encoding: 'utf8', timeout: 10_000 });
    const ms = performance.now() - started;
    if (r.error || !okCodes.includes(r.status ?? -1)) throw new Error(`${args.join(' ')} failed (${r.status ?? r.error?.message}):\n${r.stdout}\n${r.stderr}`);
    times.push(ms);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)] as number, best: times[0] as number };
}

/** Times the CLI with a daemon started (and stopped) in a temporary home. */
export async function benchCli(cli: string, opts: { runs: number; log: (line: string) => void }): Promise<CliBenchResult> {
  const home = mkdtempSync(join(tmpdir(), 'pyrepo-bench-cli-'));
  try {
    await prepareIsolatedEnv(home);
    const env: NodeJS.ProcessEnv = { ...isolatedEnv(home) };
    const node = process.execPath;
    const start = spawnSync(node, [cli, 'start', '--port', '0'], { env, encoding: 'utf8', timeout: 30_000 });
    if (start.status !== 0) throw new Error(`pyrepo start failed:\n${start.stdout}\n${start.stderr}`);
    try {
      opts.log(`CLI: ${opts.runs} runs each of node -e 0, pyrepo --version, pyrepo status`);
      // One unmeasured run each: the first reads the files from disk into the page cache.
      timeRuns(1, node, [cli, 'status'], env, [0]);
      return {
        runs: opts.runs,
        node: timeRuns(opts.runs, node, ['-e', '0'], env, [0]),
        version: timeRuns(opts.runs, node, [cli, '--version'], env, [0]),
        status: timeRuns(opts.runs, node, [cli, 'status'], env, [0]),
      };
    } finally {
      spawnSync(node, [cli, 'stop'], { env, timeout: 30_000 });
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

export function cliRows(r: CliBenchResult): Row[] {
  const shown = (t: CliTimes) => `${fmt.ms(t.median)} median (best ${fmt.ms(t.best)}, ${r.runs} runs)`;
  return [
    { id: '10a', what: 'pyrepo --version, whole process', target: `< ${CLI_TARGETS.versionMs} ms`, measured: shown(r.version), pass: r.version.median < CLI_TARGETS.versionMs },
    { id: '10b', what: 'pyrepo status, whole process', target: `< ${CLI_TARGETS.statusMs} ms`, measured: shown(r.status), pass: r.status.median < CLI_TARGETS.statusMs },
    { id: '10c', what: 'node -e 0 (the floor)', target: '-', measured: shown(r.node), pass: null },
  ];
}
