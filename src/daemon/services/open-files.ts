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
  readonly fd: number;
  readonly size: number;
  readonly mtimeMs: number;
  /** The mtime as an HTTP date (Last-Modified), made once per open. */
  readonly lastModified: string;
  /** Whether the cache keeps the descriptor; when false, whoever opened it closes it ({@link OpenFiles.done}). */
  readonly kept: boolean;
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

/** Slots made at first, doubled as more are needed (up to the cache's budget). */
const FIRST_SLOTS = 256;

/**
 * What the cache knows of its kept files, by slot, in arrays. At 16,000 kept files an object
 * of fourteen fields for each, its two times boxed as numbers of their own, was 2.6 MB of the
 * daemon's heap (and its hash 0.5 MB more); the arrays, hashes included, are 1.4 MB, and each
 * slot's view 40 bytes more. Nothing in them is garbage to collect.
 */
class Slots {
  fds = new Int32Array(FIRST_SLOTS);
  sizes = new Float64Array(FIRST_SLOTS);
  mtimes = new Float64Array(FIRST_SLOTS);
  /** When fstat last said the path still names the slot's file (performance.now()). */
  checkedAt = new Float64Array(FIRST_SLOTS);
  /** The number the file was acquired with, -1 for none. */
  ids = new Int32Array(FIRST_SLOTS);
  /** Bumped each time the slot is let go or used for another file (the queue's entries say which use they are of). */
  generations = new Uint32Array(FIRST_SLOTS);
  /** 1 between acquire and done: never used for another file then. */
  inUse = new Uint8Array(FIRST_SLOTS);
  /** The sha256 each was opened for, 32 bytes a slot. */
  hashes = Buffer.alloc(FIRST_SLOTS * 32);
  /** Its key in the cache (see {@link OpenFiles}). */
  readonly keys: string[] = [];
  /** Its Last-Modified date (the strings are shared: files of one second have one). */
  readonly dates: string[] = [];
  /** A sha256 that is not 64 lowercase hex digits, kept as it is, by slot. */
  readonly otherSha = new Map<number, string>();

  get room(): number {
    return this.fds.length;
  }

  /** Room for `size` slots. */
  grow(size: number): void {
    this.fds = grown(this.fds, size);
    this.sizes = grown(this.sizes, size);
    this.mtimes = grown(this.mtimes, size);
    this.checkedAt = grown(this.checkedAt, size);
    this.ids = grown(this.ids, size);
    this.generations = grown(this.generations, size);
    this.inUse = grown(this.inUse, size);
    // A Buffer, not grown(): its constructor is the deprecated Buffer().
    const hashes = Buffer.alloc(size * 32);
    this.hashes.copy(hashes);
    this.hashes = hashes;
  }

  setSha256(slot: number, sha256: string): void {
    const at = slot * 32;
    const bytes = this.hashes;
    const asBytes = sha256.length === 64 && bytes.write(sha256, at, 32, 'hex') === 32 && bytes.toString('hex', at, at + 32) === sha256;
    if (asBytes) this.otherSha.delete(slot);
    else this.otherSha.set(slot, sha256);
  }

  /** Whether the slot's file was opened for content `sha256` (the same 32 bytes are the same content, whatever the case of their hex). */
  hasSha256(slot: number, sha256: string): boolean {
    const other = this.otherSha.size === 0 ? undefined : this.otherSha.get(slot);
    if (other !== undefined) return other === sha256;
    const at = slot * 32;
    return sha256.length === 64 && shaScratch.write(sha256, 0, 32, 'hex') === 32 && shaScratch.compare(this.hashes, at, at + 32) === 0;
  }

  /** The next use of the slot (as the queue's Uint32Array holds it). */
  nextGeneration(slot: number): void {
    this.generations[slot] = ((this.generations[slot] as number) + 1) >>> 0;
  }
}

/**
 * A kept file as its caller sees it: a view of its slot, one object per slot, used again for
 * the next file when its file is closed to make room. (A new object per file opened lived
 * until the cache let it go, long enough to be promoted to V8's old generation: under random
 * downloads of 60,000 files, a third of what downloads promoted.)
 */
class KeptFile implements OpenFile {
  constructor(
    private readonly slots: Slots,
    /** Its slot (the queue names it by it). */
    readonly slot: number,
  ) {}

  get fd(): number {
    return this.slots.fds[this.slot] as number;
  }
  get size(): number {
    return this.slots.sizes[this.slot] as number;
  }
  get mtimeMs(): number {
    return this.slots.mtimes[this.slot] as number;
  }
  get lastModified(): string {
    return this.slots.dates[this.slot] as string;
  }
  get kept(): boolean {
    return true;
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
 * in the Map once seen, naming the slot last used for it (whose key says whether it still is),
 * and the queue is two typed arrays used over and over.
 */
export class OpenFiles {
  private readonly slots = new Slots();
  /** The view last used for each key seen: kept for that key while its slot's key is that key and its descriptor is open. */
  private readonly byKey = new Map<string, KeptFile>();
  /** The same for files acquired with a number: the slot + 1, by file number (0 for none). */
  private byId = new Int32Array(0);
  private kept = 0;
  /** Every slot's view, by slot (the queue names them by it). */
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
  /** Slots of files closed, for the next files kept. */
  private readonly unused: number[] = [];

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
    return file && this.slots.fds[file.slot] !== -1 && this.slots.keys[file.slot] === key ? file : undefined;
  }

  /**
   * The file `key` names, with content `sha256` (the catalog's), open: the kept descriptor when
   * it was opened for that content and is still the file at that path, else a new one.
   * Undefined when nothing (or no regular file) is there. A kept file is the caller's until
   * {@link done}, and only until then: its slot (and object) is used again for another file later. A
   * file acquired with its number `id` (a whole number) is found again only with it.
   */
  acquire(key: string, sha256: string, id?: number): OpenFile | undefined {
    const slots = this.slots;
    const kept = this.keptFor(key, id);
    if (kept) {
      const slot = kept.slot;
      if (slots.hasSha256(slot, sha256)) {
        const now = performance.now();
        if (now - (slots.checkedAt[slot] as number) < this.revalidateMs) return this.lend(kept);
        const st = fstatSync(slots.fds[slot] as number);
        if (st.nlink > 0 && st.size === slots.sizes[slot] && st.mtimeMs === slots.mtimes[slot]) {
          slots.checkedAt[slot] = now;
          return this.lend(kept);
        }
      }
      this.close(slot);
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
        return { fd, size: st.size, mtimeMs: st.mtimeMs, lastModified, kept: false };
      }
      const file = this.made[this.unused.pop() ?? this.make()] as KeptFile;
      const slot = file.slot;
      slots.nextGeneration(slot);
      slots.fds[slot] = fd;
      slots.sizes[slot] = st.size;
      slots.mtimes[slot] = st.mtimeMs;
      slots.dates[slot] = lastModified;
      slots.setSha256(slot, sha256);
      slots.checkedAt[slot] = performance.now();
      slots.keys[slot] = key;
      slots.ids[slot] = id ?? -1;
      this.keep(file);
      return this.lend(file);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** A new slot and its view; its number. */
  private make(): number {
    const slot = this.made.length;
    if (slot === this.slots.room) this.slots.grow(2 * slot);
    this.slots.fds[slot] = -1;
    this.made.push(new KeptFile(this.slots, slot));
    return slot;
  }

  /** Names `file` under its number, or its key, and queues it. */
  private keep(file: KeptFile): void {
    const { slots } = this;
    const slot = file.slot;
    const id = slots.ids[slot] as number;
    if (id !== -1) {
      if (id >= this.byId.length) this.byId = grown(this.byId, Math.max(id + 1, 2 * this.byId.length, 1024));
      this.byId[id] = slot + 1;
    } else {
      const key = slots.keys[slot] as string;
      // Keys of files gone for good would pile up in the Map: past four per kept file, only the kept stay.
      if (this.byKey.size >= 4 * this.max + 1024 && !this.byKey.has(key)) {
        for (const [k, named] of this.byKey) if (slots.keys[named.slot] !== k || slots.fds[named.slot] === -1) this.byKey.delete(k);
      }
      this.byKey.set(key, file);
    }
    this.kept += 1;
    // Files forgotten and opened again while the cache is not full leave entries behind.
    if (this.tail - this.head > 2 * this.max + 1024) this.compact();
    if (this.tail === this.queue.length) this.moveQueueToFront();
    this.queue[this.tail] = slot;
    this.queueGeneration[this.tail] = slots.generations[slot] as number;
    this.tail += 1;
  }

  private lend(file: KeptFile): KeptFile {
    this.slots.inUse[file.slot] = 1;
    return file;
  }

  /** Done with `file`: closes it unless the cache keeps it. */
  done(file: OpenFile): void {
    if (!(file instanceof KeptFile)) return closeSync(file.fd);
    const slot = file.slot;
    this.slots.inUse[slot] = 0;
    // Closed while it was lent (it changed while read): free for the next file now.
    if (this.slots.fds[slot] === -1) this.unused.push(slot);
  }

  /** Closes the kept descriptor of `key` (acquired with number `id`, if any), if there is one (e.g. it could not be read whole). */
  forget(key: string, id?: number): void {
    const file = this.keptFor(key, id);
    if (file) this.close(file.slot);
  }

  private close(slot: number): void {
    const { slots } = this;
    closeSync(slots.fds[slot] as number);
    slots.fds[slot] = -1;
    this.kept -= 1;
    // Its entries in the queue are stale from now on.
    slots.nextGeneration(slot);
    // One a caller still holds is not used again (its done() then closes nothing: it is kept).
    if (slots.inUse[slot] === 0) this.unused.push(slot);
  }

  /** The slot of the queue's entry at `at`, if it is the current use of a kept file; -1 if not. */
  private current(at: number): number {
    const slot = this.queue[at] as number;
    return this.slots.generations[slot] === this.queueGeneration[at] && this.slots.fds[slot] !== -1 ? slot : -1;
  }

  /** Closes the oldest kept descriptor not in use; false when every one is in use. */
  private closeOldest(): boolean {
    for (let left = this.tail - this.head; left > 0 && this.head < this.tail; left--) {
      const at = this.head;
      this.head += 1;
      const slot = this.current(at);
      if (slot === -1) continue;
      if (this.slots.inUse[slot] === 1) {
        // Between a caller's acquire and done: its turn comes again later.
        if (this.tail === this.queue.length) this.moveQueueToFront();
        this.queue[this.tail] = slot;
        this.queueGeneration[this.tail] = this.slots.generations[slot] as number;
        this.tail += 1;
        continue;
      }
      this.close(slot);
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
      if (this.current(at) === -1) continue;
      this.queue[to] = this.queue[at] as number;
      this.queueGeneration[to] = this.queueGeneration[at] as number;
      to += 1;
    }
    this.head = 0;
    this.tail = to;
  }

  /** Closes every kept descriptor. */
  clear(): void {
    for (let slot = 0; slot < this.made.length; slot++) if (this.slots.fds[slot] !== -1) this.close(slot);
    this.byKey.clear();
    this.byId.fill(0);
    this.head = 0;
    this.tail = 0;
  }
}
