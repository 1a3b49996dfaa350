/**
 * `pyrepo config`'s work without the printing: the saved settings by the names their
 * flags have, read, changed and put back to their defaults, each value read and checked
 * as its flag is. `lan` stands for listening on every address; `admin-user` is shown but
 * chosen by `pyrepo init`.
 */
import { Create } from '@sinclair/typebox/value';
import { isLoopback } from '../../shared/access-policy.js';
import type { PyrepoPaths } from '../../shared/paths.js';
import { loadTlsFiles, SettingsProblem } from '../../shared/settings-checks.js';
import { StoredSettingsSchema, type StoredSettings } from '../../shared/settings.js';
import { AbortError, UsageError } from '../errors.js';
import { closestNames } from '../suggest.js';
import {
  changedSettings,
  mergeSettings,
  parseBoolean,
  parseSetting,
  SETTINGS,
  settingNamed,
  settingsFromFlags,
  type SettingChange,
} from './daemon-settings.js';
import { hasSettings, loadSettings, replaceSettings, settingsFile } from './settings-store.js';

/** Names `pyrepo config` knows besides the daemon settings. */
const LAN = 'lan';
const ADMIN_USER = 'admin-user';

/** One saved setting as `config list` shows it. */
export interface SettingRow {
  name: string;
  /** The value as saved (JSON), or null when not set. */
  value: unknown;
  /** The value as its flag takes it ('' when not set). */
  text: string;
  /** Whether it is the default. */
  isDefault: boolean;
  /** The default as text ('' when the default is "not set"). */
  defaultText: string;
  description: string;
}

const defaults = (): Record<string, unknown> => Create(StoredSettingsSchema) as Record<string, unknown>;

function unknownSetting(name: string): UsageError {
  const names = [...SETTINGS.map((s) => s.name), LAN, ADMIN_USER];
  const close = closestNames(name, names);
  return new UsageError(`There is no setting named '${name}'.${close.length > 0 ? ` Did you mean ${close.map((n) => `'${n}'`).join(' or ')}?` : ''}`, '`pyrepo config list` shows every setting.');
}

/** Every saved setting, in the order of the flags, with its default. */
export function listSettings(paths: PyrepoPaths): { file: string; exists: boolean; settings: SettingRow[] } {
  const stored = loadSettings(paths) as Record<string, unknown>;
  const fallback = defaults();
  const rows: SettingRow[] = SETTINGS.map((spec) => {
    const text = spec.format(stored[spec.key]);
    const defaultText = spec.format(fallback[spec.key]);
    const description = (StoredSettingsSchema.properties[spec.key] as { description?: string }).description ?? spec.describe;
    return { name: spec.name, value: stored[spec.key] ?? null, text, isDefault: text === defaultText, defaultText, description };
  });
  rows.push({
    name: ADMIN_USER,
    value: stored.adminUser,
    text: String(stored.adminUser),
    isDefault: stored.adminUser === fallback.adminUser,
    defaultText: String(fallback.adminUser),
    description: 'Name of the admin identity the CLI uses (chosen by `pyrepo init --admin-user`).',
  });
  return { file: settingsFile(paths), exists: hasSettings(paths), settings: rows };
}

/** One setting's value as its flag takes it ('' when not set); `lan` is true when the index listens beyond loopback. */
export function getSetting(paths: PyrepoPaths, name: string): string {
  const stored = loadSettings(paths);
  if (name === LAN) return String(!isLoopback(stored.host));
  if (name === ADMIN_USER) return stored.adminUser;
  const spec = settingNamed(name);
  if (!spec) throw unknownSetting(name);
  return spec.format(stored[spec.key]);
}

/** The patch one `name value` pair makes, read as its flag would be (messages name it without dashes). */
function patchFor(name: string, text: string): Partial<StoredSettings> {
  if (name === LAN) {
    const lan = parseBoolean(text, LAN);
    return settingsFromFlags({ lan });
  }
  if (name === ADMIN_USER) throw new UsageError(`${ADMIN_USER} is chosen by \`pyrepo init --admin-user NAME\`, which also creates that identity.`);
  const spec = settingNamed(name);
  if (!spec) throw unknownSetting(name);
  return { [spec.key]: parseSetting(spec, text, spec.name) };
}

/** Checks the TLS pair when a change touches it, so that a pair that cannot serve is never saved. */
function checkTls(before: StoredSettings, after: StoredSettings): void {
  if (!after.tlsCert || !after.tlsKey || (after.tlsCert === before.tlsCert && after.tlsKey === before.tlsKey)) return;
  try {
    loadTlsFiles(after.tlsCert, after.tlsKey);
  } catch (err) {
    if (err instanceof SettingsProblem) throw new AbortError(err.message, 'Nothing was saved. Point tls-cert and tls-key at a certificate and the key it was made with.');
    throw err;
  }
}

function apply(paths: PyrepoPaths, patch: Partial<StoredSettings>): { changes: SettingChange[]; settings: StoredSettings } {
  const before = loadSettings(paths);
  const after = mergeSettings(before, patch, 'config');
  checkTls(before, after);
  const changes = changedSettings(before, after);
  if (changes.length > 0 || !hasSettings(paths)) replaceSettings(paths, after);
  return { changes, settings: after };
}

/** Saves `name value` pairs, each read and checked as its flag is, and the whole as the daemon would; what changed. */
export function setSettings(paths: PyrepoPaths, pairs: readonly string[]): { changes: SettingChange[]; settings: StoredSettings } {
  if (pairs.length === 0 || pairs.length % 2 !== 0) {
    throw new UsageError('`pyrepo config set` takes a setting and its value (or several pairs).', 'Example: pyrepo config set port 8080 max-upload-size 200MB');
  }
  let patch: Partial<StoredSettings> = {};
  for (let i = 0; i < pairs.length; i += 2) patch = { ...patch, ...patchFor(pairs[i] as string, pairs[i + 1] as string) };
  return apply(paths, patch);
}

/** Puts settings back to their defaults (`lan`: loopback again); what changed. */
export function unsetSettings(paths: PyrepoPaths, names: readonly string[]): { changes: SettingChange[]; settings: StoredSettings } {
  if (names.length === 0) throw new UsageError('Say which setting to put back to its default.', 'Example: pyrepo config unset port');
  const fallback = defaults();
  const patch: Record<string, unknown> = {};
  for (const name of names) {
    if (name === ADMIN_USER) throw new UsageError(`${ADMIN_USER} is chosen by \`pyrepo init --admin-user NAME\`, which also creates that identity.`);
    const spec = name === LAN ? settingNamed('host') : settingNamed(name);
    if (!spec) throw unknownSetting(name);
    patch[spec.key] = fallback[spec.key];
  }
  return apply(paths, patch as Partial<StoredSettings>);
}
