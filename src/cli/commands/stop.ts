/** `pyrepo stop`: a graceful stop (uploads in flight finish), forced after a time limit. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { resolvePaths } from '../../shared/paths.js';
import { UsageError } from '../errors.js';
import { colors, note, say } from '../output.js';
import { stopDaemon, WAITS, type StopResult } from '../services/daemon-control.js';
import { COMMAND_HEADS } from '../command-heads.js';

export interface StopFlags {
  /** Seconds, as typed (read by {@link parseTimeout}, so that `--timeout x` is named as typed). */
  timeout: string | number;
}

export function withStopOptions<T>(yargs: Argv<T>) {
  return yargs.option('timeout', {
    type: 'string',
    requiresArg: true,
    describe: 'Seconds to wait for requests in flight before forcing the stop',
    default: String(WAITS.stopMs / 1000),
  });
}

/** Reads --timeout: a number of seconds from 0 to 3600, else a usage error. */
export function parseTimeout(given: string | number): number {
  const seconds = typeof given === 'number' ? given : /^\s*\d+(\.\d+)?\s*$/.test(given) ? Number(given) : Number.NaN;
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 3600) {
    throw new UsageError(`--timeout must be a number of seconds from 0 to 3600, not '${String(given)}'.`);
  }
  return seconds;
}

/** Stops the daemon with the user's time limit, saying so when it has to force (shared with `restart`). */
export async function stopWithNotice(dataDir: string, given: string | number): Promise<StopResult> {
  const timeoutSeconds = parseTimeout(given);
  return stopDaemon(dataDir, {
    timeoutMs: timeoutSeconds * 1000,
    onEscalate: (pid) =>
      note(colors(process.stderr).yellow(`Warning: the daemon (pid ${pid}) did not stop within ${timeoutSeconds} s of SIGTERM; killing it.`)),
  });
}

export const stopCommand: CommandModule<object, StopFlags> = {
  ...COMMAND_HEADS.stop,
  builder: (yargs: Argv) =>
    withStopOptions(yargs)
      .epilog('Already stopped is not an error.')
      .example('$0 stop', 'Stop, letting uploads in flight finish')
      .example('$0 stop --timeout 60', 'Allow a minute for large uploads') as unknown as Argv<StopFlags>,
  handler: async (argv: ArgumentsCamelCase<StopFlags>) => {
    const result = await stopWithNotice(resolvePaths().dataDir, argv.timeout);
    if (!result.wasRunning) say('pyrepo is not running; nothing to stop.');
    else say(`Stopped pyrepo (pid ${result.pid})${result.forced ? ', forcefully' : ''}.`);
  },
};
