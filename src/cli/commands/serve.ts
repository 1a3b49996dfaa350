/** `pyrepo serve`: the daemon in the foreground, for containers, process managers and quick tries; its flags are for this run only. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { resolvePaths } from '../../shared/paths.js';
import { AbortError } from '../errors.js';
import { DAEMON_FLAG_GROUPS, withDaemonOptions } from '../options.js';
import { say } from '../output.js';
import { resolveDaemonSettings, type DaemonFlags } from '../services/daemon-settings.js';
import { prepareAdminUser } from '../services/admin-identity.js';
import { loadSettings } from '../services/settings-store.js';
import { COMMAND_HEADS } from '../command-heads.js';

export const serveCommand: CommandModule<object, DaemonFlags> = {
  ...COMMAND_HEADS.serve,
  builder: (yargs: Argv) =>
    withDaemonOptions(yargs, 'this-run')
      .option('data-dir', { type: 'string', requiresArg: true, describe: 'Folder for the catalog and daemon state', defaultDescription: "pyrepo's data folder" })
      .group(['data-dir'], DAEMON_FLAG_GROUPS['this-run'])
      .epilog(
        'Runs with the saved settings (`pyrepo config list`); flags change them for this run only, as a container or a process manager wants. ' +
          '`pyrepo start` and `pyrepo restart` save their flags instead.',
      )
      .example('$0 serve', 'Serve the index on http://127.0.0.1:8645/simple/')
      .example('$0 serve --packages-dir ~/packages --port 8080', 'Serve an existing pypiserver folder')
      .example('$0 serve --host 0.0.0.0 --port 0', 'Listen on every address, on a free port') as unknown as Argv<DaemonFlags>,
  handler: async (argv: ArgumentsCamelCase<DaemonFlags>) => {
    const paths = resolvePaths();
    const stored = loadSettings(paths);
    const settings = resolveDaemonSettings(argv, stored, paths);
    // Uploads need the admin identity by default: make sure the daemon will know it while
    // this thread loads the daemon (its entry file: the CLI enters the daemon only through
    // it). The bcrypt check of an existing entry runs on another thread once the daemon
    // listens; it rewrites the entry if the stored password changed, which the daemon reads.
    const [admin, { runDaemon, stopOnSignals, DaemonStartError }] = await Promise.all([
      prepareAdminUser(paths, settings.dataDir, stored.adminUser),
      import('../../daemon/main.js'),
    ]);
    try {
      const daemon = await runDaemon(settings);
      try {
        await admin.verify();
      } catch (err) {
        await daemon.close();
        throw err;
      }
      say(
        `pyrepo ${daemon.state.version} serving ${daemon.url}/simple/ (upload URL ${daemon.url}/legacy/)\n` +
          `  packages: ${settings.packagesDir}\n  data:     ${settings.dataDir}\n  access:   ${daemon.access}`,
      );
      stopOnSignals(daemon, (line) => process.stderr.write(`${line}\n`));
    } catch (err) {
      if (err instanceof DaemonStartError) throw new AbortError(err.message, undefined, 2);
      throw err;
    }
  },
};
