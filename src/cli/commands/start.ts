/** `pyrepo start`: the daemon in the background, with its flags saved; prints where it serves. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { isLoopback } from '../../shared/access-policy.js';
import { resolvePaths } from '../../shared/paths.js';
import { withDaemonOptions } from '../options.js';
import { colors, note, say } from '../output.js';
import type { StartResult } from '../services/daemon-control.js';
import { startWithFlags } from '../services/daemon-restart.js';
import { describeValue, undoCommands, type DaemonFlags, type SettingChange } from '../services/daemon-settings.js';
import { COMMAND_HEADS } from '../command-heads.js';

/** Prints the outcome of a start (shared with `restart` and `init`). */
export function reportStart(result: StartResult): void {
  const c = colors();
  const { state } = result;
  if (result.alreadyRunning) {
    say(`pyrepo is already running at ${c.bold(`${state.url}/simple/`)} (pid ${state.pid}).`);
    return;
  }
  say(`pyrepo ${state.version} is running at ${c.bold(`${state.url}/simple/`)} (pid ${state.pid}).`);
  say(`  upload URL: ${state.url}/legacy/`);
  say(`  access:     ${result.health.access}`);
  say(`  log:        ${result.logFile}`);
  if (!isLoopback(state.host)) say(c.yellow(`  Listening on ${state.host}: other machines on the network can reach it (\`pyrepo board\` shows the addresses).`));
  if (result.health.indexing) say('  The packages folder is still being indexed; pages fill in as it goes.');
}

/** Says which settings the flags saved and how to undo it (shared with `restart` and `board`). */
export function reportSaved(changes: readonly SettingChange[]): void {
  if (changes.length === 0) return;
  const list = changes.map((ch) => `${describeValue(ch.name, ch.after)} (was ${ch.before === '' ? 'not set' : ch.before})`).join(', ');
  say(`Saved for later starts: ${list}.`);
  say(colors().dim(`  Undo: \`${undoCommands(changes).join('` and `')}\`; \`pyrepo config list\` shows every setting.`));
}

/** Says where a running daemon's settings differ from the saved ones (shared with `status`). */
export function reportDrift(drift: readonly SettingChange[]): void {
  if (drift.length === 0) return;
  const list = drift.map((d) => `${describeValue(d.name, d.after)} (it runs with ${d.before === '' ? 'none' : d.before})`).join(', ');
  note(colors(process.stderr).yellow(`The running daemon does not use the saved settings ${list}: \`pyrepo restart\` applies them.`));
}

export const startCommand: CommandModule<object, DaemonFlags> = {
  ...COMMAND_HEADS.start,
  builder: (yargs: Argv) =>
    withDaemonOptions(yargs, 'saved')
      .epilog(
        'Flags are saved in the settings file once the daemon runs with them, so a later `pyrepo restart` and the login service keep them; ' +
          '`pyrepo config` shows and changes the saved settings, and `pyrepo serve` takes flags for one run. Already running is not an error.',
      )
      .example('$0 start', 'Start with the saved settings')
      .example('$0 start --port 8080', 'Start on port 8080, from now on') as unknown as Argv<DaemonFlags>,
  handler: async (argv: ArgumentsCamelCase<DaemonFlags>) => {
    const outcome = await startWithFlags(resolvePaths(), argv);
    reportStart(outcome.result);
    reportSaved(outcome.saved);
    reportDrift(outcome.drift);
  },
};
