import { describe, expect, it } from 'vitest';
import type { IndexEvent, ProjectSummary } from '../../src/shared/api.js';
import { FEED_LENGTH, initialLiveIndex, liveIndexReducer } from '../../src/tui/state/live-index.js';

const alpha: ProjectSummary = {
  name: 'alpha',
  displayName: 'Alpha',
  latestVersion: '1.0',
  versions: 1,
  files: 2,
  downloads: 5,
  lastUpload: '2026-01-01T00:00:00.000Z',
};
const time = '2026-11-22T10:00:00.000Z';

describe('liveIndexReducer', () => {
  it('takes a snapshot and clears staleness', () => {
    const s = liveIndexReducer({ ...initialLiveIndex, stale: true }, { type: 'snapshot', projects: [alpha] });
    expect(s.projects.get('alpha')).toEqual(alpha);
    expect(s.stale).toBe(false);
  });

  it('counts downloads without a new snapshot and leaves the old state untouched', () => {
    const before = liveIndexReducer(initialLiveIndex, { type: 'snapshot', projects: [alpha] });
    const event: IndexEvent = { type: 'download', time, project: 'alpha', filename: 'alpha-1.0.tar.gz' };
    const after = liveIndexReducer(before, { type: 'event', event });
    expect(after.projects.get('alpha')?.downloads).toBe(6);
    expect(before.projects.get('alpha')?.downloads).toBe(5);
    expect(after.feed).toEqual([event]);
    expect(after.stale).toBe(false);
  });

  it('marks uploads, deletions and yanks stale and updates what it can', () => {
    const s0 = liveIndexReducer(initialLiveIndex, { type: 'snapshot', projects: [alpha] });
    const s1 = liveIndexReducer(s0, {
      type: 'event',
      event: { type: 'upload', time, project: 'alpha', version: '2.0', filename: 'alpha-2.0.tar.gz', size: 10, source: 'upload' },
    });
    expect(s1.projects.get('alpha')?.files).toBe(3);
    expect(s1.projects.get('alpha')?.lastUpload).toBe(time);
    expect(s1.stale).toBe(true);
    const s2 = liveIndexReducer(s0, { type: 'event', event: { type: 'yank', time, project: 'alpha', version: '1.0', reason: null } });
    expect(s2.stale).toBe(true);
    expect(s2.projects).toBe(s0.projects);
  });

  it('keeps a bounded feed, newest first', () => {
    let s = initialLiveIndex;
    for (let i = 0; i < FEED_LENGTH + 5; i++) {
      s = liveIndexReducer(s, { type: 'event', event: { type: 'delete', time, project: 'p', filename: `f${i}` } });
    }
    expect(s.feed).toHaveLength(FEED_LENGTH);
    expect(s.feed[0]).toMatchObject({ filename: `f${FEED_LENGTH + 4}` });
  });

  it('tracks the connection', () => {
    expect(liveIndexReducer(initialLiveIndex, { type: 'connection', connection: { state: 'live', since: 1 } }).connection.state).toBe('live');
  });
});
