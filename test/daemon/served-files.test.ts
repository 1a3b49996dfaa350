/**
 * What serving a file needs is read from the first download on, a few thousand files per turn
 * (Catalog.prepareServedFiles): every lookup made meanwhile, and every change, sees the
 * catalog as it is.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FileRecord } from '../../src/daemon/services/catalog.js';
import type { NewFile } from '../../src/daemon/stores/catalog-store.js';
import { LocalCatalog } from '../../src/daemon/stores/local-catalog.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function fileOf(i: number, sha = 'a'): FileRecord {
  const filename = `proj${i}-1.0.tar.gz`;
  return {
    filename,
    relpath: filename,
    project: `proj${i}`,
    version: '1.0',
    releaseKey: '1.0',
    packagetype: 'sdist',
    pythonVersion: 'source',
    size: 10,
    mtimeMs: 1_700_000_000_000,
    sha256: sha.repeat(64),
    md5: 'b'.repeat(32),
    blake2b256: 'c'.repeat(64),
    requiresPython: null,
    metadataSha256: null,
    uploadTime: '2026-12-01T10:00:00.000Z',
    source: 'upload',
    uploadedBy: null,
    uploadedFrom: null,
  };
}
const entry = (file: FileRecord): NewFile => ({ file, displayName: file.project, metadataBytes: Buffer.from(`Metadata-Version: 2.1\nName: ${file.project}\n`) });

async function catalogOf(files: number): Promise<LocalCatalog> {
  const dir = mkdtempSync(join(tmpdir(), 'pyrepo-served-'));
  dirs.push(dir);
  const catalog = LocalCatalog.open(join(dir, 'catalog.sqlite'));
  await catalog.addFiles(Array.from({ length: files }, (_, i) => entry(fileOf(i))), { replace: false });
  return catalog;
}

describe('served files read a few thousand per turn from the first lookup on', () => {
  it('answers every lookup while they are read, and keeps the changes made meanwhile', async () => {
    const catalog = await catalogOf(5000);
    // The first lookup starts the reading (its first turn's files at once): this file, not
    // read yet, is found by its own row, with its number.
    const late = catalog.servedFileNow('proj4999-1.0.tar.gz');
    const preparing = catalog.prepareServedFiles();
    expect(late).toMatchObject({ filename: 'proj4999-1.0.tar.gz', project: 'proj4999', sha256: 'a'.repeat(64), id: expect.any(Number) });
    expect(catalog.servedFileNow('nothing-1.0.tar.gz')).toBeUndefined();
    // Changed before they are read: one removed, one replaced with other content, one added.
    await catalog.removeFile('proj4000-1.0.tar.gz');
    await catalog.addFiles([entry(fileOf(4001, 'd'))], { replace: true });
    await catalog.addFiles([entry(fileOf(7000))], { replace: false });
    await preparing;
    expect(catalog.servedFileNow('proj4000-1.0.tar.gz')).toBeUndefined();
    expect(catalog.servedFileNow('proj4001-1.0.tar.gz')?.sha256).toBe('d'.repeat(64));
    expect(catalog.servedFileNow('proj7000-1.0.tar.gz')?.project).toBe('proj7000');
    expect(catalog.servedFileNow('proj4999-1.0.tar.gz')?.id).toBe(late?.id);
    const ids = new Set<number | undefined>();
    for (let i = 0; i < 5000; i++) if (i !== 4000) ids.add(catalog.servedFileNow(`proj${i}-1.0.tar.gz`)?.id);
    expect(ids.size).toBe(4999);
    expect(ids.has(undefined)).toBe(false);
    await catalog.close();
  });

  it('numbers the files in filename order, whatever order they were added in', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pyrepo-served-'));
    dirs.push(dir);
    const catalog = LocalCatalog.open(join(dir, 'catalog.sqlite'));
    // Added last first: their rows are in the opposite order of their filenames.
    await catalog.addFiles(Array.from({ length: 4500 }, (_, i) => entry(fileOf(4499 - i))), { replace: false });
    await catalog.prepareServedFiles();
    const names = Array.from({ length: 4500 }, (_, i) => `proj${i}-1.0.tar.gz`).sort();
    const ids = names.map((name) => catalog.servedFileNow(name)?.id as number);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(4500);
    await catalog.close();
  });

  it('stops reading when the catalog is closed meanwhile', async () => {
    const catalog = await catalogOf(4500);
    const preparing = catalog.prepareServedFiles();
    await catalog.close();
    await expect(preparing).resolves.toBeUndefined();
  });
});
