/**
 * The connection against a fake daemon: the snapshot after the stream opens, batches of
 * events, reconnecting with backoff and Last-Event-ID (and saying so), resuming without a
 * snapshot, a resync that takes one, snapshots that events ask for, the selected
 * project's detail, and admin actions and their refusals.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LiveConnection } from '../../src/tui/live/connection.js';
import { LiveStore } from '../../src/tui/live/store.js';
import { detail, downloads, FakeDaemon, project, T0 } from './helpers/fake-daemon.js';
import { until } from './helpers/wait.js';

const running: LiveConnection[] = [];
afterEach(() => {
  for (const c of running.splice(0)) {
    c.stop();
    c.store.dispose();
  }
});

function connectTo(daemon: FakeDaemon, flushMs = 20) {
  const store = new LiveStore(flushMs);
  const conn = new LiveConnection(daemon.connect, store, { backoffMs: [20, 40, 80], resnapshotMs: 30, detailDelayMs: 5 });
  running.push(conn);
  conn.start();
  return { store, conn, state: () => store.getState() };
}

const download = (project: string, filename: string) => downloads(project, [filename]);

describe('LiveConnection', () => {
  it('opens the stream, then takes the snapshot, then is live; events arrive in batches', async () => {
    const daemon = new FakeDaemon();
    daemon.projects = [project('alpha', { downloads: 1 })];
    const { store, state } = connectTo(daemon, 50);
    await until('live', () => state().connection.state === 'live');
    expect(state().projects.get('alpha')?.downloads).toBe(1);
    expect(state().url).toBe(daemon.url);
    expect(daemon.lastEventIds).toEqual([undefined]);
    let emits = 0;
    store.subscribe(() => emits++);
    for (let i = 0; i < 500; i++) daemon.emit(download('alpha', 'alpha-1.0.tar.gz'));
    await until('the batch', () => state().projects.get('alpha')?.downloads === 501);
    // 500 events, one flush (whatever else re-renders, it is not one frame per event).
    expect(emits).toBeLessThanOrEqual(3);
    expect(state().lastEventId).toBe('500');
  });

  it('reconnects with growing waits while the daemon is away, says why, and resumes with Last-Event-ID without a new snapshot', async () => {
    const daemon = new FakeDaemon();
    daemon.projects = [project('alpha')];
    const { state } = connectTo(daemon);
    await until('live', () => state().connection.state === 'live');
    daemon.emit(download('alpha', 'a.whl'), '41');
    await until('the event', () => state().lastEventId === '41');
    const before = daemon.snapshots;
    daemon.down = 'The pyrepo daemon is not running.';
    daemon.breakStream();
    const attempts: number[] = [];
    await until('three attempts', () => {
      const c = state().connection;
      if (c.state === 'reconnecting' && !attempts.includes(c.attempt)) attempts.push(c.attempt);
      return attempts.length >= 3;
    });
    const c = state().connection;
    expect(c).toMatchObject({ state: 'reconnecting', reason: 'The pyrepo daemon is not running.' });
    expect(attempts.slice(0, 3)).toEqual([1, 2, 3]);
    daemon.down = undefined;
    await until('live again', () => state().connection.state === 'live');
    expect(daemon.lastEventIds).toEqual([undefined, '41']);
    // The daemon replays what was missed: counted once, no snapshot needed.
    daemon.emit(download('alpha', 'a.whl'), '42');
    daemon.emit(download('alpha', 'a.whl'), '43');
    await until('the replay', () => state().lastEventId === '43');
    expect(state().projects.get('alpha')?.downloads).toBe(3);
    expect(daemon.snapshots).toBe(before);
  });

  it('takes a snapshot when the daemon answers a resumption with resync, and resumes from its position after', async () => {
    const daemon = new FakeDaemon();
    daemon.projects = [project('alpha', { downloads: 1 })];
    const { state } = connectTo(daemon);
    await until('live', () => state().connection.state === 'live');
    daemon.emit(download('alpha', 'a.whl'), '7');
    await until('the event', () => state().projects.get('alpha')?.downloads === 2);
    const before = daemon.snapshots;
    // Another run of the daemon, with other numbers and other data.
    daemon.breakStream();
    await until('reconnected', () => daemon.lastEventIds.length === 2 && daemon.streamOpen);
    daemon.projects = [project('alpha', { downloads: 30 }), project('beta')];
    daemon.eventId = 5000;
    daemon.emit({ type: 'resync', time: T0, reason: 'restarted' }, '5000');
    await until('the new snapshot', () => state().projects.has('beta'));
    expect(daemon.snapshots).toBe(before + 1);
    expect(state().projects.get('alpha')?.downloads).toBe(30);
    expect(state().lastEventId).toBe('5000');
    daemon.breakStream();
    await until('reconnected again', () => daemon.lastEventIds.length === 3);
    expect(daemon.lastEventIds[2]).toBe('5000');
  });

  it('R retries at once while the daemon is away', async () => {
    const daemon = new FakeDaemon();
    daemon.down = 'not running';
    const store = new LiveStore(10);
    const conn = new LiveConnection(daemon.connect, store, { backoffMs: [60_000] });
    running.push(conn);
    conn.start();
    await until('waiting a minute', () => store.getState().connection.state === 'reconnecting');
    daemon.down = undefined;
    conn.refresh();
    await until('live', () => store.getState().connection.state === 'live', 2_000);
  });

  it('takes a fresh snapshot when an event changes what only the daemon can tell (a new latest version)', async () => {
    const daemon = new FakeDaemon();
    daemon.projects = [project('alpha', { latestVersion: '1.0' })];
    const { state } = connectTo(daemon);
    await until('live', () => state().connection.state === 'live');
    daemon.projects = [project('alpha', { latestVersion: '2.0', versions: 2, files: 3 })];
    daemon.emit({ type: 'upload', time: T0, project: 'alpha', version: '2.0', filename: 'alpha-2.0.tar.gz', size: 9, source: 'upload', user: null, address: null });
    await until('the new latest version', () => state().projects.get('alpha')?.latestVersion === '2.0');
    expect(state().stale).toBe(false);
  });

  it('follows the selected project: fetches its detail, again when an event touches it, and says when it cannot', async () => {
    const daemon = new FakeDaemon();
    daemon.projects = [project('alpha'), project('ghost')];
    daemon.details.set('alpha', detail('alpha', ['1.0']));
    const { conn, state } = connectTo(daemon);
    await until('live', () => state().connection.state === 'live');
    conn.select('alpha');
    await until('the detail', () => state().detail?.data?.releases.length === 1);
    daemon.details.set('alpha', detail('alpha', ['2.0', '1.0']));
    daemon.emit({ type: 'upload', time: T0, project: 'alpha', version: '2.0', filename: 'alpha-2.0-py3-none-any.whl', size: 9, source: 'upload' });
    await until('the detail again', () => state().detail?.data?.releases.length === 2);
    conn.select('ghost');
    await until('the error', () => state().detail?.error);
    expect(state().detail).toMatchObject({ name: 'ghost', error: "No project named 'ghost'." });
  });

  it('carries out admin actions and passes the daemon’s refusal on', async () => {
    const daemon = new FakeDaemon();
    daemon.projects = [project('alpha')];
    const { conn, state } = connectTo(daemon);
    await until('live', () => state().connection.state === 'live');
    expect(await conn.perform({ kind: 'yank', project: 'alpha', version: '1.0' }, 'broken')).toBe('Yanked alpha 1.0 (broken).');
    expect(await conn.perform({ kind: 'unyank', project: 'alpha', version: '1.0' })).toBe('alpha 1.0 is no longer yanked.');
    expect(await conn.perform({ kind: 'delete-release', project: 'alpha', version: '1.0', files: 2 })).toBe('Deleted alpha 1.0 (2 files).');
    expect(await conn.perform({ kind: 'delete-file', project: 'alpha', filename: 'a.whl' })).toBe('Deleted a.whl.');
    expect(daemon.calls).toEqual(['yank alpha 1.0 broken', 'unyank alpha 1.0', 'delete-release alpha 1.0', 'delete-file alpha a.whl']);
    daemon.refuse = { status: 403, message: 'Only owners may yank.' };
    await expect(conn.perform({ kind: 'yank', project: 'alpha', version: '1.0' })).rejects.toThrow('Only owners may yank.');
    daemon.down = 'gone';
    daemon.breakStream();
    await until('away', () => state().connection.state === 'reconnecting');
    await expect(conn.perform({ kind: 'yank', project: 'alpha', version: '1.0' })).rejects.toThrow(/not connected; nothing was changed/);
  });
});
