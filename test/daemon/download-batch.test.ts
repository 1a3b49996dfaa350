/**
 * DownloadBatch keeps a file's counters from event to event (download-batch.ts says why):
 * each event still lists exactly the downloads since the one before, by installer.
 */
import { describe, expect, it } from 'vitest';
import type { FileDownloads } from '../../src/shared/api.js';
import { DownloadBatch } from '../../src/daemon/services/download-batch.js';
import { EventBus } from '../../src/daemon/services/events.js';

const pip = { installer: 'pip' as const, ci: false };
const uvCi = { installer: 'uv' as const, ci: true };
const a = { project: 'alpha', filename: 'alpha-1.0.tar.gz' };
const b = { project: 'beta', filename: 'beta-1.0.tar.gz' };

describe('DownloadBatch', () => {
  it('lists in each event exactly the downloads since the last one, counters set back to zero', () => {
    const events: FileDownloads[][] = [];
    const batch = new DownloadBatch((packed) => events.push(packed.files()), 60_000);
    batch.add(a, pip);
    batch.add(a, uvCi);
    batch.add(a, uvCi);
    batch.add(b, pip);
    batch.flush();
    batch.add(a, pip);
    batch.flush();
    batch.flush();
    expect(events).toEqual([
      [
        { ...a, downloads: 3, installers: [{ installer: 'uv', downloads: 2, ci: 2 }, { installer: 'pip', downloads: 1, ci: 0 }] },
        { ...b, downloads: 1, installers: [{ installer: 'pip', downloads: 1, ci: 0 }] },
      ],
      [{ ...a, downloads: 1, installers: [{ installer: 'pip', downloads: 1, ci: 0 }] }],
    ]);
    // What was published is a copy: later downloads do not change it.
    batch.add(a, pip);
    expect(events[1]?.[0]?.downloads).toBe(1);
  });

  it('a file that moved to another project is counted under the new one', () => {
    const events: FileDownloads[][] = [];
    const batch = new DownloadBatch((packed) => events.push(packed.files()), 60_000);
    batch.add(a, pip);
    batch.flush();
    batch.add({ ...a, project: 'gamma' }, pip);
    batch.flush();
    expect(events[1]).toEqual([{ project: 'gamma', filename: a.filename, downloads: 1, installers: [{ installer: 'pip', downloads: 1, ci: 0 }] }]);
  });

  it('counts many files at once, past the counters it keeps, each event exactly', () => {
    const events: FileDownloads[][] = [];
    const batch = new DownloadBatch((packed) => events.push(packed.files()), 60_000);
    const files = Array.from({ length: 20_000 }, (_, i) => ({ project: `p${i % 7}`, filename: `p-${i}.tar.gz` }));
    for (const f of files) batch.add(f, pip);
    for (const f of files.slice(0, 3)) batch.add(f, uvCi);
    batch.flush();
    // Past the counters kept, all were let go: counted again from new ones.
    for (const f of files.slice(0, 2)) batch.add(f, pip);
    batch.flush();
    expect(events[0]).toHaveLength(20_000);
    expect(events[0]?.reduce((n, f) => n + f.downloads, 0)).toBe(20_003);
    expect(events[0]?.[1]).toEqual({ project: 'p1', filename: 'p-1.tar.gz', downloads: 2, installers: [{ installer: 'pip', downloads: 1, ci: 0 }, { installer: 'uv', downloads: 1, ci: 1 }] });
    expect(events[0]?.[19_999]).toEqual({ project: 'p0', filename: 'p-19999.tar.gz', downloads: 1, installers: [{ installer: 'pip', downloads: 1, ci: 0 }] });
    expect(events[1]).toEqual(files.slice(0, 2).map((f) => ({ ...f, downloads: 1, installers: [{ installer: 'pip', downloads: 1, ci: 0 }] })));
  });

  it('counts files by their catalog number, one number taken by another file counted as that file', () => {
    const events: FileDownloads[][] = [];
    const batch = new DownloadBatch((packed) => events.push(packed.files()), 60_000);
    batch.add({ ...a, id: 7 }, pip);
    batch.add({ ...a, id: 7 }, uvCi);
    // The same number, now another file's (the first was deleted): its own entry.
    batch.add({ ...b, id: 7 }, pip);
    // A file with no number (a cached upstream one) beside them.
    batch.add({ project: 'up', filename: 'up-1.0.tar.gz' }, pip);
    batch.add({ ...a, id: 7 }, pip);
    batch.flush();
    expect(events[0]).toEqual([
      { ...a, downloads: 2, installers: [{ installer: 'pip', downloads: 1, ci: 0 }, { installer: 'uv', downloads: 1, ci: 1 }] },
      { ...b, downloads: 1, installers: [{ installer: 'pip', downloads: 1, ci: 0 }] },
      { project: 'up', filename: 'up-1.0.tar.gz', downloads: 1, installers: [{ installer: 'pip', downloads: 1, ci: 0 }] },
      { ...a, downloads: 1, installers: [{ installer: 'pip', downloads: 1, ci: 0 }] },
    ]);
    // Numbers far past the first ones, and past the counters kept: each event exact.
    const files = Array.from({ length: 20_000 }, (_, i) => ({ project: `p${i % 7}`, filename: `p-${i}.tar.gz`, id: 3 * i }));
    for (const f of files) batch.add(f, pip);
    batch.add(files[5] as (typeof files)[number], pip);
    batch.flush();
    for (const f of files.slice(0, 2)) batch.add(f, uvCi);
    batch.flush();
    expect(events[1]).toHaveLength(20_000);
    expect(events[1]?.[5]).toEqual({ project: 'p5', filename: 'p-5.tar.gz', downloads: 2, installers: [{ installer: 'pip', downloads: 2, ci: 0 }] });
    expect(events[2]).toEqual(files.slice(0, 2).map(({ project, filename }) => ({ project, filename, downloads: 1, installers: [{ installer: 'uv', downloads: 1, ci: 1 }] })));
  });

  it('keeps every event the bus holds as it was published, while later ones are written over those it let go', () => {
    // A bus that holds a few events: the ring of recent events wraps around and grows meanwhile.
    const bus = new EventBus({ now: () => 1_000, ringChars: 200_000 });
    const published: { id: number; files: FileDownloads[] }[] = [];
    const batch = new DownloadBatch((packed) => {
      const files = packed.files();
      published.push({ id: bus.publishDownloads(packed).id, files });
    }, 60_000);
    let held = 0;
    for (let round = 0; round < 300; round++) {
      // From 1 to 300 files an event, some with two installers; long names first, so that the
      // bus holds fewer files at first than later.
      const count = 1 + ((round * 37) % 300);
      const long = round < 100 ? `-${'x'.repeat(200)}` : '';
      for (let i = 0; i < count; i++) {
        const file = { project: `p${round % 11}`, filename: `p${round}-${i}${long}.tar.gz` };
        batch.add(file, pip);
        if (i % 4 === 0) batch.add(file, uvCi);
      }
      batch.flush();
      const replay = bus.since(String((published.find((p) => 'events' in bus.since(String(p.id - 1)))?.id ?? 0) - 1));
      if (!('events' in replay)) throw new Error('the bus holds no event');
      held = Math.max(held, replay.events.length);
      const heldIds = new Set(replay.events.map((e) => e.id));
      expect(replay.events.map((e) => (e.event.type === 'downloads' ? e.event.files : []))).toEqual(published.filter((p) => heldIds.has(p.id)).map((p) => p.files));
    }
    expect(held).toBeGreaterThan(3);
  });

  it('publishes early when an installer\'s counter of a file would pass 65,535, and loses no download', () => {
    const events: FileDownloads[][] = [];
    const batch = new DownloadBatch((packed) => events.push(packed.files()), 60_000);
    for (let i = 0; i < 140_000; i++) batch.add(a, i % 2 === 0 ? pip : uvCi);
    batch.add(b, pip);
    batch.flush();
    expect(events.map((e) => e.length)).toEqual([1, 2]);
    const sum = (installer: string, field: 'downloads' | 'ci') =>
      events.flat().filter((f) => f.filename === a.filename).reduce((n, f) => n + (f.installers.find((c) => c.installer === installer)?.[field] ?? 0), 0);
    expect([sum('pip', 'downloads'), sum('uv', 'downloads'), sum('uv', 'ci')]).toEqual([70_000, 70_000, 70_000]);
    // Both counters full, then the next pip download sent the first event out.
    expect(events[0]?.[0]?.downloads).toBe(131_070);
  });

  it('publishes on its own after its interval', async () => {
    const events: FileDownloads[][] = [];
    const batch = new DownloadBatch((packed) => events.push(packed.files()), 10);
    batch.add(b, pip);
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toHaveLength(1);
  });
});
