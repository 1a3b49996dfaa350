/**
 * Where pyrepo keeps secrets (the admin password, and the copies each Python tool looks
 * up), by service and account, the way Python's `keyring` names items.
 *
 * The OS keychain comes through @napi-rs/keyring (keyring-rs): on Linux pinned to the
 * Secret Service, where its items carry the `service` and `username` attributes that
 * Python's keyring searches for (its fallback, kernel keyutils, is invisible to Python);
 * on macOS the login keychain; on Windows a generic credential whose target is the
 * service, which is Python keyring's layout (standards digest §6.4).
 *
 * The file store is a JSON file readable by its owner only (0600) in pyrepo's config
 * folder, written atomically: used where no keychain is usable, and always saying so.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as KeyringBinding from '@napi-rs/keyring';
import { writeFileAtomic } from './atomic-file.js';

/** Names the place secrets are kept, for messages and `pyrepo doctor`. */
export interface SecretBackend {
  kind: 'keychain' | 'file';
  /** A person-readable description: "secrets.json (mode 0600) in <folder>". */
  description: string;
}

/** A place to keep secrets, by service and account. */
export interface SecretStore {
  readonly backend: SecretBackend;
  get(service: string, account: string): Promise<string | undefined>;
  set(service: string, account: string, secret: string): Promise<void>;
  /** Resolves true when something was deleted. */
  delete(service: string, account: string): Promise<boolean>;
}

/** The secrets file is unreadable or not what pyrepo wrote. */
export class SecretStoreError extends Error {
  override readonly name = 'SecretStoreError';
}

interface Entry {
  service: string;
  account: string;
  secret: string;
}

/** The name of the secrets file in the config folder. */
export const SECRETS_FILE = 'secrets.json';

/** Secrets in a 0600 JSON file; see the module comment. */
export class FileSecretStore implements SecretStore {
  readonly backend: SecretBackend;
  private readonly path: string;

  constructor(configDir: string) {
    this.path = join(configDir, SECRETS_FILE);
    this.backend = { kind: 'file', description: `${this.path} (readable by you only)` };
  }

  private read(): Entry[] {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new SecretStoreError(`Cannot read ${this.path}: ${(err as Error).message}`);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new SecretStoreError(`${this.path} is not valid JSON; fix it or move it away (pyrepo init then makes a new admin password).`);
    }
    const entries = (data as { entries?: unknown }).entries;
    if (!Array.isArray(entries) || !entries.every(isEntry)) {
      throw new SecretStoreError(`${this.path} does not hold pyrepo secrets; fix it or move it away.`);
    }
    return entries;
  }

  private write(entries: Entry[]): void {
    writeFileAtomic(this.path, `${JSON.stringify({ entries }, null, 2)}\n`, { mode: 0o600 });
  }

  get(service: string, account: string): Promise<string | undefined> {
    return Promise.resolve(this.read().find((e) => e.service === service && e.account === account)?.secret);
  }

  set(service: string, account: string, secret: string): Promise<void> {
    const entries = this.read().filter((e) => !(e.service === service && e.account === account));
    this.write([...entries, { service, account, secret }]);
    return Promise.resolve();
  }

  delete(service: string, account: string): Promise<boolean> {
    const entries = this.read();
    const kept = entries.filter((e) => !(e.service === service && e.account === account));
    if (kept.length !== entries.length) this.write(kept);
    return Promise.resolve(kept.length !== entries.length);
  }
}

function isEntry(value: unknown): value is Entry {
  const e = value as Partial<Entry> | null;
  return !!e && typeof e.service === 'string' && typeof e.account === 'string' && typeof e.secret === 'string';
}

/** The keychain could not be used: why, in words for the user. */
export class KeychainUnavailableError extends Error {
  override readonly name = 'KeychainUnavailableError';
}

type KeyringModule = typeof KeyringBinding;

/** Time limit of one keychain call: a locked keyring may wait for a prompt nobody sees. */
const KEYCHAIN_TIMEOUT_MS = 5_000;

/** Secrets in the OS keychain; see the module comment. */
export class KeychainSecretStore implements SecretStore {
  readonly backend: SecretBackend;

  private constructor(private readonly keyring: KeyringModule) {
    const where = process.platform === 'darwin' ? 'the macOS keychain' : process.platform === 'win32' ? 'the Windows Credential Manager' : 'the Secret Service keyring';
    this.backend = { kind: 'keychain', description: where };
  }

  /** Opens the keychain and proves it answers; KeychainUnavailableError says why not. */
  static async open(): Promise<KeychainSecretStore> {
    // Asked before the binding is loaded: the daemon, started without a session bus by a
    // service manager, then never maps the native library (about 0.8 MB of its memory).
    if (process.platform === 'linux' && !process.env.DBUS_SESSION_BUS_ADDRESS) {
      throw new KeychainUnavailableError('no Secret Service: this session has no D-Bus session bus (a headless or SSH login?)');
    }
    let keyring: KeyringModule;
    try {
      keyring = await import('@napi-rs/keyring');
    } catch (err) {
      throw new KeychainUnavailableError(`the keychain binding could not be loaded (${(err as Error).message})`);
    }
    const store = new KeychainSecretStore(keyring);
    try {
      await store.get('pyrepo', 'keychain-check');
    } catch (err) {
      throw new KeychainUnavailableError(`the keychain did not answer: ${(err as Error).message}`);
    }
    return store;
  }

  private entry(service: string, account: string) {
    const { AsyncEntry } = this.keyring;
    if (process.platform === 'win32') return AsyncEntry.withTarget(service, service, account);
    return new AsyncEntry(service, account, { linux: { store: 'secret-service' } });
  }

  async get(service: string, account: string): Promise<string | undefined> {
    return (await this.entry(service, account).getPassword(AbortSignal.timeout(KEYCHAIN_TIMEOUT_MS))) ?? undefined;
  }

  async set(service: string, account: string, secret: string): Promise<void> {
    await this.entry(service, account).setPassword(secret, AbortSignal.timeout(KEYCHAIN_TIMEOUT_MS));
  }

  async delete(service: string, account: string): Promise<boolean> {
    return this.entry(service, account).deleteCredential(AbortSignal.timeout(KEYCHAIN_TIMEOUT_MS));
  }
}

/** The secret store pyrepo uses, and why the keychain was not used when it is not. */
export interface OpenedSecretStore {
  store: SecretStore;
  /** Set when the file store is used: the reason, to tell the user. */
  keychainProblem?: string;
}

/**
 * The keychain when it is usable, else the 0600 file in `configDir` with the reason.
 * `PYREPO_KEYCHAIN=off` chooses the file (for machines where the keychain must not be used).
 */
export async function openSecretStore(configDir: string, env: NodeJS.ProcessEnv = process.env): Promise<OpenedSecretStore> {
  const file = new FileSecretStore(configDir);
  if (env.PYREPO_KEYCHAIN === 'off') return { store: file, keychainProblem: 'PYREPO_KEYCHAIN=off' };
  try {
    const keychain = await KeychainSecretStore.open();
    return { store: new FallbackReadStore(keychain, file) };
  } catch (err) {
    if (err instanceof KeychainUnavailableError) return { store: file, keychainProblem: err.message };
    throw err;
  }
}

/** Writes to the keychain; reads it first, then the file (secrets kept there before a keychain was available). */
class FallbackReadStore implements SecretStore {
  constructor(
    private readonly primary: SecretStore,
    private readonly older: SecretStore,
  ) {}

  get backend(): SecretBackend {
    return this.primary.backend;
  }

  async get(service: string, account: string): Promise<string | undefined> {
    return (await this.primary.get(service, account)) ?? (await this.older.get(service, account));
  }

  set(service: string, account: string, secret: string): Promise<void> {
    return this.primary.set(service, account, secret);
  }

  async delete(service: string, account: string): Promise<boolean> {
    const a = await this.primary.delete(service, account);
    const b = await this.older.delete(service, account);
    return a || b;
  }
}

/**
 * A secret store that decides between keychain and file on first use (so opening one
 * costs nothing for commands that never touch a secret).
 */
export class LazySecretStore implements SecretStore {
  private opening?: Promise<OpenedSecretStore>;
  private opened?: OpenedSecretStore;

  constructor(
    private readonly configDir: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Opens the store now; resolves with where secrets go and, for the file, why. */
  async open(): Promise<OpenedSecretStore> {
    this.opened ??= await (this.opening ??= openSecretStore(this.configDir, this.env));
    return this.opened;
  }

  /** The backend once opened (before that: the file, which is what is known for sure). */
  get backend(): SecretBackend {
    return this.opened?.store.backend ?? new FileSecretStore(this.configDir).backend;
  }

  async get(service: string, account: string): Promise<string | undefined> {
    return (await this.open()).store.get(service, account);
  }

  async set(service: string, account: string, secret: string): Promise<void> {
    return (await this.open()).store.set(service, account, secret);
  }

  async delete(service: string, account: string): Promise<boolean> {
    return (await this.open()).store.delete(service, account);
  }
}
