/**
 * Copies a whole index from one pair of stores to another (the packages folder and SQLite to
 * S3 and PostgreSQL, and back): every file's bytes, checked against its sha256 on the way;
 * its catalog entry (upload time, uploader and address kept); yanks with who made them;
 * owners; the journal; download counts.
 *
 * Resumable: a file already in the target with the same sha256 is not copied again, so a
 * copy that stopped (a lost connection, ctrl-c) goes on where it was when run again. The
 * journal and the download counts are added once, at the end, and a marker in the target
 * says so; a copy stopped in the middle of that step says what to do instead of doubling them.
 * A file name the target holds with other content is a conflict and stops the copy.
 */
import { createHash } from 'node:crypto';
import type { BlobStore } from './blob-store.js';
import type { CatalogStore } from './catalog-store.js';

export interface IndexStores {
  catalog: CatalogStore;
  blobs: BlobStore;
}

export interface CopyReport {
  projects: number;
  files: number;
  /** Files whose bytes were copied (the rest were already there). */
  copied: number;
  bytes: number;
  activity: number;
  downloadRows: number;
}

/** The target's meta key that records how far the journal and download counts came. */
const JOURNAL_MARKER = 'copy-journal';

export class CopyConflictError extends Error {
  override readonly name = 'CopyConflictError';
}

/** Streams one file's bytes from `from` to `to`, checking its sha256; returns the target's key. */
async function copyBytes(from: BlobStore, to: BlobStore, key: string, filename: string, sha256: string): Promise<{ key: string; size: number }> {
  const source = await from.open(key);
  const temp = await to.createTemp();
  const hash = createHash('sha256');
  let size = 0;
  try {
    const handle = temp.handle;
    if (!handle) throw new Error('the target store gave no writable temporary file');
    for await (const chunk of source as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
      for (let at = 0; at < chunk.length; ) at += (await handle.write(chunk, at)).bytesWritten;
    }
    const got = hash.digest('hex');
    if (got !== sha256) throw new CopyConflictError(`The stored bytes of '${filename}' do not match its sha256 (${got} instead of ${sha256}); the source is damaged.`);
    await to.seal(temp);
    return { key: await to.commit(temp, filename, sha256), size };
  } catch (err) {
    source.destroy();
    await to.discard(temp);
    throw err;
  }
}

/** Copies everything from `from` into `to`; `progress` hears of each file. */
export async function copyIndex(from: IndexStores, to: IndexStores, progress: (done: number, total: number, filename: string) => void = () => undefined): Promise<CopyReport> {
  const marker = await to.catalog.metaValue(JOURNAL_MARKER);
  if (marker === 'started') {
    throw new CopyConflictError('An earlier copy into this target stopped while adding the journal and the download counts; empty the target (drop its tables and objects) and copy again.');
  }
  const projects = await from.catalog.projects();
  const filesByProject = await Promise.all(projects.map(async (p) => ({ project: p, files: await from.catalog.filesOf(p.name) })));
  const total = filesByProject.reduce((n, p) => n + p.files.length, 0);
  const report: CopyReport = { projects: projects.length, files: total, copied: 0, bytes: 0, activity: 0, downloadRows: 0 };
  let done = 0;
  for (const { project, files } of filesByProject) {
    for (const file of files) {
      const there = await to.catalog.file(file.filename);
      if (there && there.sha256 !== file.sha256) {
        throw new CopyConflictError(`The target already holds '${file.filename}' with other content (sha256 ${there.sha256}); remove it there, or copy into an empty target.`);
      }
      if (!there) {
        const metadataBytes = (await from.catalog.metadataBytes(file.filename)) ?? Buffer.alloc(0);
        const { key, size } = await copyBytes(from.blobs, to.blobs, file.relpath, file.filename, file.sha256);
        await to.catalog.addFiles([{ file: { ...file, relpath: key }, displayName: project.displayName, metadataBytes }], { replace: false, journal: false });
        report.copied += 1;
        report.bytes += size;
      }
      progress(++done, total, file.filename);
    }
    for (const [releaseKey, state] of await from.catalog.releaseStates(project.name)) await to.catalog.putReleaseState(project.name, releaseKey, state);
    for (const owner of await from.catalog.owners(project.name)) await to.catalog.addOwner(project.name, owner.user, owner.role);
  }
  if (marker !== 'done') {
    await to.catalog.setMetaValue(JOURNAL_MARKER, 'started');
    const journal = (await from.catalog.activity({ limit: Number.MAX_SAFE_INTEGER })).reverse();
    for (const entry of journal) await to.catalog.addActivity(entry);
    const rows = await from.catalog.downloadRows();
    await to.catalog.addDownloadRows(rows);
    await to.catalog.setMetaValue(JOURNAL_MARKER, 'done');
    report.activity = journal.length;
    report.downloadRows = rows.length;
  }
  await verifyCopy(from, to);
  return report;
}

/** Checks that `to` holds every file of `from` with the same content and size, and the same counts. */
export async function verifyCopy(from: IndexStores, to: IndexStores): Promise<void> {
  const [a, b] = await Promise.all([from.catalog.counts(), to.catalog.counts()]);
  if (a.files > b.files || a.projects > b.projects) {
    throw new CopyConflictError(`The copy is incomplete: ${b.projects} of ${a.projects} projects and ${b.files} of ${a.files} files are in the target.`);
  }
  for (const p of await from.catalog.projects()) {
    for (const f of await from.catalog.filesOf(p.name)) {
      const there = await to.catalog.file(f.filename);
      if (!there || there.sha256 !== f.sha256) throw new CopyConflictError(`'${f.filename}' is missing from the target or differs there.`);
      const stored = await to.blobs.stat(there.relpath);
      if (!stored || stored.size !== f.size) throw new CopyConflictError(`The bytes of '${f.filename}' are missing from the target's storage or have another size.`);
    }
  }
}
