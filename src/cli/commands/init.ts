/** `pyrepo init`: folders, settings and the admin identity; then offers to start the index. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { formatBytes } from '../../shared/format.js';
import { resolvePaths } from '../../shared/paths.js';
import type { StoredSettings } from '../../shared/settings.js';
import { withDaemonOptions } from '../options.js';
import { colors, say } from '../output.js';
import { askText, askYesNo, canAsk } from '../prompt.js';
import { probeDaemon, startDaemon } from '../services/daemon-control.js';
import { changedSettings, resolveDaemonSettings, settingsFromFlags, type DaemonFlags } from '../services/daemon-settings.js';
import { loadSettings } from '../services/settings-store.js';
import { setUp } from '../services/setup.js';
import { configureAndReport } from './configure.js';
import { reportSaved, reportStart } from './start.js';
import { COMMAND_HEADS } from '../command-heads.js';

interface InitFlags extends DaemonFlags {
  adminUser?: string;
  yes: boolean;
  start?: boolean;
  configure?: boolean;
}

/** On a terminal without --yes: the two settings people change most, with the current values offered. */
async function askSettings(current: StoredSettings, patch: Partial<StoredSettings>, defaultPackagesDir: string): Promise<Partial<StoredSettings>> {
  const answers = { ...patch };
  if (answers.port === undefined) {
    const port = await askText('Port for the index', String(current.port), (v) =>
      /^\d+$/.test(v.trim()) && Number(v) <= 65535 ? true : 'A whole number from 0 to 65535 (0 picks a free one).',
    );
    answers.port = Number(port.trim());
  }
  if (answers.packagesDir === undefined) {
    const dir = await askText('Packages folder (an existing pypiserver folder works)', current.packagesDir ?? defaultPackagesDir);
    if (dir.trim() !== (current.packagesDir ?? defaultPackagesDir)) answers.packagesDir = dir.trim();
  }
  const flags: DaemonFlags = { port: answers.port, ...(answers.packagesDir ? { packagesDir: answers.packagesDir } : {}) };
  // Asked only while nothing says it: off unless the user turns it on.
  if (!('upstream' in patch) && current.upstream === undefined) {
    const upstream = await askYesNo('Serve public projects (not on this index) from PyPI through it, so that it can be your only index? Names on this index are never looked up there.', false);
    if (upstream) {
      flags.upstream = 'on';
      if (patch.private === undefined) {
        flags.private = await askText('Private name patterns, never looked up upstream, comma-separated (like acme-*; empty: none)', current.private.join(','), (v) =>
          /^[A-Za-z0-9._*,\s-]*$/.test(v) ? true : 'Letters, digits, ., _, - and * only; several separated by commas.',
        );
      }
    }
  }
  return settingsFromFlags(flags);
}

export const initCommand: CommandModule<object, InitFlags> = {
  ...COMMAND_HEADS.init,
  builder: (yargs: Argv) =>
    withDaemonOptions(yargs)
      .option('admin-user', { type: 'string', describe: 'Name of the admin identity', defaultDescription: 'admin' })
      .option('yes', { alias: 'y', type: 'boolean', describe: 'Ask nothing: use flags and defaults, and start the index', default: false })
      .option('start', { type: 'boolean', describe: 'Start the index when done (--no-start: do not)', defaultDescription: 'ask; yes with --yes' })
      .option('configure', {
        type: 'boolean',
        describe: 'Then point pip, twine, poetry, pdm and uv at it, as `pyrepo configure` does (--no-configure: do not)',
        defaultDescription: 'ask; yes with --yes',
      })
      .epilog('Safe to run again: it keeps what exists and changes only what you pass.')
      .example('$0 init', 'Answer a few questions, then start')
      .example('$0 init --yes', 'Defaults, no questions, start the index')
      .example('$0 init --packages-dir /srv/pypiserver/packages --port 8080 --yes', 'Adopt an existing pypiserver folder') as unknown as Argv<InitFlags>,
  handler: async (argv: ArgumentsCamelCase<InitFlags>) => {
    const c = colors();
    const paths = resolvePaths();
    const current = loadSettings(paths);
    let patch: Partial<StoredSettings> = settingsFromFlags(argv);
    if (argv.adminUser !== undefined) patch.adminUser = argv.adminUser;
    const interactive = canAsk() && !argv.yes;
    if (interactive) patch = { ...patch, ...(await askSettings(current, patch, `${paths.dataDir}/packages`)) };

    const result = await setUp(paths, patch);
    say(`${result.settingsCreated ? 'Created' : result.settingsChanged ? 'Updated' : 'Kept'} the settings: ${result.settingsFile}`);
    if (!result.settingsCreated) reportSaved(changedSettings(current, result.settings));
    say(`  data folder:     ${result.dataDir}`);
    say(`  packages folder: ${result.packagesDir}${result.existingFiles > 0 ? c.green(` (${result.existingFiles} distribution files already there: they will be served as they are)`) : ''}`);
    say(`  listens on:      ${result.settings.host}:${result.settings.port}; uploads up to ${formatBytes(result.settings.maxUploadBytes)}`);
    say(
      result.admin.created
        ? `  admin identity:  '${result.admin.username}', with a new password kept in ${result.admin.backend.description}`
        : `  admin identity:  '${result.admin.username}' (kept as it was)`,
    );
    if (result.admin.backend.kind === 'file') say(c.yellow(`  Not in the OS keychain: ${result.admin.keychainProblem ?? 'it is not usable'}. The file is readable by you only.`));

    const start = argv.start ?? (argv.yes ? true : interactive ? await askYesNo('Start the index now?', true) : false);
    if (!start) {
      say('\nStart it with `pyrepo start`, or run it in the foreground with `pyrepo serve`.');
    } else {
      const running = await probeDaemon(paths.dataDir);
      const portDiffers = result.settings.port !== 0 && running.kind === 'running' && running.state.port !== result.settings.port;
      say('');
      if (running.kind === 'running' && (portDiffers || running.state.packagesDir !== result.packagesDir)) {
        say(c.yellow(`pyrepo already runs with other settings (port ${running.state.port}); \`pyrepo restart\` applies the new ones.`));
      } else {
        reportStart(await startDaemon(resolveDaemonSettings({}, loadSettings(paths), paths), paths));
      }
    }
    // Configuring needs the port: known once the daemon runs, or when it is fixed.
    const configurable = start || result.settings.port !== 0;
    const configure =
      configurable && (argv.configure ?? (argv.yes ? true : interactive ? await askYesNo('Point your Python tools (pip, twine, poetry, pdm, uv) at it? `pyrepo unconfigure` undoes it.', true) : false));
    if (configure) {
      say('');
      await configureAndReport(paths, { name: 'pyrepo', primary: false, keychain: true, dryRun: false });
    } else if (argv.configure !== false) {
      say('\nPoint pip, twine, poetry, pdm and uv at it with `pyrepo configure` (`--dry-run` shows the changes first).');
    }
  },
};
