/** `pyrepo status`: whether the daemon runs, where, and what it serves; exit 3 when it does not run. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { formatDuration } from '../../shared/format.js';
import type { DaemonState } from '../../shared/api.js';
import { daemonLogFile, dataLayout, resolvePaths, type PyrepoPaths } from '../../shared/paths.js';
import type { StoredSettings } from '../../shared/settings.js';
import type { StatusOutput } from '../json-output.js';
import { withJson } from '../options.js';
import { colors, printJson, say } from '../output.js';
import { EXIT_NOT_RUNNING } from '../services/daemon-access.js';
import { probeDaemon } from '../services/daemon-control.js';
import { settingsDrift } from '../services/daemon-restart.js';
import { describeValue } from '../services/daemon-settings.js';
import { loadSettings } from '../services/settings-store.js';
import { cacheSummary } from '../services/upstream-cache.js';
import { COMMAND_HEADS } from '../command-heads.js';

interface StatusFlags {
  json: boolean;
}

/** The saved settings a running daemon does not use, when there are any. */
function unapplied(state: DaemonState, paths: PyrepoPaths, stored: StoredSettings): Pick<StatusOutput, 'unappliedSettings'> {
  const drift = settingsDrift(state, paths, stored);
  return drift.length === 0 ? {} : { unappliedSettings: drift.map((d) => ({ name: d.name, running: d.before, saved: d.after })) };
}

/** What `status` reports, gathered from the state file and /-/health. */
export async function gatherStatus(): Promise<StatusOutput> {
  const paths = resolvePaths();
  const probe = await probeDaemon(paths.dataDir);
  const stored = loadSettings(paths);
  const base = {
    dataDir: paths.dataDir,
    packagesDir: stored.packagesDir ?? dataLayout(paths.dataDir).defaultPackagesDir,
    logFile: daemonLogFile(paths),
  };
  if (probe.kind === 'stopped') {
    return { running: false, responding: false, problems: [], ...base, ...(probe.stale ? { stalePid: probe.stale.pid } : {}) };
  }
  const { state } = probe;
  const common = {
    ...base,
    dataDir: state.dataDir,
    packagesDir: state.packagesDir,
    running: true,
    pid: state.pid,
    url: `${state.url}/simple/`,
    uploadUrl: `${state.url}/legacy/`,
    version: state.version,
    startedAt: state.startedAt,
    ...unapplied(state, paths, stored),
  };
  if (probe.kind === 'unresponsive') return { ...common, responding: false, problems: [`It does not answer: ${probe.reason}`] };
  const { health } = probe;
  return {
    ...common,
    responding: true,
    uptimeSeconds: health.uptimeSeconds,
    projects: health.projects,
    files: health.files,
    indexing: health.indexing,
    access: health.access,
    problems: health.problems,
    ...(health.upstream ? { upstream: health.upstream } : {}),
    ...(health.shared ? { shared: health.shared } : {}),
  };
}

/** `catalog` and `storage` rows, and one row per daemon sharing them. */
function sharedRows(shared: NonNullable<StatusOutput['shared']>): [string, string][] {
  const others = shared.daemons.filter((d) => !d.self);
  return [
    ['catalog', `${shared.catalog} (${shared.connected ? 'connected' : 'not answering'})`],
    ['storage', shared.storage],
    [
      'daemons',
      shared.connected
        ? `${shared.daemons.length} sharing it${others.length > 0 ? `: this one and ${others.map((d) => `${d.url} (${d.host}, pid ${d.pid})`).join(', ')}` : ''}`
        : 'not known while the catalog does not answer',
    ],
  ];
}

function printStatus(s: StatusOutput): void {
  const c = colors();
  if (!s.running) {
    say(`pyrepo is ${c.bold('not running')}.${s.stalePid ? ` (It had stopped without cleaning up, pid ${s.stalePid}; that is cleaned now.)` : ''}`);
    say(`  data:     ${s.dataDir}\n  log:      ${s.logFile}\nStart it with \`pyrepo start\`.`);
    return;
  }
  const headline = s.problems.length > 0 ? c.yellow('running, with problems') : c.green('running');
  say(`pyrepo is ${c.bold(headline)}${s.responding ? '' : ' but not answering'}.`);
  const rows: [string, string | undefined][] = [
    ['index URL', s.url],
    ['upload URL', s.uploadUrl],
    ['pid', String(s.pid)],
    ['access', s.access],
    ['uptime', s.uptimeSeconds === undefined ? undefined : formatDuration(s.uptimeSeconds)],
    ['version', s.version],
    ['projects', s.projects === undefined ? undefined : `${s.projects} (${s.files} files)${s.indexing ? ', still indexing the folder' : ''}`],
    ['upstream', s.upstream ? `${s.upstream.url}; cache ${cacheSummary(s.upstream)}` : undefined],
    ...(s.shared ? sharedRows(s.shared) : []),
    ['data', s.dataDir],
    ['packages', s.packagesDir],
    ['log', s.logFile],
  ];
  for (const [label, value] of rows) if (value !== undefined) say(`  ${`${label}:`.padEnd(12)}${value}`);
  for (const problem of s.problems) say(c.yellow(`  ! ${problem}`));
  if (s.unappliedSettings) {
    const list = s.unappliedSettings.map((d) => `${describeValue(d.name, d.saved)} (runs with ${d.running === '' ? 'none' : d.running})`).join(', ');
    say(c.yellow(`  ! Saved settings it does not use yet: ${list}. \`pyrepo restart\` applies them.`));
  }
}

export const statusCommand: CommandModule<object, StatusFlags> = {
  ...COMMAND_HEADS.status,
  builder: (yargs: Argv) =>
    withJson(yargs)
      .epilog(`Exit status: 0 running, ${EXIT_NOT_RUNNING} not running, 1 running with problems.`)
      .example('$0 status', 'URL, pid, uptime, projects')
      .example('$0 status --json', 'The same for scripts') as unknown as Argv<StatusFlags>,
  handler: async (argv: ArgumentsCamelCase<StatusFlags>) => {
    const status = await gatherStatus();
    if (argv.json) printJson(status);
    else printStatus(status);
    if (!status.running) process.exitCode = EXIT_NOT_RUNNING;
    else if (status.problems.length > 0) process.exitCode = 1;
  },
};
