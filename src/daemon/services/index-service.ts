/**
 * The index: the one place that changes the catalog and the packages folder together,
 * keeps rendered pages in step, and publishes events. Routes and the folder watcher
 * call it; it never touches HTTP.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { ProjectDetail, ProjectList, ProjectSummary } from '../../shared/api.js';
import { legacySdistName } from '../../shared/distfiles.js';
import { DistContentError, DistFilenameError, DistMismatchError } from '../../shared/errors.js';
import { decodeMetadata, parseCoreMetadata } from '../../shared/metadata.js';
import { normalizeName } from '../../shared/names.js';
import { compareVersions, isPrerelease, normalizeVersion, releaseKey } from '../../shared/versions.js';
import { boardIncompatibility, boardLayoutOf } from './board-files.js';
import { stampOf, type Actor, type Catalog, type FileRecord } from './catalog.js';
import { DownloadBatch } from './download-batch.js';
import type { EventBus } from './events.js';
import type { DownloadClient } from './installer.js';
import { hashBytes, hashFile, IN_MEMORY_LIMIT, type Digests } from './hashing.js';
import { fileRecordOf, inspectDistribution } from './inspect.js';
import { ALL_PROJECTS, PageCache, type Page } from './page-cache.js';
import {
  renderProjectHtml,
  renderProjectJson,
  renderPypiJson,
  renderRootHtml,
  renderRootJson,
  type ProjectView,
} from './pages.js';
import type { FoundFile, PackageStorage, TempFile } from './storage.js';
import { SIMPLE_JSON, type SimpleFormat } from './negotiate.js';

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

export type UploadOutcome = {
  status: 'created' | 'replaced' | 'identical';
  file: FileRecord;
  /** Things the uploader should know, such as a file MicroPython boards cannot install. */
  warnings: string[];
};

/** Catalog writes are grouped this many to a transaction while a folder is indexed. */
const BATCH_SIZE = 500;

interface FolderEntry {
  file: FileRecord;
  displayName: string;
  metadataBytes: Buffer;
  /** Publish an upload event (a file that is new to the index). */
  announce: boolean;
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

/** Thrown when a project, release or file is not on the index. */
export class NotOnIndexError extends Error {
  override readonly name = 'NotOnIndexError';
}

export interface IndexServiceOptions {
  catalog: Catalog;
  storage: PackageStorage;
  events: EventBus;
  log: FastifyBaseLogger;
  overwrite: boolean;
  /** How long downloads are gathered into one event (DOWNLOAD_BATCH_MS). */
  downloadBatchMs?: number;
}

export class IndexService {
  readonly catalog: Catalog;
  readonly storage: PackageStorage;
  private readonly events: EventBus;
  private readonly log: FastifyBaseLogger;
  private readonly overwrite: boolean;
  private readonly pages = new PageCache();
  /** Serializes changes per filename so concurrent uploads of one file cannot interleave. */
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Folder files that could not be indexed, by relpath → `size:mtime`, so they are reported once. */
  private readonly rejected = new Map<string, string>();
  /** Latest version per project, computed on demand (PEP 440 ordering is not SQL's). */
  private readonly latest = new Map<string, string | null>();
  /** While a reconcile runs, indexed files are written to the catalog in batches. */
  private batch: FolderEntry[] | null = null;
  /** True while the first reconcile with the folder runs. */
  indexing = false;
  /** Relpaths being deleted through the API right now (the watcher leaves them alone). */
  private readonly deleting = new Set<string>();
  /** Downloads counted since the last `downloads` event. */
  private readonly downloadBatch: DownloadBatch;

  constructor(opts: IndexServiceOptions) {
    this.catalog = opts.catalog;
    this.storage = opts.storage;
    this.events = opts.events;
    this.log = opts.log;
    this.overwrite = opts.overwrite;
    this.downloadBatch = new DownloadBatch((files) => this.events.publish({ type: 'downloads', files }), opts.downloadBatchMs);
  }

  private async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.catch(() => undefined);
    this.locks.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    }
  }

  private changed(project: string): void {
    this.pages.invalidate(project);
    this.latest.delete(project);
  }

  // ---- reading -------------------------------------------------------------------

  /** The project's view for renderers, or undefined when it has no files. */
  view(project: string): ProjectView | undefined {
    const record = this.catalog.project(project);
    if (!record) return undefined;
    const files = this.catalog.filesOf(project);
    if (files.length === 0) return undefined;
    files.sort((a, b) => compareVersions(a.version, b.version) || (a.filename < b.filename ? -1 : 1));
    return { project: record, files, states: this.catalog.releaseStates(project), serial: this.catalog.serial };
  }

  simpleRoot(format: SimpleFormat): Page {
    return this.pages.get(ALL_PROJECTS, format, () =>
      format === SIMPLE_JSON ? renderRootJson(this.catalog.projects(), this.catalog.serial) : renderRootHtml(this.catalog.projects()),
    ) as Page;
  }

  simpleProject(project: string, format: SimpleFormat): Page | undefined {
    return this.pages.get(project, format, () => {
      const view = this.view(project);
      if (!view) return undefined;
      return format === SIMPLE_JSON ? renderProjectJson(view) : renderProjectHtml(view);
    });
  }

  /** Release keys newest first, ordered like PyPI's "latest": not yanked, then final releases, then PEP 440. */
  private latestOrder(view: ProjectView): string[] {
    const keys = new Map<string, string>();
    for (const f of view.files) keys.set(f.releaseKey, f.version);
    return [...keys.keys()].sort((a, b) => {
      const ya = view.states.get(a)?.yanked ? 1 : 0;
      const yb = view.states.get(b)?.yanked ? 1 : 0;
      if (ya !== yb) return ya - yb;
      const pa = isPrerelease(keys.get(a) as string) ? 1 : 0;
      const pb = isPrerelease(keys.get(b) as string) ? 1 : 0;
      if (pa !== pb) return pa - pb;
      return compareVersions(keys.get(b) as string, keys.get(a) as string);
    });
  }

  /** Newest version first by PEP 440 alone. */
  private newestFirst(view: ProjectView): string[] {
    const keys = new Map<string, string>();
    for (const f of view.files) keys.set(f.releaseKey, f.version);
    return [...keys.keys()].sort((a, b) => compareVersions(keys.get(b) as string, keys.get(a) as string));
  }

  /** A project's release keys, most preferred first by PyPI's "latest" rule; empty when it has no files. */
  releasesByPreference(project: string): string[] {
    const view = this.view(project);
    return view ? this.latestOrder(view) : [];
  }

  /** The latest release's version (PyPI's rule), or null. */
  latestVersion(project: string): string | null {
    const cached = this.latest.get(project);
    if (cached !== undefined) return cached;
    const view = this.view(project);
    const key = view && this.latestOrder(view)[0];
    const version = view?.files.find((f) => f.releaseKey === key)?.version ?? null;
    this.latest.set(project, version);
    return version;
  }

  /** `/pypi/<project>/json` or `/pypi/<project>/<version>/json`; undefined when not found. */
  pypiJson(project: string, version: string | undefined, baseUrl: string): Page | undefined {
    const key = version === undefined ? undefined : releaseKey(version);
    return this.pages.get(project, `pypi|${baseUrl}|${key ?? ''}`, () => {
      const view = this.view(project);
      if (!view) return undefined;
      const order = this.newestFirst(view);
      const chosen = key ?? this.latestOrder(view)[0];
      const files = view.files.filter((f) => f.releaseKey === chosen);
      if (files.length === 0) return undefined;
      const source = files.find((f) => f.packagetype === 'bdist_wheel') ?? (files[0] as FileRecord);
      const bytes = this.catalog.metadataBytes(source.filename);
      const metadata = parseCoreMetadata(bytes ? decodeMetadata(bytes) : '', source.filename);
      return renderPypiJson({ view, releaseKey: chosen as string, metadata, baseUrl, withReleases: key === undefined, order });
    });
  }

  /** Summaries of every project. */
  projectSummaries(): ProjectSummary[] {
    return this.catalog.projectSummaries().map((p) => ({ ...p, latestVersion: this.latestVersion(p.name) }));
  }

  /**
   * Every project with its counts, for the control API, as of the event id it names: the
   * downloads gathered for the next event are published first, so that the answer counts
   * exactly the events up to that id.
   */
  projectList(): ProjectList {
    this.downloadBatch.flush();
    return { projects: this.projectSummaries(), lastEventId: String(this.events.lastId) };
  }

  /** One project with releases, files and download counts, for the control API (as of the event id it names, as projectList). */
  projectDetail(project: string): ProjectDetail | undefined {
    const view = this.view(project);
    if (!view) return undefined;
    this.downloadBatch.flush();
    const downloads = this.catalog.downloadsOf(project);
    const releases = this.newestFirst(view).map((key) => {
      const files = view.files.filter((f) => f.releaseKey === key);
      const state = view.states.get(key) ?? { yanked: false, reason: null };
      const source = files.find((f) => f.packagetype === 'bdist_wheel') ?? files[0];
      const bytes = source && this.catalog.metadataBytes(source.filename);
      const summary = bytes ? parseCoreMetadata(decodeMetadata(bytes)).summary : null;
      const fileInfos = files.map((f) => ({
        filename: f.filename,
        packagetype: f.packagetype,
        size: f.size,
        sha256: f.sha256,
        uploadTime: f.uploadTime,
        source: f.source,
        uploadedBy: f.uploadedBy,
        uploadedFrom: f.uploadedFrom,
        requiresPython: f.requiresPython,
        downloads: downloads.get(f.filename) ?? 0,
        url: `/packages/${encodeURIComponent(f.filename)}`,
      }));
      return {
        version: files[0]?.version ?? key,
        yanked: state.yanked,
        yankedReason: state.reason,
        yankedBy: state.yankedBy ?? null,
        yankedFrom: state.yankedFrom ?? null,
        summary,
        downloads: fileInfos.reduce((n, f) => n + f.downloads, 0),
        files: fileInfos,
      };
    });
    return {
      name: view.project.name,
      displayName: view.project.displayName,
      latestVersion: this.latestVersion(project),
      downloads: releases.reduce((n, r) => n + r.downloads, 0),
      downloadsByDay: this.catalog.downloadsByDay(project),
      downloadsByInstaller: this.catalog.downloadsByInstaller(project),
      releases,
      lastEventId: String(this.events.lastId),
    };
  }

  /** Counts a download (by installer and CI) and tells the event stream with the next `downloads` event. */
  recordDownload(file: FileRecord, client: DownloadClient): void {
    this.catalog.countDownload(file, client.installer, client.ci);
    this.downloadBatch.add(file, client);
  }

  /** Publishes the downloads gathered for the next event now (before a page that shows counts is served, at shutdown). */
  flushDownloadEvents(): void {
    this.downloadBatch.flush();
  }

  // ---- uploads -------------------------------------------------------------------

  /**
   * Takes a complete, hashed upload and makes it part of the index, or throws (Dist*Error
   * for bad content, FileConflictError for a different file of the same name). Nothing is
   * written for a refused upload, and no temporary file is left either way.
   */
  async acceptUpload(upload: ReceivedUpload, claims: UploadClaims, by: Actor): Promise<UploadOutcome> {
    const { filename, digests } = upload;
    let temp: TempFile | undefined;
    try {
      const inspected = await inspectDistribution(upload.bytes ?? upload.temp.path, filename, digests.size);
      temp = upload.temp;
      const meta = inspected.contents.metadata;
      const boardProblem = boardIncompatibility(filename, boardLayoutOf(inspected.dist.kind, inspected.contents.members));
      const warnings = [legacySdistName(inspected.dist), boardProblem].filter((w): w is string => typeof w === 'string');
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
      return await this.withLock(filename, async () => {
        const existing = await this.existingFile(filename);
        if (existing && existing.sha256 === digests.sha256) {
          const file = this.catalog.file(filename);
          if (file) return { status: 'identical', file, warnings } as UploadOutcome;
        }
        if (existing && !this.overwrite) throw new FileConflictError(filename, existing.sha256);
        // Durable before visible: fsync the data, rename into place, then the catalog row.
        temp ??= this.storage.writeTemp(upload.bytes as Buffer);
        const mtimeMs = await this.storage.seal(temp);
        const relpath = await this.storage.commit(temp, filename);
        const record = fileRecordOf(inspected, digests, { relpath, mtimeMs }, new Date().toISOString(), {
          source: 'upload',
          uploadedBy: by.user,
          uploadedFrom: by.address,
        });
        this.catalog.putFile(record, meta.name, inspected.contents.metadataBytes);
        if (existing && existing.relpath !== record.relpath) await this.storage.remove(existing.relpath);
        this.changed(record.project);
        this.events.publish({
          type: 'upload',
          project: record.project,
          version: record.version,
          filename,
          size: record.size,
          source: 'upload',
          user: by.user,
          address: by.address,
          ...(warnings.length > 0 ? { warnings } : {}),
        });
        return { status: existing ? 'replaced' : 'created', file: record, warnings } as UploadOutcome;
      });
    } finally {
      const left = temp ?? upload.temp;
      if (left) await this.storage.discard(left);
    }
  }

  /**
   * The file a new upload of `filename` would replace: the catalog's, or one in the
   * folder's top level that is not indexed yet (it is indexed now, so it gets served).
   */
  private async existingFile(filename: string): Promise<{ sha256: string; relpath: string } | undefined> {
    const known = this.catalog.file(filename);
    if (known) return known;
    if (!this.storage.hasTopLevel(filename)) return undefined;
    const path = this.storage.pathOf(filename);
    await this.indexFolderFileLocked(filename, 'folder');
    return this.catalog.file(filename) ?? { sha256: (await hashFile(path)).sha256, relpath: filename };
  }

  // ---- the folder ----------------------------------------------------------------

  /**
   * Indexes one file found in the packages folder (at start or by the watcher).
   * Files that are not valid distributions are logged once and left alone.
   */
  indexFolderFile(relpath: string, source: 'folder' | 'reconcile'): Promise<boolean> {
    return this.withLock(basename(relpath), () => this.indexFolderFileLocked(relpath, source));
  }

  private async indexFolderFileLocked(relpath: string, source: 'folder' | 'reconcile'): Promise<boolean> {
    const path = this.storage.pathOf(relpath);
    const found = { relpath, filename: basename(relpath) };
    let st;
    try {
      st = await stat(path);
    } catch {
      return false;
    }
    const mtimeMs = Math.trunc(st.mtimeMs);
    const known = this.catalog.file(found.filename);
    if (known && known.relpath === found.relpath && known.size === st.size && known.mtimeMs === mtimeMs) return false;
    if (known && known.relpath !== found.relpath) {
      const stillThere = await stat(this.storage.pathOf(known.relpath)).then(
        () => true,
        () => false,
      );
      if (stillThere) {
        this.rejectOnce(found.relpath, `${st.size}:${mtimeMs}`, `'${found.relpath}' has the same filename as '${known.relpath}'; serving only the latter.`);
        return false;
      }
    }
    // Small files (nearly all) are read once and hashed and inspected in memory.
    const bytes = st.size <= IN_MEMORY_LIMIT ? await readFile(path) : undefined;
    const digests = bytes ? hashBytes(bytes) : await hashFile(path);
    if (known && known.sha256 === digests.sha256 && known.relpath === found.relpath) {
      this.catalog.touch(found.filename, mtimeMs);
      return false;
    }
    let inspected;
    try {
      inspected = await inspectDistribution(bytes ?? path, found.filename, digests.size);
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
      if (this.batch.length >= BATCH_SIZE) this.flushBatch();
    } else {
      this.commitFolderFiles([entry]);
    }
    return true;
  }

  private commitFolderFiles(entries: FolderEntry[]): void {
    this.catalog.putFiles(entries);
    for (const { file, announce } of entries) {
      this.changed(file.project);
      if (announce) {
        this.events.publish({ type: 'upload', project: file.project, version: file.version, filename: file.filename, size: file.size, source: 'folder', user: null, address: null });
      }
    }
  }

  private flushBatch(): void {
    if (!this.batch || this.batch.length === 0) return;
    const entries = this.batch;
    this.batch = [];
    this.commitFolderFiles(entries);
  }

  private rejectOnce(relpath: string, stamp: string, message: string): void {
    if (this.rejected.get(relpath) === stamp) return;
    this.rejected.set(relpath, stamp);
    this.log.warn(message);
  }

  /** A file, or a whole subfolder, disappeared from the folder: forget what it held. */
  forgetFolderPath(relpath: string): void {
    if (this.deleting.has(relpath)) return;
    const known = this.catalog.fileByPath(relpath);
    const gone = known ? [known.filename] : this.catalog.filesUnder(relpath);
    this.rejected.delete(relpath);
    for (const filename of gone) {
      const removed = this.catalog.removeFile(filename);
      if (!removed) continue;
      this.changed(removed.project);
      // Taken out of the folder by hand: no user, no address.
      this.events.publish({ type: 'delete', project: removed.project, filename, user: null, address: null });
    }
  }

  /**
   * Brings the catalog in line with the folder: new and changed files are indexed,
   * vanished ones forgotten. Reads keep being served from the catalog meanwhile.
   */
  async reconcile(concurrency = 8): Promise<{ indexed: number; removed: number; unchanged: number }> {
    this.indexing = true;
    this.batch = [];
    try {
      // What is left in `known` after the scan is gone from the folder.
      const known = this.catalog.fileStamps();
      const found = await this.storage.scan();
      const todo: FoundFile[] = [];
      for (const f of found) {
        if (known.get(f.relpath) !== stampOf(f.size, f.mtimeMs)) todo.push(f);
        known.delete(f.relpath);
      }
      const removed = known.size;
      for (const relpath of known.keys()) this.forgetFolderPath(relpath);
      let indexed = 0;
      let next = 0;
      const worker = async () => {
        while (next < todo.length) {
          const f = todo[next++] as FoundFile;
          try {
            if (await this.indexFolderFile(f.relpath, 'reconcile')) indexed += 1;
          } catch (err) {
            this.log.error({ err }, `Could not index '${f.relpath}'`);
          }
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      return { indexed, removed, unchanged: found.length - todo.length };
    } finally {
      this.flushBatch();
      this.batch = null;
      this.indexing = false;
    }
  }

  // ---- management ----------------------------------------------------------------

  /** Deletes one file of a project, recording who did it (`by`). */
  async removeFile(project: string, filename: string, by: Actor): Promise<string[]> {
    const file = this.catalog.file(filename);
    if (!file || file.project !== normalizeName(project)) {
      throw new NotOnIndexError(`There is no file '${filename}' in project '${project}'.`);
    }
    return this.withLock(filename, async () => {
      // The folder watcher may see the file go before the catalog row does: it leaves the
      // row to this deletion, which records who made it.
      this.deleting.add(file.relpath);
      let removed;
      try {
        await this.storage.remove(file.relpath);
        removed = this.catalog.removeFile(filename, by);
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
    const files = this.catalog.filesOf(name).filter((f) => f.releaseKey === key);
    if (files.length === 0) throw new NotOnIndexError(`Project '${project}' has no release '${version}'.`);
    const deleted: string[] = [];
    for (const f of files) deleted.push(...(await this.removeFile(name, f.filename, by)));
    return deleted;
  }

  /** Yanks (or unyanks) every file of a release (PEP 592), recording who did it (`by`). */
  setYanked(project: string, version: string, yanked: boolean, reason: string | null, by: Actor): { project: string; version: string } {
    const name = normalizeName(project);
    const key = releaseKey(version);
    const file = this.catalog.filesOf(name).find((f) => f.releaseKey === key);
    if (!file) throw new NotOnIndexError(`Project '${project}' has no release '${version}'.`);
    this.catalog.setYanked(name, key, yanked, reason, {
      action: yanked ? 'yank' : 'unyank',
      project: name,
      version: file.version,
      filename: null,
      user: by.user,
      address: by.address,
      reason: yanked ? reason : null,
    });
    this.changed(name);
    const who = { user: by.user, address: by.address };
    this.events.publish(
      yanked ? { type: 'yank', project: name, version: file.version, reason, ...who } : { type: 'unyank', project: name, version: file.version, ...who },
    );
    return { project: name, version: file.version };
  }
}
