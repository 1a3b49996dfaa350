/**
 * The backup folder `pyrepo backup` writes and `pyrepo restore` reads:
 *
 *     manifest.json      what is in it: format, pyrepo version, time, counts, every file's sha256 and size
 *     catalog.sqlite     a consistent snapshot of the catalog (owners, yanks, uploaders, downloads, journal)
 *     users.htpasswd     the users' password hashes          (when there are any)
 *     access.json        roles and API token digests          (when there are any)
 *     settings.json      the settings file                     (when there is one)
 *     packages/…         the distribution files the snapshot lists, at their paths in the packages folder
 *
 * The manifest is written last, atomically: a folder without one is a backup that did not
 * finish. Files the snapshot lists but that were replaced or removed before they could be
 * copied are named in `missing`, never silently left out.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdir, open, utimes } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Type, type Static } from '@sinclair/typebox';
import { Errors } from '@sinclair/typebox/errors';
import { Check } from '@sinclair/typebox/value';
import { AbortError } from '../errors.js';

export const MANIFEST_NAME = 'manifest.json';
export const CATALOG_NAME = 'catalog.sqlite';
export const USERS_NAME = 'users.htpasswd';
export const ACCESS_NAME = 'access.json';
export const SETTINGS_NAME = 'settings.json';
/** Distribution files sit under this folder of the backup, at their relpath. */
export const PACKAGES_PREFIX = 'packages/';

const DigestSchema = Type.Object({ sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }), size: Type.Integer({ minimum: 0 }) });
export type Digest = Static<typeof DigestSchema>;

export const BackupManifestSchema = Type.Object({
  format: Type.Literal('pyrepo-backup'),
  formatVersion: Type.Literal(1),
  pyrepoVersion: Type.String(),
  /** When the catalog snapshot was taken (ISO 8601). */
  createdAt: Type.String(),
  /** Whether the snapshot came from a running daemon (over the control API) or from the catalog file of a stopped one. */
  takenFrom: Type.Union([Type.Literal('running daemon'), Type.Literal('stopped daemon')]),
  catalogSchema: Type.Integer({ minimum: 1 }),
  counts: Type.Object({
    projects: Type.Integer(),
    files: Type.Integer(),
    owners: Type.Integer(),
    yankedReleases: Type.Integer(),
    downloads: Type.Integer(),
    activity: Type.Integer(),
    users: Type.Integer(),
    tokens: Type.Integer(),
  }),
  /** Every file of the backup by its path in the backup folder (`/`-separated). */
  files: Type.Record(Type.String(), DigestSchema),
  /** Files the snapshot lists that could not be copied as they were, and why. */
  missing: Type.Array(Type.Object({ relpath: Type.String(), reason: Type.String() })),
  /** An adopted htpasswd file the settings name: read in place by pyrepo, so not copied. */
  adoptedHtpasswd: Type.Optional(Type.String()),
});
export type BackupManifest = Static<typeof BackupManifestSchema>;

/** Reads and checks a backup's manifest; an AbortError says what is wrong with it. */
export function readManifest(path: string): BackupManifest {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AbortError(
        `${path} does not exist: this is not a pyrepo backup, or one that did not finish (the manifest is written last).`,
        'Use a folder `pyrepo backup` completed, or make a new backup.',
      );
    }
    throw new AbortError(`Cannot read ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new AbortError(`${path} is not valid JSON: the backup is damaged.`);
  }
  if (!Check(BackupManifestSchema, data)) {
    const versioned = data as { format?: unknown; formatVersion?: unknown };
    if (versioned?.format === 'pyrepo-backup' && typeof versioned.formatVersion === 'number' && versioned.formatVersion > 1) {
      throw new AbortError(`${path} is a backup format ${versioned.formatVersion}, made by a newer pyrepo.`, 'Restore it with that pyrepo version or newer.');
    }
    const first = [...Errors(BackupManifestSchema, data)][0];
    throw new AbortError(`${path} is not a pyrepo backup manifest (${first ? `${first.path || '/'}: ${first.message}` : 'unexpected shape'}).`);
  }
  return data;
}

/** The manifest's path of a distribution file. */
export function packageEntry(relpath: string): string {
  return `${PACKAGES_PREFIX}${relpath}`;
}

/** sha256 and size of a file, read as a stream. */
export async function digestOf(path: string): Promise<Digest> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

/**
 * Copies `src` to a new file `dest` (its folder made), hashing what is copied, then
 * flushes it to disk; `mtimeMs` sets its modification time. Resolves with the copy's digest.
 */
export async function copyHashed(src: string, dest: string, opts: { mode?: number; mtimeMs?: number } = {}): Promise<Digest> {
  await mkdir(dirname(dest), { recursive: true });
  // Both files are opened before any stream runs: a stream opens its file in the background,
  // so a missing source could otherwise fail the copy while `dest` was still being created,
  // leaving it behind after the caller had removed it.
  const input = await open(src, 'r');
  let output;
  try {
    output = await open(dest, 'wx', opts.mode ?? 0o644);
  } catch (err) {
    await input.close();
    throw err;
  }
  const hash = createHash('sha256');
  let size = 0;
  // Each stream closes its handle, on error too; `flush` syncs the copy to disk before that.
  await pipeline(
    input.createReadStream(),
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    },
    output.createWriteStream({ flush: true }),
  );
  // Half a millisecond more: seconds as a double lose the last digit, and the daemon compares whole milliseconds.
  if (opts.mtimeMs !== undefined) await utimes(dest, Date.now() / 1000, (opts.mtimeMs + 0.5) / 1000);
  return { sha256: hash.digest('hex'), size };
}

/** "1 file", "2 files". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
