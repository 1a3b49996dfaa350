/**
 * The admin identity `pyrepo init` creates: a user name kept in the settings and a
 * generated password kept in the secret store. The CLI uses it for uploads and the
 * control API, so the user never types it.
 */
import { randomBytes } from 'node:crypto';
import type { PyrepoPaths } from '../../shared/paths.js';
import { LazySecretStore, SecretStoreError, type SecretStore } from '../../shared/secrets.js';
import { AbortError } from '../errors.js';

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

/** A new random password: 32 characters of base64url (192 bits). */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
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
