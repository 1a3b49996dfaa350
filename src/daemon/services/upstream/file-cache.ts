/**
 * Upstream files kept on disk (`<data>/upstream/files/`), as the publisher keeps uploads:
 * streamed to a temporary file in the same folder while hashed, refused and removed when
 * the bytes are not the ones upstream's page promised (sha256, and size when it gave one),
 * fsynced, then renamed into place, so that a crash leaves no half file under a real name.
 *
 * The cache is bounded: a size cap (least recently used files go first) and an age limit
 * (files not downloaded for that long are pruned). Last uses are kept in memory and written
 * with the download counts every few seconds, so that serving a cached file costs no write.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { Installer } from '../../../shared/api.js';
import { PendingDownloads } from '../../stores/pending-downloads.js';
import { UpstreamError, type UpstreamHttp, reasonOf } from './http.js';
import type { CachedFile, UpstreamStore } from './store.js';

const TEMP_PREFIX = '.tmp-';
/** Largest file taken from upstream when its page gives no size. */
const MAX_UNSIZED_FILE_BYTES = 2 * 1024 ** 3;

/** A file whose bytes are not those upstream's page promised: refused, not kept. */
export class UpstreamHashMismatch extends UpstreamError {}

export interface FileCacheOptions {
  /** 0: no cap. */
  maxBytes: number;
  /** 0: files are never pruned for age. */
  maxAgeMs: number;
  log: FastifyBaseLogger;
  /** Told of each file removed (its kept descriptor is closed, so that its disk space is freed). */
  onRemove?: (filename: string) => void;
}

export class FileCache {
  private readonly files = new Map<string, CachedFile>();
  private total = 0;
  private readonly uses = new Map<string, number>();
  private readonly downloads = new PendingDownloads();

  constructor(
    private readonly store: UpstreamStore,
    readonly dir: string,
    private readonly opts: FileCacheOptions,
  ) {}

  /** Loads the records, removes temporary files an earlier stop left, and forgets files that left the folder. */
  async prepare(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const names = new Set(await readdir(this.dir));
    await Promise.all([...names].filter((n) => n.startsWith(TEMP_PREFIX)).map((n) => rm(join(this.dir, n), { force: true })));
    for (const f of this.store.files()) {
      if (!names.has(f.filename)) {
        this.store.deleteFile(f.filename);
        continue;
      }
      this.files.set(f.filename, f);
      this.total += f.size;
    }
  }

  get(filename: string): CachedFile | undefined {
    return this.files.get(filename);
  }

  pathOf(filename: string): string {
    return join(this.dir, filename);
  }

  /** Notes a download: its last use (for eviction) and its count by installer. */
  recordDownload(file: CachedFile, installer: Installer, ci: boolean, now = Date.now()): void {
    file.lastUsed = now;
    this.uses.set(file.filename, now);
    // Counted as the catalog counts, with no key string per download (a second's worth were promoted).
    this.downloads.countAt(file, installer, ci, now);
  }

  /** Downloads by installer: those written and those still in memory. */
  downloadsByInstaller(): { installer: Installer; downloads: number; ci: number }[] {
    const by = new Map(this.store.downloadsByInstaller().map((r) => [r.installer, { ...r }]));
    for (const p of this.downloads.all()) {
      const row = by.get(p.installer) ?? { installer: p.installer, downloads: 0, ci: 0 };
      row.downloads += p.count;
      row.ci += p.ci ? p.count : 0;
      by.set(p.installer, row);
    }
    return [...by.values()].sort((a, b) => b.downloads - a.downloads);
  }

  /** Writes last uses and download counts. */
  flush(): void {
    if (this.uses.size > 0) {
      this.store.useFiles(this.uses);
      this.uses.clear();
    }
    if (this.downloads.size > 0) this.store.addDownloads(this.downloads.take().list());
  }

  /**
   * Fetches `url` into the cache as `filename`, checked against `sha256` (and `size`, when
   * upstream's page gave it). A mismatch removes the temporary file and throws.
   */
  async fetch(http: UpstreamHttp, url: string, expected: { filename: string; project: string; sha256: string; size: number | null }): Promise<CachedFile> {
    const res = await http.get(url);
    if (res.status !== 200) {
      res.discard();
      throw new UpstreamError(`upstream answered ${res.status} for ${expected.filename}`);
    }
    const limit = expected.size ?? MAX_UNSIZED_FILE_BYTES;
    const announced = Number(res.header('content-length'));
    if (Number.isFinite(announced) && announced > limit) {
      res.discard();
      throw new UpstreamHashMismatch(`upstream sent ${announced} bytes for ${expected.filename}, whose page says ${limit}`);
    }
    const temp = join(this.dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    try {
      await pipeline(
        res.body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            size += chunk.length;
            if (size > limit) throw new UpstreamHashMismatch(`upstream sent more than the ${limit} bytes of ${expected.filename}`);
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(temp, { flags: 'wx' }),
      );
      const sha256 = hash.digest('hex');
      if (sha256 !== expected.sha256 || (expected.size !== null && size !== expected.size)) {
        throw new UpstreamHashMismatch(
          `${expected.filename} from upstream does not match its page: sha256 ${sha256} (${size} bytes), where the page says ${expected.sha256}${expected.size !== null ? ` (${expected.size} bytes)` : ''}. It was not kept.`,
        );
      }
      const handle = await open(temp, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.pathOf(expected.filename));
    } catch (err) {
      await rm(temp, { force: true });
      if (err instanceof UpstreamError) throw err;
      throw new UpstreamError(`${expected.filename} could not be fetched from upstream: ${reasonOf(err)}`);
    }
    const now = Date.now();
    const record: CachedFile = { filename: expected.filename, project: expected.project, sha256: expected.sha256, size, storedAt: now, lastUsed: now };
    const previous = this.files.get(record.filename);
    if (previous) this.total -= previous.size;
    this.files.set(record.filename, record);
    this.total += size;
    this.store.putFile(record);
    await this.evict(record.filename);
    return record;
  }

  /** Removes least recently used files until the cache is under its cap (`keep`, just stored, goes last). */
  async evict(keep?: string): Promise<{ files: number; bytes: number }> {
    if (this.opts.maxBytes <= 0 || this.total <= this.opts.maxBytes) return { files: 0, bytes: 0 };
    const order = [...this.files.values()].filter((f) => f.filename !== keep).sort((a, b) => a.lastUsed - b.lastUsed);
    const victims: CachedFile[] = [];
    let total = this.total;
    for (const f of order) {
      if (total <= this.opts.maxBytes) break;
      victims.push(f);
      total -= f.size;
    }
    await this.remove(victims);
    if (victims.length > 0) this.opts.log.info(`Upstream cache over its cap: removed ${victims.length} least recently used file(s).`);
    return { files: victims.length, bytes: victims.reduce((n, f) => n + f.size, 0) };
  }

  /** Removes files not downloaded for longer than the age limit, then evicts down to the cap. */
  async prune(now = Date.now()): Promise<{ files: number; bytes: number }> {
    const old = this.opts.maxAgeMs > 0 ? [...this.files.values()].filter((f) => now - f.lastUsed > this.opts.maxAgeMs) : [];
    await this.remove(old);
    const evicted = await this.evict();
    return { files: old.length + evicted.files, bytes: old.reduce((n, f) => n + f.size, 0) + evicted.bytes };
  }

  /** Removes every file (of `project`, when given). */
  async purge(project?: string): Promise<{ files: number; bytes: number }> {
    const victims = [...this.files.values()].filter((f) => project === undefined || f.project === project);
    await this.remove(victims);
    return { files: victims.length, bytes: victims.reduce((n, f) => n + f.size, 0) };
  }

  /** Forgets one file (its bytes left the folder, or it is to be fetched again). */
  async purgeFile(filename: string): Promise<void> {
    const file = this.files.get(filename);
    if (file) await this.remove([file]);
  }

  private async remove(files: CachedFile[]): Promise<void> {
    for (const f of files) {
      this.files.delete(f.filename);
      this.uses.delete(f.filename);
      this.total -= f.size;
      this.store.deleteFile(f.filename);
      // A file being sent stays readable until the send ends (an open descriptor survives unlink).
      await rm(this.pathOf(f.filename), { force: true });
      this.opts.onRemove?.(f.filename);
    }
  }

  stats(): { files: number; bytes: number } {
    return { files: this.files.size, bytes: this.total };
  }
}
