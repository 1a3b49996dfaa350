/**
 * Who may do what, next to the htpasswd file that holds the passwords: each user's role
 * and the API tokens (stored only as SHA-256 digests). Written by the CLI (`pyrepo user`,
 * `pyrepo token`), atomically; the daemon only reads it and notices when it changes.
 * Project owners are the daemon's to record (the first uploader owns a project), in its
 * catalog.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Errors } from '@sinclair/typebox/errors';
import { Check } from '@sinclair/typebox/value';
import { writeFileAtomic } from './atomic-file.js';

/** What a user may do: admin everything; uploader upload (to projects they own or maintain) and read; reader read. */
export const RoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('uploader'), Type.Literal('reader')]);
export type Role = Static<typeof RoleSchema>;

/** Users of an adopted htpasswd file without a role here: pypiserver let every user upload. */
export const DEFAULT_ROLE: Role = 'uploader';

export const TokenRecordSchema = Type.Object({
  /** Public part of the token, shown by `pyrepo token list`. */
  id: Type.String({ pattern: '^[a-z0-9]{8}$' }),
  name: Type.Optional(Type.String()),
  /** The user the token acts for (its rights never exceed theirs). */
  user: Type.String(),
  /** SHA-256 of the secret part, hex. Tokens are random, so a fast digest is enough. */
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  /** Normalized project names it may upload to; absent: every project the user may. */
  projects: Type.Optional(Type.Array(Type.String())),
  readOnly: Type.Boolean(),
  /** ISO 8601; absent: no expiry. */
  expires: Type.Optional(Type.String()),
  created: Type.String(),
});
export type TokenRecord = Static<typeof TokenRecordSchema>;

export const AccessFileSchema = Type.Object({
  version: Type.Literal(1),
  roles: Type.Record(Type.String(), RoleSchema),
  tokens: Type.Array(TokenRecordSchema),
});
export type AccessFile = Static<typeof AccessFileSchema>;

/** The file is unreadable or not what pyrepo wrote. */
export class AccessFileError extends Error {
  override readonly name = 'AccessFileError';
}

/** Where users and access live in a data folder. */
export function accessFiles(dataDir: string): { htpasswd: string; access: string } {
  return { htpasswd: join(dataDir, 'users.htpasswd'), access: join(dataDir, 'access.json') };
}

/** Reads the access file (empty when it does not exist). */
export function readAccessFile(path: string): AccessFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, roles: {}, tokens: [] };
    throw new AccessFileError(`Cannot read ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new AccessFileError(`${path} is not valid JSON; fix it or restore it from a backup.`);
  }
  if (!Check(AccessFileSchema, data)) {
    const first = [...Errors(AccessFileSchema, data)][0];
    throw new AccessFileError(`${path} is not a pyrepo access file (${first ? `${first.path}: ${first.message}` : 'unexpected shape'}).`);
  }
  return data;
}

/** Writes the access file atomically, readable by its owner only. */
export function writeAccessFile(path: string, data: AccessFile): void {
  writeFileAtomic(path, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
}

/** The prefix that makes pyrepo tokens recognisable (to people and to secret scanners). */
export const TOKEN_PREFIX = 'pyrepo_';

/** A new token: the string to show once, and the record to keep. */
export function newToken(fields: Omit<TokenRecord, 'id' | 'sha256' | 'created'>): { token: string; record: TokenRecord } {
  const id = randomBytes(5).toString('hex').slice(0, 8);
  const secret = randomBytes(24).toString('base64url');
  return {
    token: `${TOKEN_PREFIX}${id}_${secret}`,
    record: { ...fields, id, sha256: createHash('sha256').update(secret).digest('hex'), created: new Date().toISOString() },
  };
}

/** Splits a presented token into its id and secret; undefined when it is not shaped like one. */
export function splitToken(token: string): { id: string; secret: string } | undefined {
  const m = /^pyrepo_([a-z0-9]{8})_([A-Za-z0-9_-]{20,100})$/.exec(token);
  return m ? { id: m[1] as string, secret: m[2] as string } : undefined;
}

/** Whether `secret` is the one `record` was made from (constant time). */
export function tokenMatches(record: TokenRecord, secret: string): boolean {
  const a = Buffer.from(createHash('sha256').update(secret).digest('hex'));
  const b = Buffer.from(record.sha256);
  return a.length === b.length && timingSafeEqual(a, b);
}
