/**
 * Users and API tokens in the shared mode: a token made (or revoked) with the CLI on any
 * daemon's machine works (or stops working) on every daemon at once.
 *
 * The CLI keeps writing the data folder's own files (users.htpasswd, access.json). This
 * daemon looks at them once a second; what changed there since the last look (users or
 * tokens added, changed or removed) is applied to the shared document in PostgreSQL under
 * a row lock, so edits made at the same moment on two machines both survive. Whatever the
 * shared document holds is written to two more files in the data folder
 * (shared-users.htpasswd, shared-access.json), which the credentials check reads after the
 * folder's own: each machine's own admin stays its own, whatever another machine's admin
 * of the same name has as its password.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { readAccessFile, writeAccessFile, type AccessFile } from '../../shared/access-file.js';
import { writeFileAtomic } from '../../shared/atomic-file.js';
import { readLocalIdentity, type IdentityDocument } from '../stores/identity-document.js';
import type { PgCatalog } from '../stores/pg-catalog.js';
import type { Catalog } from './catalog.js';

/** The files that hold the shared document's users and access in a data folder. */
export function sharedIdentityFiles(dataDir: string): { htpasswd: string; access: string } {
  return { htpasswd: join(dataDir, 'shared-users.htpasswd'), access: join(dataDir, 'shared-access.json') };
}

/** The catalog meta key of this folder's users and access as last applied to the shared document. */
const BASE_KEY = 'shared-identity-base';
const LOOK_MS = 1_000;

/** A document as maps, by user and by token id, for a three-way merge. */
interface Parts {
  users: Map<string, string>;
  roles: Map<string, string>;
  tokens: Map<string, AccessFile['tokens'][number]>;
}

function partsOf(doc: IdentityDocument): Parts {
  const users = new Map<string, string>();
  for (const line of doc.htpasswd.split('\n')) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) users.set(line.slice(0, at), line);
  }
  return { users, roles: new Map(Object.entries(doc.access.roles)), tokens: new Map(doc.access.tokens.map((t) => [t.id, t])) };
}

function docOf(p: Parts): IdentityDocument {
  const htpasswd = [...p.users.values()].join('\n');
  return {
    htpasswd: htpasswd ? `${htpasswd}\n` : '',
    access: { version: 1, roles: Object.fromEntries(p.roles) as AccessFile['roles'], tokens: [...p.tokens.values()] },
  };
}

/** `theirs` with what changed from `base` to `mine` applied to it, entry by entry. */
function mergeMap<V>(base: Map<string, V>, mine: Map<string, V>, theirs: Map<string, V>): Map<string, V> {
  const out = new Map(theirs);
  const same = (a: V | undefined, b: V | undefined) => JSON.stringify(a) === JSON.stringify(b);
  for (const key of new Set([...base.keys(), ...mine.keys()])) {
    if (same(base.get(key), mine.get(key))) continue;
    const value = mine.get(key);
    if (value === undefined) out.delete(key);
    else out.set(key, value);
  }
  return out;
}

/** The shared document with this folder's changes since `base` applied. */
export function mergeIdentity(base: IdentityDocument, mine: IdentityDocument, theirs: IdentityDocument): IdentityDocument {
  const [b, m, t] = [partsOf(base), partsOf(mine), partsOf(theirs)];
  return docOf({ users: mergeMap(b.users, m.users, t.users), roles: mergeMap(b.roles, m.roles, t.roles), tokens: mergeMap(b.tokens, m.tokens, t.tokens) });
}

const EMPTY: IdentityDocument = { htpasswd: '', access: { version: 1, roles: {}, tokens: [] } };

export class SharedIdentity {
  private timer: NodeJS.Timeout | undefined;
  private running = Promise.resolve();
  private failing = false;
  private readonly files: { htpasswd: string; access: string };

  constructor(
    private readonly pg: PgCatalog,
    private readonly local: Catalog,
    private readonly dataDir: string,
    private readonly log: FastifyBaseLogger,
  ) {
    this.files = sharedIdentityFiles(dataDir);
  }

  /** Applies this folder's changes, takes the shared document, then looks again every second. */
  start(): Promise<void> {
    this.timer = setInterval(() => void this.sync(), LOOK_MS);
    this.timer.unref();
    return this.sync();
  }

  /** Brings both sides in line, one run at a time (also when told that the shared document changed). */
  sync(): Promise<void> {
    this.running = this.running.then(() =>
      this.syncOnce().then(
        () => {
          if (this.failing) this.log.info('Users and tokens are in line with the shared catalog again.');
          this.failing = false;
        },
        (err: unknown) => {
          // Once per outage, not once a second.
          if (!this.failing) this.log.warn(`Could not bring users and tokens in line with the shared catalog: ${(err as Error).message}; trying again every second.`);
          this.failing = true;
        },
      ),
    );
    return this.running;
  }

  private async syncOnce(): Promise<void> {
    const mine = readLocalIdentity(this.dataDir);
    const baseText = this.local.metaValue(BASE_KEY);
    const base = baseText ? (JSON.parse(baseText) as IdentityDocument) : EMPTY;
    if (JSON.stringify(mine) !== JSON.stringify(base)) {
      await this.pg.updateIdentityDocument((theirs) => mergeIdentity(base, mine, theirs ?? EMPTY));
      this.local.setMetaValue(BASE_KEY, JSON.stringify(mine));
    }
    const shared = (await this.pg.identityDocument()) ?? EMPTY;
    this.writeIfChanged(shared);
  }

  private writeIfChanged(doc: IdentityDocument): void {
    let current: IdentityDocument | undefined;
    try {
      current = { htpasswd: existsSync(this.files.htpasswd) ? readFileSync(this.files.htpasswd, 'utf8') : '', access: readAccessFile(this.files.access) };
    } catch {
      current = undefined;
    }
    if (current && JSON.stringify(current) === JSON.stringify(doc)) return;
    // Each file whole (written aside, then renamed); a bad line is the credentials check's to report.
    writeFileAtomic(this.files.htpasswd, doc.htpasswd, { mode: 0o600 });
    writeAccessFile(this.files.access, doc.access);
  }

  stop(): Promise<void> {
    clearInterval(this.timer);
    return this.running;
  }
}
