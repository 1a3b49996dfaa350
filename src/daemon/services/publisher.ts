/**
 * Every change to the index goes through here; routes read through the IndexReader.
 *
 * The one way a distribution enters the index: an HTTP upload and a build from a watched
 * folder come through {@link Publisher.publish}; a file put into the packages folder by
 * hand (seen by the folder watcher or the reconcile at start) through
 * {@link Publisher.adopt}. Both apply the same validation (the filename's grammar, the
 * whole archive read and every member checked, the metadata agreeing with the filename),
 * write the same catalog entry and announce the same upload event; publish() adds the
 * ownership rules of the user it publishes as, and writes the file durably before it
 * becomes visible. Deletions, yanks and owners are changed here too, in the shared catalog
 * first in the shared mode, and each change tells the reader which project's pages went stale.
 */
import { readFile, stat, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { legacySdistName, parseDistFilename } from '../../shared/distfiles.js';
import { DistContentError, DistFilenameError, DistMismatchError } from '../../shared/errors.js';
import { normalizeName } from '../../shared/names.js';
import { normalizeVersion, releaseKey } from '../../shared/versions.js';
import { boardIncompatibility, boardLayoutOf } from './board-files.js';
import type { Actor, FileRecord } from './catalog.js';
import type { EventBus } from './events.js';
import { eachPart } from './file-parts.js';
import { hashBytes, hashFile, IN_MEMORY_LIMIT, MultiHasher, type Digests } from './hashing.js';
import type { Identity } from './identities.js';
import { fileRecordOf, inspectDistribution, type Inspected } from './inspect.js';
import type { TempFile } from './storage.js';
import { checkUpload, claimProject } from './upload-policy.js';
import { FileExistsError, type CatalogStore, type NewFile, type Role } from '../stores/catalog-store.js';
import type { LocalBlobs } from '../stores/blob-store.js';
import type { Locks } from '../stores/locks.js';
import type { IndexPrimary } from './shared-index.js';

/** An upload on its way to the index, in a temporary file (createTemp, discard). */
export type { TempFile } from './storage.js';

/** What the uploader told us besides the file (the legacy upload form). */
export interface UploadClaims {
  name: string;
  version: string;
  filetype: string;
}

/** An upload received in full and hashed: in memory when small, else in a temporary file. */
export type ReceivedUpload = {
  filename: string;
  digests: Digests & { size: number };
} & ({ bytes: Buffer; temp?: undefined } | { temp: TempFile; bytes?: undefined });

/** How a file came to be published. */
export type PublishOrigin = { source: 'upload' } | { source: 'watch'; /** The watched folder. */ watch: string };

/** Everything publish() needs to know besides the file. */
export interface PublishRequest {
  /** What an upload form claims; a watched build has none (the file speaks for itself). */
  claims?: UploadClaims;
  /** Whose ownership rules apply; undefined when nobody signed in (uploads open to everyone). */
  identity?: Identity;
  /** Who is recorded as the uploader, and from where (a client's address, or the watched folder). */
  by: Actor;
  origin: PublishOrigin;
  /** May replace a file of the same name with other content (`pyrepo watch --replace`); the overwrite setting allows it for everyone. */
  replace?: boolean;
}

export type UploadOutcome = {
  status: 'created' | 'replaced' | 'identical';
  file: FileRecord;
  /** Things the uploader should know, such as a file MicroPython boards cannot install. */
  warnings: string[];
};

/** Thrown when a project, release or file is not on the index. */
export class NotOnIndexError extends Error {
  override readonly name = 'NotOnIndexError';
}

/** Thrown for an upload that conflicts with a file already on the index. */
export class FileConflictError extends Error {
  override readonly name = 'FileConflictError';
  constructor(
    readonly filename: string,
    readonly existingSha256: string,
  ) {
    super(`File already exists: ${filename}`);
  }
}

/** Catalog writes are grouped this many to a transaction while a folder is indexed. */
const BATCH_SIZE = 500;
/** Files found in the folder up to this size are read on the event loop (a fraction of a millisecond from the page cache). */
const READ_NOW_LIMIT = 256 * 1024;

interface FolderEntry extends NewFile {
  /** Publish an upload event (a file that is new to the index). */
  announce: boolean;
}

export interface PublisherOptions {
  /** The catalog this daemon changes (in the shared mode, its copy, after the shared one). */
  catalog: CatalogStore;
  /** Where the files' bytes go, on this machine (the packages folder). */
  blobs: LocalBlobs;
  events: EventBus;
  log: FastifyBaseLogger;
  /** The overwrite setting: any upload may replace a file of the same name. */
  overwrite: boolean;
  /** Serializes changes per filename: uploads, deletions and the packages folder's. */
  locks: Locks;
  /** Tells the index that a project's pages must be rendered again. */
  changed: (project: string) => void;
  /** The shared catalog, in the shared mode: every upload is decided there first. */
  primary?: IndexPrimary | undefined;
}

export class Publisher {
  private readonly catalog: CatalogStore;
  private readonly blobs: LocalBlobs;
  private readonly events: EventBus;
  private readonly log: FastifyBaseLogger;
  private readonly overwrite: boolean;
  private readonly locks: Locks;
  private readonly changed: PublisherOptions['changed'];
  private readonly primary: IndexPrimary | undefined;
  /** Relpaths being deleted through the API right now (the folder watcher leaves them alone). */
  private readonly deleting = new Set<string>();
  /** Folder files that could not be indexed, by relpath → `size:mtime`, so they are reported once. */
  private readonly rejected = new Map<string, string>();
  /** While a reconcile runs, adopted files are written to the catalog in batches. */
  private batch: FolderEntry[] | null = null;

  constructor(opts: PublisherOptions) {
    this.catalog = opts.catalog;
    this.blobs = opts.blobs;
    this.events = opts.events;
    this.log = opts.log;
    this.overwrite = opts.overwrite;
    this.locks = opts.locks;
    this.changed = opts.changed;
    this.primary = opts.primary;
  }

  // ---- from outside: HTTP uploads and watched build folders ------------------------

  /** A new temporary file for an upload too large to hold in memory (published or discarded later). */
  createTemp(): Promise<TempFile> {
    return this.blobs.createTemp();
  }

  /** Removes a temporary file that will not be published (a refused or abandoned upload). */
  discard(temp: TempFile): Promise<void> {
    return this.blobs.discard(temp);
  }

  /**
   * Reads a file from outside the index (a watched build folder) the way an upload arrives:
   * hashed as it is read, in memory when small, else copied into a temporary file of the
   * blob store. The source is only read.
   */
  async receive(path: string): Promise<ReceivedUpload> {
    const filename = basename(path);
    const { size } = await stat(path);
    if (size <= IN_MEMORY_LIMIT) {
      const bytes = await readFile(path);
      return { filename, digests: await hashBytes(bytes), bytes };
    }
    const temp = await this.blobs.createTemp();
    const hasher = await MultiHasher.create();
    try {
      const handle = temp.handle as FileHandle;
      await eachPart(path, async (part) => {
        hasher.update(part);
        for (let at = 0; at < part.length; ) at += (await handle.write(part, at)).bytesWritten;
      });
    } catch (err) {
      await this.blobs.discard(temp);
      throw err;
    }
    return { filename, digests: { ...hasher.digest(), size: hasher.size }, temp };
  }

  /**
   * Takes a complete, hashed file and makes it part of the index, or throws: a Dist*Error
   * for bad content, FileConflictError for a different file of the same name, Forbidden
   * when the user it is published as may not upload to its project. A refused file is not
   * published, and no temporary file is left either way.
   */
  async publish(upload: ReceivedUpload, request: PublishRequest): Promise<UploadOutcome> {
    const { filename, digests } = upload;
    const { claims, identity } = request;
    let temp = upload.temp;
    let sealed: Promise<number> | undefined;
    try {
      parseDistFilename(filename);
      // An upload form names its project: refuse one the user may not upload to before reading the file.
      if (claims) await checkUpload(this.catalog, identity, normalizeName(claims.name));
      // Durable before visible, with the flush started now: the fsync runs in the thread pool
      // while the file is inspected and checked, not after (a small upload's fsync took as
      // long as the main thread's whole inspection). A refused file is removed unpublished.
      const written = (temp ??= this.blobs.writeTemp(upload.bytes as Buffer));
      sealed = this.blobs.seal(written);
      sealed.catch(() => undefined); // awaited below, or in `finally` when the file is refused
      const inspected = await inspectDistribution(upload.bytes ?? written.path, filename, digests.size);
      if (claims) checkClaims(claims, inspected);
      else await checkUpload(this.catalog, identity, inspected.dist.project);
      const project = inspected.dist.project;
      const outcome = await this.locks.run(filename, async () => {
        const existing = await this.existingFile(filename);
        if (existing && existing.sha256 === digests.sha256) {
          const file = await this.catalog.file(filename);
          if (file) return { status: 'identical', file, warnings: warningsOf(inspected) } as UploadOutcome;
        }
        const replace = this.overwrite || request.replace === true;
        if (existing && !replace) throw new FileConflictError(filename, existing.sha256);
        // Durable before visible: the data flushed, renamed into place, then the catalog row.
        // In the shared mode the bucket takes the (complete) file while it is flushed here.
        const [mtimeMs, key] = await Promise.all([sealed as Promise<number>, this.primary?.store(written.path, digests.sha256)]);
        const record = fileRecordOf(inspected, digests, { relpath: filename, mtimeMs }, new Date().toISOString(), {
          source: request.origin.source,
          uploadedBy: request.by.user,
          uploadedFrom: request.by.address,
        });
        let serial: number | undefined;
        const note = existing ? `replaced a file of the same name (sha256 ${existing.sha256})` : undefined;
        const metadataBytes = inspected.contents.metadataBytes;
        if (this.primary) {
          // Shared mode: the shared catalog decides, before this daemon's copy shows anything,
          // and the first uploader's claim on a new project goes with the file's row.
          const claim = identity && (await this.catalog.owners(project)).length === 0 ? identity.user : undefined;
          const shared = await this.publishShared(key as string, record, inspected.contents.metadata.name, metadataBytes, { replace, note, claim });
          if ('lost' in shared) return { status: 'identical', file: shared.lost, warnings: warningsOf(inspected) } as UploadOutcome;
          serial = shared.serial;
        }
        record.relpath = await this.blobs.commit(written, filename, digests.sha256);
        await this.catalog.addFiles([{ file: record, displayName: inspected.contents.metadata.name, metadataBytes, ...(note ? { note } : {}) }], { replace: true });
        if (serial !== undefined) this.primary?.appliedHere(serial);
        if (existing && existing.relpath !== record.relpath) await this.blobs.remove(existing.relpath);
        this.changed(project);
        const warnings = warningsOf(inspected);
        const origin = request.origin;
        this.events.publish({
          type: 'upload',
          project,
          version: record.version,
          filename,
          size: record.size,
          source: origin.source,
          ...(origin.source === 'watch' ? { watch: origin.watch } : {}),
          ...(existing ? { replaced: true } : {}),
          user: request.by.user,
          address: origin.source === 'watch' ? null : request.by.address,
          ...(warnings.length > 0 ? { warnings } : {}),
        });
        return { status: existing ? 'replaced' : 'created', file: record, warnings } as UploadOutcome;
      });
      // In the shared mode the shared catalog decides who was first (this copy may lag). A new
      // file's row carried the claim already; what is left here is an identical upload, or a
      // claim another daemon's uploader had won (claimOwner then brings that owner here).
      if ((await claimProject(this.catalog, identity, project)) && this.primary) await this.primary.claimOwner(project, (identity as Identity).user);
      return outcome;
    } finally {
      await sealed?.catch(() => undefined);
      if (temp) await this.blobs.discard(temp);
    }
  }

  /**
   * Writes an upload to the shared catalog. Another daemon may have taken the name first:
   * with the same content that is the file this upload is (returned, after this daemon's
   * copy caught up), with other content a conflict.
   */
  private async publishShared(
    key: string,
    record: FileRecord,
    displayName: string,
    metadataBytes: Buffer,
    opts: { replace: boolean; note: string | undefined; claim: string | undefined },
  ): Promise<{ serial: number } | { lost: FileRecord }> {
    const primary = this.primary as IndexPrimary;
    const { replace, note, claim } = opts;
    try {
      const { serial, claimed } = await primary.addFile(key, record, displayName, metadataBytes, { replace, ...(note ? { note } : {}), ...(claim ? { claim } : {}) });
      if (claimed) await this.catalog.addOwner(record.project, claim as string, 'owner');
      return { serial };
    } catch (err) {
      if (!(err instanceof FileExistsError)) throw err;
      await primary.refresh(record.project);
      if (err.existingSha256 !== record.sha256) throw new FileConflictError(record.filename, err.existingSha256);
      return { lost: (await this.catalog.file(record.filename)) ?? record };
    }
  }

  /**
   * The file a new upload of `filename` would replace: the catalog's, or one in the
   * folder's top level that is not indexed yet (it is indexed now, so it gets served).
   */
  private async existingFile(filename: string): Promise<{ sha256: string; relpath: string } | undefined> {
    const known = await this.catalog.file(filename);
    if (known) return known;
    // Asked for every new upload: at once, not behind other uploads' fsyncs in the thread pool.
    if (!this.blobs.statNow(filename)) return undefined;
    await this.adoptLocked(filename, 'folder');
    const adopted = await this.catalog.file(filename);
    if (adopted) return adopted;
    // Not a distribution the index serves (it was logged): its bytes still must not be overwritten silently.
    const held = await hashFile(this.blobs.pathOf(filename)).catch(() => undefined);
    return held && { sha256: held.sha256, relpath: filename };
  }

  // ---- already in the packages folder ----------------------------------------------

  /**
   * Indexes one file found in the packages folder (at start or by the watcher).
   * Files that are not valid distributions are logged once and left alone.
   */
  adopt(relpath: string, source: 'folder' | 'reconcile'): Promise<boolean> {
    return this.locks.run(basename(relpath), () => this.adoptLocked(relpath, source));
  }

  private async adoptLocked(relpath: string, source: 'folder' | 'reconcile'): Promise<boolean> {
    const found = { relpath, filename: basename(relpath) };
    const st = this.blobs.statNow(relpath);
    if (!st) return false;
    const mtimeMs = st.mtimeMs;
    const known = await this.catalog.file(found.filename);
    if (known && known.relpath === found.relpath && known.size === st.size && known.mtimeMs === mtimeMs) return false;
    if (known && known.relpath !== found.relpath) {
      if (this.blobs.statNow(known.relpath)) {
        this.rejectOnce(found.relpath, `${st.size}:${mtimeMs}`, `'${found.relpath}' has the same filename as '${known.relpath}'; serving only the latter.`);
        return false;
      }
    }
    // Small files (nearly all) are read once and hashed and inspected in memory; the smallest
    // at once, as a first indexing of tens of thousands of them spends most of its time
    // waiting for the thread pool otherwise.
    let bytes: Buffer | undefined;
    let digests: Digests & { size: number };
    try {
      bytes = st.size <= READ_NOW_LIMIT ? this.blobs.readNow(relpath) : st.size <= IN_MEMORY_LIMIT ? await this.blobs.read(relpath) : undefined;
      digests = bytes ? await hashBytes(bytes) : await hashFile(this.blobs.pathOf(relpath));
    } catch (err) {
      // Gone again since it was seen (a build tool's rename, a quick delete): nothing to index.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    if (known && known.sha256 === digests.sha256 && known.relpath === found.relpath) {
      await this.catalog.touch(found.filename, mtimeMs);
      return false;
    }
    let inspected;
    try {
      // A large archive's members are read in place.
      inspected = await inspectDistribution(bytes ?? this.blobs.pathOf(relpath), found.filename, digests.size);
    } catch (err) {
      if (err instanceof DistFilenameError || err instanceof DistContentError || err instanceof DistMismatchError) {
        this.rejectOnce(found.relpath, `${st.size}:${mtimeMs}`, `Not serving '${found.relpath}': ${err.message}`);
        return false;
      }
      throw err;
    }
    this.rejected.delete(found.relpath);
    const uploadTime = known?.uploadTime ?? new Date(st.mtimeMs).toISOString();
    // Nobody uploaded it: it was put into the folder (or replaced there) by hand.
    const record = fileRecordOf(inspected, digests, { relpath: found.relpath, mtimeMs }, uploadTime, { source: 'folder', uploadedBy: null, uploadedFrom: null });
    const entry = { file: record, displayName: inspected.contents.metadata.name, metadataBytes: inspected.contents.metadataBytes, announce: source === 'folder' || !known };
    if (this.batch) {
      this.batch.push(entry);
      if (this.batch.length >= BATCH_SIZE) await this.flushBatch();
    } else {
      await this.commitFolderFiles([entry]);
    }
    return true;
  }

  private async commitFolderFiles(entries: FolderEntry[]): Promise<void> {
    await this.catalog.addFiles(entries, { replace: true });
    for (const { file, announce } of entries) {
      this.changed(file.project);
      if (announce) {
        this.events.publish({ type: 'upload', project: file.project, version: file.version, filename: file.filename, size: file.size, source: 'folder', user: null, address: null });
      }
    }
  }

  /** From now until {@link endBatch}, adopted files are written to the catalog many to a transaction (a reconcile). */
  beginBatch(): void {
    this.batch = [];
  }

  /** Writes what the batch holds and goes back to one transaction per file. */
  async endBatch(): Promise<void> {
    await this.flushBatch();
    this.batch = null;
  }

  private async flushBatch(): Promise<void> {
    if (!this.batch || this.batch.length === 0) return;
    const entries = this.batch;
    this.batch = [];
    await this.commitFolderFiles(entries);
  }

  private rejectOnce(relpath: string, stamp: string, message: string): void {
    if (this.rejected.get(relpath) === stamp) return;
    this.rejected.set(relpath, stamp);
    this.log.warn(message);
  }

  /** A file, or a whole subfolder, disappeared from the folder: forget what it held (a file put back later is judged afresh). */
  async forgetFolderPath(relpath: string): Promise<void> {
    if (this.deleting.has(relpath)) return;
    const known = await this.catalog.fileByPath(relpath);
    const gone = known ? [known.filename] : await this.catalog.filesUnder(relpath);
    this.rejected.delete(relpath);
    for (const filename of gone) {
      const removed = await this.catalog.removeFile(filename);
      if (!removed) continue;
      this.changed(removed.project);
      // Taken out of the folder by hand: no user, no address.
      this.events.publish({ type: 'delete', project: removed.project, filename, user: null, address: null });
    }
  }

  // ---- management ----------------------------------------------------------------

  /** Deletes one file of a project, recording who did it (`by`). */
  async removeFile(project: string, filename: string, by: Actor): Promise<string[]> {
    const file = await this.catalog.file(filename);
    if (!file || file.project !== normalizeName(project)) {
      throw new NotOnIndexError(`There is no file '${filename}' in project '${project}'.`);
    }
    return this.locks.run(filename, async () => {
      // The folder watcher may see the file go before the catalog row does: it leaves the
      // row to this deletion, which records who made it.
      this.deleting.add(file.relpath);
      let removed;
      try {
        await this.primary?.removeFile(filename, by);
        await this.blobs.remove(file.relpath);
        removed = await this.catalog.removeFile(filename, by);
      } finally {
        this.deleting.delete(file.relpath);
      }
      if (removed) {
        this.changed(file.project);
        this.events.publish({ type: 'delete', project: file.project, filename, user: by.user, address: by.address });
      }
      return [filename];
    });
  }

  /** Deletes every file of a release, recording who did it (`by`). */
  async removeRelease(project: string, version: string, by: Actor): Promise<string[]> {
    const name = normalizeName(project);
    const key = releaseKey(version);
    const files = (await this.catalog.filesOf(name)).filter((f) => f.releaseKey === key);
    if (files.length === 0) throw new NotOnIndexError(`Project '${project}' has no release '${version}'.`);
    const deleted: string[] = [];
    for (const f of files) deleted.push(...(await this.removeFile(name, f.filename, by)));
    return deleted;
  }

  /** Yanks (or unyanks) every file of a release (PEP 592), recording who did it (`by`). */
  async setYanked(project: string, version: string, yanked: boolean, reason: string | null, by: Actor): Promise<{ project: string; version: string }> {
    const name = normalizeName(project);
    const key = releaseKey(version);
    const file = (await this.catalog.filesOf(name)).find((f) => f.releaseKey === key);
    if (!file) throw new NotOnIndexError(`Project '${project}' has no release '${version}'.`);
    const activity = {
      action: yanked ? 'yank' : 'unyank',
      project: name,
      version: file.version,
      filename: null,
      user: by.user,
      address: by.address,
      reason: yanked ? reason : null,
    } as const;
    await this.primary?.setYanked(name, key, yanked, reason, activity);
    await this.catalog.setYanked(name, key, yanked, reason, activity);
    this.changed(name);
    const who = { user: by.user, address: by.address };
    this.events.publish(
      yanked ? { type: 'yank', project: name, version: file.version, reason, ...who } : { type: 'unyank', project: name, version: file.version, ...who },
    );
    return { project: name, version: file.version };
  }

  // ---- owners --------------------------------------------------------------------

  /** Makes `user` an owner or maintainer of a project (in the shared catalog first, in the shared mode). */
  async addOwner(project: string, user: string, role: Role): Promise<void> {
    await this.primary?.addOwner(project, user, role);
    await this.catalog.addOwner(project, user, role);
  }

  /** Takes `user` off a project's owners and maintainers; false when they were not one. */
  async removeOwner(project: string, user: string): Promise<boolean> {
    const shared = await this.primary?.removeOwner(project, user);
    return (await this.catalog.removeOwner(project, user)) || shared === true;
  }
}

/** Refuses a file whose upload form claims another filetype, project or version than the file has. */
function checkClaims(claims: UploadClaims, inspected: Inspected): void {
  const { filename } = inspected.dist;
  const meta = inspected.contents.metadata;
  if (claims.filetype !== inspected.dist.packagetype) {
    throw new DistMismatchError(
      `The filetype '${claims.filetype}' does not match '${filename}': use 'bdist_wheel' for .whl files and 'sdist' for .tar.gz and .zip files.`,
    );
  }
  if (normalizeName(claims.name) !== inspected.dist.project) {
    throw new DistMismatchError(`The form says the project is '${claims.name}', but the file is for '${meta.name}'.`);
  }
  if (normalizeVersion(claims.version) !== inspected.version) {
    throw new DistMismatchError(`The form says the version is '${claims.version}', but the file is version '${meta.version}'.`);
  }
}

/** What an uploader should know about an accepted file: a legacy sdist name, a file boards cannot install. */
function warningsOf(inspected: Inspected): string[] {
  const boardProblem = boardIncompatibility(inspected.dist.filename, boardLayoutOf(inspected.dist.kind, inspected.contents.members));
  return [legacySdistName(inspected.dist), boardProblem].filter((w): w is string => typeof w === 'string');
}
