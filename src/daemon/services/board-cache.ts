/**
 * What boards are served, kept on disk in the data folder: one folder per source
 * distribution, named by the distribution's sha256, holding the manifest (board files,
 * dependencies, whether upip can take it), the board files by their own sha256, and the
 * upip tarballs. A folder is built under a temporary name and renamed into place, so it
 * is either whole or absent; tarballs are written to a temporary file and renamed too.
 * Content addressing does the invalidation: a replaced distribution has another sha256,
 * and folders of distributions that left the index are removed.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Bumped whenever what a folder holds changes meaning; older folders are removed at start. */
const FORMAT = 'v1';
const SHA256 = /^[0-9a-f]{64}$/;

/** What a board gets from one distribution file. */
export interface BoardManifest {
  /** The distribution's filename and sha256 (also the folder's name). */
  source: string;
  sourceSha256: string;
  project: string;
  version: string;
  /** Board files, sorted by path. */
  files: { path: string; sha256: string; size: number }[];
  /** Requires-Dist values, as written. */
  requires: string[];
  /** Why boards cannot install from this file; null when they can. */
  problem: string | null;
  /** upip's top folder, or why upip cannot take this file (mip still can). */
  upip: { top: string } | { problem: string };
}

async function writeDurably(path: string, data: Buffer | string): Promise<void> {
  const handle = await open(path, 'wx', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class BoardCache {
  readonly root: string;
  private counter = 0;

  constructor(dir: string) {
    this.root = join(dir, FORMAT);
  }

  private folder(sourceSha256: string): string {
    return join(this.root, sourceSha256);
  }

  private tempName(): string {
    return `.tmp-${process.pid}-${randomBytes(4).toString('hex')}-${++this.counter}`;
  }

  /**
   * Reads every manifest, keeping those `keep` accepts and removing the others' folders,
   * unfinished temporary folders and folders of older formats.
   */
  async load(keep: (manifest: BoardManifest) => Promise<boolean>): Promise<BoardManifest[]> {
    await mkdir(this.root, { recursive: true });
    const parent = join(this.root, '..');
    for (const name of await readdir(parent)) {
      if (name !== FORMAT) await rm(join(parent, name), { recursive: true, force: true });
    }
    const kept: BoardManifest[] = [];
    for (const name of await readdir(this.root)) {
      const path = join(this.root, name);
      let manifest: BoardManifest | undefined;
      if (SHA256.test(name)) {
        manifest = await readFile(join(path, 'manifest.json'), 'utf8').then(
          (text) => JSON.parse(text) as BoardManifest,
          () => undefined,
        );
      }
      if (manifest && manifest.sourceSha256 === name && (await keep(manifest))) kept.push(manifest);
      else await rm(path, { recursive: true, force: true });
    }
    return kept;
  }

  /** Stores a manifest and its files; a folder already there (built by a concurrent call) wins. */
  async store(manifest: BoardManifest, blobs: Map<string, Buffer>): Promise<void> {
    await mkdir(this.root, { recursive: true });
    const temp = join(this.root, this.tempName());
    await mkdir(join(temp, 'files'), { recursive: true });
    try {
      for (const [sha, bytes] of blobs) await writeDurably(join(temp, 'files', sha), bytes);
      await writeDurably(join(temp, 'manifest.json'), `${JSON.stringify(manifest)}\n`);
      await rename(temp, this.folder(manifest.sourceSha256));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  }

  /** One board file's bytes. */
  readBlob(sourceSha256: string, sha256: string): Promise<Buffer> {
    return readFile(join(this.folder(sourceSha256), 'files', sha256));
  }

  /**
   * The upip tarball stored under `key`, built by `build` the first time. Tarballs stored
   * under other keys (dependencies that resolved otherwise before) are removed then.
   */
  async tarball(sourceSha256: string, key: string, build: () => Promise<Buffer>): Promise<Buffer> {
    const dir = this.folder(sourceSha256);
    const name = `upip-${key}.tar.gz`;
    const cached = await readFile(join(dir, name)).catch(() => undefined);
    if (cached) return cached;
    const bytes = await build();
    const temp = join(dir, this.tempName());
    try {
      await writeDurably(temp, bytes);
      await rename(temp, join(dir, name));
      for (const other of await readdir(dir)) {
        if (other.startsWith('upip-') && other !== name) await rm(join(dir, other), { force: true });
      }
    } catch {
      // The folder was removed meanwhile (its distribution left the index): serve what was built.
    } finally {
      await rm(temp, { force: true });
    }
    return bytes;
  }

  /** Removes a distribution's folder. */
  async remove(sourceSha256: string): Promise<void> {
    await rm(this.folder(sourceSha256), { recursive: true, force: true });
  }
}
