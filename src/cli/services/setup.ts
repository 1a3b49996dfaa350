/**
 * What `pyrepo init` does, without asking anything: the folders, the settings file, the
 * admin identity. Running it again changes only what it is given.
 */
import { constants, mkdirSync, accessSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hasDistExtension } from '../../shared/distfiles.js';
import { dataLayout, type PyrepoPaths } from '../../shared/paths.js';
import type { SecretBackend } from '../../shared/secrets.js';
import type { StoredSettings } from '../../shared/settings.js';
import { AbortError } from '../errors.js';
import { ensureAdminUser, secretStore } from './admin-identity.js';
import { hasSettings, loadSettings, saveSettings, settingsFile } from './settings-store.js';

export interface SetupResult {
  settingsFile: string;
  /** False when a settings file existed already. */
  settingsCreated: boolean;
  /** Whether this run changed any setting. */
  settingsChanged: boolean;
  settings: StoredSettings;
  dataDir: string;
  packagesDir: string;
  /** Distribution files already in the packages folder (an adopted pypiserver folder, say). */
  existingFiles: number;
  admin: { username: string; created: boolean; backend: SecretBackend; keychainProblem?: string };
}

/** Makes `dir` (and parents) and checks it is a writable folder. */
function ensureWritableFolder(dir: string, label: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) throw new Error('it is not a folder');
    accessSync(dir, constants.W_OK);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new AbortError(`Cannot use ${dir} as the ${label}: ${why}.`, `Choose another folder${label === 'packages folder' ? ' with --packages-dir' : ', or set PYREPO_HOME'}.`);
  }
}

/** Counts wheels and sdists in a folder and its subfolders (hidden ones skipped, as the daemon does). */
export function countDistFiles(dir: string, limit = 1_000_000): number {
  let count = 0;
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (count >= limit || entry.name.startsWith('.')) continue;
      if (entry.isDirectory()) walk(join(d, entry.name));
      else if (entry.isFile() && hasDistExtension(entry.name)) count++;
    }
  };
  walk(dir);
  return count;
}

/** Creates or updates pyrepo's setup with `patch` (settings given as flags or answers). */
export async function setUp(paths: PyrepoPaths, patch: Partial<StoredSettings>): Promise<SetupResult> {
  const layout = dataLayout(paths.dataDir);
  ensureWritableFolder(layout.dataDir, 'data folder');
  ensureWritableFolder(paths.configDir, 'config folder');
  const settingsCreated = !hasSettings(paths);
  const before = JSON.stringify(loadSettings(paths));
  const settings = saveSettings(paths, patch);
  const packagesDir = settings.packagesDir ?? layout.defaultPackagesDir;
  ensureWritableFolder(packagesDir, 'packages folder');
  const store = secretStore(paths);
  const admin = await ensureAdminUser(paths, layout.dataDir, settings.adminUser);
  const { keychainProblem } = await store.open();
  return {
    settingsFile: settingsFile(paths),
    settingsCreated,
    settingsChanged: JSON.stringify(settings) !== before,
    settings,
    dataDir: layout.dataDir,
    packagesDir,
    existingFiles: countDistFiles(packagesDir),
    admin: { username: admin.username, created: admin.created, backend: store.backend, ...(keychainProblem ? { keychainProblem } : {}) },
  };
}
