/**
 * Rendered pages too large to keep in memory, each in a file of its own, streamed to every
 * reader from there as a distribution file is.
 *
 * The web home lists every project and `/packages/` every file: at 10,000 projects and 60,000
 * files they are 1.5 and 12 MB. Kept in memory, the listing alone was a tenth of the daemon's
 * resident memory for as long as the catalog did not change, and rendering it from every
 * project's records at once raised the daemon's peak by 63 MB. Here a rendering is written
 * to its file as it is made (the caller writes it in parts), hashed on the way for its ETag,
 * and read back in 64 KiB parts for each answer; the operating system's page cache holds it
 * as it holds the files.
 *
 * Measured at 60,000 files after the bench's loads: the web home and the listing once each
 * raise the peak by 1 to 5 MB and leave nothing behind;
 * 32 connections fetching the listing without pause kept the daemon at 94 MB. The price is
 * speed under a load no browser makes: those 32 connections got 93 listings a second
 * (1.1 GB/s) against 389 from memory, and the web home 529 against 2,633; one listing takes
 * 15 to 25 ms against 7.
 *
 * A page's file is unlinked as soon as it is open: it is gone whatever the way the process
 * ends, and the descriptor is closed once the page is forgotten and its last reader is done.
 * The names are this module's own (`.spooled-<n>.tmp`), and {@link removeLeftovers} removes
 * those a process left between an open and its unlink. Pages are kept until the catalog's
 * serial moves, as SerialPages keeps the small ones.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { makePage, type Page } from './page-cache.js';

const LEFTOVER = /^\.spooled-\d+-\d+\.tmp$/;
/** Parts up to this size are encoded in the buffer kept for that; a larger one gets a buffer of its own. */
const SCRATCH_MAX_BYTES = 1024 * 1024;
/** Reads of a page's file per chunk sent: as large as a socket takes at once on loopback. */
const READ_BYTES = 64 * 1024;

/** A page whose bytes are in a file of its own. */
export interface SpooledPage {
  etag: string;
  length: number;
  /** Its bytes, from the first; the file stays open until the stream ends or is destroyed. */
  stream(): Readable;
}

/** Appends a part of a page being rendered. */
export type PageWriter = (text: string) => void;

/** Removes the files of pages an earlier process left in `dir` (it ended between an open and its unlink). */
export function removeLeftovers(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) if (LEFTOVER.test(name)) rmSync(join(dir, name), { force: true });
}

let nextFile = 0;
/** Where parts are encoded before they are written (parts are tens of KiB): it grows to the largest, up to SCRATCH_MAX_BYTES. */
let scratch = Buffer.alloc(0);

/** The page's file could not be made or written (a full disk, no permission): the page is then made in memory. */
class SpoolError extends Error {
  override readonly name = 'SpoolError';
}
/** Where parts are read before they are decoded and sent. */
let readBuffer: Buffer | undefined;
const partBuffer = (): Buffer => (readBuffer ??= Buffer.allocUnsafeSlow(READ_BYTES));

/** One page's file: written once, then read by any number of streams. */
class SpoolFile implements SpooledPage {
  readonly fd: number;
  etag = '';
  length = 0;
  private readonly hash: Hash = createHash('sha256');
  private readers = 0;
  private forgotten = false;
  private closed = false;

  constructor(dir: string) {
    // The process's number in the name, and 'wx+': never a file another process has open.
    const path = join(dir, `.spooled-${process.pid}-${nextFile++}.tmp`);
    try {
      this.fd = openSync(path, 'wx+', 0o600);
    } catch (err) {
      throw new SpoolError(`Could not make ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      rmSync(path, { force: true });
    } catch {
      // Removed at the next start (removeLeftovers).
    }
  }

  write(text: string): void {
    const length = Buffer.byteLength(text, 'utf8');
    // Encoded into one buffer used again for every part: a buffer of its own per part was
    // 10 MB of ArrayBuffers awaiting a collection after the listing at 60,000 files.
    let into = scratch;
    if (length > scratch.length) {
      into = Buffer.allocUnsafe(length);
      if (length <= SCRATCH_MAX_BYTES) scratch = into;
    }
    into.write(text, 0, 'utf8');
    const bytes = into.subarray(0, length);
    try {
      for (let at = 0; at < length; ) at += writeSync(this.fd, bytes, at, length - at, this.length + at);
    } catch (err) {
      throw new SpoolError(`Could not write a page's file: ${(err as Error).message}`, { cause: err });
    }
    this.hash.update(bytes);
    this.length += bytes.length;
  }

  /** The page is whole: its ETag is made as makePage makes one. */
  finish(): this {
    this.etag = `"${this.hash.digest('base64url').slice(0, 27)}"`;
    return this;
  }

  /**
   * A stream of the page, as text in parts (the socket encodes them as UTF-8: the bytes
   * written, since the file holds what Buffer.write made of the rendering).
   *
   * Not fs.createReadStream: its destroy() closes the descriptor even with `autoClose:
   * false`, so a client that hangs up would close the file under the other readers; this
   * one reads at its own position and never closes it. And not buffers: each part in a
   * buffer of its own is memory outside V8's heap that lingers until a collection V8 has no
   * reason to start (one listing at 60,000 files left 12 MB of them, and raised the peak by
   * 9 MB). Each part is read into one buffer used again, synchronously (the page was just
   * written: the operating system's page cache has it), and decoded into a string, which
   * dies young.
   */
  stream(): Readable {
    // Never so for a page from get(), which forgets pages a turn of the event loop later.
    if (this.closed) throw new Error('A rendered page was read after its file was closed.');
    this.readers += 1;
    const { fd, length } = this;
    const decoder = new StringDecoder('utf8');
    let position = 0;
    let gone = false;
    const leave = () => {
      if (gone) return;
      gone = true;
      this.readers -= 1;
      this.closeIfDone();
    };
    const stream: Readable = new Readable({
      // Parts are strings, passed on as they are; one waits while the client reads the last.
      objectMode: true,
      highWaterMark: 1,
      read() {
        const want = Math.min(READ_BYTES, length - position);
        if (want <= 0) {
          const rest = decoder.end();
          if (rest) stream.push(rest);
          return void stream.push(null);
        }
        const buf = partBuffer();
        let got: number;
        try {
          got = readSync(fd, buf, 0, want, position);
        } catch (err) {
          return void stream.destroy(err as Error);
        }
        if (got === 0) return void stream.destroy(new Error('The file of a rendered page is shorter than the page.'));
        position += got;
        stream.push(decoder.write(buf.subarray(0, got)));
      },
      destroy(err, done) {
        leave();
        done(err);
      },
    });
    return stream;
  }

  /** No new reader will come: the file is closed once the last one is done. */
  forget(): void {
    this.forgotten = true;
    this.closeIfDone();
  }

  private closeIfDone(): void {
    if (!this.forgotten || this.readers > 0 || this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

export class SpooledPages {
  private readonly kept = new Map<string, SpoolFile>();
  /** Set by close(): pages rendered from then on are answered, never kept. */
  private closed = false;
  /** Renderings under way: a second request for the same page waits for the first one's. */
  private readonly rendering = new Map<string, Promise<SpooledPage | Page>>();
  private serial: number;

  constructor(
    private readonly dir: string,
    private readonly serialOf: () => number,
    /** Renderings kept; one more forgets them all. */
    private readonly maxVariants: number,
  ) {
    this.serial = serialOf();
  }

  /**
   * The page `variant`, rendered by `render` on first use since the catalog last changed. A
   * page whose rendering saw a change is answered but not kept; one the folder cannot take
   * (a full disk) is rendered again into memory and answered from there, not kept either.
   */
  get(variant: string, render: (write: PageWriter) => Promise<void> | void): Promise<SpooledPage | Page> {
    this.forgetIfChanged();
    const hit = this.kept.get(variant);
    if (hit) return Promise.resolve(hit);
    // Only a rendering begun since the last change is waited for.
    const key = `${this.serial}\u0000${variant}`;
    const under = this.rendering.get(key);
    if (under) return under;
    const made = this.make(variant, render).finally(() => this.rendering.delete(key));
    this.rendering.set(key, made);
    return made;
  }

  /**
   * Forgets every page (the catalog changed, or too many renderings). Their files are closed
   * a turn of the event loop later, after their last reader: a request that got a page from
   * get() in this turn takes its reader before then.
   */
  clear(): void {
    const forgotten = [...this.kept.values()];
    this.kept.clear();
    if (forgotten.length > 0) setImmediate(() => forgotten.forEach((page) => page.forget()));
  }

  /** The daemon is closing: every page is forgotten, and none kept from now on. */
  close(): void {
    this.closed = true;
    this.clear();
  }

  private forgetIfChanged(): void {
    const now = this.serialOf();
    if (now === this.serial) return;
    this.serial = now;
    this.clear();
  }

  private async make(variant: string, render: (write: PageWriter) => Promise<void> | void): Promise<SpooledPage | Page> {
    const serial = this.serialOf();
    let page: SpoolFile | undefined;
    try {
      page = new SpoolFile(this.dir);
      const file = page;
      await render((text) => file.write(text));
      page.finish();
    } catch (err) {
      page?.forget();
      if (!(err instanceof SpoolError)) throw err;
      const parts: string[] = [];
      await render((text) => parts.push(text));
      return makePage(parts.join(''));
    }
    this.forgetIfChanged();
    if (serial !== this.serial || this.closed) {
      // Answered to the requests that waited for it, then closed.
      setImmediate(() => page.forget());
      return page;
    }
    if (this.kept.size >= this.maxVariants) this.clear();
    this.kept.set(variant, page);
    return page;
  }
}
