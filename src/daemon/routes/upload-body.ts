/**
 * Reading an upload's raw body: whole, for a form read in one piece (upload-form.ts), or
 * watched as busboy streams it, for what the multipart parser does not report:
 * @fastify/multipart ends its parts quietly when the body stops before the closing
 * boundary (busboy's "Unexpected end of multipart data"), so a body cut off between two
 * parts would otherwise look like a complete form with fields missing. Both notice a body
 * that stops arriving (a client that declared more bytes than it sends).
 */
import type { IncomingMessage } from 'node:http';

/** The `boundary` parameter of a multipart Content-Type, or undefined. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  const m = /;\s*boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType ?? '');
  return m ? (m[1] ?? m[2]) : undefined;
}

export interface UploadBodyWatch {
  /** True once the closing `--boundary--` delimiter went by. */
  readonly closed: boolean;
  /** Bytes of body received so far. */
  readonly bytes: number;
  /** Rejects with `stalled()` once no byte arrived for the idle time; never resolves. */
  readonly stalled: Promise<never>;
  /** Stops watching (the idle timer too). */
  stop(): void;
}

/**
 * Starts watching `req`. Call it right before the parser starts reading (in the same tick),
 * so that the first chunk is seen by both: a 'data' listener starts the flow on the next tick.
 */
export function watchUploadBody(req: IncomingMessage, boundary: string | undefined, idleMs: number, stalled: () => Error): UploadBodyWatch {
  // The closing delimiter is CRLF "--" boundary "--"; a body may also start with it (no parts).
  const needle = boundary === undefined ? undefined : Buffer.from(`\r\n--${boundary}--`, 'latin1');
  let tail = Buffer.from('\r\n', 'latin1');
  let closed = false;
  let bytes = 0;
  let timer: NodeJS.Timeout | undefined;
  let fail: ((err: Error) => void) | undefined;
  const stalledPromise = new Promise<never>((_resolve, reject) => {
    fail = reject;
  });
  // Nobody may await it when the body completes: never an unhandled rejection.
  stalledPromise.catch(() => undefined);

  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      // A body held back by the parser (writing to disk) or already complete has not stalled.
      if (req.complete || req.readableFlowing === false) arm();
      else fail?.(stalled());
    }, idleMs);
    timer.unref();
  };
  const onData = (chunk: Buffer) => {
    bytes += chunk.length;
    arm();
    if (closed || !needle) return;
    // The delimiter may straddle two chunks: look at the end of the last one joined to the start of this one.
    const edge = Buffer.concat([tail, chunk.subarray(0, needle.length - 1)]);
    if (edge.includes(needle) || chunk.includes(needle)) {
      closed = true;
      return;
    }
    const keep = needle.length - 1;
    tail = Buffer.from(chunk.length >= keep ? chunk.subarray(-keep) : Buffer.concat([tail, chunk]).subarray(-keep));
  };
  req.on('data', onData);
  arm();
  return {
    get closed() {
      return closed;
    },
    get bytes() {
      return bytes;
    },
    stalled: stalledPromise,
    stop() {
      clearTimeout(timer);
      req.off('data', onData);
    },
  };
}

/**
 * The whole body of `req`. Rejects with `stalled()` once no byte arrived for `idleMs`, and with
 * node:http's "aborted" (ECONNRESET) when the client goes before the body is complete.
 */
export function readWholeBody(req: IncomingMessage, idleMs: number, stalled: () => Error): Promise<Buffer> {
  const aborted = () => Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
  if (req.destroyed) return Promise.reject(aborted());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => finish(stalled()), idleMs);
    timer.unref();
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      timer.refresh();
    };
    const onEnd = () => finish(undefined);
    const onClose = () => finish(aborted());
    const finish = (err: Error | undefined) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', finish).off('close', onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    };
    req.on('data', onData).on('end', onEnd).on('error', finish).on('close', onClose);
    req.resume();
  });
}
