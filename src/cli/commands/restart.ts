/** `pyrepo restart`: stop (if running), then start with the saved settings and the flags, which are saved. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { resolvePaths, type PyrepoPaths } from '../../shared/paths.js';
import { withDaemonOptions } from '../options.js';
import { say } from '../output.js';
import { restartWithFlags } from '../services/daemon-restart.js';
import type { DaemonFlags } from '../services/daemon-settings.js';
import { reportSaved, reportStart } from './start.js';
import { parseTimeout, stopWithNotice, withStopOptions, type StopFlags } from './stop.js';
import { COMMAND_HEADS } from '../command-heads.js';

type RestartFlags = DaemonFlags & StopFlags;

export const restartCommand: CommandModule<object, RestartFlags> = {
  ...COMMAND_HEADS.restart,
  builder: (yargs: Argv) =>
    withStopOptions(withDaemonOptions(yargs, 'saved'))
      .epilog(
        'Flags are saved in the settings file once the new daemon runs. What the new daemon would refuse (a port another program holds, ' +
          'TLS files that do not work, uploads open beyond loopback) is refused before the running one is stopped; if the new one fails ' +
          'anyway, the old one is started again with its old settings.',
      )
      .example('$0 restart', 'Apply settings changed with `pyrepo config set`')
      .example('$0 restart --authenticate list,download,upload', 'A private index: nothing without credentials, from now on')
      .example('$0 restart --lan', 'Listen on every address (boards, colleagues); --no-lan goes back to loopback') as unknown as Argv<RestartFlags>,
  handler: async (argv: ArgumentsCamelCase<RestartFlags>) => restartAndReport(resolvePaths(), argv, argv.timeout),
};

/** Stops the daemon (if it runs) and starts it with `flags` over the saved settings, printing both (also `pyrepo board`'s LAN offer). */
export async function restartAndReport(paths: PyrepoPaths, flags: DaemonFlags, timeout: string | number): Promise<void> {
  const timeoutSeconds = parseTimeout(timeout);
  const outcome = await restartWithFlags(paths, flags, async () => {
    const stopped = await stopWithNotice(paths.dataDir, timeoutSeconds);
    if (stopped.wasRunning) say(`Stopped pyrepo (pid ${stopped.pid})${stopped.forced ? ', forcefully' : ''}.`);
    return stopped;
  });
  reportStart(outcome.result);
  reportSaved(outcome.saved);
}
