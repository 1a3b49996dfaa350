/**
 * Where pyrepo keeps secrets (the admin password, tokens it was given), by service and
 * account, the way Python's `keyring` and keytar name items.
 *
 * The file store is a JSON file readable by its owner only (0600) in pyrepo's config
 * folder, written atomically. It is the store used where no OS keychain is usable, and
 * it always says where it keeps secrets, so callers can tell the user plainly.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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
