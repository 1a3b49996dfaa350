/**
 * The index as routes read it: rendered pages (kept until the catalog changes the project
 * they show), project details, files to serve, owners and the journal, and the counting of
 * downloads. The publisher (publisher.ts) makes every change and tells the reader which
 * project's pages went stale. Nothing here writes to the catalog except download counts.
 *
 * The catalog is read through the asynchronous CatalogStore and files are served from the
 * blob store on this machine (in the shared mode, this daemon's copy). The hot paths answer
 * without waiting from what can be had at once: a rendered page, and a file the embedded
 * catalog names ({@link IndexReader.servedFileNow}); everything else waits in a route.
 */
import type { ProjectDetail, ProjectList, ProjectSummary } from '../../shared/api.js';
import { decodeMetadata, parseCoreMetadata } from '../../shared/metadata.js';
import { compareVersions, isPrerelease, releaseKey } from '../../shared/versions.js';
import type { ActivityRecord, FileRecord, ProjectRecord, ReleaseVersion, ServedFile } from './catalog.js';
import { DownloadBatch } from './download-batch.js';
import type { EventBus } from './events.js';
import type { DownloadClient } from './installer.js';
import { ALL_PROJECTS, PageCache, type Page } from './page-cache.js';
import {
  renderProjectHtml,
  renderProjectJson,
  renderPypiJson,
  renderRootHtml,
  renderRootJson,
  type ProjectView,
} from './pages.js';
import type { PageFile } from './page-file.js';
import { SIMPLE_JSON, type SimpleFormat } from './negotiate.js';
import { takeTurns } from './turns.js';
import { readsAtOnce, type CatalogStore, type Role } from '../stores/catalog-store.js';
import type { LocalBlobs } from '../stores/blob-store.js';
import type { IndexPrimary } from './shared-index.js';

export interface IndexReaderOptions {
  /** The catalog this daemon serves from (in the shared mode, its copy of the shared one). */
  catalog: CatalogStore;
  /** Where the files' bytes are, on this machine. */
  blobs: LocalBlobs;
  /** Writes a consistent copy of the catalog to a file (a backup). */
  snapshot: (path: string) => Promise<void>;
  events: EventBus;
  /** How long downloads are gathered into one event (DOWNLOAD_BATCH_MS). */
  downloadBatchMs?: number;
  /** The shared catalog (shared mode): downloads are counted there too. */
  primary?: IndexPrimary | undefined;
  /** Where rendered pages are kept (default: in memory). */
  pageFile?: PageFile;
}

/** From this many projects without a known latest version on, they are read from their releases, not their views. */
const LATEST_AT_ONCE_MIN = 32;
/** Projects whose releases are read in one query. */
const LATEST_READ_TOGETHER = 256;

/**
 * Negative when release A is preferred to release B by PyPI's "latest" rule: not yanked, then
 * final releases, then the newer by PEP 440.
 */
function preference(versionA: string, yankedA: boolean, versionB: string, yankedB: boolean): number {
  if (yankedA !== yankedB) return yankedA ? 1 : -1;
  const preA = isPrerelease(versionA);
  if (preA !== isPrerelease(versionB)) return preA ? 1 : -1;
  return compareVersions(versionB, versionA);
}

/** Release keys (with their versions) most preferred first ({@link preference}). */
function latestFirst(versions: Map<string, string>, yanked: (key: string) => boolean): string[] {
  return [...versions.keys()].sort((a, b) => preference(versions.get(a) as string, yanked(a), versions.get(b) as string, yanked(b)));
}

export class IndexReader {
  private readonly catalog: CatalogStore;
  /** The files' bytes: routes send downloads from this store (send-file.ts). */
  readonly blobs: LocalBlobs;
  private readonly snapshotTo: (path: string) => Promise<void>;
  private readonly events: EventBus;
  private readonly primary: IndexPrimary | undefined;
  private readonly pages: PageCache;
  /** Latest version per project, computed on demand (PEP 440 ordering is not SQL's). */
  private readonly latest = new Map<string, string | null>();
  /** Bumped by every change: a latest version computed while one happened is not kept. */
  private changes = 0;
  /** Downloads counted since the last `downloads` event. */
  private readonly downloadBatch: DownloadBatch;
  /** True while the first reconcile with the packages folder runs (set by the index). */
  indexing = false;

  constructor(opts: IndexReaderOptions) {
    this.catalog = opts.catalog;
    this.blobs = opts.blobs;
    this.snapshotTo = opts.snapshot;
    this.events = opts.events;
    this.primary = opts.primary;
    this.pages = new PageCache(opts.pageFile);
    this.downloadBatch = new DownloadBatch((downloads) => this.events.publishDownloads(downloads), opts.downloadBatchMs);
  }

  /** A project's pages must be rendered again (the publisher changed it). */
  changed(project: string): void {
    this.changes += 1;
    this.pages.invalidate(project);
    this.latest.delete(project);
  }

  // ---- the catalog as it is ----------------------------------------------------------

  /** The serial of the catalog's last change: pages derived from the catalog are kept by it. */
  get serial(): number {
    return this.catalog.serial;
  }

  counts(): Promise<{ projects: number; files: number }> {
    return this.catalog.counts();
  }

  project(name: string): Promise<ProjectRecord | undefined> {
    return this.catalog.project(name);
  }

  projects(): Promise<ProjectRecord[]> {
    return this.catalog.projects();
  }

  file(filename: string): Promise<FileRecord | undefined> {
    return this.catalog.file(filename);
  }

  filesOf(project: string): Promise<FileRecord[]> {
    return this.catalog.filesOf(project);
  }

  /** What serving a file needs (its name, project, relpath, size, sha256), by filename. */
  servedFile(filename: string): Promise<ServedFile | undefined> {
    return this.catalog.servedFile(filename);
  }

  /** As {@link servedFile}, at once, when the catalog can answer so (the embedded one); else undefined. */
  servedFileNow(filename: string): ServedFile | undefined {
    return readsAtOnce(this.catalog) ? this.catalog.servedFileNow(filename) : undefined;
  }

  metadataBytes(filename: string): Promise<Buffer | undefined> {
    return this.catalog.metadataBytes(filename);
  }

  activity(opts: { project?: string; limit: number }): Promise<ActivityRecord[]> {
    return this.catalog.activity(opts);
  }

  owners(project: string): Promise<{ user: string; role: Role }[]> {
    return this.catalog.owners(project);
  }

  ownershipsOf(user: string): Promise<{ project: string; role: Role }[]> {
    return this.catalog.ownershipsOf(user);
  }

  /** A consistent copy of the catalog at `path` (a backup). */
  snapshot(path: string): Promise<void> {
    return this.snapshotTo(path);
  }

  // ---- pages and details ---------------------------------------------------------------

  /** The project's view for renderers, or undefined when it has no files. */
  async view(project: string): Promise<ProjectView | undefined> {
    const serial = this.catalog.serial;
    const [record, files, states] = await Promise.all([this.catalog.project(project), this.catalog.filesOf(project), this.catalog.releaseStates(project)]);
    if (!record || files.length === 0) return undefined;
    files.sort((a, b) => compareVersions(a.version, b.version) || (a.filename < b.filename ? -1 : 1));
    return { project: record, files, states, serial };
  }

  /** A rendered page of the simple API (the list of every project without `project`), if it is kept: the hot paths answer only those. */
  simplePageNow(project: string | undefined, format: SimpleFormat): Page | undefined {
    return this.pages.peek(project ?? ALL_PROJECTS, format);
  }

  async simpleRoot(format: SimpleFormat): Promise<Page> {
    return (await this.pages.get(ALL_PROJECTS, format, async () => {
      const projects = await this.catalog.projects();
      return format === SIMPLE_JSON ? renderRootJson(projects, this.catalog.serial) : renderRootHtml(projects);
    })) as Page;
  }

  simpleProject(project: string, format: SimpleFormat): Promise<Page | undefined> {
    return this.pages.get(project, format, async () => {
      const view = await this.view(project);
      if (!view) return undefined;
      return format === SIMPLE_JSON ? renderProjectJson(view) : renderProjectHtml(view);
    });
  }

  /** Release keys newest first, ordered like PyPI's "latest" ({@link latestFirst}). */
  private latestOrder(view: ProjectView): string[] {
    const versions = new Map<string, string>();
    for (const f of view.files) versions.set(f.releaseKey, f.version);
    return latestFirst(versions, (key) => view.states.get(key)?.yanked === true);
  }

  /** Newest version first by PEP 440 alone. */
  private newestFirst(view: ProjectView): string[] {
    const keys = new Map<string, string>();
    for (const f of view.files) keys.set(f.releaseKey, f.version);
    return [...keys.keys()].sort((a, b) => compareVersions(keys.get(b) as string, keys.get(a) as string));
  }

  /** A project's release keys, most preferred first by PyPI's "latest" rule; empty when it has no files. */
  async releasesByPreference(project: string): Promise<string[]> {
    const view = await this.view(project);
    return view ? this.latestOrder(view) : [];
  }

  /** The latest release's version (PyPI's rule), or null. */
  async latestVersion(project: string): Promise<string | null> {
    const cached = this.latest.get(project);
    if (cached !== undefined) return cached;
    const changes = this.changes;
    const view = await this.view(project);
    const key = view && this.latestOrder(view)[0];
    const version = view?.files.find((f) => f.releaseKey === key)?.version ?? null;
    if (changes === this.changes) this.latest.set(project, version);
    return version;
  }

  /** `/pypi/<project>/json` or `/pypi/<project>/<version>/json`; undefined when not found. */
  pypiJson(project: string, version: string | undefined, baseUrl: string): Promise<Page | undefined> {
    const key = version === undefined ? undefined : releaseKey(version);
    return this.pages.get(project, `pypi|${baseUrl}|${key ?? ''}`, async () => {
      const view = await this.view(project);
      if (!view) return undefined;
      const order = this.newestFirst(view);
      const chosen = key ?? this.latestOrder(view)[0];
      const files = view.files.filter((f) => f.releaseKey === chosen);
      if (files.length === 0) return undefined;
      const source = files.find((f) => f.packagetype === 'bdist_wheel') ?? (files[0] as FileRecord);
      const bytes = await this.catalog.metadataBytes(source.filename);
      const metadata = parseCoreMetadata(bytes ? decodeMetadata(bytes) : '', source.filename);
      return renderPypiJson({ view, releaseKey: chosen as string, metadata, baseUrl, withReleases: key === undefined, order });
    });
  }

  /** Summaries of every project. */
  async projectSummaries(): Promise<ProjectSummary[]> {
    const summaries = await this.catalog.projectSummaries();
    const latest = await this.latestVersions(summaries.map((p) => p.name));
    return summaries.map((p) => ({ ...p, latestVersion: latest.get(p.name) ?? null }));
  }

  /**
   * The latest version of each of `projects`. Those not known yet are read one by one when
   * they are few (after a change), and from their releases a few hundred projects at a time
   * when they are many (the first list after a start), with a turn for requests between.
   * Reading each project's whole view at once, as before, held every file record of the
   * index in memory together: at 10,000 projects the first `GET /` took a second and grew
   * the daemon by 70 MB.
   */
  async latestVersions(projects: readonly string[]): Promise<Map<string, string | null>> {
    const found = new Map<string, string | null>();
    const missing = new Set<string>();
    for (const project of projects) {
      const known = this.latest.get(project);
      if (known === undefined) missing.add(project);
      else found.set(project, known);
    }
    const names = [...missing];
    if (names.length < LATEST_AT_ONCE_MIN) {
      const versions = await Promise.all(names.map((project) => this.latestVersion(project)));
      names.forEach((project, i) => found.set(project, versions[i] ?? null));
      return found;
    }
    const changes = this.changes;
    const turn = takeTurns();
    for (let at = 0; at < names.length; at += LATEST_READ_TOGETHER) {
      // Each project's most preferred release, found in one pass (the first of equals, as a stable sort would).
      const best = new Map<string, ReleaseVersion>();
      for (const release of await this.catalog.releaseVersionsOf(names.slice(at, at + LATEST_READ_TOGETHER))) {
        const other = best.get(release.project);
        if (!other || preference(release.version, release.yanked, other.version, other.yanked) < 0) best.set(release.project, release);
      }
      for (const [project, release] of best) {
        found.set(project, release.version);
        if (changes === this.changes) this.latest.set(project, release.version);
      }
      await turn();
    }
    // A project without files has no latest version.
    for (const project of missing) {
      if (found.has(project)) continue;
      found.set(project, null);
      if (changes === this.changes) this.latest.set(project, null);
    }
    return found;
  }

  /**
   * Every project with its counts, for the control API, as of the event id it names: the
   * downloads gathered for the next event are published first, so that the answer counts
   * exactly the events up to that id. (The embedded catalog answers every read in the same
   * turn of the event loop, so no download is counted between the counts and the id.)
   */
  async projectList(): Promise<ProjectList> {
    this.downloadBatch.flush();
    const projects = await this.projectSummaries();
    return { projects, lastEventId: String(this.events.lastId) };
  }

  /** One project with releases, files and download counts, for the control API (as of the event id it names, as projectList). */
  async projectDetail(project: string): Promise<ProjectDetail | undefined> {
    const view = await this.view(project);
    if (!view) return undefined;
    this.downloadBatch.flush();
    const [downloads, downloadsByDay, downloadsByInstaller, latestVersion] = await Promise.all([
      this.catalog.downloadsOf(project),
      this.catalog.downloadsByDay(project),
      this.catalog.downloadsByInstaller(project),
      this.latestVersion(project),
    ]);
    const order = this.newestFirst(view);
    const sources = order.map((key) => {
      const files = view.files.filter((f) => f.releaseKey === key);
      return files.find((f) => f.packagetype === 'bdist_wheel') ?? files[0];
    });
    const metadata = await Promise.all(sources.map((f) => (f ? this.catalog.metadataBytes(f.filename) : undefined)));
    const releases = order.map((key, i) => {
      const files = view.files.filter((f) => f.releaseKey === key);
      const state = view.states.get(key) ?? { yanked: false, reason: null };
      const bytes = metadata[i];
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
      latestVersion,
      downloads: releases.reduce((n, r) => n + r.downloads, 0),
      downloadsByDay,
      downloadsByInstaller,
      releases,
      lastEventId: String(this.events.lastId),
    };
  }

  /** Counts a download (by installer and CI) and tells the event stream with the next `downloads` event. */
  recordDownload(file: Pick<FileRecord, 'filename' | 'project'> & Pick<ServedFile, 'id'>, client: DownloadClient): void {
    this.catalog.countDownload(file, client.installer, client.ci);
    this.primary?.countDownload(file, client.installer, client.ci);
    this.downloadBatch.add(file, client);
  }

  /** Publishes the downloads gathered for the next event now (before a page that shows counts is served, at shutdown). */
  flushDownloadEvents(): void {
    this.downloadBatch.flush();
  }
}
