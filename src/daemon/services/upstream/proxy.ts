/**
 * The upstream proxy: projects that are not on this index, served from an upstream simple
 * index through pyrepo, cached so that they keep installing when upstream is unreachable.
 *
 * - Names first: name-policy.ts decides, for every request, whether a name may be looked up
 *   upstream at all; a name on the index (or that was, or matching a private pattern) never is.
 * - Pages: PEP 691 JSON asked for first, HTML read too; kept in memory and in the store. A
 *   cached page is always answered at once: past its time to live it is revalidated (ETag)
 *   in the background, so a slow upstream never slows a request that has a page. A request
 *   with no page waits for one fetch, shared by every request for that project meanwhile.
 *   When upstream fails, the cached page is served with a warning; a 404 is remembered
 *   briefly.
 * - Files: fetched on their first download, checked against the page's sha256, stored, then
 *   served from disk (file-cache.ts). Core metadata (PEP 658) is fetched and kept the same way.
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { CacheRemoval, UpstreamStatus } from '../../../shared/api.js';
import { parseDistFilename } from '../../../shared/distfiles.js';
import { ownString } from '../../../shared/own-string.js';
import type { UpstreamConfig } from '../../../shared/upstream-config.js';
import type { ImmediateReads } from '../../stores/catalog-store.js';
import type { DownloadClient } from '../installer.js';
import { OpenFiles, READ_AT_ONCE_BYTES, REVALIDATE_MS } from '../open-files.js';
import { makePage, type Page } from '../page-cache.js';
import { SIMPLE_JSON, type SimpleFormat } from '../negotiate.js';
import { FileCache, UpstreamHashMismatch } from './file-cache.js';
import { UpstreamError, UpstreamHttp, readLimited } from './http.js';
import { decideUpstream, type UpstreamDecision } from './name-policy.js';
import { parseProjectHtml, parseProjectJson, UpstreamPageError, type UpstreamFile, type UpstreamProject } from './parse.js';
import { renderUpstreamPage, visibleFiles } from './render.js';
import { UpstreamStore, type CachedFile } from './store.js';

/** What upstream is asked for: JSON first, as pip and uv ask (PEP 691). */
const ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01';
/** Largest project page taken from upstream (PyPI's largest are a few megabytes). */
const MAX_PAGE_BYTES = 32 * 1024 * 1024;
/** Largest core-metadata file taken from upstream. */
const MAX_METADATA_BYTES = 8 * 1024 * 1024;
/** How long upstream's "no such project" is believed. */
const NOT_FOUND_TTL_MS = 60_000;
/** How long after a failed refresh the next one waits (at most; never longer than the time to live). */
const RETRY_AFTER_FAILURE_MS = 30_000;
/** How often last uses and download counts are written, and the age limit applied. */
const FLUSH_MS = 5000;
const PRUNE_MS = 3_600_000;

/** A name that is not served from upstream, and why: local only, refused, not upstream either, or upstream unusable. */
export type NotServed =
  | { kind: 'local'; reason: string }
  | { kind: 'refused'; reason: string }
  | { kind: 'missing'; reason: string }
  | { kind: 'unavailable'; reason: string }
  | { kind: 'mismatch'; reason: string };

export type PageAnswer = { kind: 'page'; page: Page; warning?: string } | NotServed;
export type FileAnswer = { kind: 'file'; file: CachedFile; path: string } | NotServed;
export type MetadataAnswer = { kind: 'metadata'; bytes: Buffer; sha256: string } | NotServed;

interface Entry {
  project: UpstreamProject;
  fetchedAt: number;
  etag: string | null;
  /** The last refresh's failure, while the page is served stale. */
  failure?: { reason: string; at: number };
  byFilename: Map<string, UpstreamFile>;
  rendered: Map<SimpleFormat, Page>;
  /** When the cooldown lets the next hidden file through: the renderings are made again then. */
  renderedUntil: number;
}

export interface UpstreamProxyOptions {
  config: UpstreamConfig;
  /** `<data>/upstream`: the store and the files. */
  dir: string;
  /** The names on this index, read at once (a name is decided before a request waits for anything). */
  catalog: ImmediateReads;
  log: FastifyBaseLogger;
  /**
   * While the first scan of the packages folder runs, the catalog may not know every local
   * name yet: this gives the promise of its end then, and upstream is asked only after it.
   */
  indexing?: () => Promise<void> | undefined;
  /** The clock (tests move it). */
  now?: () => number;
  timeoutMs?: number;
}

/** Cached upstream files kept open between downloads: taken from the descriptors the packages folder's budget leaves free (openFileBudget). */
const CACHED_FILES_KEPT_OPEN = 1024;

export class UpstreamProxy {
  readonly config: UpstreamConfig;
  private readonly http: UpstreamHttp;
  private readonly catalog: ImmediateReads;
  private readonly log: FastifyBaseLogger;
  private readonly now: () => number;
  private store!: UpstreamStore;
  private files!: FileCache;
  private readonly entries = new Map<string, Entry>();
  private readonly notFound = new Map<string, number>();
  private readonly pageFetches = new Map<string, Promise<Entry | undefined>>();
  private readonly fileFetches = new Map<string, Promise<CachedFile>>();
  private readonly metadataFetches = new Map<string, Promise<Buffer>>();
  /** Decisions per name, valid while the catalog's serial is. */
  private readonly decisions = new Map<string, UpstreamDecision>();
  private decisionsSerial = -1;
  private readonly counters = { hits: 0, misses: 0, failures: 0 };
  private keptOpen: OpenFiles | undefined;
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly opts: UpstreamProxyOptions) {
    this.config = opts.config;
    this.catalog = opts.catalog;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.http = new UpstreamHttp(opts.config.hosts, opts.timeoutMs);
  }

  /** Where cached files are kept. */
  get filesDir(): string {
    return this.files.dir;
  }

  /** Cached files kept open between downloads, by filename, as the packages folder's are (open-files.ts). */
  get openFiles(): OpenFiles {
    this.keptOpen ??= new OpenFiles(CACHED_FILES_KEPT_OPEN, READ_AT_ONCE_BYTES, REVALIDATE_MS, (filename) => this.files.pathOf(filename));
    return this.keptOpen;
  }

  async open(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    this.store = new UpstreamStore(join(this.opts.dir, 'cache.sqlite'));
    this.files = new FileCache(this.store, join(this.opts.dir, 'files'), {
      maxBytes: this.config.cacheMaxBytes,
      maxAgeMs: this.config.cacheMaxAgeMs,
      log: this.log,
      onRemove: (filename) => this.keptOpen?.forget(filename),
    });
    await this.files.prepare();
    await this.files.prune(this.now());
    const flush = setInterval(() => this.flush(), FLUSH_MS);
    const prune = setInterval(() => void this.files.prune(this.now()).catch((err: unknown) => this.log.error({ err }, 'Could not prune the upstream cache')), PRUNE_MS);
    flush.unref();
    prune.unref();
    this.timers = [flush, prune];
  }

  private flush(): void {
    try {
      this.files.flush();
    } catch (err) {
      this.log.error({ err }, 'Could not write the upstream cache records');
    }
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.flush();
    this.keptOpen?.clear();
    this.store.close();
    await this.http.close();
  }

  // ---- names ---------------------------------------------------------------------

  /** Whether `project` (normalized) may come from upstream; see name-policy.ts. */
  decide(project: string): UpstreamDecision {
    if (this.catalog.serial !== this.decisionsSerial) {
      this.decisions.clear();
      this.decisionsSerial = this.catalog.serial;
    }
    let decision = this.decisions.get(project);
    if (!decision) {
      decision = decideUpstream(project, this.config, {
        isLocal: (n) => this.catalog.hasProjectNow(n),
        wasLocal: (n) => this.catalog.hadProjectNow(n),
      });
      if (this.decisions.size >= 10_000) this.decisions.clear();
      this.decisions.set(ownString(project), decision);
    }
    return decision;
  }

  // ---- pages ---------------------------------------------------------------------

  /** The page of the upstream project `project` (normalized) in `format`, or why there is none. */
  /**
   * The page of the upstream project `project` (normalized) in `format`, or why there is none.
   * Answered without waiting (no promise) when the page is cached: a cached upstream page
   * costs what a local one does.
   */
  projectPage(project: string, format: SimpleFormat): PageAnswer | Promise<PageAnswer> {
    const decision = this.decide(project);
    if (decision.kind !== 'upstream') return decision;
    const indexing = this.opts.indexing?.();
    if (indexing) return indexing.then(() => this.projectPage(project, format));
    const cached = this.cachedEntry(project);
    if (cached !== undefined) return this.pageAnswer(cached, format);
    return this.fetchEntry(project).then((found) => this.pageAnswer(found, format));
  }

  /**
   * The cached page of `project` in `format` when it can be answered at once and as it is (a
   * page in memory, nothing to warn of): counted, and refreshed when due, as projectPage does.
   * Undefined, with nothing counted or started, otherwise: projectPage answers then.
   */
  cachedPageNow(project: string, format: SimpleFormat): Page | undefined {
    if (this.decide(project).kind !== 'upstream' || this.opts.indexing?.()) return undefined;
    const entry = this.entries.get(project);
    if (!entry || entry.failure) return undefined;
    const found = this.cachedEntry(project);
    return found && 'project' in found && !found.failure ? this.render(found, format) : undefined;
  }

  private pageAnswer(found: Entry | NotServed, format: SimpleFormat): PageAnswer {
    if (!('project' in found)) return found;
    const page = this.render(found, format);
    return found.failure ? { kind: 'page', page, warning: `upstream failed (${found.failure.reason}); this page was fetched ${new Date(found.fetchedAt).toISOString()}` } : { kind: 'page', page };
  }

  private render(entry: Entry, format: SimpleFormat): Page {
    const now = this.now();
    if (now >= entry.renderedUntil) entry.rendered.clear();
    let page = entry.rendered.get(format);
    if (!page) {
      const visible = visibleFiles(entry.project, this.config.minAgeMs, now);
      page = makePage(renderUpstreamPage(entry.project, visible.files, format));
      if (entry.rendered.size === 0) entry.renderedUntil = visible.changesAt;
      entry.rendered.set(format, page);
    }
    return page;
  }

  /** The cached page (refreshed in the background when due), or one fetched now. */
  private async entryFor(project: string): Promise<Entry | NotServed> {
    return this.cachedEntry(project) ?? this.fetchEntry(project);
  }

  /** The cached page (its refresh started in the background when due), a remembered 404, or undefined: fetch it. */
  private cachedEntry(project: string): Entry | NotServed | undefined {
    const now = this.now();
    let entry = this.entries.get(project);
    if (!entry) {
      const stored = this.store.page(project);
      if (stored) entry = this.remember(stored.project, stored.fetchedAt, stored.etag);
    }
    if (entry) {
      this.counters.hits += 1;
      const due = now - entry.fetchedAt >= this.config.ttlMs;
      const resting = entry.failure !== undefined && now - entry.failure.at < Math.min(this.config.ttlMs, RETRY_AFTER_FAILURE_MS);
      if (due && !resting) this.refresh(project).catch(() => undefined);
      return entry;
    }
    const missingUntil = this.notFound.get(project);
    if (missingUntil !== undefined && missingUntil > now) return this.missing(project);
    return undefined;
  }

  /** Fetches a page nobody has cached; every request for it meanwhile waits for this one fetch. */
  private async fetchEntry(project: string): Promise<Entry | NotServed> {
    this.counters.misses += 1;
    try {
      return (await this.refresh(project)) ?? this.missing(project);
    } catch (err) {
      return { kind: 'unavailable', reason: `The project '${project}' is not on this index, and its upstream (${this.config.url}) could not be asked: ${(err as Error).message}.` };
    }
  }

  private missing(project: string): NotServed {
    return { kind: 'missing', reason: `No project named '${project}' on this index or its upstream.` };
  }

  private remember(project: UpstreamProject, fetchedAt: number, etag: string | null): Entry {
    const entry: Entry = { project, fetchedAt, etag, byFilename: new Map(project.files.map((f) => [f.filename, f])), rendered: new Map(), renderedUntil: 0 };
    this.entries.set(project.name, entry);
    return entry;
  }

  /** One fetch per project at a time: every request for it meanwhile shares this one. */
  private refresh(project: string): Promise<Entry | undefined> {
    let fetching = this.pageFetches.get(project);
    if (!fetching) {
      fetching = this.fetchPage(project).finally(() => this.pageFetches.delete(project));
      this.pageFetches.set(project, fetching);
    }
    return fetching;
  }

  private async fetchPage(project: string): Promise<Entry | undefined> {
    const previous = this.entries.get(project);
    const url = `${this.config.url}${encodeURIComponent(project)}/`;
    try {
      const res = await this.http.get(url, { accept: ACCEPT, ...(previous?.etag ? { 'if-none-match': previous.etag } : {}) });
      const now = this.now();
      if (res.status === 304 && previous) {
        res.discard();
        previous.fetchedAt = now;
        delete previous.failure;
        this.store.touchPage(project, now);
        return previous;
      }
      if (res.status === 404 || res.status === 410) {
        res.discard();
        this.notFound.set(ownString(project), now + Math.min(NOT_FOUND_TTL_MS, Math.max(this.config.ttlMs, 1000)));
        this.entries.delete(project);
        this.store.deletePage(project);
        return undefined;
      }
      if (res.status !== 200) {
        res.discard();
        throw new UpstreamError(`it answered ${res.status} for ${url}`);
      }
      const type = (res.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      const body = (await readLimited(res.body, MAX_PAGE_BYTES, `the page of '${project}'`)).toString('utf8');
      let parsed;
      if (type === SIMPLE_JSON || type === 'application/json') parsed = parseProjectJson(body, project, res.url);
      else if (type === 'text/html' || type === 'application/vnd.pypi.simple.v1+html') parsed = parseProjectHtml(body, project, res.url);
      else throw new UpstreamError(`it answered with '${type || 'no content type'}', which is not a simple index page`);
      const files = parsed.project.files.filter((f) => {
        if (this.http.allows(f.url)) return true;
        parsed.dropped.push(`${f.filename}: on ${new URL(f.url).host}, not one of the upstream's hosts`);
        return false;
      });
      if (parsed.dropped.length > 0) this.log.warn(`Upstream page of '${project}': ${parsed.dropped.length} link(s) left out: ${parsed.dropped.slice(0, 5).join('; ')}`);
      const kept = { ...parsed.project, files };
      this.notFound.delete(project);
      this.store.putPage({ project: kept, fetchedAt: now, etag: res.header('etag') ?? null });
      return this.remember(kept, now, res.header('etag') ?? null);
    } catch (err) {
      const reason = err instanceof UpstreamError || err instanceof UpstreamPageError ? err.message : String(err);
      this.counters.failures += 1;
      if (previous) previous.failure = { reason, at: this.now() };
      this.log.warn(`Upstream page of '${project}' could not be fetched: ${reason}`);
      throw new UpstreamError(reason);
    }
  }

  // ---- files ---------------------------------------------------------------------

  /**
   * The cached file `filename` when it can be sent at once (upstream's name, in the cache, the
   * first scan of the packages folder done); nothing is counted: {@link sentFromCache} counts
   * it once sent. Undefined otherwise: {@link file} answers then.
   */
  cachedFileNow(filename: string): CachedFile | undefined {
    if (this.opts.indexing?.()) return undefined;
    const cached = this.files.get(filename);
    return cached && this.decide(cached.project).kind === 'upstream' ? cached : undefined;
  }

  /** Counts a cached file sent without {@link file}: a hit, and a download by `client`. */
  sentFromCache(file: CachedFile, client: DownloadClient): void {
    this.counters.hits += 1;
    this.recordDownload(file, client);
  }

  /** The upstream file `filename` from the cache, fetched first when it is not there yet; or why not. */
  async file(filename: string): Promise<FileAnswer> {
    await this.opts.indexing?.();
    let project: string;
    try {
      project = parseDistFilename(filename).project;
    } catch {
      return { kind: 'missing', reason: `No file named '${filename}' on this index.` };
    }
    const decision = this.decide(project);
    if (decision.kind !== 'upstream') return decision.kind === 'local' ? { kind: 'local', reason: `No file named '${filename}' on this index.` } : decision;
    const cached = this.files.get(filename);
    if (cached) {
      this.counters.hits += 1;
      return { kind: 'file', file: cached, path: this.files.pathOf(filename) };
    }
    const found = await this.fileOnPage(project, filename);
    if (!('filename' in found)) return found;
    this.counters.misses += 1;
    let fetching = this.fileFetches.get(filename);
    if (!fetching) {
      fetching = this.files.fetch(this.http, found.url, { filename, project, sha256: found.sha256, size: found.size }).finally(() => this.fileFetches.delete(filename));
      this.fileFetches.set(filename, fetching);
    }
    try {
      const file = await fetching;
      return { kind: 'file', file, path: this.files.pathOf(filename) };
    } catch (err) {
      this.counters.failures += 1;
      this.log.warn(`Upstream file ${filename}: ${(err as Error).message}`);
      if (err instanceof UpstreamHashMismatch) return { kind: 'mismatch', reason: (err as Error).message };
      return { kind: 'unavailable', reason: `${filename} could not be fetched from upstream: ${(err as Error).message}.` };
    }
  }

  /** The file as upstream's page lists it, if the cooldown shows it. */
  private async fileOnPage(project: string, filename: string): Promise<UpstreamFile | NotServed> {
    const entry = await this.entryFor(project);
    if (!('project' in entry)) return entry;
    const file = entry.byFilename.get(filename);
    if (!file) return { kind: 'missing', reason: `No file named '${filename}' on this index or its upstream.` };
    if (!visibleFiles({ ...entry.project, files: [file] }, this.config.minAgeMs, this.now()).files.length) {
      return { kind: 'missing', reason: `${filename} is held back by the cooldown: it is younger than upstream-min-age (or upstream gave no upload time).` };
    }
    return file;
  }

  /** A cached file whose bytes left the folder: forgotten, so that the next request fetches it again. */
  async forgetFile(filename: string): Promise<void> {
    await this.files.purgeFile(filename);
  }

  /** PEP 658 core metadata of the upstream file `filename`: kept once fetched, checked against the page's hash. */
  async metadata(filename: string): Promise<MetadataAnswer> {
    await this.opts.indexing?.();
    let project: string;
    try {
      project = parseDistFilename(filename).project;
    } catch {
      return { kind: 'missing', reason: `No file named '${filename}.metadata' on this index.` };
    }
    const decision = this.decide(project);
    if (decision.kind !== 'upstream') return decision.kind === 'local' ? { kind: 'local', reason: `No file named '${filename}.metadata' on this index.` } : decision;
    const kept = this.store.metadata(filename);
    if (kept) {
      this.counters.hits += 1;
      return { kind: 'metadata', ...kept };
    }
    const found = await this.fileOnPage(project, filename);
    if (!('filename' in found)) return found;
    if (found.coreMetadata === false) return { kind: 'missing', reason: `Upstream has no core metadata file for ${filename}.` };
    this.counters.misses += 1;
    let fetching = this.metadataFetches.get(filename);
    if (!fetching) {
      fetching = this.fetchMetadata(project, found).finally(() => this.metadataFetches.delete(filename));
      this.metadataFetches.set(filename, fetching);
    }
    try {
      const bytes = await fetching;
      return { kind: 'metadata', bytes, sha256: this.store.metadata(filename)?.sha256 ?? '' };
    } catch (err) {
      this.counters.failures += 1;
      if (err instanceof UpstreamHashMismatch) return { kind: 'mismatch', reason: (err as Error).message };
      return { kind: 'unavailable', reason: `${filename}.metadata could not be fetched from upstream: ${(err as Error).message}.` };
    }
  }

  private async fetchMetadata(project: string, file: UpstreamFile): Promise<Buffer> {
    const res = await this.http.get(`${file.url}.metadata`);
    if (res.status !== 200) {
      res.discard();
      throw new UpstreamError(`it answered ${res.status}`);
    }
    const bytes = await readLimited(res.body, MAX_METADATA_BYTES, `the core metadata of ${file.filename}`);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (typeof file.coreMetadata === 'string' && sha256 !== file.coreMetadata) {
      throw new UpstreamHashMismatch(`the core metadata of ${file.filename} from upstream has sha256 ${sha256}, where its page says ${file.coreMetadata}. It was not kept.`);
    }
    this.store.putMetadata(file.filename, project, sha256, bytes);
    return bytes;
  }

  /** Counts a download of a cached file (by installer and CI), as the index counts its own. */
  recordDownload(file: CachedFile, client: DownloadClient): void {
    this.files.recordDownload(file, client.installer, client.ci, this.now());
  }

  // ---- the cache -----------------------------------------------------------------

  status(): UpstreamStatus {
    const { files, bytes } = this.files.stats();
    const { hits, misses, failures } = this.counters;
    return {
      url: this.config.url,
      files,
      bytes,
      capBytes: this.config.cacheMaxBytes,
      maxAgeSeconds: Math.round(this.config.cacheMaxAgeMs / 1000),
      projects: this.store.pageCount(),
      hits,
      misses,
      hitRate: hits + misses === 0 ? null : hits / (hits + misses),
      failures,
      downloads: this.files.downloadsByInstaller(),
    };
  }

  /** Applies the age limit and the size cap now. */
  prune(): Promise<CacheRemoval> {
    return this.files.prune(this.now());
  }

  /** Forgets everything cached from upstream (of one project, when given): pages, files, core metadata. */
  async purge(project?: string): Promise<CacheRemoval> {
    const removed = await this.files.purge(project);
    const names = project === undefined ? [...new Set([...this.entries.keys(), ...this.store.pageNames()])] : [project];
    for (const name of names) {
      this.entries.delete(name);
      this.notFound.delete(name);
      this.store.forgetProject(name);
    }
    return removed;
  }
}
