/** `pyrepo start`: the daemon in the background; prints where it serves. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { isLoopback } from '../../shared/access-policy.js';
import { resolvePaths } from '../../shared/paths.js';
import { withDaemonOptions } from '../options.js';
import { colors, note, say } from '../output.js';
import { startDaemon, type StartResult } from '../services/daemon-control.js';
import { resolveDaemonSettings, type DaemonFlags } from '../services/daemon-settings.js';
import { ensureAdminUser } from '../services/admin-identity.js';
import { loadSettings } from '../services/settings-store.js';

/** Prints the outcome of a start (shared with `restart` and `init`). */
export function reportStart(result: StartResult, requestedPort?: number): void {
  const c = colors();
  const { state } = result;
  if (result.alreadyRunning) {
    say(`pyrepo is already running at ${c.bold(`${state.url}/simple/`)} (pid ${state.pid}).`);
    if (requestedPort !== undefined && requestedPort !== 0 && requestedPort !== state.port) {
      note(`It listens on port ${state.port}, not ${requestedPort}: \`pyrepo restart --port ${requestedPort}\` moves it.`);
    }
    return;
  }
  say(`pyrepo ${state.version} is running at ${c.bold(`${state.url}/simple/`)} (pid ${state.pid}).`);
  say(`  upload URL: ${state.url}/legacy/`);
  say(`  access:     ${result.health.access}`);
  say(`  log:        ${result.logFile}`);
  if (!isLoopback(state.host)) say(c.yellow(`  Listening on ${state.host}: other machines on the network can reach it (\`pyrepo board\` shows the addresses).`));
  if (result.health.indexing) say('  The packages folder is still being indexed; pages fill in as it goes.');
}

export const startCommand: CommandModule<object, DaemonFlags> = {
  command: 'start',
  describe: 'Start the package index in the background',
  builder: (yargs: Argv) =>
    withDaemonOptions(yargs)
      .epilog('Flags override the settings file (`pyrepo init`) for this run. Already running is not an error.')
      .example('$0 start', 'Start with the saved settings')
      .example('$0 start --port 8080', 'Start on another port this time') as unknown as Argv<DaemonFlags>,
  handler: async (argv: ArgumentsCamelCase<DaemonFlags>) => {
    const paths = resolvePaths();
    const stored = loadSettings(paths);
    const settings = resolveDaemonSettings(argv, stored, paths);
    // Uploads need the admin identity by default: make sure the daemon will know it.
    await ensureAdminUser(paths, settings.dataDir, stored.adminUser);
    reportStart(await startDaemon(settings, paths), argv.port);
  },
};
