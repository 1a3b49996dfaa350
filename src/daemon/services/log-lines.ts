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
 */
import type { DestinationStream } from 'pino';

/** A destination pino writes to, and that can be flushed (sonic-boom is both). */
export interface FlushableDestination extends DestinationStream {
  flush?(cb?: (err?: Error | null) => void): void;
  flushSync?(): void;
}

export class LineBatcher implements FlushableDestination {
  private pending: string[] = [];
  private scheduled: NodeJS.Immediate | undefined;

  constructor(private readonly dest: FlushableDestination) {}

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
    this.dest.write(text);
  };

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

/**
 * A batcher in front of the destination `make` returns, made after the batcher's exit handler
 * is in place (pino's, registered when the destination is made, runs after it).
 */
export function batchedLines(make: () => FlushableDestination): LineBatcher {
  const made: { batcher?: LineBatcher } = {};
  process.once('exit', () => made.batcher?.handOver());
  made.batcher = new LineBatcher(make());
  return made.batcher;
}
