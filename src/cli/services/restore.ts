/**
 * `pyrepo restore DIR`: brings back what `pyrepo backup` saved (see backup-format.ts).
 *
 * - Everything is checked before anything is written: the manifest, every file's size
 *   and sha256, the catalog's own structure and schema, and that the catalog and the
 *   manifest list the same distribution files. A damaged or partial backup is refused
 *   with the reason.
 * - A running daemon is refused, not stopped: restoring replaces the catalog it has open
 *   and the users it checks, and stopping it on the way would cut off other people's
 *   uploads in flight without them knowing. `pyrepo stop`, restore, `pyrepo start`.
 * - An index already there (catalog, users, distribution files) is replaced only with
 *   `force`.
 * - Atomic: everything is first copied into hidden staging folders next to its place
 *   (same filesystem), then moved into place by renames that a journal in the data folder
 *   lists before the first one. A failure rolls the renames back; a crash leaves the
 *   journal, which the next `pyrepo restore` rolls back, and the daemon refuses to start
 *   while it is there. Either the old index or the restored one, never a mix.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Type } from '@sinclair/typebox';
import { Check } from '@sinclair/typebox/value';
import { writeFileAtomic } from '../../shared/atomic-file.js';
import { CATALOG_SCHEMA_VERSION, CatalogFile, type CatalogFileEntry } from '../../shared/catalog-file.js';
import { dataLayout, type PyrepoPaths } from '../../shared/paths.js';
import { AbortError } from '../errors.js';
import {
  ACCESS_NAME,
  CATALOG_NAME,
  copyHashed,
  digestOf,
  MANIFEST_NAME,
  PACKAGES_PREFIX,
  packageEntry,
  plural,
  readManifest,
  SETTINGS_NAME,
  USERS_NAME,
  type BackupManifest,
} from './backup-format.js';
import { JOURNAL_SUFFIXES } from '../../daemon/services/download-journal.js';
import { isInside } from './backup.js';
import { probeDaemon } from './daemon-control.js';
import { loadSettings, settingsFile } from './settings-store.js';

/** Staging folders are hidden, so that neither the daemon nor a folder scan takes them for content. */
const STAGING_PREFIX = '.restore-';
/** Files next to the catalog that belong to the one being replaced (SQLite's journal, WAL and its index; its download counts' journal). */
const CATALOG_SIDECARS = ['-wal', '-shm', '-journal', ...JOURNAL_SUFFIXES];

export interface RestoreOptions {
  /** Replace an index that is already there. */
  force: boolean;
  /** Called before each rename of the swap (tests use it to fail or crash there). */
  beforeStep?: (index: number, of: number) => void;
}

export interface RestoreResult {
  dir: string;
  manifest: BackupManifest;
  dataDir: string;
  packagesDir: string;
  /** An index was there before and was replaced (`force`). */
  replaced: boolean;
  /** The settings file that was there before, when it differed from the backup's: kept here. */
  previousSettings?: string;
  /** An earlier restore had been interrupted and was rolled back first. */
  rolledBack: boolean;
}

/** One rename of the swap: the current `target` moves to `aside` (if both exist), then `staged` moves to `target`. */
const StepSchema = Type.Object({ target: Type.String(), staged: Type.Optional(Type.String()), aside: Type.Optional(Type.String()) });
const JournalSchema = Type.Object({ steps: Type.Array(StepSchema), staging: Type.Array(Type.String()) });
type Step = typeof StepSchema.static;
type Journal = typeof JournalSchema.static;

/** Where the journal of a restore in progress lives (the daemon will not start while it exists). */
export function restoreJournalOf(dataDir: string): string {
  return dataLayout(dataDir).restoreJournal;
}

function damaged(dir: string, problems: string[]): AbortError {
  const shown = problems.slice(0, 20).map((p) => `  - ${p}`);
  if (problems.length > shown.length) shown.push(`  - and ${problems.length - shown.length} more`);
  return new AbortError(`The backup in ${dir} cannot be restored; nothing was changed:\n${shown.join('\n')}`, 'Restore another backup, or make a new one with `pyrepo backup`.');
}

/** Checks every file of the backup against its manifest, and the catalog against both. */
async function verifyBackup(dir: string, manifest: BackupManifest): Promise<CatalogFileEntry[]> {
  const problems: string[] = [];
  if (!manifest.files[CATALOG_NAME]) problems.push(`the manifest lists no ${CATALOG_NAME}`);
  for (const [name, expected] of Object.entries(manifest.files)) {
    const path = join(dir, ...name.split('/'));
    if (name.split('/').some((part) => part === '..' || part === '') || !isInside(path, dir)) {
      problems.push(`${name}: not a path inside the backup`);
      continue;
    }
    let actual;
    try {
      actual = await digestOf(path);
    } catch (err) {
      problems.push(`${name}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (err as Error).message}`);
      continue;
    }
    if (actual.size !== expected.size) problems.push(`${name}: ${actual.size} bytes, the manifest says ${expected.size}`);
    else if (actual.sha256 !== expected.sha256) problems.push(`${name}: its sha256 differs from the manifest's`);
  }
  if (problems.length > 0) throw damaged(dir, problems);

  const catalog = await CatalogFile.open(join(dir, CATALOG_NAME)).catch((err: unknown) => {
    throw damaged(dir, [`${CATALOG_NAME} cannot be opened: ${(err as Error).message}`]);
  });
  try {
    const check = catalog.check();
    if (check !== 'ok') throw damaged(dir, [`${CATALOG_NAME} is damaged: ${check}`]);
    const schema = catalog.schemaVersion();
    if (schema > CATALOG_SCHEMA_VERSION) {
      throw new AbortError(`The backup in ${dir} holds a catalog of schema ${schema}, made by a newer pyrepo (${manifest.pyrepoVersion}).`, 'Restore it with that version of pyrepo or newer.');
    }
    if (schema !== manifest.catalogSchema) problems.push(`${CATALOG_NAME} has schema ${schema}, the manifest says ${manifest.catalogSchema}`);
    const listed = catalog.files();
    const missing = new Set(manifest.missing.map((m) => m.relpath));
    const inManifest = new Set(Object.keys(manifest.files).filter((k) => k.startsWith(PACKAGES_PREFIX)));
    for (const f of listed) {
      if (missing.has(f.relpath)) continue;
      const entry = manifest.files[packageEntry(f.relpath)];
      if (!entry) problems.push(`${packageEntry(f.relpath)}: in the catalog, not in the backup`);
      else if (entry.sha256 !== f.sha256) problems.push(`${packageEntry(f.relpath)}: the catalog and the manifest disagree on its sha256`);
      inManifest.delete(packageEntry(f.relpath));
    }
    for (const extra of inManifest) problems.push(`${extra}: in the backup, not in its catalog`);
    if (problems.length > 0) throw damaged(dir, problems);
    return listed.filter((f) => !missing.has(f.relpath));
  } finally {
    catalog.close();
  }
}

/** Undoes the renames a journal lists, last first; safe to run on any state the swap can leave. */
function rollBack(journal: Journal): void {
  for (const step of [...journal.steps].reverse()) {
    if (step.staged && !existsSync(step.staged) && existsSync(step.target)) renameSync(step.target, step.staged);
    if (step.aside && existsSync(step.aside)) renameSync(step.aside, step.target);
  }
}

/** Rolls back a restore that was cut off during its renames; true if there was one. */
function recoverInterrupted(journalFile: string): boolean {
  if (!existsSync(journalFile)) return false;
  let journal: unknown;
  try {
    journal = JSON.parse(readFileSync(journalFile, 'utf8'));
  } catch {
    journal = undefined;
  }
  if (!Check(JournalSchema, journal)) {
    throw new AbortError(`${journalFile} is left by an interrupted restore, and is damaged.`, 'Look at the data folder yourself; remove the file once the index is as it should be.');
  }
  rollBack(journal);
  for (const dir of journal.staging) rmSync(dir, { recursive: true, force: true });
  rmSync(journalFile, { force: true });
  return true;
}

/** Hidden staging folders left by a restore that stopped before its renames (no journal): garbage. */
function removeLeftovers(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) if (name.startsWith(STAGING_PREFIX)) rmSync(join(dir, name), { recursive: true, force: true });
}

/** What is in the way, in words: a catalog, users, distribution files. */
function existingIndex(dataDir: string, packagesDir: string): string[] {
  const found: string[] = [];
  const own = [CATALOG_NAME, USERS_NAME, ACCESS_NAME].filter((n) => existsSync(join(dataDir, n)));
  if (own.length > 0) found.push(`${own.join(', ')} in ${dataDir}`);
  const packages = existsSync(packagesDir) ? readdirSync(packagesDir).filter((n) => !n.startsWith('.')) : [];
  if (packages.length > 0) found.push(`${plural(packages.length, 'entry', 'entries')} in ${packagesDir}`);
  return found;
}

/** The packages folder the restored settings name (the backup's settings, else the ones here). */
function packagesDirAfter(dir: string, manifest: BackupManifest, paths: PyrepoPaths): string {
  const fallback = dataLayout(paths.dataDir).defaultPackagesDir;
  if (!manifest.files[SETTINGS_NAME]) return loadSettings(paths).packagesDir ?? fallback;
  try {
    const settings = JSON.parse(readFileSync(join(dir, SETTINGS_NAME), 'utf8')) as { packagesDir?: unknown };
    return typeof settings.packagesDir === 'string' && settings.packagesDir !== '' ? settings.packagesDir : fallback;
  } catch {
    throw damaged(dir, [`${SETTINGS_NAME} is not valid JSON`]);
  }
}

/** Restores the backup in `source` into this installation (see the module comment). */
export async function restoreFrom(paths: PyrepoPaths, source: string, opts: RestoreOptions): Promise<RestoreResult> {
  const dir = resolve(source);
  const manifest = readManifest(join(dir, MANIFEST_NAME));
  const files = await verifyBackup(dir, manifest);

  const probe = await probeDaemon(paths.dataDir);
  if (probe.kind !== 'stopped') {
    throw new AbortError(
      `pyrepo is running (pid ${probe.state.pid}); restore does not replace the index under a running daemon.`,
      'Stop it (`pyrepo stop`), restore, then `pyrepo start`.',
    );
  }
  const layout = dataLayout(paths.dataDir);
  const dataDir = layout.dataDir;
  const packagesDir = resolve(packagesDirAfter(dir, manifest, paths));
  // A backup inside the folders it replaces would be moved aside with them, and deleted.
  if ([dataDir, packagesDir].some((d) => isInside(dir, d) || isInside(d, dir))) {
    throw new AbortError(`The backup ${dir} and the folders it would be restored into (${dataDir}, ${packagesDir}) overlap.`, 'Move the backup elsewhere first.');
  }
  const rolledBack = recoverInterrupted(layout.restoreJournal);
  removeLeftovers(dataDir);
  removeLeftovers(packagesDir);
  const there = existingIndex(dataDir, packagesDir);
  if (there.length > 0 && !opts.force) {
    throw new AbortError(`An index is already there (${there.join('; ')}); nothing was changed.`, '`pyrepo restore --force` replaces it with the backup.');
  }

  // 1. Stage: copies beside their places, each checked against the manifest once more.
  const id = randomBytes(6).toString('hex');
  const stageData = join(dataDir, `${STAGING_PREFIX}${id}`);
  const stagePackages = join(packagesDir, `${STAGING_PREFIX}${id}`);
  const settingsTarget = settingsFile(paths);
  const stageSettings = join(dirname(settingsTarget), `${STAGING_PREFIX}${id}`);
  const staging = [stageData, stagePackages, stageSettings];
  const steps: Step[] = [];
  const copyChecked = async (name: string, dest: string, extra: { mode?: number; mtimeMs?: number } = {}) => {
    const copy = await copyHashed(join(dir, ...name.split('/')), dest, extra);
    if (copy.sha256 !== manifest.files[name]?.sha256) throw damaged(dir, [`${name} changed while it was being restored`]);
  };
  try {
    for (const name of [CATALOG_NAME, USERS_NAME, ACCESS_NAME]) {
      const target = join(dataDir, name);
      const staged = manifest.files[name] ? join(stageData, 'new', name) : undefined;
      if (staged) await copyChecked(name, staged, { mode: 0o600 });
      steps.push({ target, ...(staged ? { staged } : {}), aside: join(stageData, 'previous', name) });
    }
    for (const suffix of CATALOG_SIDECARS) steps.push({ target: join(dataDir, `${CATALOG_NAME}${suffix}`), aside: join(stageData, 'previous', `${CATALOG_NAME}${suffix}`) });
    for (const f of files) await copyChecked(packageEntry(f.relpath), join(stagePackages, 'new', ...f.relpath.split('/')), { mtimeMs: f.mtimeMs });
    const current = existsSync(packagesDir) ? readdirSync(packagesDir).filter((n) => !n.startsWith('.')) : [];
    for (const name of current) steps.push({ target: join(packagesDir, name), aside: join(stagePackages, 'previous', name) });
    const fresh = existsSync(join(stagePackages, 'new')) ? readdirSync(join(stagePackages, 'new')) : [];
    for (const name of fresh) steps.push({ target: join(packagesDir, name), staged: join(stagePackages, 'new', name) });
    if (manifest.files[SETTINGS_NAME]) {
      const staged = join(stageSettings, 'new', SETTINGS_NAME);
      await copyChecked(SETTINGS_NAME, staged, { mode: 0o600 });
      steps.push({ target: settingsTarget, staged, aside: join(stageSettings, 'previous', SETTINGS_NAME) });
    }
    for (const step of steps) if (step.aside) await mkdir(dirname(step.aside), { recursive: true });
  } catch (err) {
    for (const d of staging) rmSync(d, { recursive: true, force: true });
    throw err;
  }

  // 2. Swap, journaled first.
  const journal: Journal = { steps, staging };
  writeFileAtomic(layout.restoreJournal, `${JSON.stringify(journal, null, 2)}\n`, { mode: 0o600 });
  try {
    for (const [i, step] of steps.entries()) {
      opts.beforeStep?.(i, steps.length);
      if (step.aside && existsSync(step.target)) renameSync(step.target, step.aside);
      if (step.staged) renameSync(step.staged, step.target);
    }
  } catch (err) {
    rollBack(journal);
    for (const d of staging) rmSync(d, { recursive: true, force: true });
    rmSync(layout.restoreJournal, { force: true });
    throw new AbortError(`The restore failed while moving files into place, and was undone: ${(err as Error).message}`, 'Fix the cause (permissions, disk space) and restore again.');
  }
  // Done: the journal goes, and with it the way back.
  rmSync(layout.restoreJournal, { force: true });

  // The settings file that was there stays beside the new one when it said something else.
  let previousSettings: string | undefined;
  const oldSettings = join(stageSettings, 'previous', SETTINGS_NAME);
  if (existsSync(oldSettings) && readFileSync(oldSettings, 'utf8') !== readFileSync(settingsTarget, 'utf8')) {
    previousSettings = `${settingsTarget}.before-restore`;
    renameSync(oldSettings, previousSettings);
  }
  for (const d of staging) await rm(d, { recursive: true, force: true });
  return { dir, manifest, dataDir, packagesDir, replaced: there.length > 0, ...(previousSettings ? { previousSettings } : {}), rolledBack };
}
