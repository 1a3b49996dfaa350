/** `pyrepo service install | uninstall | status`: run the daemon at login (systemd user unit, launchd agent). */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { daemonLogFile, resolvePaths } from '../../shared/paths.js';
import { AbortError } from '../errors.js';
import { withJson } from '../options.js';
import { colors, printJson, say } from '../output.js';
import { defaultServiceHost, installService, serviceStatus, uninstallService, type InstallResult } from '../services/service-manager.js';
import { LAUNCHD_LABEL, SYSTEMD_UNIT } from '../services/service-unit.js';
import { COMMAND_HEADS } from '../command-heads.js';

interface InstallFlags {
  force: boolean;
  enable: boolean;
}

interface UninstallFlags {
  force: boolean;
}

interface StatusFlags {
  json: boolean;
}

/** Where the service's output goes, and how to see it. */
function logHint(manager: InstallResult['manager']): string {
  return manager === 'systemd' ? 'journalctl --user -u pyrepo' : `pyrepo logs (${daemonLogFile(resolvePaths())})`;
}

function printInstall(r: InstallResult): void {
  const c = colors();
  const kind = r.manager === 'systemd' ? 'systemd user unit' : 'launchd agent';
  const name = r.manager === 'systemd' ? SYSTEMD_UNIT : LAUNCHD_LABEL;
  const fileLine = {
    created: `Wrote the ${kind} ${r.file}.`,
    updated: `Updated the ${kind} ${r.file}.`,
    replaced: `Replaced ${r.file} (it was not pyrepo's; --force).`,
    unchanged: `The ${kind} ${r.file} is already installed and up to date.`,
  }[r.fileState];
  say(fileLine);
  if (r.stoppedPid !== undefined) say(`Stopped the daemon that \`pyrepo start\` ran (pid ${r.stoppedPid}), so that the service can take its port.`);
  const e = r.enablement;
  if (e.kind === 'skipped') {
    say(`Not enabled (--no-enable). To start it now and at every login, run:\n${e.commands.map((cmd) => `  ${cmd}`).join('\n')}`);
    return;
  }
  if (e.kind === 'failed') {
    const meanwhile = r.stoppedPid !== undefined ? '\nMeanwhile `pyrepo start` runs it in the background again.' : '';
    throw new AbortError(
      `The ${kind} is written, but it could not be enabled: ${e.reason}`,
      `Where a user session with ${r.manager} is available, run:\n${e.commands.map((cmd) => `  ${cmd}`).join('\n')}\n` +
        `(Without one, as in most containers and CI, run \`pyrepo serve\` under your own supervisor, or pass --no-enable to only write the file.)${meanwhile}`,
    );
  }
  say(c.green(`${e.restarted ? 'Enabled and restarted' : r.fileState === 'unchanged' ? 'Enabled and running:' : 'Enabled and started'} ${name}`) + ': it starts whenever you log in.');
  say(`  status:  pyrepo service status${r.manager === 'systemd' ? ' (or systemctl --user status pyrepo)' : ''}`);
  say(`  logs:    ${logHint(r.manager)}`);
  if (r.manager === 'systemd') say(c.dim('  To keep it running while you are logged out, and start it at boot: loginctl enable-linger $USER'));
}

const installCommand: CommandModule<object, InstallFlags> = {
  command: 'install',
  describe: 'Write the service file and enable it (starts now and at every login)',
  builder: (yargs: Argv) =>
    yargs
      .option('enable', { type: 'boolean', default: true, describe: 'Enable and start the service (--no-enable only writes the file)' })
      .option('force', { type: 'boolean', default: false, describe: 'Replace a service file that pyrepo did not write' })
      .epilog(
        `Linux: ~/.config/systemd/user/${SYSTEMD_UNIT} (under $XDG_CONFIG_HOME), enabled with \`systemctl --user enable --now\`; ` +
          'its output goes to the journal (journalctl --user -u pyrepo).\n' +
          `macOS: ~/Library/LaunchAgents/${LAUNCHD_LABEL}.plist, loaded with \`launchctl bootstrap\`; its output goes to the daemon log (pyrepo logs).\n` +
          'The service runs `pyrepo serve` with the settings of `pyrepo init` and this PYREPO_HOME. A daemon started by `pyrepo start` is stopped first ' +
          'so that the service can take its port. Running install again is safe; run it again after moving pyrepo or changing the Node.js install.',
      )
      .example('$0 service install', 'Start the index now and whenever you log in')
      .example('$0 service install --no-enable', 'Only write the unit file (containers, CI, or to review it first)')
      .example('$0 service install --force', 'Replace a pyrepo.service that someone else wrote') as unknown as Argv<InstallFlags>,
  handler: async (argv: ArgumentsCamelCase<InstallFlags>) => {
    printInstall(await installService(defaultServiceHost(), { force: argv.force, enable: argv.enable }));
  },
};

const uninstallCommand: CommandModule<object, UninstallFlags> = {
  command: 'uninstall',
  describe: 'Stop and disable the service and remove its file',
  builder: (yargs: Argv) =>
    yargs
      .option('force', { type: 'boolean', default: false, describe: 'Also remove a service file that pyrepo did not write' })
      .epilog('Not installed is not an error. The index data is left alone.')
      .example('$0 service uninstall', 'Stop the service and no longer start it at login') as unknown as Argv<UninstallFlags>,
  handler: async (argv: ArgumentsCamelCase<UninstallFlags>) => {
    const r = await uninstallService(defaultServiceHost(), { force: argv.force });
    if (!r.removed) {
      say(`The pyrepo service is not installed (no ${r.file}); nothing to remove.`);
      return;
    }
    say(r.disabled ? `Stopped and disabled the pyrepo service, and removed ${r.file}.` : `Removed ${r.file}: the pyrepo service no longer starts at login.`);
    if (r.warning) say(colors().yellow(`Warning: ${r.warning}`));
  },
};

const statusCommand: CommandModule<object, StatusFlags> = {
  command: 'status',
  describe: 'Show whether the service is installed, enabled and running',
  builder: (yargs: Argv) =>
    withJson(yargs)
      .example('$0 service status', 'Installed? Enabled? Running?')
      .example('$0 service status --json', 'The same for scripts') as unknown as Argv<StatusFlags>,
  handler: async (argv: ArgumentsCamelCase<StatusFlags>) => {
    const s = await serviceStatus(defaultServiceHost());
    if (argv.json) {
      printJson(s);
      return;
    }
    const c = colors();
    if (!s.installed) {
      say(`The pyrepo service is ${c.bold('not installed')} (no ${s.file}).\nInstall it with \`pyrepo service install\`.`);
      return;
    }
    say(`The pyrepo service (${s.manager}) is ${c.bold('installed')}: ${s.file}${s.ours ? '' : c.yellow(' (not written by pyrepo)')}`);
    if (s.enabled !== undefined) say(`  enabled:  ${s.enabled}`);
    if (s.active !== undefined) say(`  running:  ${s.active}`);
    if (s.unknown) say(c.yellow(`  ! ${s.unknown}`));
    say(`  logs:     ${logHint(s.manager)}`);
  },
};

export const serviceCommand: CommandModule = {
  ...COMMAND_HEADS.service,
  builder: (yargs: Argv) =>
    yargs
      .command(installCommand)
      .command(uninstallCommand)
      .command(statusCommand)
      .demandCommand(1, 'Say which: `pyrepo service install`, `uninstall` or `status`.')
      .example('$0 service install', 'systemd user unit (Linux) or launchd agent (macOS), enabled and started')
      .example('$0 service status', 'Installed, enabled, running?')
      .example('$0 service uninstall', 'Stop it and remove it'),
  handler: () => undefined,
};
