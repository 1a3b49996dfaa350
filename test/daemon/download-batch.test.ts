/**
 * DownloadBatch keeps a file's counters from event to event (download-batch.ts says why):
 * each event still lists exactly the downloads since the one before, by installer.
 */
import { describe, expect, it } from 'vitest';
import type { FileDownloads } from '../../src/shared/api.js';
import { DownloadBatch } from '../../src/daemon/services/download-batch.js';

const pip = { installer: 'pip' as const, ci: false };
const uvCi = { installer: 'uv' as const, ci: true };
const a = { project: 'alpha', filename: 'alpha-1.0.tar.gz' };
const b = { project: 'beta', filename: 'beta-1.0.tar.gz' };

describe('DownloadBatch', () => {
  it('lists in each event exactly the downloads since the last one, counters set back to zero', () => {
    const events: FileDownloads[][] = [];
    const batch = new DownloadBatch((files) => events.push(files), 60_000);
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
    const batch = new DownloadBatch((files) => events.push(files), 60_000);
    batch.add(a, pip);
    batch.flush();
    batch.add({ ...a, project: 'gamma' }, pip);
    batch.flush();
    expect(events[1]).toEqual([{ project: 'gamma', filename: a.filename, downloads: 1, installers: [{ installer: 'pip', downloads: 1, ci: 0 }] }]);
  });

  it('publishes on its own after its interval', async () => {
    const events: FileDownloads[][] = [];
    const batch = new DownloadBatch((files) => events.push(files), 10);
    batch.add(b, pip);
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toHaveLength(1);
  });
});
