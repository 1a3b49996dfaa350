/**
 * Rendered index pages kept in a file instead of the daemon's memory, as nginx keeps the
 * pages it serves: in the operating system's page cache, read with one pread per request.
 *
 * At 10,000 projects the rendered project pages were 27 MB of the daemon's resident memory,
 * growing with every project; a read of a 2 KB page that the page cache holds costs a few
 * microseconds, against a request's hundred. The file is a cache and nothing more: it is
 * unlinked as soon as it is open (it disappears with the process, whatever the way it
 * ends), written only by appending, and emptied when more of it is stale than live.
 */
import { closeSync, ftruncateSync, openSync, readSync, rmSync, writeSync } from 'node:fs';

/** Where a page's bytes are in the file. */
export interface PageSpan {
  offset: number;
  length: number;
}

/** Stale bytes tolerated before the file is emptied, at least (and at least as many as live ones). */
const MIN_STALE_BYTES = 32 * 1024 * 1024;

export class PageFile {
  private fd: number | undefined;
  private end = 0;
  private stale = 0;
  /** Bumped each time the file is emptied: spans from before are no longer valid. */
  generation = 0;

  constructor(private readonly path: string) {}

  private open(): number {
    if (this.fd === undefined) {
      this.fd = openSync(this.path, 'w+', 0o600);
      // Gone from the folder at once; the open descriptor keeps it until the process ends.
      // Where a file open cannot be removed, the next start empties it ('w+').
      try {
        rmSync(this.path, { force: true });
      } catch {
        // Kept until the next start, which truncates it.
      }
    }
    return this.fd;
  }

  /** Appends `body`; where it is. */
  write(body: Buffer): PageSpan {
    const fd = this.open();
    const offset = this.end;
    for (let at = 0; at < body.length; ) at += writeSync(fd, body, at, body.length - at, offset + at);
    this.end += body.length;
    return { offset, length: body.length };
  }

  /** The bytes of a span written in this generation. */
  read(span: PageSpan): Buffer {
    const buf = Buffer.allocUnsafe(span.length);
    for (let at = 0; at < span.length; ) {
      const n = readSync(this.open(), buf, at, span.length - at, span.offset + at);
      if (n === 0) throw new Error('The page file is shorter than a page it holds.');
      at += n;
    }
    return buf;
  }

  /**
   * Notes that a span is no longer used. True when the stale part has grown past the live
   * part (and MIN_STALE_BYTES): the caller then forgets every span and calls {@link empty}.
   */
  release(span: PageSpan): boolean {
    this.stale += span.length;
    return this.stale > MIN_STALE_BYTES && this.stale > this.end - this.stale;
  }

  /** Forgets every page: the file starts again from nothing. */
  empty(): void {
    if (this.fd !== undefined) ftruncateSync(this.fd, 0);
    this.end = 0;
    this.stale = 0;
    this.generation += 1;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
