/**
 * The packages folder as a BlobStore: the default. Keys are the files' relpaths in the
 * folder, so the folder stays what a user (or pypiserver) expects: plain files by name.
 * Downloads are sent from descriptors kept open between them (open-files.ts).
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { OpenFiles, openFileBudget, READ_AT_ONCE_BYTES, REVALIDATE_MS, type OpenFile } from '../services/open-files.js';
import { PackageStorage, type ScanResult, type TempFile } from '../services/storage.js';
import { notFound, type BlobInfo, type ByteRange, type LocalBlobs } from './blob-store.js';

export class FolderBlobs implements LocalBlobs {
  constructor(
    readonly storage: PackageStorage,
    /** Descriptors kept open between downloads (by default as many as the process's limit allows). */
    private readonly files = new OpenFiles(openFileBudget(), READ_AT_ONCE_BYTES, REVALIDATE_MS, (key) => storage.pathOf(key)),
  ) {}

  static at(dir: string): FolderBlobs {
    return new FolderBlobs(new PackageStorage(dir));
  }

  prepare(): Promise<string[]> {
    return this.storage.prepare();
  }
  createTemp(): Promise<TempFile> {
    return this.storage.createTemp();
  }
  writeTemp(bytes: Buffer): TempFile {
    return this.storage.writeTemp(bytes);
  }
  seal(temp: TempFile): Promise<number> {
    return this.storage.seal(temp);
  }
  /** Files are kept under their name (the content is the catalog's to name). */
  commit(temp: TempFile, filename: string, _sha256?: string): Promise<string> {
    return this.storage.commit(temp, filename);
  }
  discard(temp: TempFile): Promise<void> {
    return this.storage.discard(temp);
  }
  remove(key: string): Promise<void> {
    return this.storage.remove(key);
  }
  async close(): Promise<void> {
    this.files.clear();
    await this.storage.close();
  }

  pathOf(key: string): string {
    return this.storage.pathOf(key);
  }

  /** The folder itself (for watching it). */
  get dir(): string {
    return this.storage.dir;
  }

  /** Every distribution file in the folder, with what was left by a crash (for reconciling the catalog with it). */
  scan(opts: { beforeReading?: (dir: string) => void } = {}): Promise<ScanResult> {
    return this.storage.scan(opts);
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    try {
      const st = await stat(this.storage.pathOf(key));
      return st.isFile() ? { size: st.size, mtimeMs: Math.trunc(st.mtimeMs) } : undefined;
    } catch {
      return undefined;
    }
  }

  statNow(key: string): BlobInfo | undefined {
    const st = statSync(this.storage.pathOf(key), { throwIfNoEntry: false });
    return st?.isFile() ? { size: st.size, mtimeMs: Math.trunc(st.mtimeMs) } : undefined;
  }

  open(key: string, range?: ByteRange): Promise<Readable> {
    return new Promise((resolve, reject) => {
      const stream = createReadStream(this.storage.pathOf(key), range ? { start: range.start, end: range.end } : {});
      stream.once('open', () => resolve(stream));
      stream.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? notFound(key) : err));
    });
  }

  async read(key: string): Promise<Buffer> {
    try {
      return await readFile(this.storage.pathOf(key));
    } catch (err) {
      throw (err as NodeJS.ErrnoException).code === 'ENOENT' ? notFound(key) : err;
    }
  }

  readNow(key: string): Buffer {
    try {
      return readFileSync(this.storage.pathOf(key));
    } catch (err) {
      throw (err as NodeJS.ErrnoException).code === 'ENOENT' ? notFound(key) : err;
    }
  }

  acquire(key: string, sha256: string, id?: number): OpenFile | undefined {
    return this.files.acquire(key, sha256, id);
  }
  done(file: OpenFile): void {
    this.files.done(file);
  }
  forget(key: string, id?: number): void {
    this.files.forget(key, id);
  }
}
