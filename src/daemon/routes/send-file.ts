/**
 * Sends one distribution file from the blob store on this machine: the file (kept open
 * between downloads by the store, open-files.ts), the
 * date preconditions, the range already decided (byte-range.ts), then the bytes. Small files (nearly every wheel and sdist) are
 * read in one synchronous read on the event loop and sent as one buffer, as nginx reads
 * them in its worker: on a page-cache-hot file open + fstat + read + close cost a few
 * microseconds each, while each asynchronous fs call is a thread-pool round trip (four of
 * them per download, plus a stream, made @fastify/send the largest cost of a download).
 * Larger files stream from the descriptor already open, through two buffers used in turn
 * (file-part-stream.ts).
 *
 * The caller answers If-Match and If-None-Match from the catalog's ETag before calling:
 * a 304 never touches the disk.
 */
import { readSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RangeDecision } from './byte-range.js';
import { FilePartStream } from './file-part-stream.js';
import { READ_AT_ONCE_BYTES, type OpenFile } from '../services/open-files.js';
import type { LocalBlobs } from '../stores/blob-store.js';

/** The status sent and the range it answered, or that the file was not there. */
export type SendOutcome = { status: number; range: RangeDecision } | { missing: true };

const WHOLE: RangeDecision = { kind: 'whole' };

/** The file could not be read whole (it shrank while being read): the next request sees it as it is now. */
export class FileChangedError extends Error {
  override readonly name = 'FileChangedError';
}

/**
 * Reads `length` bytes at `position` of an open file (acquired with number `id`, if any), then
 * is done with it. A file that turns out shorter is not kept open, so that the next request
 * opens it as it is now.
 */
export function readWhole(blobs: Pick<LocalBlobs, 'done' | 'forget'>, key: string, file: OpenFile, length: number, position: number, id?: number): Buffer {
  try {
    const buf = Buffer.allocUnsafe(length);
    for (let at = 0; at < length; ) {
      const n = readSync(file.fd, buf, at, length - at, position + at);
      if (n === 0) {
        blobs.forget(key, id);
        throw new FileChangedError('The file became shorter while it was read.');
      }
      at += n;
    }
    return buf;
  } finally {
    blobs.done(file);
  }
}

/** Seconds since the epoch of an HTTP date, or NaN. HTTP dates have whole seconds. */
const httpSeconds = (value: string | undefined) => (value === undefined ? NaN : Math.floor(Date.parse(value) / 1000));

export interface SendFileOptions {
  /** The store on this machine that holds the file. */
  blobs: LocalBlobs;
  /** The catalog's sha256 of the file. */
  sha256: string;
  /** The catalog's number of the file, if it has one (kept descriptors are found by it). */
  id?: number | undefined;
  /** The Content-Type of the file's bytes. */
  contentType: string;
  /** The range to answer for the file's real size and Last-Modified date (If-Range is compared with it). */
  rangeOf: (size: number, lastModified: string) => RangeDecision;
}

/**
 * Sends the file stored under `key`, with the validators already set on `reply` (ETag,
 * Cache-Control). Adds Last-Modified, Accept-Ranges, Content-Length and Content-Range;
 * answers If-Unmodified-Since (412) and, unless If-None-Match was sent (RFC 9110 §13.1.3)
 * or the client asks for no-cache, If-Modified-Since (304). Size and dates are those of the
 * open file, so what is sent is always one whole file, exactly as it is on disk.
 */
export function sendFile(req: FastifyRequest, reply: FastifyReply, key: string, opts: SendFileOptions): SendOutcome {
  const opened = opts.blobs.acquire(key, opts.sha256, opts.id);
  if (!opened) return { missing: true };
  const { fd, size, lastModified } = opened;
  let done = false;
  try {
    reply.header('last-modified', lastModified).header('accept-ranges', 'bytes');
    const modifiedSeconds = Math.floor(opened.mtimeMs / 1000);
    if (modifiedSeconds > httpSeconds(req.headers['if-unmodified-since'])) {
      reply.code(412).type('text/plain; charset=utf-8').send(`The file changed after ${req.headers['if-unmodified-since']} (If-Unmodified-Since).\n`);
      return { status: 412, range: WHOLE };
    }
    const noCache = req.headers['cache-control']?.includes('no-cache') ?? false;
    if (req.headers['if-none-match'] === undefined && !noCache && modifiedSeconds <= httpSeconds(req.headers['if-modified-since'])) {
      reply.code(304).send();
      return { status: 304, range: WHOLE };
    }
    const range = opts.rangeOf(size, lastModified);
    if (range.kind === 'unsatisfiable') {
      // Not a representation of the file: nothing a cache may keep for a year.
      reply.code(416).header('content-range', `bytes */${size}`).removeHeader('cache-control');
      reply.type('text/plain; charset=utf-8').send(`No byte of the range '${req.headers.range ?? ''}' is in this file (${size} bytes).\n`);
      return { status: 416, range };
    }
    const first = range.kind === 'part' ? range.first : 0;
    const length = range.kind === 'part' ? range.last - range.first + 1 : size;
    const status = range.kind === 'part' ? 206 : 200;
    let body: Buffer | Readable;
    // fastify answers HEAD through the GET route and drops the body; an empty stream (not
    // an empty buffer, which it would measure) keeps the Content-Length set here.
    if (req.method === 'HEAD') body = Readable.from([]);
    else if (length <= READ_AT_ONCE_BYTES || opened.kept) {
      done = true;
      body = readWhole(opts.blobs, key, opened, length, first, opts.id);
    } else {
      // Only a descriptor the cache does not keep is handed to a stream, which closes it.
      body = new FilePartStream(fd, first, first + length - 1);
      done = true;
    }
    reply.code(status).header('content-type', opts.contentType).header('content-length', String(length));
    if (range.kind === 'part') reply.header('content-range', `bytes ${first}-${range.last}/${size}`);
    reply.send(body);
    return { status, range };
  } finally {
    if (!done) opts.blobs.done(opened);
  }
}
