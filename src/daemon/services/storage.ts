/**
 * The packages folder: plain distribution files, flat or in subfolders (a pypiserver
 * folder works as it is). New files are written to a temporary file in the same folder,
 * fsynced, then renamed into place, so a crash leaves either no file or a whole one.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { hasDistExtension } from '../../shared/distfiles.js';

/** Temporary upload files start with this; they are hidden (dot) and removed at start. */
export const TEMP_PREFIX = '.pyrepo-upload-';

/** A distribution file found in the folder. */
export interface FoundFile {
  relpath: string;
  filename: string;
  size: number;
  mtimeMs: number;
}

export class PackageStorage {
  constructor(readonly dir: string) {}

  /** Creates the folder if needed and removes temporary files left by a crash. */
  async prepare(): Promise<string[]> {
    await mkdir(this.dir, { recursive: true });
    const removed: string[] = [];
    for (const name of await readdir(this.dir)) {
      if (name.startsWith(TEMP_PREFIX)) {
        await rm(join(this.dir, name), { force: true });
        removed.push(name);
      }
    }
    return removed;
  }

  /** A fresh temporary path in the folder, for one upload. */
  tempPath(): string {
    return join(this.dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(8).toString('hex')}.part`);
  }

  /** Absolute path of a file from its catalog relpath. */
  pathOf(relpath: string): string {
    return join(this.dir, ...relpath.split('/'));
  }

  /** The relpath (always `/`-separated) of an absolute path inside the folder. */
  relpathOf(path: string): string {
    return relative(this.dir, path).split(sep).join('/');
  }

  /**
   * Moves a complete temporary file into place as `filename` at the folder's top level:
   * fsync the data, rename (atomic on one filesystem), fsync the folder entry.
   */
  async commit(tempPath: string, filename: string): Promise<{ relpath: string; mtimeMs: number }> {
    const handle = await open(tempPath, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    const target = join(this.dir, filename);
    await rename(tempPath, target);
    await this.syncDir();
    const st = await stat(target);
    return { relpath: filename, mtimeMs: Math.trunc(st.mtimeMs) };
  }

  private async syncDir(): Promise<void> {
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } catch {
      // Some filesystems cannot fsync a directory; the rename itself is still atomic.
    } finally {
      await dir.close();
    }
  }

  /** Deletes a file of the folder; a file already gone is not an error. */
  async remove(relpath: string): Promise<void> {
    try {
      await unlink(this.pathOf(relpath));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await this.syncDir();
  }

  /** Removes a temporary file, ignoring one that is already gone. */
  async discard(tempPath: string): Promise<void> {
    await rm(tempPath, { force: true });
  }

  /** Every distribution file in the folder and its subfolders (hidden entries skipped). */
  async scan(): Promise<FoundFile[]> {
    const found: FoundFile[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      const stats: Promise<void>[] = [];
      for (const entry of entries) {
        if (entry.name.startsWith('.')) continue;
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          await walk(path);
        } else if (entry.isFile() && hasDistExtension(entry.name)) {
          stats.push(
            stat(path).then(
              (st) => {
                found.push({ relpath: this.relpathOf(path), filename: entry.name, size: st.size, mtimeMs: Math.trunc(st.mtimeMs) });
              },
              () => undefined,
            ),
          );
          if (stats.length >= 256) await Promise.all(stats.splice(0));
        }
      }
      await Promise.all(stats);
    };
    await walk(this.dir);
    return found;
  }
}
