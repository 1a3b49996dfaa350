/**
 * The dashboard's screen with ink-testing-library: what it shows at 80×24, and what keys
 * and live events do to it. Every step waits for the frame it expects (bounded), never
 * for a fixed time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { WatchInfo } from '../../src/shared/api.js';
import { detail, downloads, FakeDaemon, project, T0 } from './helpers/fake-daemon.js';
import { KEYS, renderDashboard } from './helpers/render-dashboard.js';
import { until, waitForFrame, waitForText } from './helpers/wait.js';

const open: ReturnType<typeof renderDashboard>[] = [];
afterEach(() => {
  for (const d of open.splice(0)) d.close();
});

function daemonWithProjects(): FakeDaemon {
  const daemon = new FakeDaemon();
  daemon.projects = [
    project('alpha', { latestVersion: '2.0', versions: 2, downloads: 12 }),
    project('beta', { latestVersion: '0.3', downloads: 3 }),
    project('gamma', { latestVersion: '1.1', downloads: 40 }),
  ];
  daemon.details.set('alpha', detail('alpha', ['2.0', '1.0']));
  daemon.details.set('beta', detail('beta', ['0.3']));
  daemon.details.set('gamma', detail('gamma', ['1.1']));
  return daemon;
}

function start(daemon = daemonWithProjects(), options: Parameters<typeof renderDashboard>[1] = {}) {
  const d = renderDashboard(daemon, options);
  open.push(d);
  return { d, daemon };
}

/** The row of the list the cursor marks. */
const selectedRow = (frame: string) => frame.split('\n').find((l) => l.startsWith('› '));

describe('the dashboard', () => {
  it('fills 80×24 exactly: header, projects, the selected project’s releases, the activity feed and the keys', async () => {
    const { d } = start();
    const frame = await waitForText(d, '› 2.0');
    const lines = frame.split('\n');
    expect(lines).toHaveLength(24);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
    expect(lines[0]).toMatch(/^pyrepo 0\.1\.0 {2}http:\/\/127\.0\.0\.1:9999 {2}● live {2}up 1 h( \d+ min)? {2}3 projects/);
    expect(lines[1]).toBe('access  anyone: index, downloads · credentials: uploads, control API');
    expect(frame).toContain(' Projects  3  by project ▲');
    // No downloads in 30 days: a blank trend.
    expect(selectedRow(frame)).toMatch(/^› alpha +2\.0 +2 +2 +12 {12,}\S/);
    expect(frame).toMatch(/ alpha 2\.0 {3}1 Releases {2}2 Files {2}3 Downloads {2}4 Install/);
    expect(frame).toContain('Waiting for uploads, downloads, yanks, deletions and auto-publishes…');
    expect(lines[23]).toMatch(/^\/ filter {2}> sort {2}r reverse {2}enter detail/);
  });

  it('moves with j and the arrows; the detail follows the selection', async () => {
    const { d } = start();
    await waitForText(d, '› alpha');
    d.press('j');
    await waitForFrame(d, (f) => selectedRow(f)?.startsWith('› beta') === true && f.includes('› 0.3'), 'beta and its release');
    d.press(KEYS.down);
    await waitForFrame(d, (f) => selectedRow(f)?.startsWith('› gamma') === true, 'gamma');
    d.press('G');
    d.press('g');
    await waitForFrame(d, (f) => selectedRow(f)?.startsWith('› alpha') === true, 'back at alpha');
  });

  it('filters as the filter is typed (! inverts), and esc clears it', async () => {
    const { d } = start();
    await waitForText(d, '› alpha');
    d.press('/gam');
    let f = await waitForText(d, 'Projects  1 of 3');
    expect(f).toContain('› gamma');
    expect(f).not.toMatch(/^ {2}alpha/m);
    expect(f).toContain('/gam');
    d.press(`${KEYS.backspace.repeat(3)}!a`);
    f = await waitForText(d, 'Projects  0 of 3');
    expect(f).toContain('Nothing matches /!a (esc clears the filter).');
    d.press(KEYS.esc);
    await waitForText(d, 'Projects  3  by project');
  });

  it('sorts with < > and reverses with r', async () => {
    const { d, daemon } = start();
    await waitForText(d, '› alpha');
    d.press('>>>>');
    const f = await waitForText(d, 'by dls ▼');
    expect(f.split('\n').filter((l) => /^[› ] (alpha|beta|gamma)/.test(l)).map((l) => l.slice(2, 7).trim())).toEqual(['gamma', 'alpha', 'beta']);
    d.press('r');
    await waitForText(d, 'by dls ▲');
    // Sorted by downloads, the order follows the counts as they change.
    d.press('r');
    await waitForText(d, 'by dls ▼');
    (daemon.projects[1] as { downloads: number }).downloads = 53;
    for (let i = 0; i < 50; i++) daemon.emit(downloads('beta', ['beta-0.3-py3-none-any.whl']));
    await waitForFrame(d, (f) => /^[› ] beta +0\.3 +1 +2 +53 /m.test(f.split('\n')[4] ?? ''), 'beta on top with 53 downloads');
  });

  it('shows uploads and downloads as they happen', async () => {
    const { d, daemon } = start();
    await waitForText(d, '● live');
    // What the daemon's next snapshot will say (the events come first).
    daemon.projects.push(project('delta', { latestVersion: '0.1', files: 1 }));
    (daemon.projects[2] as { downloads: number }).downloads = 45;
    daemon.emit({ type: 'upload', time: T0, project: 'delta', version: '0.1', filename: 'delta-0.1.tar.gz', size: 2048, source: 'upload', user: 'ann', address: '10.0.0.2' });
    for (let i = 0; i < 5; i++) daemon.emit(downloads('gamma', ['gamma-1.1-py3-none-any.whl'], 1, i < 2 ? 'uv' : 'pip'));
    const f = await waitForText(d, 'download 5× gamma-1.1-py3-none-any.whl (pip 3, uv 2)');
    expect(f).toContain('upload   delta 0.1  delta-0.1.tar.gz 2 KiB by ann');
    expect(f).toMatch(/^ {2}delta +0\.1 /m);
    expect(f).toMatch(/^ {2}gamma +1\.1 +1 +2 +45 /m);
  });

  it('shows the watched folders in the header, a missing one as a problem, and auto-publish refusals with their fix in the feed', async () => {
    const daemon = daemonWithProjects();
    const watch = (dir: string, state: WatchInfo['state']): WatchInfo => ({
      id: dir,
      dir,
      project: 'alpha',
      user: 'admin',
      replace: false,
      poll: false,
      mode: 'events',
      modeReason: null,
      state,
      stateDetail: state === 'missing' ? 'The folder is gone.' : null,
      report: `${dir}/build-report.json`,
      createdAt: T0,
      lastPublish: null,
      refusals: [],
      pending: [],
    });
    daemon.watchList = [watch('/home/ann/alpha/dist', 'watching')];
    const { d } = start(daemon);
    const first = await waitForText(d, 'auto-publish  alpha/dist');
    expect(first).not.toContain('watched folder');
    // The folder goes: the event says so, and the snapshot it asks for shows the problem.
    daemon.watchList = [watch('/home/ann/alpha/dist', 'missing')];
    daemon.emit({ type: 'watch', time: T0, project: 'alpha', watch: '/home/ann/alpha/dist', state: 'missing', detail: 'alpha/dist is missing; watching for it to come back.' });
    const missing = await waitForText(d, '! watched folder alpha/dist is missing');
    expect(missing).toContain('watch    alpha/dist is missing; watching for it to come back.');
    daemon.emit({
      type: 'refused',
      time: T0,
      project: 'alpha',
      version: '2.0',
      filename: 'alpha-2.0.tar.gz',
      source: 'watch',
      watch: '/home/ann/alpha/dist',
      reason: 'A different file named alpha-2.0.tar.gz is on the index.',
      fix: 'Bump the version.',
      user: 'admin',
      address: null,
    });
    await waitForText(d, 'refused  alpha-2.0.tar.gz: Bump the version.');
  });

  it('shows the 30-day trend and the last uploader in the list, and downloads by installer with the CI share in the detail', async () => {
    const daemon = daemonWithProjects();
    const today = new Date().toISOString().slice(0, 10);
    daemon.projects[0] = project('alpha', { latestVersion: '2.0', versions: 2, downloads: 12, downloads30d: [...Array<number>(27).fill(0), 4, 0, 8], lastUploadedBy: 'ann' });
    daemon.details.set(
      'alpha',
      detail('alpha', ['2.0', '1.0'], {
        downloads: 12,
        downloadsByDay: [{ day: today, downloads: 12 }],
        downloadsByInstaller: [
          { installer: 'pip', downloads: 8, ci: 2 },
          { installer: 'uv', downloads: 3, ci: 3 },
        ],
      }),
    );
    const { d } = start(daemon);
    const list = await waitForText(d, '› 2.0');
    expect(selectedRow(list)).toMatch(/^› alpha +2\.0 +2 +2 +12 ▁{7}▅▁█ +\S+ ago ann/);
    d.press(`${KEYS.enter}3`);
    const f = await waitForText(d, 'by installer  (45% from CI)');
    expect(f).toContain('12 downloads in all; 12 in the last 30 days');
    expect(f).toMatch(/ pip +8 +73% +25% from CI/);
    expect(f).toMatch(/ uv +3 +27% +100% from CI/);
    expect(f).toContain('1 counted before pyrepo recorded installers');
  });

  it('yanks with keys: enter, y, a reason, enter; the status line says what the daemon did', async () => {
    const { d, daemon } = start();
    await waitForText(d, '› 2.0');
    d.press(KEYS.enter);
    await waitForText(d, 'y yank');
    d.press('j');
    await waitForText(d, '› 1.0');
    d.press('y');
    await waitForText(d, 'Yank alpha 1.0?');
    d.press('broken on 3.13');
    await waitForText(d, 'Reason (optional, shown by pip): broken on 3.13');
    d.press(KEYS.enter);
    await waitForText(d, 'Yanked alpha 1.0 (broken on 3.13).');
    expect(daemon.calls).toEqual(['yank alpha 1.0 broken on 3.13']);
  });

  it('deletes after y, and shows a refusal without stopping', async () => {
    const { d, daemon } = start();
    await waitForText(d, '› 2.0');
    daemon.refuse = { status: 403, message: 'Deleting needs the admin identity.' };
    d.press(`${KEYS.enter}2d`);
    await waitForText(d, 'Delete the file alpha-2.0-py3-none-any.whl? This cannot be undone.');
    d.press('y');
    await waitForText(d, 'The daemon refused: Deleting needs the admin identity.');
    expect(daemon.calls).toEqual(['delete-file alpha alpha-2.0-py3-none-any.whl']);
    // esc and j apart: together they are alt-j, as on a terminal.
    d.press(KEYS.esc);
    await waitForText(d, '/ filter');
    d.press('j');
    await waitForFrame(d, (f) => selectedRow(f)?.startsWith('› beta') === true, 'the list still moving');
  });

  it('--readonly: no admin keys in the hints, and y says why nothing happens', async () => {
    const { d, daemon } = start(undefined, { readonly: true });
    await waitForText(d, '› 2.0');
    expect(d.lastFrame()).toContain('read-only');
    d.press(KEYS.enter);
    const f = await waitForText(d, '] tab');
    expect(f).not.toContain('y yank');
    d.press('y');
    await waitForText(d, 'Read-only: the dashboard was started with --readonly.');
    expect(daemon.calls).toEqual([]);
  });

  it('? shows every key from the keymap; esc closes it', async () => {
    const { d } = start();
    await waitForText(d, '● live');
    d.press('?');
    const f = await waitForText(d, 'Keys of the pyrepo dashboard');
    for (const text of ['Filter (!text inverts)', 'Reverse the sort order', 'Yank (asks a reason), unyank', 'Pause or resume the feed', 'q ctrl-c']) expect(f).toContain(text);
    expect(f.split('\n')).toHaveLength(24);
    d.press(KEYS.esc);
    await waitForText(d, ' Projects ');
  });

  it('says it is reconnecting, and why, while the daemon is away; and comes back', async () => {
    const { d, daemon } = start();
    await waitForText(d, '● live');
    daemon.down = 'The pyrepo daemon is not running.';
    daemon.breakStream();
    const f = await waitForText(d, 'The pyrepo daemon is not running.');
    expect(f).toMatch(/○ reconnecting/);
    // What it knew stays on screen meanwhile.
    expect(f).toContain('› alpha');
    daemon.down = undefined;
    await waitForText(d, '● live');
  });

  it('q and ctrl-c quit', async () => {
    const { d } = start();
    await waitForText(d, '● live');
    d.press('q');
    await until('the quit', () => d.quits() === 1);
    const other = start().d;
    await waitForText(other, '● live');
    other.press(KEYS.ctrlC);
    await until('the quit', () => other.quits() === 1);
  });

  it('follows a new size, and asks for more room below 60×16', async () => {
    const { d } = start();
    await waitForText(d, '● live');
    d.resize({ columns: 100, rows: 30 });
    await waitForFrame(d, (f) => f.split('\n').length === 30, '30 lines');
    d.resize({ columns: 50, rows: 12 });
    const f = await waitForText(d, 'this one is 50×12.');
    expect(f).toContain('The dashboard needs a terminal of at least 60×16;');
  });
});
