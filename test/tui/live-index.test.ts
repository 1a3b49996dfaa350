/**
 * The live data reducer alone: snapshots that name the event they reflect, events with
 * ids (batched downloads with installers, uploads with their uploader, yanks, deletions,
 * types it does not know), the feed, and what happens around a reconnection: every event
 * counted once, whatever order the stream and the answers arrive in.
 */
import { describe, expect, it } from 'vitest';
import type { IndexEvent } from '../../src/shared/api.js';
import {
  DOWNLOAD_MERGE_MS,
  FEED_FILES_PER_BATCH,
  FEED_LENGTH,
  initialLiveIndex,
  liveIndexReducer,
  notAfter,
  resumeFrom,
  type LiveIndexAction,
  type LiveIndexState,
} from '../../src/tui/state/live-index.js';
import { unknownEvent, type LiveEvent } from '../../src/tui/state/model.js';
import { detail, downloads, health, project } from './helpers/fake-daemon.js';

const time = '2026-11-22T10:00:00.000Z';
const later = (ms: number) => new Date(Date.parse(time) + ms).toISOString();
/** The snapshot's clock: the same UTC day as the events. */
const AT = Date.parse(time);
const alpha = project('alpha', { displayName: 'Alpha', downloads: 5, files: 2, lastUpload: '2026-01-01T00:00:00.000Z' });

function run(actions: LiveIndexAction[], from: LiveIndexState = initialLiveIndex): LiveIndexState {
  return actions.reduce(liveIndexReducer, from);
}
const snap = (projects = [alpha], lastEventId = '0', h = health()): LiveIndexAction => ({ type: 'snapshot', projects, lastEventId, health: h, url: 'http://x', at: AT });
const ev = (event: IndexEvent | LiveEvent, id?: string): LiveIndexAction => ({ type: 'event', event: { ...event, ...(id !== undefined ? { id } : {}) } as LiveEvent });
const dl = (filename = 'alpha-1.0.tar.gz', n = 1, installer: 'pip' | 'uv' = 'pip', ci = 0, at = time) => downloads('alpha', [filename], n, installer, ci, at);

describe('snapshots', () => {
  it('take the projects, health, URL and the event they reflect; asking for one clears staleness', () => {
    const s = run([{ type: 'sync-start' }, snap([alpha], '40')], { ...initialLiveIndex, stale: true });
    expect(s.projects.get('alpha')).toEqual(alpha);
    expect(s).toMatchObject({ stale: false, loaded: true, url: 'http://x', healthAt: AT, countedEventId: '40', listDay: '2026-11-22' });
    expect(s.health?.version).toBe('0.1.0');
    expect(resumeFrom(s)).toBe('40');
  });

  it('get the events that arrived before them but after what they reflect applied again (an upload asks for another snapshot)', () => {
    const upload: IndexEvent = { type: 'upload', time, project: 'alpha', version: '2.0', filename: 'alpha-2.0.tar.gz', size: 10, source: 'upload' };
    const s = run([snap([alpha], '10'), { type: 'sync-start' }, ev(dl(), '11'), ev(dl(), '12'), ev(upload, '13'), snap([project('alpha', { downloads: 6 })], '11')]);
    // The snapshot counts 11; 12 and 13 come on top of it.
    expect(s.projects.get('alpha')).toMatchObject({ downloads: 7, files: 3 });
    expect(s.stale).toBe(true);
    expect(s.countedEventId).toBe('13');
    expect(run([{ type: 'sync-start' }, { type: 'sync-failed' }]).stale).toBe(true);
  });

  it('replace projects that are gone', () => {
    const s = run([snap([alpha, project('beta')]), snap([project('beta')])]);
    expect([...s.projects.keys()]).toEqual(['beta']);
  });
});

describe('downloads', () => {
  it('count without a new snapshot and leave the old state untouched', () => {
    const before = run([snap()]);
    const after = liveIndexReducer(before, ev(dl(), '1'));
    expect(after.projects.get('alpha')?.downloads).toBe(6);
    expect(before.projects.get('alpha')?.downloads).toBe(5);
    expect(after.feed.map((f) => [f.event.type, 'filename' in f.event ? f.event.filename : '', f.count])).toEqual([['download', 'alpha-1.0.tar.gz', 1]]);
    expect(after.stale).toBe(false);
  });

  it('of a batch move the total, today in the 30-day series, and the open detail per file, release, day and installer', () => {
    const withTrend = project('alpha', { downloads: 5, downloads30d: [...Array<number>(29).fill(0), 2] });
    const d = detail('alpha', ['1.0'], { downloadsByInstaller: [{ installer: 'pip', downloads: 3, ci: 1 }], lastEventId: '0' });
    const file = d.releases[0]?.files[0]?.filename as string;
    const s = run([snap([withTrend]), { type: 'detail-request', name: 'alpha' }, { type: 'detail', name: 'alpha', data: d }, ev(dl(file, 7, 'uv', 2), '1')]);
    const p = s.projects.get('alpha');
    expect(p?.downloads).toBe(12);
    expect(p?.downloads30d.at(-1)).toBe(9);
    expect(p?.downloads30d).toHaveLength(30);
    const data = s.detail?.data;
    expect(data?.downloads).toBe(7);
    expect(data?.releases[0]?.downloads).toBe(7);
    expect(data?.releases[0]?.files[0]?.downloads).toBe(7);
    expect(data?.downloadsByDay).toEqual([{ day: '2026-11-22', downloads: 7 }]);
    expect(data?.downloadsByInstaller).toEqual([
      { installer: 'uv', downloads: 7, ci: 2 },
      { installer: 'pip', downloads: 3, ci: 1 },
    ]);
    expect(s.feed[0]?.count).toBe(7);
  });

  it('past midnight count in the total and ask for a snapshot to shift the 30 days', () => {
    const s = run([snap(), ev(dl('a.whl', 2, 'pip', 0, '2026-11-23T00:00:01.000Z'), '1')]);
    expect(s.projects.get('alpha')?.downloads).toBe(7);
    expect(s.projects.get('alpha')?.downloads30d.at(-1)).toBe(0);
    expect(s.stale).toBe(true);
  });

  it('count in a detail only when newer than what it was fetched with, also when they arrived before it', () => {
    const d = detail('alpha', ['1.0'], { downloads: 10, lastEventId: '2' });
    const file = d.releases[0]?.files[0]?.filename as string;
    const s = run([snap([alpha], '0'), { type: 'detail-request', name: 'alpha' }, ev(dl(file), '1'), ev(dl(file), '2'), ev(dl(file, 4), '3'), { type: 'detail', name: 'alpha', data: d }, ev(dl(file), '4')]);
    expect(s.detail?.data?.downloads).toBe(10 + 4 + 1);
  });

  it('of one file share a feed line while they keep coming; another file or a long pause starts a new one', () => {
    const s = run([snap(), ev(dl('a.whl')), ev(dl('b.whl', 1, 'pip', 0, later(1000))), ev(dl('a.whl', 1, 'uv', 0, later(2000))), ev(dl('a.whl', 3, 'pip', 0, later(3000)))]);
    expect(s.feed.map((f) => [f.event.type === 'download' && f.event.filename, f.count, f.event.type === 'download' && f.event.installers.map((c) => `${c.installer} ${c.downloads}`)])).toEqual([
      ['a.whl', 5, ['pip 4', 'uv 1']],
      ['b.whl', 1, ['pip 1']],
    ]);
    const t = liveIndexReducer(s, ev(dl('a.whl', 1, 'pip', 0, later(3000 + DOWNLOAD_MERGE_MS + 1))));
    expect(t.feed.map((f) => f.count)).toEqual([1, 5, 1]);
    expect(t.projects.get('alpha')?.downloads).toBe(5 + 7);
  });

  it('of many files in one batch are one feed line', () => {
    const files = Array.from({ length: FEED_FILES_PER_BATCH + 1 }, (_, i) => `f${i}.whl`);
    const s = run([snap(), ev(downloads('alpha', files, 2), '1')]);
    expect(s.feed).toHaveLength(1);
    expect(s.feed[0]).toMatchObject({ count: 2 * files.length, event: { type: 'downloads' } });
    expect(s.projects.get('alpha')?.downloads).toBe(5 + 2 * files.length);
  });

  it('move only the counts version, so that a list sorted by anything but downloads is not sorted again', () => {
    const before = run([snap()]);
    const counted = liveIndexReducer(before, ev(dl()));
    expect(counted.countsVersion).toBe(before.countsVersion + 1);
    expect(counted.orderVersion).toBe(before.orderVersion);
    const uploaded = liveIndexReducer(counted, ev({ type: 'upload', time, project: 'zeta', version: '1', filename: 'zeta-1.tar.gz', size: 1, source: 'upload' }));
    expect(uploaded.orderVersion).toBe(before.orderVersion + 1);
    expect(liveIndexReducer(uploaded, ev(downloads('unknown', ['nobody.whl']))).countsVersion).toBe(uploaded.countsVersion);
  });

  it('in a batch copy the project map once', () => {
    const before = run([snap()]);
    const after = liveIndexReducer(before, { type: 'events', events: Array.from({ length: 1000 }, (_, i) => ({ ...dl(), id: String(i + 1) }) as LiveEvent) });
    expect(after.projects.get('alpha')?.downloads).toBe(1005);
    expect(after.feed).toHaveLength(1);
    expect(after.feed[0]?.count).toBe(1000);
  });
});

describe('uploads, yanks, deletions', () => {
  it('an upload to a known project updates what it can, with its uploader, and asks for a snapshot for the rest', () => {
    const s = run([snap(), ev({ type: 'upload', time, project: 'alpha', version: '2.0', filename: 'alpha-2.0.tar.gz', size: 10, source: 'upload', user: 'ann', address: '10.0.0.1' })]);
    expect(s.projects.get('alpha')).toMatchObject({ files: 3, lastUpload: time, lastUploadedBy: 'ann', latestVersion: '1.0' });
    expect(s.stale).toBe(true);
  });

  it('an upload of a new project shows it at once', () => {
    const s = run([snap(), ev({ type: 'upload', time, project: 'gamma', version: '0.1', filename: 'gamma-0.1.tar.gz', size: 10, source: 'folder', user: null, address: null })]);
    expect(s.projects.get('gamma')).toMatchObject({ name: 'gamma', latestVersion: '0.1', versions: 1, files: 1, downloads: 0, lastUpload: time, lastUploadedBy: null });
    expect(s.projects.get('gamma')?.downloads30d).toHaveLength(30);
  });

  it('a yank, an unyank and a deletion update the open detail at once and ask for a snapshot', () => {
    const d = detail('alpha', ['2.0', '1.0']);
    const opened = run([snap(), { type: 'detail-request', name: 'alpha' }, { type: 'detail', name: 'alpha', data: d }]);
    const yanked = liveIndexReducer(opened, ev({ type: 'yank', time, project: 'alpha', version: '2.0', reason: 'broken' }));
    expect(yanked.detail?.data?.releases[0]).toMatchObject({ version: '2.0', yanked: true, yankedReason: 'broken' });
    expect(yanked.detail?.stale).toBe(true);
    expect(yanked.stale).toBe(true);
    expect(yanked.projects).toBe(opened.projects);
    const back = liveIndexReducer(yanked, ev({ type: 'unyank', time, project: 'alpha', version: '2.0' }));
    expect(back.detail?.data?.releases[0]).toMatchObject({ yanked: false, yankedReason: null });
    const gone = liveIndexReducer(opened, ev({ type: 'delete', time, project: 'alpha', filename: 'alpha-1.0-py3-none-any.whl' }));
    expect(gone.detail?.data?.releases[1]?.files).toEqual([]);
    expect(gone.projects.get('alpha')?.files).toBe(1);
  });

  it('an event of a type it does not know goes to the feed and asks for a snapshot', () => {
    const e = unknownEvent('auto-publish', { type: 'auto-publish', time, project: 'alpha', version: '2.0', filename: 'alpha-2.0.tar.gz', folder: '/src/alpha/dist' }, '3');
    expect(e).toEqual({ type: 'other', time, project: 'alpha', name: 'auto-publish', summary: '2.0 alpha-2.0.tar.gz', id: '3' });
    expect(unknownEvent('x', 'not json')).toMatchObject({ type: 'other', name: 'x', project: '', summary: '' });
    const s = run([snap(), ev(e)]);
    expect(s.feed[0]?.event.type).toBe('other');
    expect(s.stale).toBe(true);
    expect(s.lastEventId).toBe('3');
  });

  it('keeps a bounded feed, newest first', () => {
    let s = initialLiveIndex;
    for (let i = 0; i < FEED_LENGTH + 5; i++) s = liveIndexReducer(s, ev({ type: 'delete', time, project: 'p', filename: `f${i}` }));
    expect(s.feed).toHaveLength(FEED_LENGTH);
    expect(s.feed[0]?.event).toMatchObject({ filename: `f${FEED_LENGTH + 4}` });
    expect(s.feed[0]?.seq).toBeGreaterThan(s.feed[1]?.seq ?? Infinity);
  });
});

describe('event ids and reconnecting', () => {
  it('compare as numbers of any length', () => {
    expect(notAfter('9', '10')).toBe(true);
    expect(notAfter('10', '10')).toBe(true);
    expect(notAfter('10', '9')).toBe(false);
    expect(notAfter('1796414064689002', '1796414064689001')).toBe(false);
    expect(notAfter('a', 'a')).toBe(true);
    expect(notAfter('b', 'a')).toBe(false);
    expect(notAfter(undefined, '3')).toBe(false);
    expect(notAfter('3', undefined)).toBe(false);
  });

  it('remembers the newest id and drops events seen before', () => {
    const s = run([snap(), ev(dl(), '9'), ev(dl(), '10'), ev(dl(), '10'), ev(dl(), '8')]);
    expect(s.lastEventId).toBe('10');
    expect(s.projects.get('alpha')?.downloads).toBe(7);
    expect(s.feed[0]?.count).toBe(2);
  });

  it('resumes after a reconnection from the newest id: a replay shows what was missed once, and counts it once', () => {
    const live = run([snap([alpha], '0'), ev(dl(), '1'), ev(dl(), '2')]);
    expect(live.projects.get('alpha')?.downloads).toBe(7);
    const lost = liveIndexReducer(live, { type: 'connection', connection: { state: 'reconnecting', attempt: 1, retryAt: 5, reason: 'The daemon closed the event stream.' } });
    expect(resumeFrom(lost)).toBe('2');
    // Back with Last-Event-ID 2: the daemon replays 3 and 4 (a repeat of 2 would be dropped).
    const back = run([{ type: 'connection', connection: { state: 'live', since: 9 } }, ev(dl(), '2'), ev(dl(), '3'), ev(dl('alpha-1.0.tar.gz', 4), '4')], lost);
    expect(back.projects.get('alpha')?.downloads).toBe(5 + 2 + 1 + 4);
    expect(back.feed[0]?.count).toBe(2 + 5);
    expect(back.lastEventId).toBe('4');
  });

  it('takes the position of a resync; the snapshot that follows stands', () => {
    const before = run([snap([alpha], '5'), ev(dl(), '6')]);
    const resync = liveIndexReducer(before, { type: 'resync', id: '900' });
    expect(resync).toMatchObject({ lastEventId: '900' });
    const s = run([{ type: 'sync-start' }, snap([project('alpha', { downloads: 50 })], '900', health({ startedAt: '2026-11-22T11:00:00.000Z' })), ev(dl(), '901')], resync);
    expect(s.projects.get('alpha')?.downloads).toBe(51);
    expect(s.stale).toBe(false);
    expect(resumeFrom(s)).toBe('901');
  });
});

describe('the detail', () => {
  it('belongs to one project: a late answer for another is ignored', () => {
    const s = run([snap(), { type: 'detail-request', name: 'alpha' }, { type: 'detail', name: 'beta', data: detail('beta', ['1.0']) }]);
    expect(s.detail).toEqual({ name: 'alpha', stale: false });
    const err = liveIndexReducer(s, { type: 'detail-error', name: 'alpha', message: 'gone' });
    expect(err.detail?.error).toBe('gone');
  });
});
