/**
 * The live data reducer alone: snapshots, events (today's and the fields a newer daemon
 * adds: batched download counts, installers, uploaders, ids), the feed, and what happens
 * around a reconnection.
 */
import { describe, expect, it } from 'vitest';
import {
  alreadySeen,
  DOWNLOAD_MERGE_MS,
  FEED_LENGTH,
  initialLiveIndex,
  liveIndexReducer,
  type LiveIndexAction,
  type LiveIndexState,
} from '../../src/tui/state/live-index.js';
import { readLiveEvent, type LiveEvent } from '../../src/tui/state/model.js';
import { detail, health, project, T0 } from './helpers/fake-daemon.js';

const time = '2026-11-22T10:00:00.000Z';
const later = (ms: number) => new Date(Date.parse(time) + ms).toISOString();
const alpha = project('alpha', { displayName: 'Alpha', downloads: 5, files: 2, lastUpload: '2026-01-01T00:00:00.000Z' });

function run(actions: LiveIndexAction[], from: LiveIndexState = initialLiveIndex): LiveIndexState {
  return actions.reduce(liveIndexReducer, from);
}
const snap = (projects = [alpha], h = health()): LiveIndexAction => ({ type: 'snapshot', projects, health: h, url: 'http://x', at: 1000 });
const ev = (event: LiveEvent): LiveIndexAction => ({ type: 'event', event });
const download = (filename = 'alpha-1.0.tar.gz', extra: Partial<LiveEvent & { type: 'download' }> = {}): LiveEvent => ({
  type: 'download',
  time,
  project: 'alpha',
  filename,
  ...extra,
});

describe('snapshots', () => {
  it('take the projects, health and URL; asking for one clears staleness', () => {
    const s = run([{ type: 'sync-start' }, snap()], { ...initialLiveIndex, stale: true });
    expect(s.projects.get('alpha')).toEqual(alpha);
    expect(s).toMatchObject({ stale: false, loaded: true, syncing: false, url: 'http://x', healthAt: 1000 });
    expect(s.health?.version).toBe('0.1.0');
  });

  it('an upload that arrives while a snapshot is on its way asks for another one (the snapshot may predate it)', () => {
    const upload: LiveEvent = { type: 'upload', time, project: 'alpha', version: '2.0', filename: 'alpha-2.0.tar.gz', size: 10, source: 'upload' };
    const s = run([snap(), { type: 'sync-start' }, ev(upload), snap()]);
    expect(s.stale).toBe(true);
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
    const after = liveIndexReducer(before, ev(download()));
    expect(after.projects.get('alpha')?.downloads).toBe(6);
    expect(before.projects.get('alpha')?.downloads).toBe(5);
    expect(after.feed.map((f) => f.event)).toEqual([download()]);
    expect(after.stale).toBe(false);
  });

  it('take the count of a batched event and move the 30-day series and the installer split', () => {
    const withTrend = project('alpha', { downloads: 5, downloads30d: [...Array<number>(29).fill(0), 2] });
    const d = detail('alpha', ['1.0'], { installers: { byInstaller: { pip: 3 }, ci: 1 } });
    const file = d.releases[0]?.files[0]?.filename as string;
    const s = run([
      snap([withTrend]),
      { type: 'detail-request', name: 'alpha' },
      { type: 'detail', name: 'alpha', data: d },
      ev(download(file, { count: 7, installer: 'uv', ci: true })),
    ]);
    const p = s.projects.get('alpha');
    expect(p?.downloads).toBe(12);
    expect(p?.downloads30d?.at(-1)).toBe(9);
    expect(p?.downloads30d).toHaveLength(30);
    const data = s.detail?.data;
    expect(data?.downloads).toBe(7);
    expect(data?.releases[0]?.downloads).toBe(7);
    expect(data?.releases[0]?.files[0]?.downloads).toBe(7);
    expect(data?.downloadsByDay).toEqual([{ day: '2026-11-22', downloads: 7 }]);
    expect(data?.installers).toEqual({ byInstaller: { pip: 3, uv: 7 }, ci: 8 });
    expect(s.feed[0]?.count).toBe(7);
  });

  it('of one file share a feed line while they keep coming; another file or a long pause starts a new one', () => {
    const s = run([
      snap(),
      ev(download('a.whl')),
      ev({ ...download('b.whl'), time: later(1000) }),
      ev({ ...download('a.whl'), time: later(2000) }),
      ev({ ...download('a.whl', { count: 3 }), time: later(3000) }),
    ]);
    expect(s.feed.map((f) => [f.event.type === 'download' && f.event.filename, f.count])).toEqual([
      ['a.whl', 5],
      ['b.whl', 1],
    ]);
    const t = liveIndexReducer(s, ev({ ...download('a.whl'), time: later(3000 + DOWNLOAD_MERGE_MS + 1) }));
    expect(t.feed.map((f) => f.count)).toEqual([1, 5, 1]);
    expect(t.projects.get('alpha')?.downloads).toBe(5 + 7);
  });

  it('move only the counts version, so that a list sorted by anything but downloads is not sorted again', () => {
    const before = run([snap()]);
    const counted = liveIndexReducer(before, ev(download()));
    expect(counted.countsVersion).toBe(before.countsVersion + 1);
    expect(counted.orderVersion).toBe(before.orderVersion);
    const uploaded = liveIndexReducer(counted, ev({ type: 'upload', time, project: 'zeta', version: '1', filename: 'zeta-1.tar.gz', size: 1, source: 'upload' }));
    expect(uploaded.orderVersion).toBe(before.orderVersion + 1);
    expect(liveIndexReducer(uploaded, ev(download('nobody.whl', { project: 'unknown' } as never))).countsVersion).toBe(uploaded.countsVersion);
  });

  it('in a batch copy the project map once', () => {
    const before = run([snap()]);
    const after = liveIndexReducer(before, { type: 'events', events: Array.from({ length: 1000 }, () => download()) });
    expect(after.projects.get('alpha')?.downloads).toBe(1005);
    expect(after.feed).toHaveLength(1);
    expect(after.feed[0]?.count).toBe(1000);
  });
});

describe('uploads, yanks, deletions', () => {
  it('an upload to a known project updates what it can and asks for a snapshot for the rest', () => {
    const s = run([snap(), ev({ type: 'upload', time, project: 'alpha', version: '2.0', filename: 'alpha-2.0.tar.gz', size: 10, source: 'upload', uploader: 'ann' })]);
    expect(s.projects.get('alpha')).toMatchObject({ files: 3, lastUpload: time, lastUploader: 'ann', latestVersion: '1.0' });
    expect(s.stale).toBe(true);
  });

  it('an upload of a new project shows it at once', () => {
    const s = run([snap(), ev({ type: 'upload', time, project: 'gamma', version: '0.1', filename: 'gamma-0.1.tar.gz', size: 10, source: 'folder' })]);
    expect(s.projects.get('gamma')).toMatchObject({ name: 'gamma', latestVersion: '0.1', versions: 1, files: 1, downloads: 0, lastUpload: time });
    expect(s.projects.get('gamma')).not.toHaveProperty('lastUploader');
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
    const e = readLiveEvent({ type: 'auto-publish', time, project: 'alpha', version: '2.0', filename: 'alpha-2.0.tar.gz', folder: '/src/alpha/dist' });
    expect(e).toEqual({ type: 'other', time, project: 'alpha', name: 'auto-publish', summary: '2.0 alpha-2.0.tar.gz' });
    const s = run([snap(), ev(e as LiveEvent)]);
    expect(s.feed[0]?.event.type).toBe('other');
    expect(s.stale).toBe(true);
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
  it('remembers the newest id and drops events seen before (ids compare as numbers)', () => {
    expect(alreadySeen('9', '10')).toBe(true);
    expect(alreadySeen('10', '9')).toBe(false);
    expect(alreadySeen('a', 'a')).toBe(true);
    expect(alreadySeen('b', 'a')).toBe(false);
    expect(alreadySeen(undefined, '3')).toBe(false);
    const s = run([snap(), ev({ ...download(), id: '9' }), ev({ ...download(), id: '10' }), ev({ ...download(), id: '10' }), ev({ ...download(), id: '8' })]);
    expect(s.lastEventId).toBe('10');
    expect(s.projects.get('alpha')?.downloads).toBe(7);
  });

  it('resumes after a reconnection: replayed events it had are dropped, new ones are shown, counts come from the new snapshot plus what arrived during it', () => {
    const live = run([snap(), ev({ ...download(), id: '1' }), ev({ ...download(), id: '2' })]);
    expect(live.projects.get('alpha')?.downloads).toBe(7);
    const lost = liveIndexReducer(live, { type: 'connection', connection: { state: 'reconnecting', attempt: 1, retryAt: 5, reason: 'The daemon closed the event stream.' } });
    expect(lost.projects).toBe(live.projects);
    // Back: the stream opens with Last-Event-ID 2 and the snapshot is asked for.
    const syncing = run(
      [
        { type: 'sync-start' },
        ev({ ...download(), id: '2' }),
        ev({ ...download(), id: '3' }),
        ev({ ...download('alpha-1.0.tar.gz', { count: 4 }), id: '4' }),
      ],
      lost,
    );
    expect(syncing.syncing).toBe(true);
    expect(syncing.feed[0]?.count).toBe(2 + 5);
    expect(syncing.projects.get('alpha')?.downloads).toBe(7);
    const back = run([snap([project('alpha', { displayName: 'Alpha', downloads: 20 })]), { type: 'connection', connection: { state: 'live', since: 9 } }], syncing);
    expect(back.projects.get('alpha')?.downloads).toBe(20 + 5);
    expect(back.deferred).toEqual([]);
    expect(back.lastEventId).toBe('4');
    expect(back.connection.state).toBe('live');
  });

  it('adds what waited for a snapshot that did not come', () => {
    const s = run([snap(), { type: 'sync-start' }, ev(download()), { type: 'sync-failed' }]);
    expect(s.projects.get('alpha')?.downloads).toBe(6);
    expect(s.syncing).toBe(false);
  });

  it('forgets event ids when the daemon is another run (it may number afresh)', () => {
    const s = run([snap(), ev({ ...download(), id: '50' }), snap([alpha], health({ startedAt: '2026-11-22T11:00:00.000Z' })), ev({ ...download(), id: '1' })]);
    expect(s.lastEventId).toBe('1');
    expect(s.projects.get('alpha')?.downloads).toBe(6);
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

describe('readLiveEvent', () => {
  it("reads today's events and the fields a newer daemon adds, and refuses what is not an event", () => {
    expect(readLiveEvent({ type: 'download', time: T0, project: 'a', filename: 'a.whl' }, '7')).toEqual({ type: 'download', time: T0, project: 'a', filename: 'a.whl', id: '7' });
    expect(readLiveEvent({ type: 'download', time: T0, project: 'a', filename: 'a.whl', count: 12, installer: 'pip', ci: false })).toMatchObject({ count: 12, installer: 'pip', ci: false });
    expect(readLiveEvent({ type: 'download', time: T0, project: 'a', filename: 'a.whl', count: -1, installer: 'wget' })).toEqual({
      type: 'download',
      time: T0,
      project: 'a',
      filename: 'a.whl',
      installer: 'other',
    });
    expect(readLiveEvent({ type: 'yank', time: T0, project: 'a', version: '1' })).toMatchObject({ reason: null });
    expect(readLiveEvent({ type: 'upload', time: T0, project: 'a', filename: 'a.whl' })).toBeUndefined();
    expect(readLiveEvent({ type: 'download', project: 'a' })).toBeUndefined();
    expect(readLiveEvent('download')).toBeUndefined();
    expect(readLiveEvent(null)).toBeUndefined();
  });
});
