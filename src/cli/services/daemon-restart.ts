/**
 * Starting and restarting with flags that are saved: the flags of `start` and `restart`
 * change the settings file once the daemon runs with them, so that a later plain restart,
 * the background daemon and the login service (`serve` with the settings file) agree.
 * A restart checks what the new daemon would refuse before it stops the running one, and
 * when the new one fails anyway, brings the old one back with its old settings.
 */
import type { DaemonState } from '../../shared/api.js';
import type { PyrepoPaths } from '../../shared/paths.js';
import type { DaemonSettings, StoredSettings } from '../../shared/settings.js';
import { AbortError } from '../errors.js';
import { prepareAdminUser } from './admin-identity.js';
import { probeDaemon, startDaemon, StartFailure, type StartResult, type StopResult } from './daemon-control.js';
import {
  changedSettings,
  checkBeforeStart,
  daemonSettingsOf,
  describeValue,
  mergeSettings,
  runningSettings,
  settingsFromFlags,
  undoCommands,
  type DaemonFlags,
  type SettingChange,
  type SettingKey,
} from './daemon-settings.js';
import { loadSettings, replaceSettings } from './settings-store.js';

export interface StartOutcome {
  result: StartResult;
  /** The settings the flags changed in the settings file. */
  saved: SettingChange[];
  /** Where the running daemon's settings differ from the saved ones (an already running daemon). */
  drift: SettingChange[];
}

export interface RestartOutcome extends StartOutcome {
  stopped: StopResult;
}

/** The saved settings as the daemon would run with them, against a running daemon's: what a restart would change. */
export function settingsDrift(state: DaemonState, paths: PyrepoPaths, stored: StoredSettings = loadSettings(paths)): SettingChange[] {
  const running = runningSettings(state);
  if (!running) return [];
  return changedSettings(running, daemonSettingsOf(stored, paths, state.dataDir));
}

/** The flags as saved settings, checked as a whole. */
function plan(paths: PyrepoPaths, flags: DaemonFlags) {
  const stored = loadSettings(paths);
  const patch = settingsFromFlags(flags);
  const next = mergeSettings(stored, patch);
  return { stored, patch, next, settings: daemonSettingsOf(next, paths) };
}

/** Writes `next` when it differs from `stored`; returns what changed. */
function save(paths: PyrepoPaths, stored: StoredSettings, next: StoredSettings): SettingChange[] {
  const changes = changedSettings(stored, next);
  if (changes.length > 0) replaceSettings(paths, next);
  return changes;
}

/**
 * `pyrepo start`: starts the daemon with the saved settings and the flags, and saves the
 * flags once it runs (a start that fails saves nothing). Already running is success; the
 * flags are saved then too, and `drift` says what a restart would apply.
 */
export async function startWithFlags(paths: PyrepoPaths, flags: DaemonFlags): Promise<StartOutcome> {
  const { stored, next, settings } = plan(paths, flags);
  const admin = await prepareAdminUser(paths, settings.dataDir, next.adminUser);
  const probe = await probeDaemon(paths.dataDir);
  if (probe.kind === 'stopped') await checkBeforeStart(settings, undefined, 'start');
  // The bcrypt check of an existing admin entry (60-180 ms) runs while the daemon starts; an
  // entry it rewrites is read again by the daemon.
  const [result] = await Promise.all([startDaemon(settings, paths, { command: 'start' }), admin.verify()]);
  const saved = save(paths, stored, next);
  return { result, saved, drift: result.alreadyRunning ? settingsDrift(result.state, paths, next) : [] };
}

/**
 * `pyrepo restart`: checks what the new daemon would refuse (nothing is stopped then),
 * stops the running one with `stop`, starts the new one and saves the flags. When the new
 * one fails, the old one is started again with its old settings, the saved settings that
 * the failed start took from the file are put back, and the error says all of it.
 */
export async function restartWithFlags(paths: PyrepoPaths, flags: DaemonFlags, stop: () => Promise<StopResult>): Promise<RestartOutcome> {
  const { stored, patch, next, settings } = plan(paths, flags);
  const probe = await probeDaemon(paths.dataDir);
  const running = probe.kind === 'stopped' ? undefined : probe.state;
  try {
    await checkBeforeStart(settings, running, 'restart');
  } catch (err) {
    if (err instanceof AbortError && running) {
      throw new AbortError(`${err.message} Nothing was stopped: pyrepo still runs at ${running.url}/simple/ (pid ${running.pid}) with its settings.`, err.nextStep, err.exitCode);
    }
    throw err;
  }
  const admin = await prepareAdminUser(paths, settings.dataDir, next.adminUser);
  // What to come back to; a daemon too old to say falls back to the settings file before this change.
  const previous = running ? (runningSettings(running) ?? daemonSettingsOf(stored, paths)) : undefined;
  const stopped = await stop();
  let result: StartResult;
  try {
    [result] = await Promise.all([startDaemon(settings, paths, { command: 'restart' }), admin.verify()]);
  } catch (err) {
    if (!(err instanceof StartFailure) || !previous) throw err;
    throw await comeBack(paths, err, previous, stored, Object.keys(patch) as SettingKey[]);
  }
  return { stopped, result, saved: save(paths, stored, next), drift: [] };
}

/** Starts the previous daemon again after `failure`, puts back the saved settings that caused it, and says so. */
async function comeBack(paths: PyrepoPaths, failure: StartFailure, previous: DaemonSettings, stored: StoredSettings, flagKeys: SettingKey[]): Promise<AbortError> {
  let back: StartResult | undefined;
  let backProblem: string | undefined;
  try {
    back = await startDaemon(previous, paths, { command: 'restart' });
  } catch (err) {
    backProblem = err instanceof StartFailure ? err.reason : (err as Error).message;
  }
  // Flags are saved only after a successful start; saved settings the old daemon did not
  // run with (a `config set` before this restart) are what made it fail: put them back.
  const reverts = changedSettings(daemonSettingsOf(stored, paths), previous).filter((c) => !flagKeys.includes(c.key));
  if (reverts.length > 0) {
    const restored: Record<string, unknown> = { ...stored };
    for (const c of reverts) {
      const value = previous[c.key as keyof DaemonSettings];
      // The default packages folder is saved as "not set", so that it follows the data folder.
      restored[c.key] = c.key === 'packagesDir' && value === daemonSettingsOf({ ...stored, packagesDir: undefined }, paths).packagesDir ? undefined : value;
    }
    replaceSettings(paths, restored as StoredSettings);
  }
  const parts = [`The daemon did not start with the new settings: ${failure.reason}`];
  parts.push(
    back
      ? `pyrepo runs again with its previous settings at ${back.state.url}/simple/ (pid ${back.state.pid}).`
      : `Starting it again with its previous settings failed too: ${backProblem ?? 'unknown reason'}`,
  );
  if (reverts.length > 0) {
    // Here `before` is the saved value that failed and `after` the previous daemon's.
    const list = reverts.map((c) => `${describeValue(c.name, c.after)} instead of ${c.before === '' ? 'not set' : c.before}`).join(', ');
    const one = reverts.length === 1;
    parts.push(`The saved ${one ? 'setting is' : 'settings are'} put back to what it ran with: ${list} (\`${undoCommands(reverts).join('` and `')}\` saves the new ${one ? 'value' : 'values'} again).`);
  }
  const next = [failure.hint, ...(failure.logLines.length > 0 ? [`From the log (${failure.logFile}):`, ...failure.logLines.map((l) => `  ${l}`)] : [])].join('\n');
  return new AbortError(parts.join(' '), next, 2);
}
