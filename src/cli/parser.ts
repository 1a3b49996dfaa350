/** The yargs parser with every command; a fresh one per call, so tests never share state. */
import yargs, { type CommandModule } from 'yargs';
import { PYREPO_VERSION } from '../shared/version.js';
import { COMMAND_HEADS, type CommandName } from './command-heads.js';
import { usageError } from './usage-errors.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command has its own flags
type AnyCommand = CommandModule<any, any>;

/** Each command's module, loaded only when that command runs (the bundle makes each its own chunk). */
const LOADERS: Record<CommandName, () => Promise<AnyCommand>> = {
  init: async () => (await import('./commands/init.js')).initCommand,
  start: async () => (await import('./commands/start.js')).startCommand,
  stop: async () => (await import('./commands/stop.js')).stopCommand,
  restart: async () => (await import('./commands/restart.js')).restartCommand,
  status: async () => (await import('./commands/status.js')).statusCommand,
  logs: async () => (await import('./commands/logs.js')).logsCommand,
  publish: async () => (await import('./commands/publish.js')).publishCommand,
  watch: async () => (await import('./commands/watch.js')).watchCommand,
  serve: async () => (await import('./commands/serve.js')).serveCommand,
  config: async () => (await import('./commands/config.js')).configCommand,
  service: async () => (await import('./commands/service.js')).serviceCommand,
  list: async () => (await import('./commands/list.js')).listCommand,
  info: async () => (await import('./commands/info.js')).infoCommand,
  remove: async () => (await import('./commands/remove.js')).removeCommand,
  yank: async () => (await import('./commands/yank.js')).yankCommand,
  unyank: async () => (await import('./commands/yank.js')).unyankCommand,
  configure: async () => (await import('./commands/configure.js')).configureCommand,
  unconfigure: async () => (await import('./commands/unconfigure.js')).unconfigureCommand,
  user: async () => (await import('./commands/user.js')).userCommand,
  token: async () => (await import('./commands/token.js')).tokenCommand,
  owner: async () => (await import('./commands/owner.js')).ownerCommand,
  doctor: async () => (await import('./commands/doctor.js')).doctorCommand,
  board: async () => (await import('./commands/board.js')).boardCommand,
  backup: async () => (await import('./commands/backup.js')).backupCommand,
  restore: async () => (await import('./commands/restore.js')).restoreCommand,
  migrate: async () => (await import('./commands/migrate.js')).migrateCommand,
  cache: async () => (await import('./commands/cache.js')).cacheCommand,
  tui: async () => (await import('./commands/tui.js')).tuiCommand,
};

const NAMES = Object.keys(COMMAND_HEADS) as CommandName[];

/**
 * The commands whose code the arguments need: the one they name (by name or alias), or all
 * of them for shell completion (which asks about any). Help, `--version` and an unknown
 * word need none: the heads list them.
 */
function commandsNamedIn(args: readonly string[]): CommandName[] {
  if (args.includes('--get-yargs-completions')) return NAMES;
  const word = args.find((a) => !a.startsWith('-'));
  if (word === undefined) return [];
  const named = NAMES.find((n) => {
    const head: { command: string; aliases?: readonly string[] } = COMMAND_HEADS[n];
    return head.command.split(' ')[0] === word || head.aliases?.includes(word);
  });
  return named ? [named] : [];
}

/** Builds a fresh parser (tests make one per case), with the code of the commands `args` name loaded. */
export async function buildParser(args: string[]) {
  const needed = commandsNamedIn(args);
  const loaded = new Map(await Promise.all(needed.map(async (n) => [n, await LOADERS[n]()] as const)));
  const parser = yargs(args)
    .scriptName('pyrepo')
    .usage('$0 <command> [options]\n\nYour own Python package index, in one command.');
  for (const name of NAMES) {
    const head = COMMAND_HEADS[name];
    parser.command(loaded.get(name) ?? { ...head, handler: () => undefined });
  }
  return parser
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
