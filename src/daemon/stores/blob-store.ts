/**
 * Where distribution files' bytes live, behind one asynchronous interface: the packages
 * folder (one daemon, the default) or an S3-compatible bucket (daemons sharing an index).
 *
 * The contract every adapter keeps (test/daemon/blob-store-contract.test.ts checks it):
 * - A file is written to a temporary place first (`createTemp` or `writeTemp`), made durable
 *   (`seal`), then published under its key (`commit`): readers see the whole file or none.
 * - `open` streams a key's bytes, or a byte range of them, exactly as they were written.
 * - Deleting a key that is gone is not an error.
 */
import type { Readable } from 'node:stream';
import type { OpenFile } from '../services/open-files.js';
import type { TempFile } from '../services/storage.js';

export type { TempFile } from '../services/storage.js';

/** An inclusive byte range, as HTTP's Range header names one. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface BlobInfo {
  size: number;
  mtimeMs: number;
}

export interface BlobStore {
  /** Creates what the store needs (a folder, a check that the bucket answers); removes temporary files left by a crash. */
  prepare(): Promise<string[]>;
  /** A new temporary file, for an upload streamed to disk. */
  createTemp(): Promise<TempFile>;
  /** A small upload held in memory, written to a new temporary file. */
  writeTemp(bytes: Buffer): TempFile;
  /** Makes a finished temporary file durable; returns its mtime. */
  seal(temp: TempFile): Promise<number>;
  /**
   * Publishes a sealed temporary file as the file `filename` with content `sha256`; returns
   * the key it is stored under (the catalog's relpath). The temporary file is gone afterwards.
   */
  commit(temp: TempFile, filename: string, sha256: string): Promise<string>;
  /** Removes a temporary file that was not committed. */
  discard(temp: TempFile): Promise<void>;
  /** The bytes of a key, or of a range of it. Rejects with code ENOENT when the key is not there. */
  open(key: string, range?: ByteRange): Promise<Readable>;
  /** The whole bytes of a (small) key. Rejects with code ENOENT when the key is not there. */
  read(key: string): Promise<Buffer>;
  /** Size and modification time of a key, or undefined when it is not there. */
  stat(key: string): Promise<BlobInfo | undefined>;
  /** Deletes a key; a key already gone is not an error. */
  remove(key: string): Promise<void>;
  /** Lets go of what the store holds open. */
  close(): Promise<void>;
}

/**
 * A blob store whose keys are files on this machine: the packages folder (the default, and
 * each shared daemon's own copy of the bucket). Downloads are sent from it without waiting:
 * descriptors are kept open between downloads (open-files.ts) and small files are read on
 * the event loop, as nginx reads them in its worker.
 */
export interface LocalBlobs extends BlobStore {
  /**
   * The key's file, open, holding content `sha256` (the catalog's): a kept descriptor when it
   * is still that file, else a new one. Undefined when nothing is there. Give it back with
   * {@link LocalBlobs.done}. A caller that numbers its files (the catalog's file numbers)
   * passes the file's number: it is found by it (and only by it) as long as it is kept.
   */
  acquire(key: string, sha256: string, id?: number): OpenFile | undefined;
  /** Done with a file from acquire: closed unless it is kept. */
  done(file: OpenFile): void;
  /** Closes the kept descriptor of a key (it could not be read whole), acquired with number `id` if any: the next acquire opens it as it is now. */
  forget(key: string, id?: number): void;
  /** Where the key's bytes are, for reading a large archive's members in place. */
  pathOf(key: string): string;
  /**
   * As {@link BlobStore.stat}, at once: a stat on the event loop costs a few microseconds,
   * where an asynchronous one waits in the thread pool behind the fsyncs of other uploads.
   */
  statNow(key: string): BlobInfo | undefined;
  /**
   * The key's bytes, read at once: for a file of a few kilobytes, an open, read and close on
   * the event loop cost microseconds, where an asynchronous read is four trips through the
   * thread pool. Throws for a missing key the ENOENT error {@link BlobStore.read} rejects with.
   * Meant for small files: the event loop waits for the whole read.
   */
  readNow(key: string): Buffer;
}

/** The error `open` rejects with when a key is not there (the same code as the file system's). */
export function notFound(key: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`No stored file '${key}'.`);
  err.code = 'ENOENT';
  return err;
}
