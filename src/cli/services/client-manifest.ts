/**
 * What `pyrepo configure` changed, so that `pyrepo unconfigure` can undo exactly that:
 * per file, whether pyrepo created it, its backup and the digests before and after, and
 * how to take pyrepo's entries out if the user edited the file since; plus the keychain
 * items it stored and the API tokens it made. Kept as client-config.json in pyrepo's config folder.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Check } from '@sinclair/typebox/value';
import { writeFileAtomic } from '../../shared/atomic-file.js';
import { AbortError } from '../errors.js';

const OwnedTableSchema = Type.Object({ header: Type.String(), arrayName: Type.Optional(Type.String()) });

/** How to take pyrepo's entries out of a file the user changed after configure. */
export const UndoSchema = Type.Union([
  Type.Object({
    kind: Type.Literal('pypirc'),
    name: Type.String(),
    createdDistutils: Type.Boolean(),
    /** pyrepo added `index-servers` to a `[distutils]` that had none (absent in older records: same as createdDistutils). */
    createdIndexServers: Type.Optional(Type.Boolean()),
  }),
  Type.Object({
    kind: Type.Literal('pip'),
    url: Type.String(),
    replacedIndexUrl: Type.Optional(Type.String()),
    createdGlobal: Type.Boolean(),
    trustedHost: Type.Optional(Type.String()),
    /** pyrepo wrote index-url (--primary); absent in older records. */
    setIndexUrl: Type.Optional(Type.Boolean()),
  }),
  Type.Object({ kind: Type.Literal('toml'), tables: Type.Array(OwnedTableSchema) }),
]);
export type Undo = Static<typeof UndoSchema>;

export const FileRecordSchema = Type.Object({
  target: Type.String(),
  /** pyrepo created the file: unconfigure deletes it. */
  created: Type.Boolean(),
  /** The outermost folder pyrepo created for it: removed again when empty. */
  createdDir: Type.Optional(Type.String()),
  /** Copy of the file as it was before pyrepo's first change. */
  backup: Type.Optional(Type.String()),
  beforeSha256: Type.Optional(Type.String()),
  beforeMode: Type.Optional(Type.Integer()),
  /** The file as pyrepo last wrote it: if it still is, unconfigure restores the backup byte for byte. */
  afterSha256: Type.String(),
  undo: UndoSchema,
});
export type FileRecord = Static<typeof FileRecordSchema>;

export const SecretRecordSchema = Type.Object({ service: Type.String(), account: Type.String(), target: Type.String() });
export type SecretRecord = Static<typeof SecretRecordSchema>;

/** An API token configure made for the tools (in the access file; pyrepo keeps its secret in its secret store). */
export const TokenRecordRefSchema = Type.Object({ id: Type.String(), purpose: Type.Union([Type.Literal('upload'), Type.Literal('read')]) });
export type TokenRecordRef = Static<typeof TokenRecordRefSchema>;

export const ManifestSchema = Type.Object({
  version: Type.Literal(1),
  /** The index URL configured (to move entries when it changes). */
  baseUrl: Type.Optional(Type.String()),
  files: Type.Record(Type.String(), FileRecordSchema),
  secrets: Type.Array(SecretRecordSchema),
  /** The API tokens configure made (absent in older records): reused by the next configure, revoked by unconfigure. */
  tokens: Type.Optional(Type.Array(TokenRecordRefSchema)),
});
export type Manifest = Static<typeof ManifestSchema>;

export function manifestFile(configDir: string): string {
  return join(configDir, 'client-config.json');
}

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function readManifest(configDir: string): Manifest {
  const file = manifestFile(configDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { version: 1, files: {}, secrets: [] };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = undefined;
  }
  if (!Check(ManifestSchema, data)) {
    throw new AbortError(`${file} is damaged, so pyrepo cannot tell what it changed.`, 'Restore it from a backup, or remove it (then undo pyrepo\'s entries by hand).');
  }
  return data;
}

export function writeManifest(configDir: string, manifest: Manifest): void {
  writeFileAtomic(manifestFile(configDir), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
}
