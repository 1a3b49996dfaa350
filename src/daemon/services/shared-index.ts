/**
 * The shared mode: several daemons on one PostgreSQL catalog and one S3-compatible bucket.
 *
 * Each daemon keeps a copy of the index in its own data folder (its SQLite catalog and a
 * folder of the files), the way a devpi replica follows its primary, and serves every read
 * from that copy, as fast as a daemon on its own. PostgreSQL decides every change:
 * - A change is written there first (the file's bytes to the bucket under their sha256
 *   before the row commits), then applied to the copy. A name taken by another daemon's
 *   upload loses by the unique constraint, not by a conditional write to the bucket.
 * - Every change is numbered; NOTIFY carries the number and each daemon reads the changes
 *   after the last one it applied (also after a lost connection or a restart), fetches the
 *   files it lacks (checked against their sha256) and brings the touched projects in line.
 * - While PostgreSQL cannot be reached, reads go on from the copy and changes answer 503
 *   with Retry-After (CatalogUnavailable); the connection is made again with backoff.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import type { Installer, ProjectDetail, ProjectList, SharedStatus } from '../../shared/api.js';
import { redactUrl } from '../../shared/redact-url.js';
import type { FileRecord, Actor, ActivityRecord, ReleaseState } from './catalog.js';
import type { EventBus } from './events.js';
import { CatalogUnavailable } from '../errors.js';
import type { CatalogStore, Role } from '../stores/catalog-store.js';
import type { LocalBlobs } from '../stores/blob-store.js';
import { hashFile } from './hashing.js';
import { PgCatalog, type SharedDaemon } from '../stores/pg-catalog.js';
import { IDENTITY_CHANGE } from '../stores/pg-schema.js';
import { parseS3Url, S3Blobs } from '../stores/s3-blobs.js';

/** What the index service needs from the shared catalog for its changes (see IndexService, Publisher). */
export interface IndexPrimary {
  /** Stores a complete file's bytes under their sha256; returns the key. CatalogUnavailable when the bucket fails. */
  store(path: string, sha256: string): Promise<string>;
  /**
   * Adds the row of a file whose bytes `store` put under `key`, and makes `claim` the owner of
   * its project if it has none (the first uploader); returns the change's serial and whether
   * `claim` became the owner. Throws FileExistsError when the name is taken (and `replace`
   * was not asked), CatalogUnavailable when PostgreSQL cannot be reached.
   */
  addFile(key: string, file: FileRecord, displayName: string, metadataBytes: Buffer, opts: { replace: boolean; note?: string; claim?: string }): Promise<{ serial: number; claimed: boolean }>;
  /** This daemon's copy already holds change `serial` (its own upload): following need not fetch it again. */
  appliedHere(serial: number): void;
  /** Makes `user` the owner of a project that has none. */
  claimOwner(project: string, user: string): Promise<void>;
  removeFile(filename: string, by: Actor): Promise<void>;
  setYanked(project: string, releaseKey: string, yanked: boolean, reason: string | null, activity: Omit<ActivityRecord, 'time'>): Promise<void>;
  addOwner(project: string, user: string, role: Role): Promise<void>;
  removeOwner(project: string, user: string): Promise<boolean>;
  /** Brings this daemon's copy of a project in line with the shared catalog now. */
  refresh(project: string): Promise<void>;
  /** Counts a download in the shared catalog too (in memory; written every second). */
  countDownload(file: Pick<FileRecord, 'filename' | 'project'>, installer: Installer, ci: boolean): void;
}

/** The parts of the index the follower keeps in step. */
export interface LocalIndex {
  catalog: CatalogStore;
  blobs: LocalBlobs;
  events: EventBus;
  /** A project's pages must be rendered again. */
  changed(project: string): void;
}

export interface SharedIndexOptions {
  /** `postgres://…` */
  catalogUrl: string;
  /** `s3://bucket/prefix` */
  storageUrl: string;
  /** A folder of the data folder for uploads on their way to the bucket. */
  spoolDir: string;
  log: FastifyBaseLogger;
}

/** The catalog meta key of the last shared serial this daemon's copy has applied, and of the shared catalog it came from. */
const APPLIED_SERIAL = 'shared-applied-serial';
const SHARED_ID = 'shared-catalog-id';

/**
 * A stored content no file row names is deleted once it is this old: an upload puts its
 * bytes before its row commits, so a younger one may be an upload in progress.
 */
export const ORPHAN_GRACE_MS = 60 * 60 * 1000;
/** How often a daemon looks for orphans (the first look a minute after it starts). */
const COLLECT_EVERY_MS = 6 * 60 * 60 * 1000;

/** How long the bucket may take to answer at start (fastify gives a plugin 10 s). */
const BUCKET_CHECK_MS = 7_000;

/** A heartbeat every this many ms; a daemon not heard of for three is no longer listed. */
export const HEARTBEAT_MS = 5_000;

/** Errors that mean PostgreSQL is not there (as opposed to a query it refused). */
function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (typeof e.code === 'string' && (/^(08|57P)/.test(e.code) || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes(e.code))) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended/i.test(e.message ?? '');
}

export class SharedIndex implements IndexPrimary {
  private local: LocalIndex | undefined;
  private following = Promise.resolve();
  private followAgain = false;
  /**
   * Serials of this daemon's own uploads, already in its copy: catching up skips them. Without
   * this, every later change from another daemon (or this one's own NOTIFY arriving before the
   * upload's answer) made the copy fetch each of its own uploads back from the shared catalog.
   * A change whose local step failed is not here, so catching up repairs it.
   */
  private readonly ownApplied = new Set<number>();
  private stopFollowing: (() => void) | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private flusher: NodeJS.Timeout | undefined;
  private collector: NodeJS.Timeout | undefined;
  /** When PostgreSQL was found unreachable, or undefined while it answers. */
  lostSince: Date | undefined;
  /** Identity changes are handed to whoever keeps the users in step (shared-identity.ts). */
  onIdentityChange: (() => void) | undefined;

  private constructor(
    readonly catalog: PgCatalog,
    readonly blobs: S3Blobs,
    private readonly log: FastifyBaseLogger,
    /** The URLs with no password in them. */
    readonly where: { catalog: string; storage: string },
  ) {}

  /** Connects to PostgreSQL and the bucket; throws with a message a person can act on. */
  static async open(opts: SharedIndexOptions): Promise<SharedIndex> {
    const location = parseS3Url(opts.storageUrl);
    const where = { catalog: redactUrl(opts.catalogUrl), storage: opts.storageUrl };
    // The connection callback may fire before the index below exists.
    const made: { shared?: SharedIndex } = {};
    let catalog: PgCatalog;
    try {
      catalog = await PgCatalog.open({
        url: opts.catalogUrl,
        onConnection: (state, err) => made.shared?.connection(state, err),
      });
    } catch (err) {
      throw new Error(`Cannot use the shared catalog ${where.catalog}: ${(err as Error).message}`);
    }
    const blobs = new S3Blobs(location, opts.spoolDir);
    try {
      // Within the daemon's start-up budget, with a message that names what did not answer.
      let timer: NodeJS.Timeout | undefined;
      const silent = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`The bucket '${location.bucket}' did not answer within ${BUCKET_CHECK_MS / 1000} s: check AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL) and that the store is up.`)), BUCKET_CHECK_MS);
      });
      await Promise.race([blobs.prepare(), silent]).finally(() => clearTimeout(timer));
    } catch (err) {
      await catalog.close().catch(() => undefined);
      throw err;
    }
    made.shared = new SharedIndex(catalog, blobs, opts.log, where);
    return made.shared;
  }

  private connection(state: 'lost' | 'back', err?: Error): void {
    if (state === 'lost') {
      this.lostSince ??= new Date();
      this.log.warn(`Lost the shared catalog ${this.where.catalog}${err ? ` (${err.message})` : ''}; serving from this daemon's copy, changes wait until it is back.`);
    } else {
      this.lostSince = undefined;
      this.log.info(`The shared catalog ${this.where.catalog} is back; catching up.`);
      this.follow();
    }
  }

  /** Runs a change against PostgreSQL; a lost connection becomes CatalogUnavailable (503). */
  private async write<T>(fn: () => Promise<T>): Promise<T> {
    try {
      const result = await fn();
      if (this.lostSince) this.connection('back');
      return result;
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      if (!this.lostSince) this.connection('lost', err as Error);
      throw new CatalogUnavailable();
    }
  }

  // ---- changes, PostgreSQL first ---------------------------------------------------

  async store(path: string, sha256: string): Promise<string> {
    try {
      return await this.blobs.putFile(path, sha256);
    } catch (err) {
      this.log.error({ err }, `Could not store a file in ${this.where.storage}`);
      throw new CatalogUnavailable();
    }
  }

  /** Both steps of an upload, one after the other: the bytes are in the bucket before a row names them. */
  async publish(path: string, file: FileRecord, displayName: string, metadataBytes: Buffer, opts: { replace: boolean; note?: string }): Promise<void> {
    await this.addFile(await this.store(path, file.sha256), file, displayName, metadataBytes, opts);
  }

  addFile(key: string, file: FileRecord, displayName: string, metadataBytes: Buffer, opts: { replace: boolean; note?: string; claim?: string }): Promise<{ serial: number; claimed: boolean }> {
    const { note, ...rest } = opts;
    return this.write(() => this.catalog.publishFile({ file: { ...file, relpath: key }, displayName, metadataBytes, ...(note ? { note } : {}) }, rest));
  }

  async claimOwner(project: string, user: string): Promise<void> {
    // Another daemon's uploader may have been first: then this copy takes its owners.
    if (!(await this.write(() => this.catalog.claimOwner(project, user)))) await this.refresh(project);
  }

  async removeFile(filename: string, by: Actor): Promise<void> {
    await this.write(() => this.catalog.removeFile(filename, by));
  }

  async setYanked(project: string, releaseKey: string, yanked: boolean, reason: string | null, activity: Omit<ActivityRecord, 'time'>): Promise<void> {
    await this.write(() => this.catalog.setYanked(project, releaseKey, yanked, reason, activity));
  }

  async addOwner(project: string, user: string, role: Role): Promise<void> {
    await this.write(() => this.catalog.addOwner(project, user, role));
  }

  removeOwner(project: string, user: string): Promise<boolean> {
    return this.write(() => this.catalog.removeOwner(project, user));
  }

  // ---- downloads, counted by every daemon ------------------------------------------

  countDownload(file: Pick<FileRecord, 'filename' | 'project'>, installer: Installer, ci: boolean): void {
    this.catalog.countDownload(file, installer, ci);
    if (this.flusher) return;
    // One batched write a second at most, whatever the rate of downloads.
    this.flusher = setTimeout(() => {
      this.flusher = undefined;
      this.catalog.flushDownloads().catch((err: unknown) => {
        if (isConnectionError(err)) {
          if (!this.lostSince) this.connection('lost', err as Error);
        } else this.log.error({ err }, 'Could not write download counts to the shared catalog');
      });
    }, 1_000);
    this.flusher.unref();
  }

  /** The project list with every daemon's downloads (this daemon's copy counts only its own). */
  async withSharedDownloads(list: ProjectList): Promise<ProjectList> {
    const all = new Map((await this.catalog.projectSummaries()).map((p) => [p.name, p]));
    return { ...list, projects: list.projects.map((p) => ({ ...p, downloads: all.get(p.name)?.downloads ?? p.downloads, downloads30d: all.get(p.name)?.downloads30d ?? p.downloads30d })) };
  }

  /** A project's detail with every daemon's downloads. */
  async detailWithSharedDownloads(detail: ProjectDetail): Promise<ProjectDetail> {
    const [perFile, byDay, byInstaller] = await Promise.all([
      this.catalog.downloadsOf(detail.name),
      this.catalog.downloadsByDay(detail.name),
      this.catalog.downloadsByInstaller(detail.name),
    ]);
    const releases = detail.releases.map((r) => {
      const files = r.files.map((f) => ({ ...f, downloads: perFile.get(f.filename) ?? 0 }));
      return { ...r, files, downloads: files.reduce((n, f) => n + f.downloads, 0) };
    });
    return { ...detail, releases, downloads: releases.reduce((n, r) => n + r.downloads, 0), downloadsByDay: byDay, downloadsByInstaller: byInstaller };
  }

  // ---- following the others --------------------------------------------------------

  /**
   * Starts keeping `local` in step: catches up with what changed since it last ran (all of
   * it when its copy came from another shared catalog), then follows each change.
   */
  async attach(local: LocalIndex): Promise<void> {
    this.local = local;
    const id = await this.sharedId();
    if ((await local.catalog.metaValue(SHARED_ID)) !== id) {
      // A copy of another index (or of the folder, before the shared mode): start over.
      await local.catalog.setMetaValue(APPLIED_SERIAL, '0');
      await local.catalog.setMetaValue(SHARED_ID, id);
    }
    this.stopFollowing = this.catalog.onForeignChange(() => this.follow());
    this.scheduleCollection();
    this.follow();
    await this.following;
  }

  /** Tells the other daemons, every few seconds, that this one serves at `daemon.url`. */
  announce(daemon: SharedDaemon): void {
    const beat = () => {
      this.catalog.beat(daemon).then(
        () => {
          if (this.lostSince) this.connection('back');
        },
        (err: unknown) => {
          if (isConnectionError(err) && !this.lostSince) this.connection('lost', err as Error);
        },
      );
    };
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(beat, HEARTBEAT_MS);
    this.heartbeat.unref();
    beat();
  }

  /**
   * Deletes the stored contents that no file names any more and that are older than
   * `graceMs` (an upload that lost a race, a file deleted or replaced); one daemon at a time.
   * Resolves with how many were deleted, or undefined when another daemon is collecting.
   */
  collectOrphans(graceMs = ORPHAN_GRACE_MS): Promise<number | undefined> {
    return this.catalog.asCollector(async (referenced) => {
      const before = Date.now() - graceMs;
      let removed = 0;
      for await (const blob of this.blobs.list()) {
        if (referenced.has(blob.key) || blob.mtimeMs > before) continue;
        await this.blobs.remove(blob.key);
        removed += 1;
      }
      if (removed > 0) this.log.info(`Deleted ${removed} stored file(s) that no catalog entry names any more from ${this.where.storage}.`);
      return removed;
    });
  }

  private scheduleCollection(): void {
    const collect = () => {
      this.collectOrphans().catch((err: unknown) => this.log.warn(`Could not collect orphaned files in ${this.where.storage}: ${(err as Error).message}`));
      this.collector = setTimeout(collect, COLLECT_EVERY_MS);
      this.collector.unref();
    };
    this.collector = setTimeout(collect, 60_000);
    this.collector.unref();
  }

  /** The shared catalog's id, made by the first daemon that asks. */
  private async sharedId(): Promise<string> {
    let id = await this.catalog.metaValue('id');
    if (!id) {
      await this.catalog.setMetaValueIfMissing('id', createHash('sha256').update(`${Date.now()}:${Math.random()}`).digest('hex').slice(0, 32));
      id = (await this.catalog.metaValue('id')) as string;
    }
    return id;
  }

  /** Catches up, one run at a time; a change heard during a run makes one more run. */
  private follow(): void {
    if (this.followAgain) return;
    this.followAgain = true;
    this.following = this.following.then(async () => {
      this.followAgain = false;
      try {
        await this.catchUp();
      } catch (err) {
        if (isConnectionError(err)) {
          if (!this.lostSince) this.connection('lost', err as Error);
          // The listener's reconnect calls follow() again; so does this timer, in case only queries fail.
          clearTimeout(this.retry);
          this.retry = setTimeout(() => this.follow(), 2_000);
          this.retry.unref();
        } else {
          this.log.error({ err }, 'Could not apply the shared catalog’s changes');
        }
      }
    });
  }

  private async catchUp(): Promise<void> {
    const local = this.local;
    if (!local) return;
    const applied = Number((await local.catalog.metaValue(APPLIED_SERIAL)) ?? 0);
    let projects: string[];
    let last: number;
    if (applied === 0) {
      // A first copy: every project there is, and every one this copy had.
      last = await this.catalog.lastSerialNow();
      const names = new Set((await this.catalog.projects()).map((p) => p.name));
      for (const p of await local.catalog.projects()) names.add(p.name);
      projects = [...names];
      this.onIdentityChange?.();
    } else {
      const changes = await this.catalog.changesSince(applied);
      if (changes.length === 0) return;
      last = (changes[changes.length - 1] as { serial: number }).serial;
      projects = [...new Set(changes.filter((c) => !this.ownApplied.has(c.serial)).map((c) => c.project))];
    }
    for (const project of projects) {
      if (project === IDENTITY_CHANGE) this.onIdentityChange?.();
      else await this.syncProject(project);
    }
    await local.catalog.setMetaValue(APPLIED_SERIAL, String(last));
    for (const serial of this.ownApplied) if (serial <= last) this.ownApplied.delete(serial);
  }

  appliedHere(serial: number): void {
    this.ownApplied.add(serial);
  }

  async refresh(project: string): Promise<void> {
    // Part of a change (an upload that lost a race): PostgreSQL away is a 503 here too.
    await this.write(() => this.syncProject(project));
  }

  /** Makes this daemon's copy of one project what the shared catalog says, telling the event stream what changed. */
  private async syncProject(project: string): Promise<void> {
    const local = this.local;
    if (!local) return;
    const { catalog, blobs, events } = local;
    const mine = new Map((await catalog.filesOf(project)).map((f) => [f.filename, f]));
    const remote = await this.catalog.projectState(project, new Map([...mine.values()].map((f) => [f.filename, f.sha256])));
    const added: { file: FileRecord; displayName: string; metadataBytes: Buffer }[] = [];
    const isNew = new Set<string>();
    for (const { file, metadata } of remote.files) {
      const have = mine.get(file.filename);
      mine.delete(file.filename);
      if (have && have.sha256 === file.sha256) continue;
      const { relpath, mtimeMs } = await this.fetch(file, blobs);
      added.push({ file: { ...file, relpath, mtimeMs }, displayName: remote.displayName ?? project, metadataBytes: metadata ?? Buffer.alloc(0) });
      if (!have) isNew.add(file.filename);
    }
    if (added.length > 0) await catalog.addFiles(added, { replace: true });
    for (const gone of mine.values()) {
      await catalog.removeFile(gone.filename);
      await blobs.remove(gone.relpath);
    }
    const localStates = await catalog.releaseStates(project);
    const yanks: { key: string; state: ReleaseState }[] = [];
    for (const key of new Set([...remote.states.keys(), ...localStates.keys()])) {
      const want = remote.states.get(key) ?? { yanked: false, reason: null };
      const have = localStates.get(key) ?? { yanked: false, reason: null };
      if (want.yanked === have.yanked && want.reason === have.reason) continue;
      await catalog.putReleaseState(project, key, want);
      yanks.push({ key, state: want });
    }
    const ownersHere = await catalog.owners(project);
    const same = ownersHere.length === remote.owners.length && ownersHere.every((o) => remote.owners.some((r) => r.user === o.user && r.role === o.role));
    if (!same) {
      for (const o of ownersHere) await catalog.removeOwner(project, o.user);
      for (const o of remote.owners) await catalog.addOwner(project, o.user, o.role);
    }
    if (added.length === 0 && mine.size === 0 && yanks.length === 0) return;
    local.changed(project);
    for (const { file } of added) {
      if (!isNew.has(file.filename)) continue;
      events.publish({ type: 'upload', project, version: file.version, filename: file.filename, size: file.size, source: file.source ?? 'upload', user: file.uploadedBy, address: file.uploadedFrom });
    }
    for (const gone of mine.values()) events.publish({ type: 'delete', project, filename: gone.filename, user: null, address: null });
    for (const { key, state } of yanks) {
      const version = remote.files.find((r) => r.file.releaseKey === key)?.file.version ?? key;
      events.publish(state.yanked ? { type: 'yank', project, version, reason: state.reason, user: state.yankedBy ?? null, address: state.yankedFrom ?? null } : { type: 'unyank', project, version, user: null, address: null });
    }
  }

  /**
   * This daemon's copy of a file of the shared catalog: the one in its folder when that has
   * the same content, else fetched from the bucket, checked against its sha256 and size, made
   * durable and put in place whole.
   */
  private async fetch(remote: FileRecord, local: LocalBlobs): Promise<{ relpath: string; mtimeMs: number }> {
    const st = await local.stat(remote.filename);
    if (st && st.size === remote.size && (await hashFile(local.pathOf(remote.filename)).catch(() => undefined))?.sha256 === remote.sha256) {
      return { relpath: remote.filename, mtimeMs: st.mtimeMs };
    }
    const temp = await local.createTemp();
    try {
      const hash = createHash('sha256');
      let size = 0;
      const handle = temp.handle as FileHandle;
      for await (const chunk of (await this.blobs.open(remote.relpath)) as Readable as AsyncIterable<Buffer>) {
        hash.update(chunk);
        size += chunk.length;
        for (let at = 0; at < chunk.length; ) at += (await handle.write(chunk, at)).bytesWritten;
      }
      const sha256 = hash.digest('hex');
      if (sha256 !== remote.sha256 || size !== remote.size) {
        throw new Error(`The stored bytes of '${remote.filename}' do not match the catalog (sha256 ${sha256}, ${size} bytes; expected ${remote.sha256}, ${remote.size} bytes).`);
      }
      const mtimeMs = await local.seal(temp);
      const relpath = await local.commit(temp, remote.filename, remote.sha256);
      return { relpath, mtimeMs };
    } finally {
      await local.discard(temp);
    }
  }

  /** The daemons sharing the catalog, heard of lately (this one included). */
  daemons(): Promise<(SharedDaemon & { seenAt: string })[]> {
    return this.catalog.daemons(HEARTBEAT_MS * 3);
  }

  /** What `/-/health` (and so `status` and the dashboard) lists as a problem: a shared catalog that does not answer. */
  problems(): string[] {
    if (!this.lostSince) return [];
    return [
      `The shared catalog ${this.where.catalog} has not answered since ${this.lostSince.toISOString()}: pages and downloads are served from this daemon's copy; uploads and other changes answer 503 until it is back.`,
    ];
  }

  /** The shared mode's state for `/-/health`: the daemons are left out while PostgreSQL does not answer. */
  async status(instance: string): Promise<SharedStatus> {
    const daemons = this.lostSince ? [] : await this.daemons().catch(() => []);
    return {
      catalog: this.where.catalog,
      storage: this.where.storage,
      connected: !this.lostSince,
      ...(this.lostSince ? { lostSince: this.lostSince.toISOString() } : {}),
      daemons: daemons.map(({ instance: id, ...d }) => ({ ...d, self: id === instance })),
    };
  }

  /** Waits for the catch-up in progress, if any (tests and shutdown). */
  settled(): Promise<void> {
    return this.following;
  }

  async close(instance?: string): Promise<void> {
    clearInterval(this.heartbeat);
    clearTimeout(this.retry);
    clearTimeout(this.flusher);
    clearTimeout(this.collector);
    this.stopFollowing?.();
    await this.following.catch(() => undefined);
    if (instance) await this.catalog.leave(instance).catch(() => undefined);
    await this.catalog.close().catch(() => undefined);
    await this.blobs.close();
  }
}

