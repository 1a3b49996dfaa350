/**
 * Distribution files kept open between downloads, as nginx's `open_file_cache` keeps them.
 *
 * Profiled under load (random files of a 6,000-file folder, 32 connections), open and close
 * were the largest cost of a download after the socket write: on this kind of machine one
 * open + fstat + close took about 26 µs, half of a whole download's budget.
 *
 * A kept descriptor is used only for the content the catalog names: each entry remembers the
 * sha256 it was opened for, and a file the index replaced (an overwrite, a rebuild) has
 * another one, so it is opened again at once. What changes behind the index's back is seen
 * within {@link REVALIDATE_MS}, as nginx's `open_file_cache_valid` sees it: an fstat then
 * shows a file deleted or replaced by a rename (no links left, nlink 0) or rewritten in place
 * (another size or mtime), and the path is opened again. Until then the bytes sent are the
 * ones the catalog's sha256 describes, where opening the path each time could send another
 * file's bytes under that hash.
 *
 * Only files read in one synchronous read are kept (nearly every wheel and sdist): their
 * descriptor is never in use by a stream when the cache closes it. Larger files are opened
 * for each download and their stream closes them.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { grown } from './file-slots.js';

/** Files up to this many bytes are read at once and sent as one buffer (and their descriptors kept); larger ones stream. */
export const READ_AT_ONCE_BYTES = 256 * 1024;

/** How long a kept descriptor is used before fstat checks that the path still names its file. */
export const REVALIDATE_MS = 1000;

/** An open file and what fstat said of it. */
export interface OpenFile {
  fd: number;
  size: number;
  mtimeMs: number;
  /** The mtime as an HTTP date (Last-Modified), made once per open. */
  lastModified: string;
  /** The content the catalog named when it was opened. */
  sha256: string;
  /** When fstat last said the path still names this file (performance.now()). */
  checkedAt: number;
  /** Whether the cache keeps the descriptor; when false, whoever opened it closes it ({@link OpenFiles.done}). */
  kept: boolean;
}

/** Descriptors left for connections, the catalog, logs and streamed files when the limit is high. */
const DESCRIPTORS_KEPT_FREE = 4096;

/**
 * How many descriptors to keep: the process's soft limit less 4,096, or a quarter of it when
 * that is more (a low limit), and at most 16,000, what nginx's open_file_cache is given in the
 * bench. (A quarter of a 20,000 limit kept 5,000: random downloads of 6,000 files then opened
 * one file in six, of 60,000 nearly every one.)
 */
export function openFileBudget(limitsFile = '/proc/self/limits'): number {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync(limitsFile, 'utf8'));
    const soft = m ? Number(m[1]) : NaN;
    if (Number.isFinite(soft)) return Math.max(0, Math.min(16_000, Math.max(Math.floor(soft / 4), soft - DESCRIPTORS_KEPT_FREE)));
  } catch {
    // Not Linux, or /proc not mounted: a budget every system allows.
  }
  return 256;
}

/** Last-Modified dates by whole second: files copied or built together share a handful. */
const httpDates = new Map<number, string>();
const HTTP_DATES_KEPT = 4096;

/** An mtime as an HTTP date (whole seconds), the same string for every file of that second. */
function httpDateOf(mtimeMs: number): string {
  const second = Math.floor(mtimeMs / 1000);
  let date = httpDates.get(second);
  if (date === undefined) {
    if (httpDates.size >= HTTP_DATES_KEPT) httpDates.clear();
    date = new Date(second * 1000).toUTCString();
    httpDates.set(second, date);
  }
  return date;
}

/** Scratch for a sha256's bytes, to compare with a kept file's without making a string. */
const shaScratch = Buffer.alloc(32);

/** The sha256 bytes of a cache's kept files, 32 a file, in one buffer (a Buffer each cost a few hundred bytes). */
class Sha256Store {
  bytes = Buffer.alloc(256 * 32);
  private next = 0;

  /** The offset of a new file's 32 bytes. */
  take(): number {
    const at = this.next++ * 32;
    if (at + 32 > this.bytes.length) {
      const grown = Buffer.alloc(this.bytes.length * 2);
      this.bytes.copy(grown);
      this.bytes = grown;
    }
    return at;
  }
}

/**
 * A kept file: one object per slot of the cache, used again for the next file when its file
 * is closed to make room. Under random downloads of 60,000 files, a new object per file
 * opened (with the catalog's sha256 as a new string) lived until the cache let it go, long
 * enough to be promoted to V8's old generation: a third of what downloads promoted, and
 * collected several times a second (the downloads' p99). Its sha256 is kept as 32 bytes.
 */
class KeptFile implements OpenFile {
  fd = -1;
  size = 0;
  mtimeMs = 0;
  lastModified = '';
  checkedAt = 0;
  readonly kept = true;
  /** The cache's key for it (see {@link OpenFiles}), and the number it was acquired with (-1 for none). */
  key = '';
  id = -1;
  /** Bumped each time the object is let go or used for another file (the queue's entries say which use they are of). */
  generation = 0;
  /** Between acquire and done: never used for another file then. */
  inUse = false;
  /** A sha256 that is not 64 lowercase hex digits, kept as it is. */
  private otherSha: string | undefined;
  /** Where its sha256's bytes are in the store. */
  private readonly at: number;

  constructor(
    private readonly hashes: Sha256Store,
    /** Its number in the cache (the queue names it by it). */
    readonly index: number,
  ) {
    this.at = hashes.take();
  }

  /** The next use of the object (as the queue's Uint32Array holds it). */
  nextGeneration(): void {
    this.generation = (this.generation + 1) >>> 0;
  }

  get sha256(): string {
    return this.otherSha ?? this.hashes.bytes.toString('hex', this.at, this.at + 32);
  }

  setSha256(sha256: string): void {
    const bytes = this.hashes.bytes;
    const asBytes = sha256.length === 64 && bytes.write(sha256, this.at, 32, 'hex') === 32 && bytes.toString('hex', this.at, this.at + 32) === sha256;
    this.otherSha = asBytes ? undefined : sha256;
  }

  /** Whether the file was opened for content `sha256` (the same 32 bytes are the same content, whatever the case of their hex). */
  hasSha256(sha256: string): boolean {
    if (this.otherSha !== undefined) return this.otherSha === sha256;
    return sha256.length === 64 && shaScratch.write(sha256, 0, 32, 'hex') === 32 && shaScratch.compare(this.hashes.bytes, this.at, this.at + 32) === 0;
  }
}

function isGone(code: string | undefined): boolean {
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

/**
 * Kept descriptors by key (a blob store's key, a relpath): the path is made from the key only
 * when the file is opened, not at every download. A caller that numbers its files (the
 * catalog's file numbers) finds them by number instead: under random downloads of 60,000
 * files a Map of their keys took 1.8 MB, its table a large object, where an Int32Array by
 * number takes 240 KB. A number found names a file only while its key is the one asked for.
 *
 * Nothing here is allocated per file opened once the cache is full. Under random downloads of
 * 60,000 files (16,000 kept), deleting each closed file's key from a Map left holes that V8
 * cleared by copying the Map's table (half a megabyte, a large object freed only by a full
 * collection) every few thousand opens, and the queue of kept files grew and was cut with
 * slice(): together a quarter of all the daemon promoted to V8's old generation. So a key stays
 * in the Map once seen, naming the object last used for it (whose `key` says whether it still
 * is), and the queue is two typed arrays used over and over.
 */
export class OpenFiles {
  /** The object last used for each key seen: kept for that key while its `key` is that key and its descriptor is open. */
  private readonly byKey = new Map<string, KeptFile>();
  /** The same for files acquired with a number: the object's number in {@link made} + 1, by file number (0 for none). */
  private byId = new Int32Array(0);
  private kept = 0;
  /** Every object made, by its number (the queue names them by it). */
  private readonly made: KeptFile[] = [];
  /**
   * Kept files in the order they were opened, oldest at `head`, each with the generation of
   * the use it was queued for: an entry forgotten since (or used for another file) is skipped
   * when its turn comes. When full, one file is closed per file opened, as nginx's
   * open_file_cache does: closing a sixteenth at once held up every connection for the
   * thousand closes (the downloads' p99 at 60,000 files).
   */
  private queue: Uint32Array;
  private queueGeneration: Uint32Array;
  private head = 0;
  private tail = 0;
  /** Objects of files closed, for the next files kept. */
  private readonly unused: KeptFile[] = [];
  private readonly hashes = new Sha256Store();

  constructor(
    /** How many descriptors to keep at most (0 keeps none). */
    private readonly max: number,
    /** Files up to this size are kept open. */
    private readonly keepUpTo: number,
    /** How long a kept descriptor is used before fstat checks it again (tests shorten it). */
    private readonly revalidateMs = REVALIDATE_MS,
    /** The path of the file a key names. */
    private readonly pathOf: (key: string) => string = (key) => key,
  ) {
    // Past 2 * max + 1024 entries the queue is compacted to at most max + 1 (see keep()), so
    // twice that is room enough: the entries are moved to the front when the end is reached.
    const room = 2 * (2 * max + 1025);
    this.queue = new Uint32Array(max === 0 ? 0 : room);
    this.queueGeneration = new Uint32Array(max === 0 ? 0 : room);
  }

  /** How many descriptors are kept. */
  get size(): number {
    return this.kept;
  }

  /** The file kept for `key` (acquired with number `id`, if any), if there is one. */
  private keptFor(key: string, id: number | undefined): KeptFile | undefined {
    const file = id === undefined ? this.byKey.get(key) : this.made[((id < this.byId.length ? this.byId[id] : 0) as number) - 1];
    return file && file.fd !== -1 && file.key === key ? file : undefined;
  }

  /**
   * The file `key` names, with content `sha256` (the catalog's), open: the kept descriptor when
   * it was opened for that content and is still the file at that path, else a new one.
   * Undefined when nothing (or no regular file) is there. A kept file is the caller's until
   * {@link done}, and only until then: its object is used again for another file later. A
   * file acquired with its number `id` (a whole number) is found again only with it.
   */
  acquire(key: string, sha256: string, id?: number): OpenFile | undefined {
    const kept = this.keptFor(key, id);
    if (kept) {
      if (kept.hasSha256(sha256)) {
        const now = performance.now();
        if (now - kept.checkedAt < this.revalidateMs) return this.lend(kept);
        const st = fstatSync(kept.fd);
        if (st.nlink > 0 && st.size === kept.size && st.mtimeMs === kept.mtimeMs) {
          kept.checkedAt = now;
          return this.lend(kept);
        }
      }
      this.close(kept);
    }
    let fd: number;
    try {
      fd = openSync(this.pathOf(key), constants.O_RDONLY);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (isGone(code)) return undefined;
      // Out of descriptors: give back the kept ones; the next download opens again.
      if (code === 'EMFILE' || code === 'ENFILE') this.clear();
      throw err;
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) {
        closeSync(fd);
        return undefined;
      }
      const lastModified = httpDateOf(st.mtimeMs);
      // Not kept: too large, no budget, or every kept file in use (then nothing can make room).
      if (this.max === 0 || st.size > this.keepUpTo || (this.kept >= this.max && !this.closeOldest())) {
        return { fd, size: st.size, mtimeMs: st.mtimeMs, lastModified, sha256, checkedAt: performance.now(), kept: false };
      }
      const file = this.unused.pop() ?? this.make();
      file.nextGeneration();
      file.fd = fd;
      file.size = st.size;
      file.mtimeMs = st.mtimeMs;
      file.lastModified = lastModified;
      file.setSha256(sha256);
      file.checkedAt = performance.now();
      file.key = key;
      file.id = id ?? -1;
      this.keep(file);
      return this.lend(file);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  private make(): KeptFile {
    const file = new KeptFile(this.hashes, this.made.length);
    this.made.push(file);
    return file;
  }

  /** Names `file` under its number, or its key, and queues it. */
  private keep(file: KeptFile): void {
    if (file.id !== -1) {
      if (file.id >= this.byId.length) this.byId = grown(this.byId, Math.max(file.id + 1, 2 * this.byId.length, 1024));
      this.byId[file.id] = file.index + 1;
    } else {
      // Keys of files gone for good would pile up in the Map: past four per kept file, only the kept stay.
      if (this.byKey.size >= 4 * this.max + 1024 && !this.byKey.has(file.key)) {
        for (const [key, named] of this.byKey) if (named.key !== key || named.fd === -1) this.byKey.delete(key);
      }
      this.byKey.set(file.key, file);
    }
    this.kept += 1;
    // Files forgotten and opened again while the cache is not full leave entries behind.
    if (this.tail - this.head > 2 * this.max + 1024) this.compact();
    if (this.tail === this.queue.length) this.moveQueueToFront();
    this.queue[this.tail] = file.index;
    this.queueGeneration[this.tail] = file.generation;
    this.tail += 1;
  }

  private lend(file: KeptFile): KeptFile {
    file.inUse = true;
    return file;
  }

  /** Done with `file`: closes it unless the cache keeps it. */
  done(file: OpenFile): void {
    if (!(file instanceof KeptFile)) return closeSync(file.fd);
    file.inUse = false;
    // Closed while it was lent (it changed while read): free for the next file now.
    if (file.fd === -1) this.unused.push(file);
  }

  /** Closes the kept descriptor of `key` (acquired with number `id`, if any), if there is one (e.g. it could not be read whole). */
  forget(key: string, id?: number): void {
    const file = this.keptFor(key, id);
    if (file) this.close(file);
  }

  private close(file: KeptFile): void {
    closeSync(file.fd);
    file.fd = -1;
    this.kept -= 1;
    // Its entries in the queue are stale from now on.
    file.nextGeneration();
    // One a caller still holds is not used again (its done() then closes nothing: it is kept).
    if (!file.inUse) this.unused.push(file);
  }

  /** Whether the queue's entry at `at` is the current use of a kept file. */
  private current(at: number): KeptFile | undefined {
    const file = this.made[this.queue[at] as number] as KeptFile;
    return file.generation === this.queueGeneration[at] && file.fd !== -1 ? file : undefined;
  }

  /** Closes the oldest kept descriptor not in use; false when every one is in use. */
  private closeOldest(): boolean {
    for (let left = this.tail - this.head; left > 0 && this.head < this.tail; left--) {
      const at = this.head;
      this.head += 1;
      const file = this.current(at);
      if (!file) continue;
      if (file.inUse) {
        // Between a caller's acquire and done: its turn comes again later.
        if (this.tail === this.queue.length) this.moveQueueToFront();
        this.queue[this.tail] = file.index;
        this.queueGeneration[this.tail] = file.generation;
        this.tail += 1;
        continue;
      }
      this.close(file);
      return true;
    }
    return false;
  }

  /** The queue's entries moved to its start. */
  private moveQueueToFront(): void {
    this.queue.copyWithin(0, this.head, this.tail);
    this.queueGeneration.copyWithin(0, this.head, this.tail);
    this.tail -= this.head;
    this.head = 0;
  }

  /** The queue without the entries forgotten since they were kept. */
  private compact(): void {
    let to = 0;
    for (let at = this.head; at < this.tail; at++) {
      if (!this.current(at)) continue;
      this.queue[to] = this.queue[at] as number;
      this.queueGeneration[to] = this.queueGeneration[at] as number;
      to += 1;
    }
    this.head = 0;
    this.tail = to;
  }

  /** Closes every kept descriptor. */
  clear(): void {
    for (const file of this.made) if (file.fd !== -1) this.close(file);
    this.byKey.clear();
    this.byId.fill(0);
    this.head = 0;
    this.tail = 0;
  }
}
