/**
 * `pyrepo config get | set | unset | list`: the saved settings, the one home of what
 * `start`, `restart`, the login service and `serve` run with, by the names of their flags.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { resolvePaths, type PyrepoPaths } from '../../shared/paths.js';
import { withJson } from '../options.js';
import { colors, formatTable, printJson, say } from '../output.js';
import { probeDaemon } from '../services/daemon-control.js';
import { settingsDrift } from '../services/daemon-restart.js';
import { describeValue, undoCommands, type SettingChange } from '../services/daemon-settings.js';
import { getSetting, listSettings, setSettings, unsetSettings } from '../services/settings-edit.js';
import { loadSettings } from '../services/settings-store.js';
import { COMMAND_HEADS } from '../command-heads.js';

interface ListFlags {
  json: boolean;
}

const NAMES_EPILOG =
  'Settings are named as their flags are: host, port, packages-dir, overwrite, max-upload-size, public-url, watch, log-level, access-log, ' +
  'authenticate, allow-anonymous-lan-uploads, htpasswd, tls-cert, tls-key; and lan (true: listen on every address with uploads authenticated). ' +
  'Values are read as the flags read them.';

/** After a change: what the running daemon does not use yet, and that a restart applies it. */
async function reportRunning(paths: PyrepoPaths): Promise<void> {
  const probe = await probeDaemon(paths.dataDir);
  if (probe.kind === 'stopped') return;
  const drift = settingsDrift(probe.state, paths, loadSettings(paths));
  if (drift.length === 0) return;
  const list = drift.map((d) => `${d.name} ${d.before === '' ? '(not set)' : d.before}`).join(', ');
  say(colors().yellow(`pyrepo is running with ${list} (pid ${probe.state.pid}): \`pyrepo restart\` applies the saved settings.`));
}

function reportChanges(changes: readonly SettingChange[], what: string): void {
  if (changes.length === 0) {
    say(`Nothing changed: the settings file already says ${what}.`);
    return;
  }
  say(`Saved: ${changes.map((c) => `${describeValue(c.name, c.after)} (was ${c.before === '' ? 'not set' : c.before})`).join(', ')}.`);
  say(colors().dim(`  Undo: \`${undoCommands(changes).join('` and `')}\``));
}

function printList(paths: PyrepoPaths): void {
  const c = colors();
  const { file, exists, settings } = listSettings(paths);
  say(`${c.bold('Settings file:')} ${file}${exists ? '' : c.dim(' (not written yet: every setting has its default)')}`);
  const rows = settings.map((s) => [
    s.name,
    s.text === '' ? c.dim('(not set)') : s.text,
    s.isDefault ? c.dim('yes') : c.yellow(`no: ${s.defaultText === '' ? 'not set' : s.defaultText}`),
  ]);
  say(formatTable(['setting', 'value', 'default'], rows));
}

const listCommand: CommandModule<object, ListFlags> = {
  command: 'list',
  aliases: ['ls'],
  describe: 'Show every saved setting, and whether it is the default',
  builder: (yargs: Argv) =>
    withJson(yargs)
      .example('$0 config list', 'A table of settings, values and defaults')
      .example('$0 config list --json', 'The same for scripts') as unknown as Argv<ListFlags>,
  handler: async (argv: ArgumentsCamelCase<ListFlags>) => {
    const paths = resolvePaths();
    if (argv.json) return printJson(listSettings(paths));
    printList(paths);
    await reportRunning(paths);
  },
};

const getCommand: CommandModule<object, { name: string }> = {
  command: 'get <name>',
  describe: 'Print one saved setting (empty when not set)',
  builder: (yargs: Argv) =>
    yargs
      .positional('name', { type: 'string', describe: 'The setting, as its flag names it', demandOption: true })
      .epilog(NAMES_EPILOG)
      .example('$0 config get port', 'Prints 8645')
      .example('$0 config get authenticate', 'Prints upload, or e.g. list,download,upload') as unknown as Argv<{ name: string }>,
  handler: (argv: ArgumentsCamelCase<{ name: string }>) => {
    say(getSetting(resolvePaths(), argv.name));
  },
};

const setCommand: CommandModule<object, { name: string; value: string; more?: string[] }> = {
  command: 'set <name> <value> [more..]',
  describe: 'Save settings (the running daemon takes them at `pyrepo restart`)',
  builder: (yargs: Argv) =>
    yargs
      .positional('name', { type: 'string', describe: 'The setting, as its flag names it', demandOption: true })
      .positional('value', { type: 'string', describe: 'Its value, as the flag takes it', demandOption: true })
      .positional('more', { type: 'string', array: true, describe: 'More settings and values' })
      .epilog(`${NAMES_EPILOG} Several pairs are saved together, or none when one is refused.`)
      .example('$0 config set authenticate list,download,upload', 'A private index: nothing without credentials')
      .example('$0 config set max-upload-size 200MB', 'Accept larger uploads')
      .example('$0 config set tls-cert cert.pem tls-key key.pem', 'Serve HTTPS (the pair is checked first)')
      .example('$0 config set lan true', 'Listen on every address, uploads authenticated') as unknown as Argv<{ name: string; value: string; more?: string[] }>,
  handler: async (argv: ArgumentsCamelCase<{ name: string; value: string; more?: string[] }>) => {
    const paths = resolvePaths();
    const pairs = [argv.name, argv.value, ...(argv.more ?? [])].map(String);
    const { changes } = setSettings(paths, pairs);
    reportChanges(changes, pairs.join(' '));
    await reportRunning(paths);
  },
};

const unsetCommand: CommandModule<object, { names: string[] }> = {
  command: 'unset <names..>',
  aliases: ['reset'],
  describe: 'Put settings back to their defaults',
  builder: (yargs: Argv) =>
    yargs
      .positional('names', { type: 'string', array: true, describe: 'The settings, as their flags name them', demandOption: true })
      .epilog(NAMES_EPILOG)
      .example('$0 config unset port', 'Back to 8645')
      .example('$0 config unset tls-cert tls-key', 'Plain HTTP again') as unknown as Argv<{ names: string[] }>,
  handler: async (argv: ArgumentsCamelCase<{ names: string[] }>) => {
    const paths = resolvePaths();
    const names = argv.names.map(String);
    const { changes } = unsetSettings(paths, names);
    reportChanges(changes, `the default for ${names.join(', ')}`);
    await reportRunning(paths);
  },
};

export const configCommand: CommandModule<object, ListFlags> = {
  ...COMMAND_HEADS.config,
  builder: (yargs: Argv) =>
    withJson(yargs)
      .command(listCommand)
      .command(getCommand)
      .command(setCommand)
      .command(unsetCommand)
      .epilog(
        'The settings file is what `pyrepo start`, `pyrepo restart`, the login service (`pyrepo service install`) and `pyrepo serve` run with. ' +
          '`start`, `restart` and `init` save the flags they are given; `serve` takes flags for one run.',
      )
      .example('$0 config', 'Every setting, its value and its default')
      .example('$0 config set port 8080 && $0 restart', 'Move the index to port 8080')
      .example('$0 config unset authenticate', 'Back to the default: uploads need credentials, reads are open') as unknown as Argv<ListFlags>,
  handler: async (argv: ArgumentsCamelCase<ListFlags>) => {
    const paths = resolvePaths();
    if (argv.json) return printJson(listSettings(paths));
    printList(paths);
    await reportRunning(paths);
  },
};
