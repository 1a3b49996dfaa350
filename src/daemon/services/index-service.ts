/**
 * The index: the one place that changes the catalog and the packages folder together,
 * keeps rendered pages in step, and publishes events. Routes, the folder watcher and
 * watched build folders call it; files enter through its publisher (publisher.ts). It
 * never touches HTTP.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { ProjectDetail, ProjectList, ProjectSummary } from '../../shared/api.js';
import { decodeMetadata, parseCoreMetadata } from '../../shared/metadata.js';
import { normalizeName } from '../../shared/names.js';
import { compareVersions, isPrerelease, releaseKey } from '../../shared/versions.js';
import { stampOf, type Actor, type Catalog, type FileRecord } from './catalog.js';
import { DownloadBatch } from './download-batch.js';
import type { EventBus } from './events.js';
import type { DownloadClient } from './installer.js';
import { Publisher } from './publisher.js';
import { ALL_PROJECTS, PageCache, type Page } from './page-cache.js';
import {
  renderProjectHtml,
  renderProjectJson,
  renderPypiJson,
  renderRootHtml,
  renderRootJson,
  type ProjectView,
} from './pages.js';
import type { FoundFile, PackageStorage } from './storage.js';
import type { PageFile } from './page-file.js';
import { SIMPLE_JSON, type SimpleFormat } from './negotiate.js';
import type { Role } from '../stores/catalog-store.js';
import type { IndexPrimary } from './shared-index.js';

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
  /** The shared catalog (shared mode): changes are made there first, then to this daemon's copy. */
  primary?: IndexPrimary;
  /** Where rendered pages are kept (default: in memory). */
  pageFile?: PageFile;
}

export class IndexService {
  readonly catalog: Catalog;
  readonly storage: PackageStorage;
  private readonly events: EventBus;
  private readonly log: FastifyBaseLogger;
  private readonly pages: PageCache;
  /** Serializes changes per filename so concurrent uploads of one file cannot interleave. */
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Latest version per project, computed on demand (PEP 440 ordering is not SQL's). */
  private readonly latest = new Map<string, string | null>();
  /** The one way files enter the index: uploads, watched build folders, the packages folder. */
  readonly publisher: Publisher;
  /** True while the first reconcile with the folder runs. */
  indexing = false;
  /** Relpaths being deleted through the API right now (the watcher leaves them alone). */
  private readonly deleting = new Set<string>();
  /** Downloads counted since the last `downloads` event. */
  private readonly downloadBatch: DownloadBatch;
  /** The shared catalog in the shared mode; undefined for a daemon on its own. */
  readonly primary: IndexPrimary | undefined;

  constructor(opts: IndexServiceOptions) {
    this.catalog = opts.catalog;
    this.storage = opts.storage;
    this.events = opts.events;
    this.log = opts.log;
    this.primary = opts.primary;
    this.pages = new PageCache(opts.pageFile);
    this.publisher = new Publisher({
      catalog: this.catalog,
      storage: this.storage,
      events: this.events,
      log: this.log,
      overwrite: opts.overwrite,
      lock: (filename, fn) => this.withLock(filename, fn),
      changed: (project) => this.changed(project),
      primary: opts.primary,
    });
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

  /** A project's pages must be rendered again. */
  changed(project: string): void {
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
  recordDownload(file: Pick<FileRecord, 'filename' | 'project'>, client: DownloadClient): void {
    this.catalog.countDownload(file, client.installer, client.ci);
    this.primary?.countDownload(file, client.installer, client.ci);
    this.downloadBatch.add(file, client);
  }

  /** Publishes the downloads gathered for the next event now (before a page that shows counts is served, at shutdown). */
  flushDownloadEvents(): void {
    this.downloadBatch.flush();
  }

  // ---- the folder ----------------------------------------------------------------

  /**
   * Indexes one file found in the packages folder (at start or by the watcher), through
   * the publisher. Files that are not valid distributions are logged once and left alone.
   */
  indexFolderFile(relpath: string, source: 'folder' | 'reconcile'): Promise<boolean> {
    return this.publisher.adopt(relpath, source);
  }

  /** A file, or a whole subfolder, disappeared from the folder: forget what it held. */
  forgetFolderPath(relpath: string): void {
    if (this.deleting.has(relpath)) return;
    const known = this.catalog.fileByPath(relpath);
    const gone = known ? [known.filename] : this.catalog.filesUnder(relpath);
    this.publisher.forget(relpath);
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
  async reconcile(concurrency = 8, beforeReading?: (dir: string) => void): Promise<{ indexed: number; removed: number; unchanged: number; leftovers: number }> {
    this.indexing = true;
    this.publisher.beginBatch();
    try {
      // What is left in `known` after the scan is gone from the folder.
      const known = await this.catalog.fileStamps();
      const { files: found, leftovers } = await this.storage.scan(beforeReading ? { beforeReading } : {});
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
      return { indexed, removed, unchanged: found.length - todo.length, leftovers: leftovers.length };
    } finally {
      this.publisher.endBatch();
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
        await this.primary?.removeFile(filename, by);
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
  async setYanked(project: string, version: string, yanked: boolean, reason: string | null, by: Actor): Promise<{ project: string; version: string }> {
    const name = normalizeName(project);
    const key = releaseKey(version);
    const file = this.catalog.filesOf(name).find((f) => f.releaseKey === key);
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
    this.catalog.setYanked(name, key, yanked, reason, activity);
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
    this.catalog.addOwner(project, user, role);
  }

  /** Takes `user` off a project's owners and maintainers; false when they were not one. */
  async removeOwner(project: string, user: string): Promise<boolean> {
    const shared = await this.primary?.removeOwner(project, user);
    return this.catalog.removeOwner(project, user) || shared === true;
  }
}
