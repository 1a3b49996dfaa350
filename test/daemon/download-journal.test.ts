/**
 * Download counts are journaled every second and folded into the catalog about once a minute
 * (services/download-journal.ts): every count lands in the catalog exactly once, readers never
 * count one twice or miss one meanwhile, and a crash — between folds, or in the middle of one —
 * loses nothing journaled and writes nothing twice.
 *
 * A crash is a copy of the catalog's files taken between two calls (the database, its WAL and
 * the journal, as a killed process leaves them), opened as the next start opens them.
 */
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Catalog, type FileRecord } from '../../src/daemon/services/catalog.js';
import { CountBatch } from '../../src/daemon/stores/pending-downloads.js';
import { utcToday } from '../../src/daemon/services/utc-day.js';

let root: string | undefined;
afterEach(() => {
  vi.useRealTimers();
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

const put = (catalog: Catalog, records: FileRecord[]) => catalog.putFiles(records.map((r) => ({ file: r, displayName: 'demo', metadataBytes: Buffer.from('') })));

/** A catalog of `files` files in a new folder. */
function catalogWith(files: number): { catalog: Catalog; file: string; records: FileRecord[] } {
  root = mkdtempSync(join(tmpdir(), 'pyrepo-journal-'));
  const file = join(root, 'catalog.sqlite');
  const catalog = new Catalog(file);
  const records = Array.from({ length: files }, (_, i) => record(i));
  put(catalog, records);
  return { catalog, file, records };
}

/** A catalog of `files` files, each downloaded once by pip, and those counts flushed. */
function flushedOnce(files: number): ReturnType<typeof catalogWith> {
  const made = catalogWith(files);
  for (const r of made.records) made.catalog.countDownload(r, 'pip', false);
  made.catalog.flushDownloads();
  return made;
}

/** The catalog's files as a crash would leave them now, copied to a folder of their own; the copy's catalog file. */
function crashImage(file: string): string {
  const dir = mkdtempSync(join(root as string, 'crash-'));
  const copy = join(dir, 'catalog.sqlite');
  for (const suffix of ['', '-wal', '.downloads', '.downloads.folding']) if (existsSync(file + suffix)) copyFileSync(file + suffix, copy + suffix);
  return copy;
}

/** Total downloads in the database itself, from another connection, and its meta rows about counts. */
function written(file: string): { total: number; meta: Record<string, string> } {
  const db = new Database(file, { readonly: true });
  try {
    const total = (db.prepare('SELECT COALESCE(SUM(count), 0) FROM downloads').pluck().get() as number) ?? 0;
    const meta = Object.fromEntries(db.prepare("SELECT key, value FROM meta WHERE key LIKE 'downloads-%'").raw().all() as [string, string][]);
    return { total, meta };
  } finally {
    db.close();
  }
}

const journalLines = (file: string) => (existsSync(`${file}.downloads`) ? readFileSync(`${file}.downloads`, 'utf8').split('\n').filter(Boolean) : []);
const total = (catalog: Catalog) => [...catalog.downloadsOf('demo').values()].reduce((a, b) => a + b, 0);
/** Moves the clock past the next fold (a minute after the last). */
const aMinuteLater = () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() + 61_000);
};
/** Waits until the fold in parts is written (a batch every few milliseconds). */
async function foldWritten(file: string): Promise<void> {
  for (let i = 0; i < 500 && written(file).meta['downloads-fold'] !== undefined; i++) await sleep(10);
  expect(written(file).meta['downloads-fold']).toBeUndefined();
}
/** Waits until the fold has written `rows` more rows into the table than `before`. */
async function foldedRows(file: string, rows: number): Promise<void> {
  for (let i = 0; i < 1000 && written(file).total < rows; i++) await sleep(2);
}

describe('the download journal', () => {
  it('journals every second, folds at close, and readers see each count exactly once throughout', () => {
    const { catalog, file, records } = catalogWith(1200);
    for (const r of records) catalog.countDownload(r, 'pip', false);
    for (const r of records.slice(0, 300)) catalog.countDownload(r, 'uv', true);
    expect(total(catalog)).toBe(1500);
    catalog.flushDownloads();
    expect(journalLines(file)).toHaveLength(1);
    // In the journal, not in the table: read all the same, once.
    expect(written(file).total).toBe(0);
    expect(total(catalog)).toBe(1500);
    expect(catalog.projectSummaries().find((p) => p.name === 'demo')?.downloads).toBe(1500);
    expect(catalog.downloadsByInstaller('demo')).toEqual([
      { installer: 'pip', downloads: 1200, ci: 0 },
      { installer: 'uv', downloads: 300, ci: 300 },
    ]);
    // Counted after the last flush: only close() can write these.
    catalog.countDownload(records[0] as FileRecord, 'pdm', false);
    catalog.close();
    expect(written(file).total).toBe(1501);
    expect(journalLines(file)).toEqual([]);
    const again = new Catalog(file);
    expect(total(again)).toBe(1501);
    expect(again.journalRecovered).toEqual({ records: 0, damaged: 0 });
    again.close();
  });

  it('appends a second of many counts one record per turn of the event loop', async () => {
    const { catalog, file } = flushedOnce(4500);
    expect(journalLines(file)).toHaveLength(1);
    await nextTurn();
    expect(journalLines(file)).toHaveLength(2);
    await nextTurn();
    expect(journalLines(file)).toHaveLength(3);
    expect(total(catalog)).toBe(4500);
    catalog.close();
    expect(written(file).total).toBe(4500);
  });

  it('folds a minute of counts into the table a batch per turn, in filename order, and empties the journal', async () => {
    const { catalog, file, records } = flushedOnce(1500);
    await nextTurn();
    aMinuteLater();
    catalog.countDownload(records[7] as FileRecord, 'pip', true);
    catalog.flushDownloads();
    // Fifteen batches, more than one transaction takes at once: a batch every few milliseconds.
    expect(written(file).total).toBe(0);
    await foldedRows(file, 100);
    expect(written(file).meta['downloads-fold']).toMatch(/^1\tdemo-\d+\.0-py3-none-any\.whl$/);
    expect(written(file).total % 100).toBe(0);
    expect(total(catalog)).toBe(1501);
    await foldWritten(file);
    expect(written(file)).toMatchObject({ total: 1501, meta: { 'downloads-journal': '1' } });
    expect(journalLines(file)).toEqual([]);
    expect(total(catalog)).toBe(1501);
    catalog.close();
    expect(written(file).total).toBe(1501);
  });

  it('after a crash, the next open folds every journaled count', async () => {
    const { catalog, file, records } = flushedOnce(3000);
    await nextTurn();
    for (const r of records.slice(0, 10)) catalog.countDownload(r, 'uv', false);
    catalog.flushDownloads();
    // Counted after the last flush: a crash now loses only these.
    catalog.countDownload(records[0] as FileRecord, 'pip', false);
    const copy = crashImage(file);
    catalog.close();

    expect(written(copy).total).toBe(0);
    const reopened = new Catalog(copy);
    expect(reopened.journalRecovered).toEqual({ records: 3, damaged: 0 });
    expect(written(copy).total).toBe(3010);
    expect(journalLines(copy)).toEqual([]);
    expect(total(reopened)).toBe(3010);
    reopened.close();
  });

  it('finishes a fold a crash cut short from the journal, writing no count twice', async () => {
    const { catalog, file, records } = catalogWith(2500);
    for (const r of records) catalog.countDownload(r, 'pip', false);
    for (const r of records.slice(1000, 1400)) catalog.countDownload(r, 'poetry', true);
    catalog.flushDownloads();
    await nextTurn();
    aMinuteLater();
    catalog.flushDownloads();
    await foldedRows(file, 700);
    // Counted while the fold is written: journaled in a new file, the fold's records set aside.
    for (const r of records.slice(0, 50)) catalog.countDownload(r, 'uv', false);
    catalog.flushDownloads();
    expect(journalLines(file)).toHaveLength(1);
    expect(existsSync(`${file}.downloads.folding`)).toBe(true);
    const cut = written(file);
    expect(cut.total).toBeGreaterThan(0);
    expect(cut.total).toBeLessThan(2900);
    expect(cut.meta['downloads-fold']).toBeDefined();
    const copy = crashImage(file);
    await foldWritten(file);
    expect(existsSync(`${file}.downloads.folding`)).toBe(false);
    expect(journalLines(file)).toHaveLength(1);
    expect(total(catalog)).toBe(2950);
    catalog.close();
    expect(written(file).total).toBe(2950);

    const reopened = new Catalog(copy);
    expect(written(copy)).toMatchObject({ total: 2950, meta: { 'downloads-journal': '3' } });
    expect(written(copy).meta['downloads-fold']).toBeUndefined();
    expect(existsSync(`${copy}.downloads.folding`)).toBe(false);
    expect(reopened.downloadsByInstaller('demo')).toEqual([
      { installer: 'pip', downloads: 2500, ci: 0 },
      { installer: 'poetry', downloads: 400, ci: 400 },
      { installer: 'uv', downloads: 50, ci: 0 },
    ]);
    reopened.close();
  });

  it('leaves out a line the crash cut short at the end of the journal, and keeps the rest', () => {
    const { catalog, file } = flushedOnce(3);
    const copy = crashImage(file);
    catalog.close();
    appendFileSync(`${copy}.downloads`, '2 c {"f":["demo-1.0-py3-none-any.whl"],"days":[');
    const reopened = new Catalog(copy);
    expect(reopened.journalRecovered).toEqual({ records: 1, damaged: 1 });
    expect(total(reopened)).toBe(3);
    reopened.close();
  });

  it('does not give the counts of a removed file back after a crash, even to a new file of the same name', () => {
    const { catalog, file, records } = catalogWith(2);
    const [gone, kept] = records as [FileRecord, FileRecord];
    for (let i = 0; i < 3; i++) catalog.countDownload(gone, 'pip', false);
    catalog.countDownload(kept, 'pip', false);
    catalog.flushDownloads();
    catalog.removeFile(gone.filename);
    put(catalog, [gone]);
    catalog.countDownload(gone, 'pip', false);
    catalog.flushDownloads();
    expect(catalog.downloadsOf('demo')).toEqual(new Map([[gone.filename, 1], [kept.filename, 1]]));
    const copy = crashImage(file);
    catalog.close();
    const reopened = new Catalog(copy);
    expect(reopened.downloadsOf('demo')).toEqual(new Map([[gone.filename, 1], [kept.filename, 1]]));
    reopened.close();
  });

  it('leaves a file removed while a second is journaled out of the records after, and appends the rest before the next second', async () => {
    const { catalog, file, records } = flushedOnce(4500);
    expect(journalLines(file)).toHaveLength(1);
    const gone = records[4200] as FileRecord;
    catalog.removeFile(gone.filename);
    // The next second comes before the turns that would have appended the rest: they go first.
    catalog.countDownload(records[1] as FileRecord, 'pip', false);
    catalog.flushDownloads();
    // The new second's record at the next turn, as every record after a second's first.
    expect(journalLines(file)).toHaveLength(4);
    await nextTurn();
    const lines = journalLines(file);
    // The first part, the removal, the two other parts, the new second.
    expect(lines.map((l) => l.split(' ', 2).join(' '))).toEqual(['1 c', '2 r', '3 c', '4 c', '5 c']);
    expect(lines.slice(2).join('\n')).not.toContain(gone.filename);
    expect(total(catalog)).toBe(4500);
    const copy = crashImage(file);
    catalog.close();
    const reopened = new Catalog(copy);
    const counts = reopened.downloadsOf('demo');
    expect(counts.has(gone.filename)).toBe(false);
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(4500);
    reopened.close();
  });

  it('writes the counts into the catalog at once when the journal cannot be appended to, and the flush says why', () => {
    const { catalog, file, records } = catalogWith(2);
    mkdirSync(`${file}.downloads`);
    catalog.countDownload(records[0] as FileRecord, 'pip', false);
    expect(() => catalog.flushDownloads()).toThrow(/Could not append download counts to the journal .*catalog\.sqlite\.downloads .*written into the catalog at once/);
    expect(written(file).total).toBe(1);
    expect(total(catalog)).toBe(1);
    rmSync(`${file}.downloads`, { recursive: true });
    catalog.close();
    expect(written(file).total).toBe(1);
  });

  it('is emptied, not read, beside a new catalog (the counts of one removed)', () => {
    root = mkdtempSync(join(tmpdir(), 'pyrepo-journal-'));
    const file = join(root, 'catalog.sqlite');
    const stale = new CountBatch(['demo-0.0-py3-none-any.whl'], ['demo'], ['2026-01-01'], ['pip'], Uint8Array.of(0), Float64Array.of(5));
    writeFileSync(`${file}.downloads`, `1 c ${stale.encode()}\n`);
    const catalog = new Catalog(file);
    put(catalog, [record(0)]);
    expect(journalLines(file)).toEqual([]);
    expect(total(catalog)).toBe(0);
    catalog.close();
  });
});

describe('a batch of counts as a journal line', () => {
  it('reads back as written, the projects from the catalog', () => {
    const batch = new CountBatch(['a-1.0.tar.gz', 'b-2.0-py3-none-any.whl'], ['a', 'b'], ['2026-12-06', '2026-12-07'], ['pip', 'uv'], Uint8Array.of(0, 1), Float64Array.of(3, 1));
    const line = batch.encode();
    expect(line).not.toContain('\n');
    const back = CountBatch.decode(line, (f) => (f === 'a-1.0.tar.gz' ? 'a' : undefined));
    expect(back.list()).toEqual([
      { filename: 'a-1.0.tar.gz', project: 'a', day: '2026-12-06', installer: 'pip', ci: false, count: 3 },
      { filename: 'b-2.0-py3-none-any.whl', project: '', day: '2026-12-07', installer: 'uv', ci: true, count: 1 },
    ]);
  });

  it('refuses what is not one', () => {
    for (const text of ['', '{', '{}', '{"f":["a"],"days":["x"],"d":[0],"i":[0],"c":[0],"n":[1]}', '{"f":["a"],"days":["2026-01-01"],"d":[1],"i":[0],"c":[0],"n":[1]}', '{"f":["a"],"days":["2026-01-01"],"d":[0],"i":[0],"c":[0],"n":[0]}']) {
      expect(() => CountBatch.decode(text, () => 'p'), text).toThrow();
    }
  });
});

describe('the day a download is counted under', () => {
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
