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
  /** The cache's key for it (see {@link OpenFiles}). */
  key: string;
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

function isGone(code: string | undefined): boolean {
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

/**
 * Kept descriptors by key (a blob store's key, a relpath): the path is made from the key only
 * when the file is opened, not at every download.
 */
export class OpenFiles {
  /** By key. */
  private readonly open = new Map<string, OpenFile>();
  /**
   * Kept files in the order they were opened, oldest at `head`; an entry forgotten since is
   * skipped when its turn comes (it is no longer the map's entry for its key). When full,
   * one file is closed per file opened, as nginx's open_file_cache does: closing a sixteenth
   * at once held up every connection for the thousand closes (the downloads' p99 at 60,000
   * files), and taking the oldest from the Map walked past the slots of every entry deleted
   * before it (10% of the CPU).
   */
  private order: OpenFile[] = [];
  private head = 0;

  constructor(
    /** How many descriptors to keep at most (0 keeps none). */
    private readonly max: number,
    /** Files up to this size are kept open. */
    private readonly keepUpTo: number,
    /** How long a kept descriptor is used before fstat checks it again (tests shorten it). */
    private readonly revalidateMs = REVALIDATE_MS,
    /** The path of the file a key names. */
    private readonly pathOf: (key: string) => string = (key) => key,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /**
   * The file `key` names, with content `sha256` (the catalog's), open: the kept descriptor when
   * it was opened for that content and is still the file at that path, else a new one.
   * Undefined when nothing (or no regular file) is there.
   */
  acquire(key: string, sha256: string): OpenFile | undefined {
    const kept = this.open.get(key);
    if (kept) {
      const now = performance.now();
      if (kept.sha256 === sha256) {
        if (now - kept.checkedAt < this.revalidateMs) return kept;
        const st = fstatSync(kept.fd);
        if (st.nlink > 0 && st.size === kept.size && st.mtimeMs === kept.mtimeMs) {
          kept.checkedAt = now;
          return kept;
        }
      }
      this.forget(key);
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
      const keep = this.max > 0 && st.size <= this.keepUpTo;
      const file: OpenFile = { fd, size: st.size, mtimeMs: st.mtimeMs, lastModified: httpDateOf(st.mtimeMs), sha256, checkedAt: performance.now(), kept: keep, key };
      if (keep) {
        if (this.open.size >= this.max) this.closeOldest();
        this.open.set(key, file);
        this.order.push(file);
        // Files forgotten and opened again while the cache is not full leave entries behind.
        if (this.order.length - this.head > 2 * this.max + 1024) this.compact();
      }
      return file;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** Done with `file`: closes it unless the cache keeps it. */
  done(file: OpenFile): void {
    if (!file.kept) closeSync(file.fd);
  }

  /** Closes the kept descriptor of `key`, if there is one (e.g. it could not be read whole). */
  forget(key: string): void {
    const file = this.open.get(key);
    if (!file) return;
    this.open.delete(key);
    // `file.kept` stays true, so a caller's done() after this does not close the number again.
    closeSync(file.fd);
  }

  /** Closes the oldest kept descriptor. */
  private closeOldest(): void {
    while (this.head < this.order.length) {
      const file = this.order[this.head++] as OpenFile;
      if (this.open.get(file.key) === file) {
        this.forget(file.key);
        break;
      }
    }
    // Drop the part of the queue already passed once it is half of it (amortized O(1)).
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  /** The queue without the entries forgotten since they were kept. */
  private compact(): void {
    this.order = this.order.slice(this.head).filter((file) => this.open.get(file.key) === file);
    this.head = 0;
  }

  /** Closes every kept descriptor. */
  clear(): void {
    for (const key of [...this.open.keys()]) this.forget(key);
    this.order = [];
    this.head = 0;
  }
}
