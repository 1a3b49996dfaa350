/** `pyrepo serve`: the daemon in the foreground, for containers, process managers and quick tries. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { DEFAULT_PORT } from '../../shared/settings.js';
import { AbortError } from '../errors.js';
import { resolveServeSettings, type ServeFlags } from '../services/serve-settings.js';

export const serveCommand: CommandModule<object, ServeFlags> = {
  command: 'serve',
  describe: 'Run the package index in the foreground (Ctrl-C stops it)',
  builder: (yargs: Argv) =>
    yargs
      .option('host', { type: 'string', describe: 'Address to listen on', default: '127.0.0.1', defaultDescription: 'loopback only' })
      .option('port', { alias: 'p', type: 'number', describe: 'TCP port (0 picks a free one)', default: DEFAULT_PORT })
      .option('data-dir', { type: 'string', describe: 'Folder for the catalog and daemon state', defaultDescription: "pyrepo's data folder" })
      .option('packages-dir', { type: 'string', describe: 'Folder of distribution files (a pypiserver folder works)', defaultDescription: '<data-dir>/packages' })
      .option('overwrite', { type: 'boolean', describe: 'Let an upload replace a file with different content', default: false })
      .option('max-upload-size', { type: 'string', describe: 'Largest accepted upload, e.g. 100MB', default: '100MB' })
      .option('public-url', { type: 'string', describe: 'Base URL shown in pages when behind a proxy' })
      .option('watch', { type: 'boolean', describe: 'Pick up files copied into or deleted from the packages folder', default: true })
      .option('log-level', { type: 'string', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'silent'], default: 'info' })
      .option('access-log', { type: 'boolean', describe: 'Log one line per request', default: true })
      .example('$0 serve', 'Serve the index on http://127.0.0.1:8645/simple/')
      .example('$0 serve --packages-dir ~/packages --port 8080', 'Serve an existing pypiserver folder')
      .example('$0 serve --host 0.0.0.0 --port 0', 'Listen on every address, on a free port') as unknown as Argv<ServeFlags>,
  handler: async (argv: ArgumentsCamelCase<ServeFlags>) => {
    if (argv.port !== undefined && (!Number.isInteger(argv.port) || argv.port < 0 || argv.port > 65535)) {
      throw new AbortError(`--port must be a whole number from 0 to 65535, not '${String(argv.port)}'.`);
    }
    const settings = resolveServeSettings(argv);
    // The CLI enters the daemon only through its entry file.
    const { runDaemon, stopOnSignals, DaemonStartError } = await import('../../daemon/main.js');
    try {
      const daemon = await runDaemon(settings);
      process.stdout.write(
        `pyrepo ${daemon.state.version} serving ${daemon.url}/simple/ (upload URL ${daemon.url}/legacy/)\n` +
          `  packages: ${settings.packagesDir}\n  data:     ${settings.dataDir}\n`,
      );
      stopOnSignals(daemon, (line) => process.stderr.write(`${line}\n`));
    } catch (err) {
      if (err instanceof DaemonStartError) throw new AbortError(err.message, undefined, 2);
      throw err;
    }
  },
};
