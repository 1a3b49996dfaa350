/**
 * `pyrepo tui` as a person meets it: the built CLI on a real pseudo-terminal (80×24),
 * its screen read through a headless xterm, against a real daemon and the real twine
 * and pip. An upload appears live, the list is filtered to it, a release is yanked with
 * keys (and pip then skips it unless pinned), the daemon is killed and restarted on
 * another port and the dashboard resumes, the terminal follows a resize, and quitting
 * (q, or SIGTERM) leaves the terminal as it was: main screen, visible cursor, cooked input.
 *
 * Ink draws nothing while CI is set, and the test command sets CI=true: the dashboard
 * gets CI=false, as a terminal would have.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH, ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, run, runCli, runningBaseUrl, waitFor } from '../helpers/daemon.js';
import { writeDists } from '../helpers/dists.js';
import { DEBIAN_PYTHON, requireTools } from '../helpers/keyring-session.js';
import { PtyScreen } from '../helpers/pty-screen.js';

const MISSING = requireTools('tui e2e', [[DEBIAN_PYTHON, ['-m', 'twine', '--version']], ['python3', ['-m', 'pip', '--version']]]);

// eslint-disable-next-line no-control-regex
const COLOUR = /\u001b\[(?:[0-9;]*;)?(?:3[0-7]|9[0-7]|4[0-7]|10[0-7]|38|48)(?:;[0-9;]*)?m/;

let root: string;
let env: NodeJS.ProcessEnv;
/** The running daemon's base URL. */
let url: string;
const screens: PtyScreen[] = [];

/**
 * `pyrepo start` in the test's own home, as a user runs it (a restart finds the same data
 * and admin identity); uploads open, on a free port.
 */
async function start(): Promise<string> {
  const r = await runCli(['start', '--port', '0', '--authenticate', 'none'], { cwd: root, env });
  expect(r.code, r.output).toBe(0);
  return runningBaseUrl({ cwd: root, env });
}

/** kill -9 of the daemon, and wait until it is gone. */
async function crashDaemon(): Promise<void> {
  const r = await runCli(['status', '--json'], { cwd: root, env });
  const pid = (JSON.parse(r.stdout) as { pid: number }).pid;
  process.kill(pid, 'SIGKILL');
  await waitFor('the daemon to be gone', () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  });
}

/** `pyrepo tui` on an 80×24 pseudo-terminal, in a shell that reports the exit and then the terminal's modes. */
function openDashboard(args: string[] = []): PtyScreen {
  const script = `"${process.execPath}" "${CLI_PATH}" tui ${args.join(' ')}; echo "@@exit=$?"; stty -a`;
  const s = new PtyScreen('/bin/sh', ['-c', script], { cols: 80, rows: 24, cwd: root, env: { ...env, CI: 'false', TERM: 'xterm-256color' } });
  screens.push(s);
  return s;
}

async function twine(files: string[]): Promise<void> {
  const r = await run(DEBIAN_PYTHON, ['-m', 'twine', 'upload', '--non-interactive', '--disable-progress-bar', '--repository-url', `${url}/legacy/`, '-u', 'x', '-p', 'y', ...files], {
    cwd: root,
    env,
  });
  expect(r.code, r.output).toBe(0);
}

/** pip (pyenv's) into a fresh folder: the versions it installed. */
async function pipInstall(label: string, requirement: string): Promise<string[]> {
  const target = join(root, 'targets', label);
  await mkdir(target, { recursive: true });
  const r = await run('python3', ['-m', 'pip', 'install', '--no-cache-dir', '--index-url', `${url}/simple/`, '--target', target, requirement], { cwd: root, env });
  expect(r.code, r.output).toBe(0);
  return (await readdir(target)).filter((n) => n.endsWith('.dist-info'));
}

beforeAll(async () => {
  ensureBuilt();
  root = await makeTempRoot('pyrepo-tui-');
  env = isolatedEnv(root);
  url = await start();
});

afterAll(async () => {
  for (const s of screens) s.kill();
  if (root) await runCli(['stop'], { cwd: root, env });
  await removeTemp(root);
});

describe.skipIf(MISSING.length > 0)('pyrepo tui on a terminal', () => {
  it('shows an upload live, filters to it, yanks it with keys, resumes after the daemon is killed and restarted, and restores the terminal on q', async () => {
    const s = openDashboard();
    await s.waitForText('● live', 30_000);
    await s.waitForText('No projects yet');
    expect(s.alternate).toBe(true);

    // Two projects arrive while the dashboard looks on.
    const dists = join(root, 'dists');
    const other = await writeDists(dists, { name: 'other-tool', version: '0.5' });
    const v1 = await writeDists(dists, { name: 'tui-live-pkg', version: '1.0', summary: 'Shown live' });
    const v2 = await writeDists(dists, { name: 'tui-live-pkg', version: '2.0', summary: 'Shown live' });
    await twine([other.wheel, v1.wheel, v1.sdist, v2.wheel, v2.sdist]);
    let screen = await s.waitFor('both projects in the list', (t) => /^[› ] other-tool +0\.5 /m.test(t) && /^[› ] tui-live-pkg +2\.0 +2 +4 /m.test(t));
    expect(screen).toMatch(/upload {3}tui-live-pkg 2\.0 {2}tui_live_pkg-2\.0\.tar\.gz/);
    expect(screen).toContain(' Projects  2 ');

    // Filter to it.
    s.type('/live');
    await s.waitForText('Projects  1 of 2');
    s.type('\r');
    screen = await s.waitFor('tui-live-pkg selected, its releases shown', (t) => /^› tui-live-pkg/m.test(t) && /^› 2\.0 /m.test(t));
    expect(screen).not.toMatch(/other-tool +0\.5/);

    // Yank 2.0 with keys: into the detail, y, a reason, enter.
    s.type('\r');
    await s.waitForText('y yank');
    s.type('y');
    await s.waitForText('Yank tui-live-pkg 2.0?');
    s.type('broken build');
    await s.waitForText('Reason (optional, shown by pip): broken build');
    s.type('\r');
    screen = await s.waitForText('Yanked tui-live-pkg 2.0 (broken build).');
    await s.waitFor('the release marked yanked', (t) => /^› 2\.0 +yanked: broken build/m.test(t));
    await s.waitForText('yank     tui-live-pkg 2.0: broken build');

    // pip skips the yanked release, unless it is pinned.
    expect(await pipInstall('latest', 'tui-live-pkg')).toEqual(['tui_live_pkg-1.0.dist-info']);
    expect(await pipInstall('pinned', 'tui-live-pkg==2.0')).toEqual(['tui_live_pkg-2.0.dist-info']);
    await s.waitForText('download tui_live_pkg-1.0-py3-none-any.whl');

    // The daemon dies; the dashboard says so and keeps trying; a new daemon (on another port) is found.
    const oldUrl = url;
    await crashDaemon();
    screen = await s.waitForText('The pyrepo daemon is not running.');
    expect(screen).toMatch(/○ reconnecting/);
    expect(screen).toMatch(/^› tui-live-pkg/m);
    url = await start();
    expect(url).not.toBe(oldUrl);
    await s.waitFor('live again on the new port', (t) => t.includes('● live') && t.includes(url), 30_000);
    // Still filtered, still showing the yank; and following events from the new daemon.
    screen = await s.waitFor('the project after the restart', (t) => /^[› ] tui-live-pkg +(2\.0|1\.0) +2 +4 /m.test(t) && t.includes('Projects  1 of 2'));
    const res = await fetch(`${url}/packages/tui_live_pkg-1.0.tar.gz`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    await s.waitForText('download tui_live_pkg-1.0.tar.gz');

    // Follows a resize: the footer (still saying what the last action did) moves to the new last line.
    s.resize(100, 30);
    await s.waitFor('the 30-line layout', (_t, lines) => (lines[29] ?? '').includes('Yanked tui-live-pkg 2.0') && !(lines[23] ?? '').includes('Yanked'));

    // No colour with NO_COLOR (the test environment sets it).
    expect(s.raw).not.toMatch(COLOUR);

    // q: back to the shell's screen, cursor visible, cooked input (stty shows icanon and echo, not -icanon).
    s.type('q');
    screen = await s.waitForText('@@exit=0');
    await s.waitForExit();
    expect(s.alternate).toBe(false);
    expect(s.cursorVisible).toBe(true);
    const modes = s.raw.slice(s.raw.indexOf('@@exit=0'));
    expect(modes).toMatch(/(^|\s)icanon(\s|$)/m);
    expect(modes).toMatch(/(^|\s)echo(\s|$)/m);
  });

  it('draws even with CI=true in its environment, and restores the terminal on SIGTERM', async () => {
    // Ink would draw nothing under CI; asked for on a terminal, the dashboard unsets it for itself.
    const s = new PtyScreen(process.execPath, [CLI_PATH, 'tui', '--readonly'], { cols: 80, rows: 24, cwd: root, env: { ...env, CI: 'true', TERM: 'xterm-256color' } });
    screens.push(s);
    await s.waitForText('● live', 30_000);
    expect(s.text()).toContain('read-only');
    expect(s.alternate).toBe(true);
    process.kill(s.pty.pid, 'SIGTERM');
    const exit = await s.waitForExit();
    expect(exit.signal).toBe(15);
    expect(s.alternate).toBe(false);
    expect(s.cursorVisible).toBe(true);
  });

  it('offers to start the daemon when it is not running; "no" leaves it stopped (exit 3)', async () => {
    const other = join(root, 'elsewhere');
    const s = new PtyScreen('/bin/sh', ['-c', `"${process.execPath}" "${CLI_PATH}" tui; echo "@@exit=$?"`], {
      cols: 80,
      rows: 24,
      cwd: root,
      env: { ...env, PYREPO_HOME: other, CI: 'false' },
    });
    screens.push(s);
    await s.waitForText('The pyrepo daemon is not running. Start it now? (Y/n)');
    s.type('n\r');
    const screen = await s.waitForText('@@exit=3');
    expect(screen).toContain('Start it with `pyrepo start`.');
  });
});

describe('pyrepo tui without a terminal', () => {
  it('prints a one-shot summary, or JSON; says clearly when the daemon is not running', async () => {
    const plain = await runCli(['tui'], { cwd: root, env });
    expect(plain.code, plain.output).toBe(0);
    expect(plain.stdout).toMatch(/^pyrepo \S+ at http:\/\/127\.0\.0\.1:\d+\/simple\/ \(pid \d+, up /);
    expect(plain.stdout).toContain('access: ');
    expect(plain.stdout).toMatch(/^project +latest +versions +files +downloads +last upload \(UTC\)$/m);
    expect(plain.stdout).not.toContain('\u001b[');
    const json = await runCli(['tui', '--json'], { cwd: root, env });
    expect(json.code, json.output).toBe(0);
    const parsed = JSON.parse(json.stdout) as { url: string; health: { status: string }; projects: unknown[] };
    expect(parsed.health.status).toBe('ok');
    expect(parsed.url).toBe(url);
    const stopped = await runCli(['tui'], { cwd: root, env: { ...env, PYREPO_HOME: join(root, 'nowhere') } });
    expect(stopped.code).toBe(3);
    expect(stopped.stderr).toContain('The pyrepo daemon is not running.');
    expect(stopped.stderr).toContain('pyrepo start');
  });
});
