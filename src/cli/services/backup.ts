/**
 * `pyrepo backup DIR`: what no distribution file can rebuild (owners, yank state and
 * reasons, upload times, uploaders, download counts, the activity journal, users and
 * tokens, settings), with the distribution files, in one self-describing folder (see
 * backup-format.ts).
 *
 * The catalog snapshot is consistent: from a running daemon it is SQLite's online backup,
 * taken by the daemon in its own data folder and streamed over the control API while
 * uploads go on (the daemon never writes outside its data folder); from a stopped one
 * the CLI takes it from the catalog file. The distribution files are then copied and
 * checked against the sha256 the snapshot lists: a file replaced or removed since the
 * snapshot is reported, and named in the manifest, not skipped in silence.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { CatalogFile } from '../../shared/catalog-file.js';
import { JOURNAL_SUFFIXES } from '../../daemon/services/download-journal.js';
import { accessFiles, readAccessFile } from '../../shared/access-file.js';
import { writeFileAtomic } from '../../shared/atomic-file.js';
import { parseHtpasswd } from '../../shared/htpasswd.js';
import { dataLayout, type PyrepoPaths } from '../../shared/paths.js';
import { PYREPO_VERSION } from '../../shared/version.js';
import { AbortError } from '../errors.js';
import {
  ACCESS_NAME,
  CATALOG_NAME,
  copyHashed,
  digestOf,
  MANIFEST_NAME,
  packageEntry,
  SETTINGS_NAME,
  USERS_NAME,
  type BackupManifest,
  type Digest,
} from './backup-format.js';
import { asAbort, connectToDaemon } from './daemon-access.js';
import { probeDaemon } from './daemon-control.js';
import { loadSettings, settingsFile } from './settings-store.js';

export interface BackupResult {
  dir: string;
  manifest: BackupManifest;
}

/** Whether `path` is `dir` or inside it. */
export function isInside(path: string, dir: string): boolean {
  const rel = relative(resolve(dir), resolve(path));
  return rel === '' || (!isAbsolute(rel) && rel.split(sep)[0] !== '..');
}

/** A backup inside the folders pyrepo serves from would be served (or swept up) itself. */
function checkOutside(dir: string, dataDir: string, packagesDir: string): void {
  for (const [label, folder] of [['packages folder', packagesDir], ['data folder', dataDir]] as const) {
    if (isInside(dir, folder)) {
      throw new AbortError(`${dir} is inside pyrepo's ${label} (${folder}): the daemon would take the copies for files of its own.`, 'Back up to a folder elsewhere.');
    }
  }
}

/** True when `dir` exists (it must then be empty). */
function checkEmpty(dir: string): boolean {
  if (!existsSync(dir)) return false;
  if (readdirSync(dir).length > 0) {
    throw new AbortError(`${dir} is not empty.`, 'Back up into a new or empty folder, e.g. `pyrepo backup ~/pyrepo-backup-$(date +%F)`.');
  }
  return true;
}

/** Where the catalog snapshot comes from, and the folders it describes. */
async function takeSnapshot(paths: PyrepoPaths, dest: string): Promise<{ takenFrom: BackupManifest['takenFrom']; dataDir: string; packagesDir: string }> {
  const probe = await probeDaemon(paths.dataDir);
  if (probe.kind !== 'stopped') {
    const { client, state } = await connectToDaemon(paths);
    await client.catalogSnapshot(dest).catch((err: unknown) => {
      throw asAbort(err);
    });
    return { takenFrom: 'running daemon', dataDir: state.dataDir, packagesDir: state.packagesDir };
  }
  const layout = dataLayout(paths.dataDir);
  const stored = loadSettings(paths);
  if (!existsSync(layout.catalogFile)) {
    throw new AbortError(`There is nothing to back up: no catalog at ${layout.catalogFile}.`, 'Run `pyrepo init` and start the index first.');
  }
  // Writable: a daemon that was killed may have left a write-ahead log, which opening recovers.
  const catalog = await CatalogFile.open(layout.catalogFile, { writable: true });
  try {
    await catalog.snapshotTo(dest);
  } finally {
    catalog.close();
  }
  await foldJournalInto(layout.catalogFile, dest);
  return { takenFrom: 'stopped daemon', dataDir: layout.dataDir, packagesDir: stored.packagesDir ?? layout.defaultPackagesDir };
}

/**
 * Folds into the snapshot `dest` the download counts a daemon that was killed journaled and
 * had not folded into its catalog yet (download-journal.ts): the catalog opens a copy of the
 * journal beside the snapshot as the next start would open its own, which is left as it is.
 */
async function foldJournalInto(catalogFile: string, dest: string): Promise<void> {
  const journaled = JOURNAL_SUFFIXES.filter((suffix) => existsSync(catalogFile + suffix) && statSync(catalogFile + suffix).size > 0);
  if (journaled.length === 0) return;
  for (const suffix of journaled) copyFileSync(catalogFile + suffix, dest + suffix);
  const { Catalog } = await import('../../daemon/services/catalog.js');
  new Catalog(dest).close();
  for (const suffix of JOURNAL_SUFFIXES) rmSync(dest + suffix, { force: true });
}

/** Makes a backup of this installation's index in `target` (see the module comment). */
export async function backupTo(paths: PyrepoPaths, target: string): Promise<BackupResult> {
  const dir = resolve(target);
  const stored = loadSettings(paths);
  checkOutside(dir, paths.dataDir, stored.packagesDir ?? dataLayout(paths.dataDir).defaultPackagesDir);
  const existed = checkEmpty(dir);
  await mkdir(dir, { recursive: true });
  const createdAt = new Date().toISOString();
  const files: Record<string, Digest> = {};
  const catalogPath = join(dir, CATALOG_NAME);
  try {
    const source = await takeSnapshot(paths, catalogPath);
    checkOutside(dir, source.dataDir, source.packagesDir);
    const catalog = await CatalogFile.open(catalogPath, { writable: true });
    let listed;
    let counts;
    let schema;
    try {
      catalog.standalone();
      const problem = catalog.check();
      if (problem !== 'ok') throw new AbortError(`The catalog snapshot is damaged (${problem}); nothing was backed up.`, 'Run `pyrepo doctor`; a restart rebuilds the catalog from the packages folder.');
      listed = catalog.files();
      counts = catalog.counts();
      schema = catalog.schemaVersion();
    } finally {
      catalog.close();
    }
    files[CATALOG_NAME] = await digestOf(catalogPath);

    // Users, roles and tokens: the CLI writes these files atomically, so a copy is whole.
    const access = accessFiles(source.dataDir);
    let users = 0;
    let tokens = 0;
    if (existsSync(access.htpasswd)) {
      files[USERS_NAME] = await copyHashed(access.htpasswd, join(dir, USERS_NAME), { mode: 0o600 });
      users = parseHtpasswd(readFileSync(join(dir, USERS_NAME), 'utf8')).entries.length;
    }
    if (existsSync(access.access)) {
      files[ACCESS_NAME] = await copyHashed(access.access, join(dir, ACCESS_NAME), { mode: 0o600 });
      tokens = readAccessFile(join(dir, ACCESS_NAME)).tokens.length;
    }
    if (existsSync(settingsFile(paths))) files[SETTINGS_NAME] = await copyHashed(settingsFile(paths), join(dir, SETTINGS_NAME), { mode: 0o600 });

    // The distribution files the snapshot lists, each checked against it.
    const missing: BackupManifest['missing'] = [];
    for (const f of listed) {
      const dest = join(dir, ...packageEntry(f.relpath).split('/'));
      let copy: Digest;
      try {
        copy = await copyHashed(join(source.packagesDir, ...f.relpath.split('/')), dest, { mtimeMs: f.mtimeMs });
      } catch (err) {
        rmSync(dest, { force: true });
        const code = (err as NodeJS.ErrnoException).code;
        missing.push({ relpath: f.relpath, reason: code === 'ENOENT' ? 'removed from the packages folder after the snapshot' : `could not be read: ${(err as Error).message}` });
        continue;
      }
      if (copy.sha256 !== f.sha256 || copy.size !== f.size) {
        await rm(dest, { force: true });
        missing.push({ relpath: f.relpath, reason: 'replaced in the packages folder after the snapshot (its sha256 differs)' });
        continue;
      }
      files[packageEntry(f.relpath)] = copy;
    }

    const manifest: BackupManifest = {
      format: 'pyrepo-backup',
      formatVersion: 1,
      pyrepoVersion: PYREPO_VERSION,
      createdAt,
      takenFrom: source.takenFrom,
      catalogSchema: schema,
      counts: { ...counts, users, tokens },
      files,
      missing,
      ...(stored.htpasswdFile ? { adoptedHtpasswd: stored.htpasswdFile } : {}),
    };
    // Last: a folder with a manifest is a finished backup.
    writeFileAtomic(join(dir, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    return { dir, manifest };
  } catch (err) {
    // Nothing half-made stays behind to be mistaken for a backup.
    if (existed) for (const name of readdirSync(dir)) await rm(join(dir, name), { recursive: true, force: true });
    else await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
