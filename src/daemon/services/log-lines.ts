/**
 * The daemon's log lines, handed to their destination once per turn of the event loop.
 *
 * pino's asynchronous destination (sonic-boom) appends each line to the text it has not
 * written yet and measures that whole text again with Buffer.byteLength, which flattens it:
 * while a write to stdout is in flight every line copies up to 16 KB. Under a download load
 * that was a third of everything the daemon allocated (12 KB a request) and most of its
 * garbage collection. Lines written in one turn (one read of a connection's requests, or of
 * several connections') are joined here and given to the destination as one string.
 *
 * Lines are never held longer than that turn: the batch goes out in a setImmediate, which
 * keeps the process alive until it has, and at exit (process.exit, an uncaught exception)
 * what is waiting is handed over synchronously before pino's own exit handler flushes the
 * destination — so {@link batchedLines} must be called before that destination is made.
 *
 * When the lines go to a regular file (the daemon's log, as `pyrepo start` opens it), each
 * turn's lines are written to it at once with write(2), as nginx writes its access log, and
 * the destination is left out. Its asynchronous writes run on libuv's thread pool: a thread
 * woken, a copy of the text, and a callback on the event loop for every turn. Under a load of
 * project pages that was 3-5% of the requests a second. A write to a file the system caches
 * does not wait for the disk, and took 2.6 µs for a turn's 16 access lines (a pipe or a
 * terminal can keep a writer waiting: those keep the destination).
 */
import { fstatSync, writeSync } from 'node:fs';
import type { DestinationStream } from 'pino';

/** A destination pino writes to, and that can be flushed (sonic-boom is both). */
export interface FlushableDestination extends DestinationStream {
  flush?(cb?: (err?: Error | null) => void): void;
  flushSync?(): void;
}

export class LineBatcher implements FlushableDestination {
  private pending: string[] = [];
  private scheduled: NodeJS.Immediate | undefined;

  constructor(
    private readonly dest: FlushableDestination,
    /** A regular file's descriptor the lines are written to, in place of `dest` (until a write fails). */
    private file?: number,
  ) {}

  write(line: string): void {
    this.pending.push(line);
    this.scheduled ??= setImmediate(this.handOver);
  }

  /** Gives the lines waiting to the destination (it writes them when it can). */
  readonly handOver = (): void => {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.pending.length === 0) return;
    const text = this.pending.length === 1 ? (this.pending[0] as string) : this.pending.join('');
    this.pending = [];
    if (this.file === undefined || !this.wroteToFile(this.file, text)) this.dest.write(text);
  };

  /**
   * Writes `text` whole to the file: true once it is written, or once what is left of it has
   * gone to the destination. A file that refuses a write (a full disk) is not written again:
   * the destination takes every later line, and says what is wrong as it always did.
   */
  private wroteToFile(fd: number, text: string): boolean {
    const bytes = Buffer.from(text, 'utf8');
    let at = 0;
    try {
      while (at < bytes.length) at += writeSync(fd, bytes, at);
      return true;
    } catch {
      this.file = undefined;
      if (at === 0) return false;
      this.dest.write(bytes.subarray(at).toString('utf8'));
      return true;
    }
  }

  flush(cb?: (err?: Error | null) => void): void {
    this.handOver();
    if (this.dest.flush) this.dest.flush(cb);
    else cb?.();
  }

  flushSync(): void {
    this.handOver();
    this.dest.flushSync?.();
  }
}

/** Whether `fd` is a regular file (not a pipe, a terminal or a socket). */
function isRegularFile(fd: number): boolean {
  try {
    return fstatSync(fd).isFile();
  } catch {
    return false;
  }
}

/**
 * A batcher in front of the destination `make` returns, made after the batcher's exit handler
 * is in place (pino's, registered when the destination is made, runs after it). With `fd`, the
 * descriptor that destination writes to, lines go to it directly when it is a regular file.
 */
export function batchedLines(make: () => FlushableDestination, fd?: number): LineBatcher {
  const made: { batcher?: LineBatcher } = {};
  process.once('exit', () => made.batcher?.handOver());
  made.batcher = new LineBatcher(make(), fd !== undefined && isRegularFile(fd) ? fd : undefined);
  return made.batcher;
}
