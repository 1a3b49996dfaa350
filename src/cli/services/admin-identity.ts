/**
 * The admin identity `pyrepo init` creates: a user name kept in the settings and a
 * generated password kept in the secret store. The CLI uses it for uploads and the
 * control API, so the user never types it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { AccessFileError, accessFiles, readAccessFile, writeAccessFile } from '../../shared/access-file.js';
import { writeFileAtomic } from '../../shared/atomic-file.js';
import { hashPassword, parseHtpasswd, setHtpasswdUser, verifyPassword, verifyPasswordAside } from '../../shared/htpasswd.js';
import type { PyrepoPaths } from '../../shared/paths.js';
import { LazySecretStore, SecretStoreError, type SecretStore } from '../../shared/secrets.js';
import { AbortError } from '../errors.js';
import { setUserPassword, type UserFiles } from './users.js';

/** The service name the admin password is stored under. */
export const ADMIN_SECRET_SERVICE = 'pyrepo-admin';

export interface AdminCredentials {
  username: string;
  password: string;
}

/** The secret store of this installation: the OS keychain when usable, else the 0600 file. */
export function secretStore(paths: PyrepoPaths): LazySecretStore {
  return new LazySecretStore(paths.configDir);
}

function storeFailure(err: unknown): unknown {
  if (err instanceof SecretStoreError) return new AbortError(err.message);
  if (err instanceof Error && !(err instanceof AbortError)) return new AbortError(`The keychain refused: ${err.message}`, 'Unlock it, or set PYREPO_KEYCHAIN=off to keep secrets in a file only you can read.');
  return err;
}

/**
 * A new random password: 32 characters of base64url (192 bits). Never one that starts with
 * '-': pasted after `twine upload -p` or any other tool's short option it would read as a flag
 * ("argument -p/--password: expected one argument"), one password in 64 otherwise.
 */
export function generatePassword(): string {
  for (;;) {
    const password = randomBytes(24).toString('base64url');
    if (!password.startsWith('-')) return password;
  }
}

/** The admin's credentials, if `pyrepo init` has created them. */
export async function readAdminCredentials(store: SecretStore, username: string): Promise<AdminCredentials | undefined> {
  try {
    const password = await store.get(ADMIN_SECRET_SERVICE, username);
    return password === undefined ? undefined : { username, password };
  } catch (err) {
    throw storeFailure(err);
  }
}

/** Creates the admin password unless one exists; `created` says which. */
export async function ensureAdminCredentials(store: SecretStore, username: string): Promise<AdminCredentials & { created: boolean }> {
  const existing = await readAdminCredentials(store, username);
  if (existing) return { ...existing, created: false };
  const password = generatePassword();
  try {
    await store.set(ADMIN_SECRET_SERVICE, username, password);
  } catch (err) {
    throw storeFailure(err);
  }
  return { username, password, created: true };
}

/** `Authorization: Basic …` for credentials. */
export function basicAuthorization(credentials: AdminCredentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

/**
 * Makes sure the daemon knows the admin: a bcrypt hash of the stored password in pyrepo's
 * htpasswd file and the admin role in the access file (the password itself stays in the
 * keychain or the 0600 file). Creates the password if there is none yet. Idempotent.
 */
export async function ensureAdminUser(paths: PyrepoPaths, dataDir: string, username: string): Promise<AdminCredentials & { created: boolean }> {
  const prepared = await prepareAdminUser(paths, dataDir, username);
  await prepared.verify({ aside: false });
  return prepared.admin;
}

/**
 * {@link ensureAdminUser} in two steps, for `pyrepo serve`, `start` and `restart`, which start
 * the daemon between them (or meanwhile). The first makes sure there is a password, an
 * htpasswd entry (hashing the password only when the entry is missing) and the admin role.
 * `verify` then checks an existing entry against the stored password, by default on a thread
 * of its own, and writes it again if they differ (the password was changed in the keychain):
 * the daemon reads the file again when it changes. A bcrypt check (60-180 ms of CPU) so
 * stays off the path from the spawn to the first answer.
 */
export async function prepareAdminUser(
  paths: PyrepoPaths,
  dataDir: string,
  username: string,
): Promise<{ admin: AdminCredentials & { created: boolean }; verify(opts?: { aside?: boolean }): Promise<void> }> {
  const admin = await ensureAdminCredentials(secretStore(paths), username);
  const files = accessFiles(dataDir);
  mkdirSync(dataDir, { recursive: true });
  const read = () => (existsSync(files.htpasswd) ? readFileSync(files.htpasswd, 'utf8') : '');
  const writeEntry = async (text: string) => writeFileAtomic(files.htpasswd, setHtpasswdUser(text, username, await hashPassword(admin.password)), { mode: 0o600 });
  const text = read();
  const entry = parseHtpasswd(text).entries.find((e) => e.user === username);
  if (!entry) await writeEntry(text);
  try {
    const access = readAccessFile(files.access);
    if (access.roles[username] !== 'admin') writeAccessFile(files.access, { ...access, roles: { ...access.roles, [username]: 'admin' } });
  } catch (err) {
    if (err instanceof AccessFileError) throw new AbortError(err.message);
    throw err;
  }
  const verify = async ({ aside = true } = {}) => {
    if (!entry) return;
    if (await (aside ? verifyPasswordAside : verifyPassword)(admin.password, entry.hash)) return;
    // Read again: another line may have changed meanwhile (`pyrepo user add`).
    await writeEntry(read());
  };
  return { admin, verify };
}

/**
 * Changes the admin's password where the CLI reads it (the secret store) and where the
 * daemon checks it (pyrepo's htpasswd file) together: if the file cannot be written, the
 * store gets the old password back. Returns the store, to say where the password is kept.
 */
export async function changeAdminPassword(paths: PyrepoPaths, files: UserFiles, username: string, password: string): Promise<LazySecretStore> {
  const store = secretStore(paths);
  try {
    const previous = await store.get(ADMIN_SECRET_SERVICE, username);
    await store.set(ADMIN_SECRET_SERVICE, username, password);
    try {
      await setUserPassword(files, username, password);
    } catch (err) {
      if (previous !== undefined) await store.set(ADMIN_SECRET_SERVICE, username, previous);
      throw err;
    }
  } catch (err) {
    throw storeFailure(err);
  }
  return store;
}
