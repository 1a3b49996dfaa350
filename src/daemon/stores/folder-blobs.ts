/**
 * The packages folder as a BlobStore: the default. Keys are the files' relpaths in the
 * folder, so the folder stays what a user (or pypiserver) expects: plain files by name.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { PackageStorage, type TempFile } from '../services/storage.js';
import { notFound, type BlobInfo, type BlobStore, type ByteRange } from './blob-store.js';

export class FolderBlobs implements BlobStore {
  constructor(readonly storage: PackageStorage) {}

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
  commit(temp: TempFile, filename: string): Promise<string> {
    return this.storage.commit(temp, filename);
  }
  discard(temp: TempFile): Promise<void> {
    return this.storage.discard(temp);
  }
  remove(key: string): Promise<void> {
    return this.storage.remove(key);
  }
  close(): Promise<void> {
    return this.storage.close();
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    try {
      const st = await stat(this.storage.pathOf(key));
      return st.isFile() ? { size: st.size, mtimeMs: Math.trunc(st.mtimeMs) } : undefined;
    } catch {
      return undefined;
    }
  }

  open(key: string, range?: ByteRange): Promise<Readable> {
    return new Promise((resolve, reject) => {
      const stream = createReadStream(this.storage.pathOf(key), range ? { start: range.start, end: range.end } : {});
      stream.once('open', () => resolve(stream));
      stream.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? notFound(key) : err));
    });
  }
}
