/**
 * The settings file (settings.json in the config folder), read and written with the one
 * schema in src/shared/settings.ts. Reading never creates the file: before `pyrepo init`
 * every setting has its default.
 *
 * Not `conf`: it validates with ajv and ajv-formats, half a megabyte of code compiled on
 * every command that reads a setting (a tenth of a second of `pyrepo status`), to check
 * what the TypeBox schema checks anyway. A JSON file written atomically is all it did here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Errors } from '@sinclair/typebox/errors';
import { Check, Create } from '@sinclair/typebox/value';
import { writeFileAtomic } from '../../shared/atomic-file.js';
import type { PyrepoPaths } from '../../shared/paths.js';
import { StoredSettingsSchema, type StoredSettings } from '../../shared/settings.js';
import { AbortError } from '../errors.js';

/** Where the settings file lives. */
export function settingsFile(paths: PyrepoPaths): string {
  return join(paths.configDir, 'settings.json');
}

/** The first thing the schema refuses in `settings`, as `name: problem`; undefined when it is valid. */
function problemOf(settings: unknown): string | undefined {
  if (Check(StoredSettingsSchema, settings)) return undefined;
  const first = [...Errors(StoredSettingsSchema, settings)][0];
  return `${first?.path.slice(1) ?? ''}: ${first?.message ?? 'unknown problem'}`;
}

/** What the file says, with defaults for the rest; the file itself is never changed here. */
function readStored(paths: PyrepoPaths): StoredSettings {
  const file = settingsFile(paths);
  const fail = (hint: string) => new AbortError(`The settings file ${file} cannot be used: ${hint}.`, 'Fix it, or delete it and run `pyrepo init` again.');
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    if (err instanceof SyntaxError) throw fail('it is not valid JSON');
    throw fail((err as Error).message);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw fail('it is not a JSON object');
  const settings = { ...defaultSettings(), ...(parsed as Partial<StoredSettings>) };
  const problem = problemOf(settings);
  if (problem) throw fail(problem);
  return settings;
}

/** Every setting at its default. */
export function defaultSettings(): StoredSettings {
  return Create(StoredSettingsSchema);
}

/** The settings in effect: the file's, with defaults for what it does not say. */
export function loadSettings(paths: PyrepoPaths): StoredSettings {
  const defaults = defaultSettings();
  if (!existsSync(settingsFile(paths))) return defaults;
  return readStored(paths);
}

/** Whether `pyrepo init` has written a settings file. */
export function hasSettings(paths: PyrepoPaths): boolean {
  return existsSync(settingsFile(paths));
}

/** Writes the given settings into the file (atomically); returns the result. */
export function saveSettings(paths: PyrepoPaths, patch: Partial<StoredSettings>): StoredSettings {
  return write(paths, { ...loadSettings(paths), ...patch });
}

/**
 * Writes `settings` as the whole file: keys set to undefined are removed, so that an
 * optional setting goes back to "not set". Returns what was written.
 */
export function replaceSettings(paths: PyrepoPaths, settings: StoredSettings): StoredSettings {
  if (hasSettings(paths)) readStored(paths); // a broken file is reported, never replaced
  return write(paths, { ...settings });
}

function write(paths: PyrepoPaths, next: StoredSettings): StoredSettings {
  for (const key of Object.keys(next) as (keyof StoredSettings)[]) if (next[key] === undefined) delete next[key];
  const problem = problemOf(next);
  if (problem) throw new AbortError(`Invalid setting ${problem}.`);
  // Tab-indented, as the files written before looked.
  writeFileAtomic(settingsFile(paths), `${JSON.stringify(next, undefined, '\t')}\n`);
  return next;
}
