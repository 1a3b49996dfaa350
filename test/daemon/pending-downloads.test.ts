/**
 * PendingDownloads counts today's downloads of numbered files in typed arrays and the rest as
 * entries (pending-downloads.ts says why): whichever way a download is kept, what is read and
 * what is taken for a write is the same list of counts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CountBatch, PendingDownloads, type PendingCount } from '../../src/daemon/stores/pending-downloads.js';
import { utcToday } from '../../src/daemon/services/utc-day.js';

const a = { project: 'alpha', filename: 'alpha-1.0.tar.gz', id: 4 };
const b = { project: 'beta', filename: 'beta-1.0.tar.gz', id: 9 };

/** Counts in a stable order, to compare. */
const sorted = (counts: Iterable<PendingCount>) => [...counts].sort((x, y) => `${x.filename} ${x.day} ${x.installer} ${x.ci}`.localeCompare(`${y.filename} ${y.day} ${y.installer} ${y.ci}`));

describe('PendingDownloads', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lists numbered and other counts alike, by file, day, installer and CI', () => {
    const pending = new PendingDownloads();
    const today = utcToday();
    pending.count(a, 'pip', false);
    pending.count(a, 'pip', false);
    pending.count(a, 'uv', true);
    pending.count(b, 'poetry', false);
    // No number (a shared catalog's file), and another day: entries.
    pending.count({ project: 'gamma', filename: 'gamma-1.0.tar.gz' }, 'pip', false);
    pending.count(a, 'pip', false, new Date('2026-01-02T03:04:05Z'));
    expect(pending.size).toBe(5);
    expect(sorted(pending.all())).toEqual([
      { filename: a.filename, project: 'alpha', day: '2026-01-02', installer: 'pip', ci: false, count: 1 },
      { filename: a.filename, project: 'alpha', day: today, installer: 'pip', ci: false, count: 2 },
      { filename: a.filename, project: 'alpha', day: today, installer: 'uv', ci: true, count: 1 },
      { filename: b.filename, project: 'beta', day: today, installer: 'poetry', ci: false, count: 1 },
      { filename: 'gamma-1.0.tar.gz', project: 'gamma', day: today, installer: 'pip', ci: false, count: 1 },
    ]);
    expect(pending.of('alpha').reduce((n, c) => n + c.count, 0)).toBe(4);

    // Taken for a write: nothing left, and the numbers count from zero again.
    expect(pending.take().length).toBe(5);
    expect(pending.size).toBe(0);
    expect([...pending.all()]).toEqual([]);
    pending.count(a, 'pip', false);
    expect([...pending.all()]).toEqual([{ filename: a.filename, project: 'alpha', day: today, installer: 'pip', ci: false, count: 1 }]);
  });

  it('takes the counts of numbered files in the order of their numbers (after those kept as entries)', () => {
    const pending = new PendingDownloads();
    const files = [7, 2, 30, 0, 11].map((id) => ({ project: `p${id}`, filename: `p${id}-1.0.tar.gz`, id }));
    for (const file of files) pending.count(file, 'pip', false);
    pending.count({ project: 'gamma', filename: 'gamma-1.0.tar.gz' }, 'pip', false);
    pending.count(files[0] as (typeof files)[number], 'uv', true);
    const taken: string[] = [];
    pending.take().forEach((filename, _project, _day, installer) => taken.push(`${filename} ${installer}`));
    expect(taken).toEqual(['gamma-1.0.tar.gz pip', 'p0-1.0.tar.gz pip', 'p2-1.0.tar.gz pip', 'p7-1.0.tar.gz pip', 'p7-1.0.tar.gz uv', 'p11-1.0.tar.gz pip', 'p30-1.0.tar.gz pip']);
  });

  it('counts past what a counter holds (65,535) as one count', () => {
    const pending = new PendingDownloads();
    for (let i = 0; i < 140_000; i++) pending.count(a, 'pip', false);
    pending.count(a, 'uv', true);
    // pip's count is kept both in an entry (the 65,535 moved there) and by slot: size counts it twice.
    expect(pending.size).toBe(3);
    const today = utcToday();
    expect(sorted(pending.all())).toEqual([
      { filename: a.filename, project: 'alpha', day: today, installer: 'pip', ci: false, count: 140_000 },
      { filename: a.filename, project: 'alpha', day: today, installer: 'uv', ci: true, count: 1 },
    ]);
    expect(pending.take().list()).toEqual([
      { filename: a.filename, project: 'alpha', day: today, installer: 'pip', ci: false, count: 140_000 },
      { filename: a.filename, project: 'alpha', day: today, installer: 'uv', ci: true, count: 1 },
    ]);
  });

  it('drops the counts of a removed file, and counts its number for the file given it next', () => {
    const pending = new PendingDownloads();
    pending.count(a, 'pip', false);
    pending.count(b, 'pip', false);
    pending.drop(a.filename);
    expect(pending.size).toBe(1);
    const other = { project: 'delta', filename: 'delta-2.0.tar.gz', id: a.id };
    pending.count(other, 'uv', false);
    pending.count(b, 'pip', false);
    expect(sorted(pending.all()).map((c) => [c.filename, c.installer, c.count])).toEqual([
      ['beta-1.0.tar.gz', 'pip', 2],
      ['delta-2.0.tar.gz', 'uv', 1],
    ]);
    expect(pending.size).toBe(2);
    // Put back after a failed write: added to what came meanwhile.
    const taken = pending.take();
    pending.count(other, 'uv', false);
    pending.restore(taken);
    expect(pending.of('delta')).toEqual([expect.objectContaining({ installer: 'uv', count: 2 })]);
  });


  it('keeps a file\'s counters beyond its first apart, lists them in installer order, and drops them with it', () => {
    const pending = new PendingDownloads();
    const today = utcToday();
    // The first counter of `a` is uv's from CI; pip's comes after it but is listed before it.
    pending.count(a, 'uv', true);
    for (let i = 0; i < 70_000; i++) pending.count(a, 'pip', false);
    pending.count(a, 'uv', false);
    pending.count(b, 'poetry', false);
    expect(pending.size).toBe(4);
    const listed = () => pending.take().list().map((c) => [c.filename, c.installer, c.ci, c.count]);
    expect(listed()).toEqual([
      [a.filename, 'pip', false, 70_000],
      [a.filename, 'uv', false, 1],
      [a.filename, 'uv', true, 1],
      [b.filename, 'poetry', false, 1],
    ]);
    // Taken: the same slots count again from nothing, and a dropped file takes its others with it.
    pending.count(b, 'pip', false);
    pending.count(a, 'pdm', false);
    pending.count(a, 'pip', true);
    pending.drop(a.filename);
    expect(pending.size).toBe(1);
    expect(pending.all()).toEqual([{ filename: b.filename, project: 'beta', day: today, installer: 'pip', ci: false, count: 1 }]);
    pending.count({ ...a, id: 12 }, 'pdm', false);
    expect(listed()).toEqual([
      [b.filename, 'pip', false, 1],
      [a.filename, 'pdm', false, 1],
    ]);
  });
  it('lists a count kept both ways (a route counted it, or it was put back) once, added up', () => {
    const pending = new PendingDownloads();
    const today = utcToday();
    pending.count(a, 'pip', false);
    pending.count(a, 'pip', false);
    // The same file without its number (a route's download) and a count put back after a failed write.
    pending.count({ project: a.project, filename: a.filename }, 'pip', false);
    const failed = new PendingDownloads();
    for (let i = 0; i < 5; i++) failed.count(a, 'pip', false);
    pending.restore(failed.take());
    pending.count({ project: a.project, filename: a.filename }, 'uv', false);
    expect(sorted(pending.all())).toEqual([
      { filename: a.filename, project: 'alpha', day: today, installer: 'pip', ci: false, count: 8 },
      expect.objectContaining({ filename: a.filename, day: today, installer: 'uv', ci: false, count: 1 }),
    ]);
    const taken = pending.take();
    expect(sorted(taken.list()).map((c) => c.count)).toEqual([8, 1]);
    // Without a removed file's.
    expect(taken.without(a.filename).length).toBe(0);
    expect(taken.slice(1, 2).length).toBe(1);
  });

  it('keeps counts of many numbered files, and moves them under their day when the day changes', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-03-04T23:59:59.500Z'));
    const pending = new PendingDownloads();
    const files = Array.from({ length: 5000 }, (_, i) => ({ project: `p${i % 3}`, filename: `p-${i}.whl`, id: 2 * i }));
    for (const f of files) pending.count(f, 'pip', true);
    pending.count(files[0] as (typeof files)[number], 'pip', true);
    // A second counter of one file moves with the rest.
    pending.count(files[7] as (typeof files)[number], 'uv', false);
    vi.setSystemTime(new Date('2026-03-05T00:00:00.500Z'));
    pending.count(files[0] as (typeof files)[number], 'pip', true);
    const counts = [...pending.all()];
    expect(counts).toHaveLength(5002);
    expect(counts.filter((c) => c.day === '2026-03-04').reduce((n, c) => n + c.count, 0)).toBe(5002);
    expect(counts.filter((c) => c.filename === 'p-7.whl')).toEqual([
      { filename: 'p-7.whl', project: 'p1', day: '2026-03-04', installer: 'pip', ci: true, count: 1 },
      { filename: 'p-7.whl', project: 'p1', day: '2026-03-04', installer: 'uv', ci: false, count: 1 },
    ]);
    expect(counts.filter((c) => c.day === '2026-03-05')).toEqual([{ filename: 'p-0.whl', project: 'p0', day: '2026-03-05', installer: 'pip', ci: true, count: 1 }]);
    expect(pending.size).toBe(5002);
  });
});

describe('PendingDownloads in parts', () => {
  /** Every part of a reading, and how many counts each had. */
  const parts = (pending: PendingDownloads, rows: number, between?: (part: number) => void) => {
    const counts: PendingCount[] = [];
    const sizes: number[] = [];
    pending.beginParts();
    for (let last = false, n = 0; !last; n++) {
      const part = pending.nextPart(rows);
      last = part.last;
      counts.push(...part.counts.list());
      sizes.push(part.counts.length);
      between?.(n);
    }
    return { counts, sizes };
  };

  /** 40 numbered files with two counters each, three files with no number, a count kept both ways. */
  const filled = () => {
    const pending = new PendingDownloads();
    for (let i = 0; i < 40; i++) {
      const file = { project: `p${i}`, filename: `p${i}-1.0.tar.gz`, id: 100 - i };
      pending.count(file, 'pip', false);
      pending.count(file, 'uv', true);
    }
    for (let i = 0; i < 3; i++) pending.count({ project: 'other', filename: `other-${i}.tar.gz` }, 'pip', false);
    pending.restore(new CountBatch(['p3-1.0.tar.gz'], ['p3'], [utcToday()], ['pip'], Uint8Array.of(0), Float64Array.of(5)));
    return pending;
  };

  it('reads in parts of about the size asked for exactly what take() packs, in its order', () => {
    const whole = filled().take().list();
    const { counts, sizes } = parts(filled(), 10);
    expect(counts).toEqual(whole);
    expect(whole).toHaveLength(83);
    expect(counts.find((c) => c.filename === 'p3-1.0.tar.gz' && c.installer === 'pip')?.count).toBe(6);
    // The three entries, then whole slots (two counts each) until a part has ten counts or more.
    expect(sizes).toEqual([11, 10, 10, 10, 10, 10, 10, 10, 2]);
  });

  it('leaves a file dropped between two parts out of the parts after', () => {
    const pending = filled();
    const { counts } = parts(pending, 10, (n) => {
      if (n === 0) pending.drop('p3-1.0.tar.gz');
    });
    expect(counts.filter((c) => c.filename === 'p3-1.0.tar.gz')).toEqual([]);
    expect(counts).toHaveLength(81);
  });

  it('reads slots of one counter and of several alike, with no entries, and drops one of several between parts', () => {
    const single = () => {
      const pending = new PendingDownloads();
      for (let i = 0; i < 30; i++) pending.count({ project: `s${i}`, filename: `s${i}-1.0.tar.gz`, id: i }, 'pip', false);
      pending.count({ project: 's12', filename: 's12-1.0.tar.gz', id: 12 }, 'uv', true);
      pending.count({ project: 's20', filename: 's20-1.0.tar.gz', id: 20 }, 'pdm', false);
      return pending;
    };
    const whole = single().take().list();
    expect(whole.map((c) => `${c.filename} ${c.installer}`).slice(12, 15)).toEqual(['s12-1.0.tar.gz pip', 's12-1.0.tar.gz uv', 's13-1.0.tar.gz pip']);
    expect(parts(single(), 7).counts).toEqual(whole);
    const pending = single();
    const { counts } = parts(pending, 7, (n) => {
      if (n === 0) pending.drop('s20-1.0.tar.gz');
    });
    expect(counts).toEqual(whole.filter((c) => c.filename !== 's20-1.0.tar.gz'));
    expect(pending.size).toBe(30);
  });

  it('starts again from the beginning, and refuses a part after the last', () => {
    const pending = filled();
    expect(parts(pending, 1000).sizes).toEqual([83]);
    expect(() => pending.nextPart(10)).toThrow(/after it ended/);
    expect(parts(pending, 1000).counts).toEqual(filled().take().list());
  });
});

describe('CountBatch.byFilename', () => {
  const batchOf = (names: string[]) =>
    new CountBatch(names, names.map(() => 'p'), names.map(() => '2026-12-07'), names.map(() => 'pip'), new Uint8Array(names.length), Float64Array.from(names, (_, i) => i + 1));
  const sortedNames = Array.from({ length: 300 }, (_, i) => `f-${String(i).padStart(4, '0')}.tar.gz`);

  it('orders counts numbered out of order at the start, at the end, or anywhere, keeping a file\'s counts in their order', () => {
    const shuffled = (names: string[]) => names.map((n, i) => [n, (i * 7919) % 101] as const).sort((a, b) => a[1] - b[1]).map(([n]) => n);
    const cases = [
      [...shuffled(sortedNames.slice(0, 40)), ...sortedNames.slice(40)],
      [...sortedNames.slice(0, 260), ...shuffled(sortedNames.slice(260))],
      shuffled(sortedNames),
      // Long runs out of order with each other (not the catalog's numbering).
      [...sortedNames.slice(150), ...sortedNames.slice(0, 150)],
      // A file counted under two installers: its counts stay in their order.
      [...sortedNames.slice(0, 10), 'f-0003.tar.gz', ...sortedNames.slice(10)],
    ];
    for (const names of cases) {
      // Each count is its file's place in the list given (+ 1): it must stay with its file.
      const pairs = names.map((name, i) => `${name} ${i + 1}`);
      const inOrder = [...names].sort();
      const ordered = batchOf(names).byFilename().list();
      expect(ordered.map((c) => c.filename)).toEqual(inOrder);
      expect(ordered.map((c) => `${c.filename} ${c.count}`).sort()).toEqual(pairs.sort());
      const twice = ordered.filter((c) => c.filename === 'f-0003.tar.gz').map((c) => c.count);
      expect(twice).toEqual([...twice].sort((a, b) => a - b));
    }
  });

  it('gives back the batch itself when it is in order', () => {
    const batch = batchOf(sortedNames);
    expect(batch.byFilename()).toBe(batch);
  });
});
