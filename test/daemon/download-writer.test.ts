/**
 * Download counts are written by a worker thread (services/download-writer.ts): every
 * count lands in the catalog exactly once, readers never count one twice or miss one
 * while it is being written, and what is not written yet is written at close.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Catalog, type FileRecord } from '../../src/daemon/services/catalog.js';
import { utcToday } from '../../src/daemon/services/utc-day.js';
import { DownloadWriter, WRITTEN_BATCH_KEY } from '../../src/daemon/services/download-writer.js';
import { waitFor } from '../helpers/wait.js';

let root: string | undefined;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

function record(i: number): FileRecord {
  return {
    filename: `demo-${i}.0-py3-none-any.whl`,
    relpath: `demo-${i}.0-py3-none-any.whl`,
    project: 'demo',
    version: `${i}.0`,
    releaseKey: `${i}`,
    packagetype: 'bdist_wheel',
    pythonVersion: 'py3',
    size: 1,
    mtimeMs: 1,
    sha256: String(i).padStart(64, '0'),
    md5: '',
    blake2b256: '',
    requiresPython: null,
    metadataSha256: null,
    uploadTime: '2026-01-01T00:00:00.000Z',
    source: 'folder',
    uploadedBy: null,
    uploadedFrom: null,
  };
}

/** A catalog of `files` files in a new folder. */
function catalogWith(files: number): { catalog: Catalog; file: string; records: FileRecord[] } {
  root = mkdtempSync(join(tmpdir(), 'pyrepo-writer-'));
  const file = join(root, 'catalog.sqlite');
  const catalog = new Catalog(file);
  const records = Array.from({ length: files }, (_, i) => record(i));
  catalog.putFiles(records.map((r) => ({ file: r, displayName: 'demo', metadataBytes: Buffer.from('') })));
  return { catalog, file, records };
}

/** Total downloads in the database itself, from another connection. */
function writtenTotal(file: string): { total: number; batch: number } {
  const db = new Database(file, { readonly: true });
  try {
    const total = (db.prepare('SELECT COALESCE(SUM(count), 0) FROM downloads').pluck().get() as number) ?? 0;
    const batch = Number(db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(WRITTEN_BATCH_KEY) ?? 0);
    return { total, batch };
  } finally {
    db.close();
  }
}

const total = (catalog: Catalog) => [...catalog.downloadsOf('demo').values()].reduce((a, b) => a + b, 0);

describe('the download writer', () => {
  it('writes every count once, in batches, while readers see each count exactly once', async () => {
    // More distinct rows than one batch holds: several batches in flight at once.
    const { catalog, file, records } = catalogWith(1200);
    for (const r of records) catalog.countDownload(r, 'pip', false);
    for (const r of records.slice(0, 300)) catalog.countDownload(r, 'uv', true);
    expect(total(catalog)).toBe(1500);
    catalog.flushDownloads();
    // Until the worker has written everything, every read still counts 1,500: never twice, never less.
    await waitFor(
      'the worker to write every batch',
      () => {
        expect(total(catalog)).toBe(1500);
        expect(catalog.projectSummaries().find((p) => p.name === 'demo')?.downloads).toBe(1500);
        return writtenTotal(file).total === 1500;
      },
      10_000,
      5,
    );
    expect(writtenTotal(file).batch).toBeGreaterThanOrEqual(3);
    expect(catalog.downloadsByInstaller('demo')).toEqual([
      { installer: 'pip', downloads: 1200, ci: 0 },
      { installer: 'uv', downloads: 300, ci: 300 },
    ]);
    catalog.close();
    expect(writtenTotal(file).total).toBe(1500);
  });

  it('is handed one batch per turn of the event loop, so that a large flush never holds up requests', async () => {
    const { catalog, file, records } = catalogWith(1200);
    const post = vi.spyOn(DownloadWriter.prototype, 'post');
    try {
      for (const r of records) catalog.countDownload(r, 'pip', false);
      catalog.flushDownloads();
      expect(post).toHaveBeenCalledTimes(1);
      await nextTurn();
      expect(post).toHaveBeenCalledTimes(2);
      await nextTurn();
      expect(post).toHaveBeenCalledTimes(3);
      await waitFor('the worker to write every batch', () => writtenTotal(file).total === 1200);
    } finally {
      post.mockRestore();
    }
    catalog.close();
  });

  it('writes at close what is pending or still on its way, once', () => {
    const { catalog, file, records } = catalogWith(700);
    for (const r of records) catalog.countDownload(r, 'pip', false);
    catalog.flushDownloads();
    // Counted after the last flush: only close() can write these.
    catalog.countDownload(records[0] as FileRecord, 'pdm', false);
    catalog.close();
    expect(writtenTotal(file).total).toBe(701);
    const again = new Catalog(file);
    expect(total(again)).toBe(701);
    // Batch ids go on from the last one written: the next counts are not taken for old ones.
    again.countDownload(records[1] as FileRecord, 'pip', false);
    again.close();
    expect(writtenTotal(file).total).toBe(702);
  });

  it('drops the counts of a file deleted before they are written', async () => {
    const { catalog, file, records } = catalogWith(2);
    catalog.countDownload(records[0] as FileRecord, 'pip', false);
    catalog.countDownload(records[1] as FileRecord, 'pip', false);
    catalog.flushDownloads();
    catalog.removeFile(records[0]?.filename as string);
    expect(total(catalog)).toBe(1);
    await waitFor('the batch to be written', () => writtenTotal(file).batch >= 1);
    expect(total(catalog)).toBe(1);
    catalog.close();
    expect(writtenTotal(file).total).toBe(1);
  });
});

describe('the day a download is counted under', () => {
  afterEach(() => vi.useRealTimers());

  it('is the UTC day, made again at midnight and when the clock is set back', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-06T23:59:59.999Z'));
    expect(utcToday()).toBe('2026-12-06');
    vi.setSystemTime(new Date('2026-12-07T00:00:00.000Z'));
    expect(utcToday()).toBe('2026-12-07');
    vi.setSystemTime(new Date('2026-12-05T12:00:00.000Z'));
    expect(utcToday()).toBe('2026-12-05');
  });
});
