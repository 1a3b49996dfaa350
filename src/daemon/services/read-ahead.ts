/**
 * Reads the files a first indexing is about to read into the page cache, several at a time
 * in the thread pool, when the disk is cold.
 *
 * The indexer reads each small file on the event loop (publisher.ts): 8 µs from the page
 * cache, 65-80 µs from this kind of machine's disk, one read after another. A folder of
 * 60,000 files not read since the cache let go of it took 17-21 s to index, and 9.8-11.4 s
 * once cached; sixteen reads in flight read all of it in 1.9 s. Reading ahead costs the
 * event loop a trip to the thread pool per file (13-16 µs with the pool's threads busy) and
 * on two cores their work slows the event loop, which made a cached folder's indexing a
 * third slower. So it reads ahead only when a sample of the files it is about to read
 * shows a cold disk.
 */
import { closeSync, openSync, read, readSync } from 'node:fs';

/** Bytes read of each file: the kernel's own readahead brings in the rest of a small one. */
const READ_BYTES = 64 * 1024;
/** Where the reads go: shared, as what is read is never looked at. */
const scratch = Buffer.allocUnsafe(READ_BYTES);
/** Files read (synchronously, timed) to tell a cold disk from the page cache. */
const SAMPLE_FILES = 16;
/** Microseconds a file above which the sample says the disk is cold. */
const COLD_MICROS = 30;
/** While the disk is warm, files between two samples. */
const SAMPLE_EVERY = 2000;

export class ReadAhead {
  /** The next file to read ahead. */
  private next = 0;
  /** The file the reader is at. */
  private reached = 0;
  private inFlight = 0;
  /** Whether a sample found the disk cold: then it reads ahead. */
  private cold = false;
  /** Where the next sample is taken while the disk is warm. */
  private nextSample = 0;
  private stopped = false;

  constructor(
    /** How many files the reader reads. */
    private readonly count: number,
    /** The path of the reader's file `index` (made only when it is needed). */
    private readonly pathAt: (index: number) => string,
    private readonly opts: {
      /** Reads in flight at most (the thread pool runs four at once). */
      depth?: number;
      /** How many files ahead of the reader it reads at most. */
      window?: number;
      /** Microseconds a sampled file above which the disk counts as cold (tests set it). */
      coldMicros?: number;
    } = {},
  ) {}

  /** Whether it found the disk cold and reads ahead. */
  get readingAhead(): boolean {
    return this.cold;
  }

  /** Reads in flight now. */
  get pending(): number {
    return this.inFlight;
  }

  /** The reader is at file `index` of the list: samples the disk, or reads the files after it. */
  reach(index: number): void {
    this.reached = index;
    if (!this.cold && index >= this.nextSample) this.sample(index);
    if (this.cold) this.fill();
  }

  /** Starts no more reads (those in flight end on their own). */
  stop(): void {
    this.stopped = true;
  }

  /** Reads the next few files now, timed; they are then in the cache for the reader too. */
  private sample(from: number): void {
    this.nextSample = from + SAMPLE_EVERY;
    const end = Math.min(this.count, from + SAMPLE_FILES);
    if (end <= from) return;
    const started = performance.now();
    for (let i = from; i < end; i++) warmNow(this.pathAt(i));
    this.cold = ((performance.now() - started) * 1000) / (end - from) > (this.opts.coldMicros ?? COLD_MICROS);
    this.next = end;
  }

  private fill(): void {
    // The file the reader is at, and any it got to first, are read by it.
    if (this.next <= this.reached) this.next = this.reached + 1;
    const depth = this.opts.depth ?? 16;
    const window = this.opts.window ?? 64;
    while (!this.stopped && this.inFlight < depth && this.next < this.count && this.next < this.reached + window) {
      this.warm(this.pathAt(this.next++));
    }
  }

  /**
   * Only the read goes to the thread pool: the scan has just read the file's inode, so the
   * open and close are quick here, where each trip to the pool costs the event loop.
   */
  private warm(path: string): void {
    const fd = openQuietly(path);
    if (fd === undefined) return;
    this.inFlight += 1;
    read(fd, scratch, 0, READ_BYTES, 0, () => {
      closeSync(fd);
      this.inFlight -= 1;
      this.fill();
    });
  }
}

/** The file opened for reading, or undefined: the reader meets the same failure (a file gone meanwhile, no permission) and reports it. */
function openQuietly(path: string): number | undefined {
  try {
    return openSync(path, 'r');
  } catch {
    return undefined;
  }
}

/** Reads the start of a file at once (a failure is the reader's to report, as above). */
function warmNow(path: string): void {
  const fd = openQuietly(path);
  if (fd === undefined) return;
  try {
    readSync(fd, scratch, 0, READ_BYTES, 0);
  } catch {
    // As above.
  } finally {
    closeSync(fd);
  }
}
