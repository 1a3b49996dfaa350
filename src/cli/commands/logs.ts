/** `pyrepo logs`: the daemon's log, readable, and followed with -f. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { daemonLogFile, resolvePaths } from '../../shared/paths.js';
import { UsageError } from '../errors.js';
import { note, say } from '../output.js';
import { followLog, formatLogLine, lastLines } from '../services/daemon-log.js';
import { COMMAND_HEADS } from '../command-heads.js';

interface LogsFlags {
  lines: number;
  follow: boolean;
  raw: boolean;
}

export const logsCommand: CommandModule<object, LogsFlags> = {
  ...COMMAND_HEADS.logs,
  builder: (yargs: Argv) =>
    yargs
      .option('lines', { alias: 'n', type: 'number', describe: 'How many of the last lines to show', default: 50 })
      .option('follow', { alias: 'f', type: 'boolean', describe: 'Keep printing new lines until Ctrl-C', default: false })
      .option('raw', { type: 'boolean', describe: 'Print the JSON lines as the daemon wrote them', default: false })
      .example('$0 logs', 'The last 50 lines')
      .example('$0 logs -f -n 0', 'Only new lines, as they come') as unknown as Argv<LogsFlags>,
  handler: async (argv: ArgumentsCamelCase<LogsFlags>) => {
    if (!Number.isInteger(argv.lines) || argv.lines < 0) {
      // yargs reads a word given to a number option as NaN: there is no typed text to quote then.
      throw new UsageError(Number.isNaN(argv.lines) ? '--lines needs a whole number, 0 or more.' : `--lines must be a whole number, 0 or more, not '${String(argv.lines)}'.`);
    }
    const file = daemonLogFile(resolvePaths());
    const show = (line: string) => say(argv.raw ? line : formatLogLine(line));
    const lines = lastLines(file, argv.lines);
    if (lines.length === 0 && !argv.follow) note(`The log ${file} is empty or does not exist yet; \`pyrepo start\` writes it.`);
    lines.forEach(show);
    if (!argv.follow) return;
    const stop = new AbortController();
    const end = () => stop.abort();
    process.once('SIGINT', end);
    process.once('SIGTERM', end);
    await followLog(file, show, stop.signal);
  },
};
