/** Options several commands share, defined once. */
import type { Argv } from 'yargs';
import { SETTINGS } from './services/daemon-settings.js';

/**
 * Whether a command's daemon flags are saved in the settings file (`start`, `restart`,
 * `init`) or are for that run only (`serve`).
 */
export type DaemonFlagsMode = 'saved' | 'this-run';

/** The help heading of the daemon flags, by whether they are saved. */
export const DAEMON_FLAG_GROUPS: Record<DaemonFlagsMode, string> = {
  saved: 'Settings (saved in the settings file for later starts and the login service; `pyrepo config list` shows them):',
  'this-run': 'Settings for this run only (the settings file is left as it is; `pyrepo config` changes it):',
};

/**
 * The daemon's settings as flags, from the one table of settings, grouped under a heading
 * that says whether they are saved. None has a yargs default: an absent flag means "as
 * saved". Values are read by the table (`--port abc` gets the same message as
 * `pyrepo config set port abc`), so every flag that takes a value insists on one.
 */
export function withDaemonOptions<T>(yargs: Argv<T>, mode: DaemonFlagsMode = 'saved') {
  let y = yargs as Argv;
  for (const spec of SETTINGS) {
    y = y.option(spec.name, {
      type: spec.kind === 'boolean' ? 'boolean' : 'string',
      describe: spec.describe,
      ...(spec.kind === 'text' ? { requiresArg: true } : {}),
      ...(spec.alias ? { alias: spec.alias } : {}),
      ...(spec.defaultText ? { defaultDescription: spec.defaultText } : {}),
      ...(spec.choices ? { choices: spec.choices as string[] } : {}),
    });
  }
  y = y.option('lan', {
    type: 'boolean',
    describe: 'Listen on every address (for boards and colleagues): reads open, uploads authenticated (--no-lan: loopback again)',
  });
  return y.group([...SETTINGS.map((s) => s.name), 'lan'], DAEMON_FLAG_GROUPS[mode]) as Argv<T>;
}

/** `--json`: print machine-readable output instead of text. */
export function withJson<T>(yargs: Argv<T>) {
  return yargs.option('json', { type: 'boolean', describe: 'Print JSON instead of text', default: false });
}
