/**
 * Installs pyrepo as a login service: a systemd user unit on Linux, a launchd agent on
 * macOS. The unit file is written atomically and marked as pyrepo's, so that a file
 * someone else wrote is never replaced or removed without --force; enabling goes through
 * `systemctl --user` / `launchctl` with bounded waits, and when that is impossible (no
 * user bus in a container, no GUI session) the file stays written and the result says
 * which commands to run later.
 *
 * Every outside effect goes through a ServiceHost (platform, folders, the command runner,
 * the running daemon), so tests substitute any of it.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { writeFileAtomic } from '../../shared/atomic-file.js';
import { daemonLogFile, resolvePaths } from '../../shared/paths.js';
import { PYREPO_ROOT } from '../../shared/version.js';
import { AbortError, BugError } from '../errors.js';
import { probeDaemon, stopDaemon } from './daemon-control.js';
import {
  isOurs,
  launchdPlistPath,
  LAUNCHD_LABEL,
  renderLaunchdPlist,
  renderSystemdUnit,
  serviceEnvironment,
  systemdUnitPath,
  SYSTEMD_UNIT,
} from './service-unit.js';

/** How one systemctl/launchctl run ended. */
export interface CommandOutcome {
  ok: boolean;
  /** The program is not installed. */
  missing: boolean;
  exitCode?: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (bounded), never throwing for its exit status. */
export type CommandRunner = (file: string, args: string[]) => Promise<CommandOutcome>;

/** Longest wait for one systemctl or launchctl call. */
export const SERVICE_COMMAND_TIMEOUT_MS = 15_000;

/** The real runner: execa with a time limit, no input, English messages. */
export const execaRunner: CommandRunner = async (file, args) => {
  const r = await execa(file, args, { reject: false, timeout: SERVICE_COMMAND_TIMEOUT_MS, stdin: 'ignore', env: { LC_ALL: 'C', SYSTEMD_PAGER: '', SYSTEMD_COLORS: '0' } });
  const stderr = r.timedOut ? `${file} did not finish within ${SERVICE_COMMAND_TIMEOUT_MS / 1000} s` : r.code === 'ENOENT' ? `${file} is not installed` : String(r.stderr ?? '');
  return { ok: !r.failed, missing: r.code === 'ENOENT', exitCode: r.exitCode, stdout: String(r.stdout ?? ''), stderr };
};

/** The daemon of pyrepo's data folder, as far as installing a service cares. */
export interface DaemonHandle {
  /** Its pid, and whether the service manager runs it (rather than `pyrepo start` or `serve`). */
  find(): Promise<{ pid: number; byService: boolean } | undefined>;
  stop(): Promise<void>;
}

/** Everything outside this module that installing a service touches. */
export interface ServiceHost {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  home: string;
  cwd: string;
  uid: number;
  /** Absolute path of Node.js. */
  nodePath: string;
  /** Absolute path of dist/cli/index.js. */
  cliEntry: string;
  run: CommandRunner;
  daemon: DaemonHandle;
}

/** The service files this platform uses, or an AbortError where there is no support. */
type Manager = 'systemd' | 'launchd';

function managerOf(platform: NodeJS.Platform): Manager {
  if (platform === 'linux') return 'systemd';
  if (platform === 'darwin') return 'launchd';
  throw new AbortError(
    `pyrepo service is not supported on ${platform === 'win32' ? 'Windows' : platform}: it knows systemd (Linux) and launchd (macOS).`,
    platform === 'win32'
      ? 'Use Task Scheduler: a task that runs at log on, with the action `pyrepo serve` (or `node <path to pyrepo>\\dist\\cli\\index.js serve`).'
      : 'Have your service manager run `pyrepo serve` in the foreground.',
  );
}

/** Whether the service manager runs `pid`: on Linux, by its cgroup; on macOS, by launchd's record of the job. */
async function runByService(pid: number, platform: NodeJS.Platform, run: CommandRunner): Promise<boolean> {
  if (platform === 'linux') {
    try {
      return readFileSync(`/proc/${pid}/cgroup`, 'utf8')
        .split('\n')
        .some((line) => line.endsWith(`/${SYSTEMD_UNIT}`));
    } catch {
      return false;
    }
  }
  if (platform === 'darwin') {
    const r = await run('launchctl', ['list', LAUNCHD_LABEL]);
    return r.ok && new RegExp(`"PID"\\s*=\\s*${pid};`).test(r.stdout);
  }
  return false;
}

/** The host as this process sees it. */
export function defaultServiceHost(): ServiceHost {
  const cliEntry = PYREPO_ROOT ? join(PYREPO_ROOT, 'dist', 'cli', 'index.js') : undefined;
  if (!cliEntry || !existsSync(cliEntry)) throw new BugError("pyrepo's CLI entry (dist/cli/index.js) is missing: pyrepo is not built. Run `npm run build`.");
  const env = process.env;
  const platform = process.platform;
  const dataDir = resolvePaths(env).dataDir;
  return {
    platform,
    env,
    home: homedir(),
    cwd: process.cwd(),
    uid: process.getuid?.() ?? 0,
    nodePath: process.execPath,
    cliEntry,
    run: execaRunner,
    daemon: {
      async find() {
        const probe = await probeDaemon(dataDir);
        if (probe.kind === 'stopped') return undefined;
        return { pid: probe.state.pid, byService: await runByService(probe.state.pid, platform, execaRunner) };
      },
      async stop() {
        await stopDaemon(dataDir);
      },
    },
  };
}

/** Where the service file goes on this host. */
export function serviceFile(host: ServiceHost): string {
  return managerOf(host.platform) === 'systemd' ? systemdUnitPath(host.env, host.home) : launchdPlistPath(host.home);
}

function renderFor(host: ServiceHost): string {
  const spec = { nodePath: host.nodePath, cliEntry: host.cliEntry, environment: serviceEnvironment(host.env, host.platform, host.cwd) };
  if (managerOf(host.platform) === 'systemd') return renderSystemdUnit(spec);
  return renderLaunchdPlist({ ...spec, logFile: daemonLogFile(resolvePaths(host.env)) });
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AbortError(`Cannot read ${path}: ${(err as Error).message}`);
  }
}

function notOurs(path: string, command: 'install' | 'uninstall'): AbortError {
  return new AbortError(
    `${path} exists and was not written by pyrepo (it lacks pyrepo's first-line marker).`,
    command === 'install'
      ? 'Move it away, or replace it with `pyrepo service install --force`.'
      : 'Remove it yourself, or with `pyrepo service uninstall --force`.',
  );
}

/** The commands that enable the service by hand, for when pyrepo could not. */
function enableCommands(manager: Manager, file: string, uid: number): string[] {
  return manager === 'systemd'
    ? ['systemctl --user daemon-reload', `systemctl --user enable --now ${SYSTEMD_UNIT}`]
    : [`launchctl bootstrap gui/${uid} ${file}`];
}

/** Why a command failed, in one line. */
function why(file: string, args: string[], r: CommandOutcome): string {
  const detail = (r.stderr.trim() || r.stdout.trim()).split('\n')[0] || `exit status ${r.exitCode ?? 'unknown'}`;
  return r.missing ? `${file} is not installed` : `\`${file} ${args.join(' ')}\` failed: ${detail}`;
}

export interface InstallOptions {
  /** Replace a service file that pyrepo did not write. */
  force: boolean;
  /** Enable and start the service (otherwise only write the file). */
  enable: boolean;
}

export type Enablement =
  | { kind: 'enabled'; restarted: boolean }
  | { kind: 'skipped'; commands: string[] }
  | { kind: 'failed'; reason: string; commands: string[] };

export interface InstallResult {
  manager: Manager;
  file: string;
  /** What happened to the file: new, rewritten (pyrepo's, different), the same, or someone else's replaced (--force). */
  fileState: 'created' | 'updated' | 'unchanged' | 'replaced';
  enablement: Enablement;
  /** A daemon that `pyrepo start` ran, stopped so that the service can take the port. */
  stoppedPid?: number;
}

/**
 * Writes the service file (refusing one pyrepo did not write unless `force`) and, unless
 * told not to, enables and starts it. A background daemon started by `pyrepo start` is
 * stopped first, once the service manager is known to answer: the service would fail
 * on its port otherwise.
 */
export async function installService(host: ServiceHost, options: InstallOptions): Promise<InstallResult> {
  const manager = managerOf(host.platform);
  const file = serviceFile(host);
  const text = renderFor(host);
  const existing = readIfExists(file);
  if (existing !== undefined && !isOurs(existing) && !options.force) throw notOurs(file, 'install');
  const fileState = existing === undefined ? 'created' : !isOurs(existing) ? 'replaced' : existing === text ? 'unchanged' : 'updated';
  if (fileState !== 'unchanged') {
    try {
      if (manager === 'launchd') mkdirSync(resolvePaths(host.env).logDir, { recursive: true });
      writeFileAtomic(file, text, { mode: 0o644 });
    } catch (err) {
      throw new AbortError(`Cannot write ${file}: ${(err as Error).message}`, `Fix the permissions of ${dirname(file)}.`);
    }
  }
  const result: InstallResult = { manager, file, fileState, enablement: { kind: 'skipped', commands: enableCommands(manager, file, host.uid) } };
  if (!options.enable) return result;
  const fail = (reason: string): InstallResult => ({ ...result, enablement: { kind: 'failed', reason, commands: enableCommands(manager, file, host.uid) } });
  const stopForeignDaemon = async () => {
    const daemon = await host.daemon.find();
    if (daemon && !daemon.byService) {
      await host.daemon.stop();
      result.stoppedPid = daemon.pid;
    }
  };

  if (manager === 'systemd') {
    const reload = ['--user', 'daemon-reload'];
    const r = await host.run('systemctl', reload);
    if (!r.ok) return fail(why('systemctl', reload, r));
    await stopForeignDaemon();
    // A changed unit must restart to take effect; `enable --now` leaves a running one alone.
    const restart = fileState === 'updated' || fileState === 'replaced';
    for (const args of restart ? [['--user', 'enable', SYSTEMD_UNIT], ['--user', 'restart', SYSTEMD_UNIT]] : [['--user', 'enable', '--now', SYSTEMD_UNIT]]) {
      const step = await host.run('systemctl', args);
      if (!step.ok) return fail(why('systemctl', args, step));
    }
    return { ...result, enablement: { kind: 'enabled', restarted: restart } };
  }

  const target = `gui/${host.uid}`;
  const service = `${target}/${LAUNCHD_LABEL}`;
  const loaded = (await host.run('launchctl', ['print', service])).ok;
  await stopForeignDaemon();
  if (loaded && fileState === 'unchanged') return { ...result, enablement: { kind: 'enabled', restarted: false } };
  if (loaded) await host.run('launchctl', ['bootout', service]);
  // A job disabled earlier (`launchctl disable`, `unload -w`) refuses to bootstrap.
  await host.run('launchctl', ['enable', service]);
  const bootstrap = ['bootstrap', target, file];
  const b = await host.run('launchctl', bootstrap);
  if (b.ok) return { ...result, enablement: { kind: 'enabled', restarted: loaded } };
  const load = ['load', '-w', file];
  const l = await host.run('launchctl', load);
  if (l.ok) return { ...result, enablement: { kind: 'enabled', restarted: loaded } };
  return fail(`${why('launchctl', bootstrap, b)}; ${why('launchctl', load, l)}`);
}

export interface UninstallOptions {
  /** Remove a service file that pyrepo did not write. */
  force: boolean;
}

export interface UninstallResult {
  manager: Manager;
  file: string;
  removed: boolean;
  /** The service manager stopped and disabled it (false: it could not be reached; the file is removed all the same). */
  disabled: boolean;
  warning?: string;
}

/**
 * Disables and stops the service and removes its file (only pyrepo's, unless `force`).
 * "Not installed" is success. When the service manager cannot be reached, the file and
 * its enablement link are removed anyway, and the result carries a warning.
 */
export async function uninstallService(host: ServiceHost, options: UninstallOptions): Promise<UninstallResult> {
  const manager = managerOf(host.platform);
  const file = serviceFile(host);
  const existing = readIfExists(file);
  if (existing === undefined) return { manager, file, removed: false, disabled: false };
  if (!isOurs(existing) && !options.force) throw notOurs(file, 'uninstall');
  let warning: string | undefined;
  let disabled = true;
  const remove = (path: string) => {
    try {
      rmSync(path, { force: true });
    } catch (err) {
      throw new AbortError(`Cannot remove ${path}: ${(err as Error).message}`, `Fix the permissions of ${dirname(path)}.`);
    }
  };

  if (manager === 'systemd') {
    const disable = ['--user', 'disable', '--now', SYSTEMD_UNIT];
    const r = await host.run('systemctl', disable);
    remove(file);
    if (r.ok) {
      const reload = ['--user', 'daemon-reload'];
      const rr = await host.run('systemctl', reload);
      if (!rr.ok) warning = why('systemctl', reload, rr);
    } else {
      disabled = false;
      warning = r.missing
        ? why('systemctl', disable, r)
        : `${why('systemctl', disable, r)}. If it still runs, stop it with \`systemctl --user stop ${SYSTEMD_UNIT}\` (or log out and in again).`;
      // What `disable` would have removed: the link that starts it at login.
      const link = join(dirname(file), 'default.target.wants', SYSTEMD_UNIT);
      try {
        if (lstatSync(link).isSymbolicLink()) remove(link);
      } catch {
        // no link
      }
    }
    return { manager, file, removed: true, disabled, ...(warning ? { warning } : {}) };
  }

  const service = `gui/${host.uid}/${LAUNCHD_LABEL}`;
  const loaded = (await host.run('launchctl', ['print', service])).ok;
  if (loaded) {
    const bootout = ['bootout', service];
    const b = await host.run('launchctl', bootout);
    if (!b.ok) {
      const unload = ['unload', '-w', file];
      const u = await host.run('launchctl', unload);
      if (!u.ok) {
        disabled = false;
        warning = `${why('launchctl', bootout, b)}; ${why('launchctl', unload, u)}`;
      }
    }
  }
  remove(file);
  return { manager, file, removed: true, disabled, ...(warning ? { warning } : {}) };
}

export interface ServiceStatus {
  manager: Manager;
  file: string;
  installed: boolean;
  /** The file carries pyrepo's marker. */
  ours: boolean;
  /** systemd: `is-enabled` (enabled, disabled, …); launchd: loaded or not loaded. */
  enabled?: string;
  /** systemd: `is-active` (active, inactive, failed, …); launchd: the job's state (running, …). */
  active?: string;
  /** Why enabled/active are unknown (the service manager did not answer). */
  unknown?: string;
}

/** Whether the service file exists and what the service manager says about it. */
export async function serviceStatus(host: ServiceHost): Promise<ServiceStatus> {
  const manager = managerOf(host.platform);
  const file = serviceFile(host);
  const existing = readIfExists(file);
  const base = { manager, file, installed: existing !== undefined, ours: existing !== undefined && isOurs(existing) };
  if (manager === 'systemd') {
    const query = async (verb: string) => {
      const args = ['--user', verb, SYSTEMD_UNIT];
      const r = await host.run('systemctl', args);
      // Both exit non-zero for "disabled"/"inactive" but still print the state.
      const state = r.stdout.trim().split('\n')[0];
      return state ? { state } : { error: why('systemctl', args, r) };
    };
    const enabled = await query('is-enabled');
    const active = await query('is-active');
    return { ...base, enabled: enabled.state, active: active.state, ...(enabled.error ? { unknown: enabled.error } : active.error ? { unknown: active.error } : {}) };
  }
  const args = ['print', `gui/${host.uid}/${LAUNCHD_LABEL}`];
  const r = await host.run('launchctl', args);
  if (r.missing) return { ...base, unknown: why('launchctl', args, r) };
  if (!r.ok) return { ...base, enabled: 'not loaded', active: 'not running' };
  return { ...base, enabled: 'loaded', active: /^\s*state = (\S+)/m.exec(r.stdout)?.[1] ?? 'unknown' };
}
