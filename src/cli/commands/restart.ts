/** `pyrepo restart`: stop (if running), then start with the current settings and flags. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { resolvePaths, type PyrepoPaths } from '../../shared/paths.js';
import { withDaemonOptions } from '../options.js';
import { say } from '../output.js';
import { startDaemon } from '../services/daemon-control.js';
import { resolveDaemonSettings, type DaemonFlags } from '../services/daemon-settings.js';
import { ensureAdminUser } from '../services/admin-identity.js';
import { loadSettings } from '../services/settings-store.js';
import { reportStart } from './start.js';
import { stopWithNotice, withStopOptions, type StopFlags } from './stop.js';

type RestartFlags = DaemonFlags & StopFlags;

export const restartCommand: CommandModule<object, RestartFlags> = {
  command: 'restart',
  describe: 'Stop the background package index and start it again',
  builder: (yargs: Argv) =>
    withStopOptions(withDaemonOptions(yargs))
      .example('$0 restart', 'Apply changed settings')
      .example('$0 restart --port 8080', 'Move to another port for this run') as unknown as Argv<RestartFlags>,
  handler: async (argv: ArgumentsCamelCase<RestartFlags>) => restartAndReport(resolvePaths(), argv, argv.timeout),
};

/** Stops the daemon (if it runs) and starts it with `flags` over the settings, printing both (also `pyrepo board`'s LAN offer). */
export async function restartAndReport(paths: PyrepoPaths, flags: DaemonFlags, timeoutSeconds: number): Promise<void> {
  // Settings are checked before anything is stopped: a bad flag leaves the daemon running.
  const stored = loadSettings(paths);
  const settings = resolveDaemonSettings(flags, stored, paths);
  await ensureAdminUser(paths, settings.dataDir, stored.adminUser);
  const stopped = await stopWithNotice(paths.dataDir, timeoutSeconds);
  if (stopped.wasRunning) say(`Stopped pyrepo (pid ${stopped.pid})${stopped.forced ? ', forcefully' : ''}.`);
  reportStart(await startDaemon(settings, paths));
}
