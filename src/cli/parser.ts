/** The yargs parser with every command; a fresh one per call, so tests never share state. */
import yargs from 'yargs';
import { PYREPO_VERSION } from '../shared/version.js';
import { backupCommand } from './commands/backup.js';
import { boardCommand } from './commands/board.js';
import { configCommand } from './commands/config.js';
import { configureCommand } from './commands/configure.js';
import { doctorCommand } from './commands/doctor.js';
import { infoCommand } from './commands/info.js';
import { initCommand } from './commands/init.js';
import { listCommand } from './commands/list.js';
import { logsCommand } from './commands/logs.js';
import { ownerCommand } from './commands/owner.js';
import { publishCommand } from './commands/publish.js';
import { removeCommand } from './commands/remove.js';
import { restartCommand } from './commands/restart.js';
import { restoreCommand } from './commands/restore.js';
import { serveCommand } from './commands/serve.js';
import { serviceCommand } from './commands/service.js';
import { startCommand } from './commands/start.js';
import { statusCommand } from './commands/status.js';
import { stopCommand } from './commands/stop.js';
import { tokenCommand } from './commands/token.js';
import { tuiCommand } from './commands/tui.js';
import { unconfigureCommand } from './commands/unconfigure.js';
import { userCommand } from './commands/user.js';
import { watchCommand } from './commands/watch.js';
import { unyankCommand, yankCommand } from './commands/yank.js';
import { usageError } from './usage-errors.js';

/** Builds a fresh parser (tests make one per case). */
export function buildParser(args: string[]) {
  return yargs(args)
    .scriptName('pyrepo')
    .usage('$0 <command> [options]\n\nYour own Python package index, in one command.')
    .command(initCommand)
    .command(startCommand)
    .command(stopCommand)
    .command(restartCommand)
    .command(statusCommand)
    .command(logsCommand)
    .command(publishCommand)
    .command(watchCommand)
    .command(serveCommand)
    .command(configCommand)
    .command(serviceCommand)
    .command(listCommand)
    .command(infoCommand)
    .command(removeCommand)
    .command(yankCommand)
    .command(unyankCommand)
    .command(configureCommand)
    .command(unconfigureCommand)
    .command(userCommand)
    .command(tokenCommand)
    .command(ownerCommand)
    .command(doctorCommand)
    .command(boardCommand)
    .command(backupCommand)
    .command(restoreCommand)
    .command(tuiCommand)
    .option('debug', { type: 'boolean', describe: 'Show stack traces of errors', global: true })
    .demandCommand(1, 'Say which command to run; `pyrepo --help` lists them.')
    .strict()
    .recommendCommands()
    .completion('completion', 'Print a shell completion script')
    .version(PYREPO_VERSION)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((message, err, usage) => {
      // Errors thrown by command handlers pass through; yargs' own are usage errors, said plainly.
      if (err && !isYargsError(err)) throw err;
      throw usageError(message ?? err?.message ?? '', args, commandUsage(usage));
    });
}

/** yargs' own errors (a flag without its value) are usage errors too; anything else is a handler's. */
function isYargsError(err: Error): boolean {
  return err.name === 'YError';
}

/** `pyrepo info <project>`: the usage line of the command being parsed, when yargs knows it. */
function commandUsage(usage: unknown): string | undefined {
  const lines = (usage as { getUsage?: () => [string, string][] }).getUsage?.();
  const first = lines?.[0]?.[0];
  return first ? first.replace('$0', 'pyrepo') : undefined;
}
