/**
 * The bytes of a large file sent to a response through two buffers used in turn.
 *
 * fs.createReadStream reads each part into a buffer of its own. Those buffers are memory
 * outside V8's heap, freed only by a collection, and V8 starts one for them only once they
 * reach about 64 MB more than after the last: one download of a 60 MB wheel took the daemon
 * from 82 to 105 MB, and the next ones kept it there. Here a part is read into one of two
 * buffers, written to the response, and its buffer read into again only once the response
 * has handed that part to the operating system (the write's callback): the other buffer is
 * read meanwhile. A download holds 2 × {@link SEND_PART_BYTES} whatever its size.
 *
 * fastify sends a stream by piping it into the response; this stream's pipe() writes the
 * parts itself, with a callback for each. It is a Readable only for fastify to see it end,
 * fail or be destroyed (the client gone): nothing else may read it.
 */
import { close, read } from 'node:fs';
import { Readable } from 'node:stream';

/** One part: as large as a socket takes at once on loopback, twice over. */
export const SEND_PART_BYTES = 128 * 1024;

/** What pipe() writes to: a response (node:http's, or light-my-request's in tests). */
type Destination = NodeJS.WritableStream & { once(event: 'drain' | 'close', listener: () => void): unknown; removeListener(event: string, listener: () => void): unknown };

function readAt(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, length, position, (err, got) => (err ? reject(err) : resolve(got))));
}

export class FilePartStream extends Readable {
  private piped = false;
  /** Whether the descriptor is someone's to close: send()'s once piped, else this stream's own. */
  private fdTaken = false;
  /** Resolves once the stream is destroyed: nothing waited for then (a write's callback, a drain) holds the sending up. */
  private readonly gone: Promise<void>;
  private leave: () => void = () => undefined;

  /**
   * Bytes `first` to `last` (inclusive) of the open file `fd`, which the stream closes once
   * done with it (sent, failed or destroyed), never while a read of it is under way.
   */
  constructor(
    private readonly fd: number,
    private readonly first: number,
    private readonly last: number,
  ) {
    super();
    this.gone = new Promise((resolve) => (this.leave = resolve));
  }

  /**
   * Read other than through pipe(): fastify drains a stream it does not send (HEAD) with
   * resume(). It then ends at once, without bytes, and the descriptor is closed.
   */
  override _read(): void {
    if (this.piped) return;
    this.closeFd();
    this.push(null);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.leave();
    // Never sent (a request that failed first): the descriptor is closed here, else by send().
    if (!this.piped) this.closeFd();
    callback(err);
  }

  /** Closes the descriptor unless someone already has it to close. */
  private closeFd(): void {
    if (this.fdTaken) return;
    this.fdTaken = true;
    close(this.fd, () => undefined);
  }

  override pipe<T extends NodeJS.WritableStream>(destination: T): T {
    if (this.piped) throw new Error('A file part stream is sent to one destination only.');
    this.piped = true;
    // Destroyed, or drained without being sent, first: the descriptor is closed already.
    if (this.fdTaken) return destination;
    this.fdTaken = true;
    void this.send(destination as unknown as Destination).then(
      () => {
        if (this.destroyed) return;
        // Ends the Readable for whoever watches it (fastify's end-of-stream).
        this.push(null);
        this.resume();
      },
      (err: unknown) => this.destroy(err as Error),
    );
    return destination;
  }

  private async send(out: Destination): Promise<void> {
    // A response whose connection is gone may never call back a write (node:http drops the
    // ones made between the socket's end and its 'close'): its close ends the sending as this
    // stream's destruction does, whoever piped it (fastify then destroys the stream too; a
    // plain pipe() does not).
    let outClosed = (out as unknown as { destroyed?: boolean }).destroyed === true;
    const closed = new Promise<void>((resolve) =>
      out.once('close', () => {
        outClosed = true;
        resolve();
      }),
    );
    const stop = Promise.race([this.gone, closed]);
    const buffers = [Buffer.allocUnsafeSlow(SEND_PART_BYTES), Buffer.allocUnsafeSlow(SEND_PART_BYTES)];
    /** Each buffer's last write, until the response has handed it on (or is gone: `stop`). */
    const written: (Promise<void> | undefined)[] = [undefined, undefined];
    let position = this.first;
    let turn = 0;
    try {
      while (position <= this.last) {
        const buf = buffers[turn] as Buffer;
        if (written[turn]) await Promise.race([written[turn], stop]);
        if (this.destroyed || outClosed) return;
        const want = Math.min(SEND_PART_BYTES, this.last - position + 1);
        const got = await readAt(this.fd, buf, want, position);
        if (this.destroyed || outClosed) return;
        if (got === 0) throw new Error('The file became shorter while it was sent.');
        position += got;
        let ok = true;
        written[turn] = new Promise<void>((resolve) => {
          ok = out.write(buf.subarray(0, got), () => resolve());
        });
        turn ^= 1;
        if (!ok) await Promise.race([drained(out), stop]);
      }
      if (!this.destroyed) out.end();
    } finally {
      // No read is under way: each was waited for. (Writes use the buffers, not the descriptor.)
      close(this.fd, () => undefined);
    }
  }
}

/** Resolves when `out` drains or closes (at once when it is destroyed already). */
function drained(out: Destination): Promise<void> {
  if ((out as unknown as { destroyed?: boolean }).destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      out.removeListener('drain', done);
      out.removeListener('close', done);
      resolve();
    };
    out.once('drain', done);
    out.once('close', done);
  });
}
