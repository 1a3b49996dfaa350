/**
 * The settings file (settings.json in the config folder), read and written through
 * `conf` with the one schema in src/shared/settings.ts. Reading never creates the file:
 * before `pyrepo init` every setting has its default.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Conf from 'conf';
import { Value } from '@sinclair/typebox/value';
import type { PyrepoPaths } from '../../shared/paths.js';
import { StoredSettingsSchema, type StoredSettings } from '../../shared/settings.js';
import { AbortError } from '../errors.js';

const CONFIG_NAME = 'settings';

/** Where the settings file lives. */
export function settingsFile(paths: PyrepoPaths): string {
  return join(paths.configDir, `${CONFIG_NAME}.json`);
}

function open(paths: PyrepoPaths): Conf<StoredSettings> {
  try {
    return new Conf<StoredSettings>({
      cwd: paths.configDir,
      configName: CONFIG_NAME,
      schema: StoredSettingsSchema.properties as never,
      // Never replace a file the user can fix: a broken one is reported instead.
      clearInvalidConfig: false,
    });
  } catch (err) {
    const message = (err as Error).message.replace(/^Config schema violation: /, '');
    const hint = (err as Error).name === 'SyntaxError' ? 'it is not valid JSON' : message.replace(/`/g, "'");
    throw new AbortError(`The settings file ${settingsFile(paths)} cannot be used: ${hint}.`, 'Fix it, or delete it and run `pyrepo init` again.');
  }
}

/** Every setting at its default. */
export function defaultSettings(): StoredSettings {
  return Value.Create(StoredSettingsSchema);
}

/** The settings in effect: the file's, with defaults for what it does not say. */
export function loadSettings(paths: PyrepoPaths): StoredSettings {
  const defaults = defaultSettings();
  if (!existsSync(settingsFile(paths))) return defaults;
  return { ...defaults, ...open(paths).store };
}

/** Whether `pyrepo init` has written a settings file. */
export function hasSettings(paths: PyrepoPaths): boolean {
  return existsSync(settingsFile(paths));
}

/** Writes the given settings into the file (atomically, through conf); returns the result. */
export function saveSettings(paths: PyrepoPaths, patch: Partial<StoredSettings>): StoredSettings {
  const conf = open(paths);
  return write(conf, { ...defaultSettings(), ...conf.store, ...patch });
}

/**
 * Writes `settings` as the whole file: keys set to undefined are removed, so that an
 * optional setting goes back to "not set". Returns what was written.
 */
export function replaceSettings(paths: PyrepoPaths, settings: StoredSettings): StoredSettings {
  return write(open(paths), { ...settings });
}

function write(conf: Conf<StoredSettings>, next: StoredSettings): StoredSettings {
  for (const key of Object.keys(next) as (keyof StoredSettings)[]) if (next[key] === undefined) delete next[key];
  if (!Value.Check(StoredSettingsSchema, next)) {
    const first = [...Value.Errors(StoredSettingsSchema, next)][0];
    throw new AbortError(`Invalid setting ${first?.path.slice(1) ?? ''}: ${first?.message ?? 'unknown problem'}.`);
  }
  conf.store = next;
  return next;
}
