/**
 * `pyrepo tui` as a person meets it: the built CLI on a real pseudo-terminal (80×24),
 * its screen read through a headless xterm, against a real daemon and the real twine
 * and pip. An upload appears live, the list is filtered to it, a release is yanked with
 * keys (and pip then skips it unless pinned), the connection breaks and the dashboard
 * resumes with Last-Event-ID (what was missed shown and counted once, no new snapshot),
 * the daemon is killed and restarted on another port and the dashboard takes a fresh
 * snapshot, the terminal follows a resize, and quitting (q, or SIGTERM) leaves the
 * terminal as it was: main screen, visible cursor, cooked input.
 *
 * The dashboard reaches the first daemon through a TCP proxy in the test (its state file
 * names the proxy): the proxy sees every request, and breaks the connections at will.
 *
 * Ink draws nothing while CI is set, and the test command sets CI=true: the dashboard
 * gets CI=false, as a terminal would have.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { DownloadJournal } from '../../src/daemon/services/download-journal.js';
import { adminAuthOf, CLI_PATH, ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, run, runCli, runningBaseUrl, waitFor } from '../helpers/daemon.js';
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
const proxies: Proxy[] = [];

/**
 * `pyrepo start` in the test's own home, as a user runs it (a restart finds the same data
 * and admin identity); uploads open, on a free port.
 */
async function start(): Promise<string> {
  const r = await runCli(['start', '--port', '0', '--authenticate', 'none'], { cwd: root, env });
  expect(r.code, r.output).toBe(0);
  return runningBaseUrl({ cwd: root, env });
}

/**
 * A TCP proxy to the daemon that records the request lines going through it, and can
 * break every connection and refuse new ones (accepting and closing them at once, so that
 * the CLI sees a daemon that does not answer rather than one that is gone).
 */
class Proxy {
  readonly requests: string[] = [];
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private refusing = false;
  port = 0;

  constructor(private readonly target: number) {}

  async listen(): Promise<void> {
    this.server = createServer((client) => {
      if (this.refusing) {
        client.destroy();
        return;
      }
      const upstream = createConnection(this.target, '127.0.0.1');
      for (const sock of [client, upstream]) {
        this.sockets.add(sock);
        sock.on('close', () => this.sockets.delete(sock));
        sock.on('error', () => undefined);
      }
      client.on('data', (b: Buffer) => {
        for (const m of b.toString('latin1').matchAll(/^(GET|POST|PUT|DELETE|HEAD) (\S+) HTTP\/1\.1$/gm)) this.requests.push(`${m[1]} ${m[2]}`);
      });
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server?.address() as { port: number }).port;
  }

  /** Breaks every connection and refuses new ones until resume(). */
  breakAll(): void {
    this.refusing = true;
    for (const s of this.sockets) s.destroy();
  }

  resume(): void {
    this.refusing = false;
  }

  snapshots(): number {
    return this.requests.filter((r) => r === 'GET /-/api/projects').length;
  }

  close(): void {
    this.breakAll();
    this.server?.close();
  }
}

async function status(): Promise<{ dataDir: string; packagesDir: string; logFile: string }> {
  const r = await runCli(['status', '--json'], { cwd: root, env });
  return JSON.parse(r.stdout) as { dataDir: string; packagesDir: string; logFile: string };
}

/** The running daemon's state file names the proxy: the CLI (and the dashboard) go through it. */
async function routeThroughProxy(): Promise<Proxy> {
  const proxy = new Proxy(Number(new URL(url).port));
  await proxy.listen();
  proxies.push(proxy);
  const stateFile = join((await status()).dataDir, 'daemon.json');
  const state = JSON.parse(await readFile(stateFile, 'utf8')) as { url: string };
  await writeFile(stateFile, JSON.stringify({ ...state, url: `http://127.0.0.1:${proxy.port}` }), { mode: 0o600 });
  return proxy;
}

/** Requests for the whole project list (a snapshot) in the daemon's access log. */
async function snapshotsLogged(logFile: string): Promise<number> {
  return (await readFile(logFile, 'utf8')).split('\n').filter((l) => l.includes('"url":"/-/api/projects"')).length;
}

/** kill -9 of the daemon, and wait until it is gone. */
/** The download counts the daemon has kept: written to its catalog (read beside it, as SQLite allows) or journaled after its last fold. */
function downloadsKept(catalogFile: string): number {
  const db = new Database(catalogFile, { readonly: true });
  try {
    const written = (db.prepare('SELECT coalesce(sum(count), 0) AS n FROM downloads').get() as { n: number }).n;
    const folded = Number(db.prepare("SELECT value FROM meta WHERE key = 'downloads-journal'").pluck().get() ?? 0);
    let journaled = 0;
    for (const record of new DownloadJournal(catalogFile).read(() => '').records) {
      if (record.id > folded && 'counts' in record) for (const c of record.counts.list()) journaled += c.count;
    }
    return written + journaled;
  } finally {
    db.close();
  }
}

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
  for (const p of proxies) p.close();
  if (root) await runCli(['stop'], { cwd: root, env });
  await removeTemp(root);
});

describe.skipIf(MISSING.length > 0)('pyrepo tui on a terminal', () => {
  it('shows an upload live, filters to it, yanks it with keys, resumes a broken stream without loss or repeats, takes a new snapshot after the daemon is killed and restarted, and restores the terminal on q', async () => {
    const proxy = await routeThroughProxy();
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
    await s.waitForText('download tui_live_pkg-1.0-py3-none-any.whl (pip)');
    await s.waitFor('the two downloads counted', (t) => /^› tui-live-pkg +\S+ +2 +4 +2 /m.test(t));

    // The connection breaks (the daemon keeps running); downloads happen meanwhile.
    const snapshots = proxy.snapshots();
    const streams = proxy.requests.filter((r) => r === 'GET /-/events').length;
    proxy.breakAll();
    await s.waitForText('○ reconnecting');
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${url}/packages/tui_live_pkg-1.0.tar.gz`, { headers: { 'user-agent': 'curl/8.5.0' } });
      expect(r.status).toBe(200);
      await r.arrayBuffer();
    }
    // Reading the list straight from the daemon publishes the gathered downloads now: they are in the events missed.
    expect((await fetch(`${url}/-/api/projects`, { headers: { authorization: adminAuthOf(root) } })).status).toBe(200);
    proxy.resume();
    screen = await s.waitFor('the missed downloads, counted', (t) => t.includes('● live') && /^› tui-live-pkg +\S+ +2 +4 +5 /m.test(t), 30_000);
    // Shown once, as one line of three; resumed with Last-Event-ID, without a new snapshot.
    expect(screen.split('\n').filter((l) => l.includes('tui_live_pkg-1.0.tar.gz'))).toEqual([expect.stringMatching(/ download 3× tui_live_pkg-1\.0\.tar\.gz \(other\)$/)]);
    expect(proxy.requests.filter((r) => r === 'GET /-/events').length).toBeGreaterThan(streams);
    expect(proxy.snapshots()).toBe(snapshots);

    // The daemon dies; a file is put into its packages folder meanwhile; the dashboard says so and keeps trying; a new daemon (on another port) is found.
    const oldUrl = url;
    const { packagesDir, logFile, dataDir } = await status();
    // Counts are journaled every second: a kill within that second would lose the last ones, by design.
    await waitFor('the five downloads journaled', () => downloadsKept(join(dataDir, 'catalog.sqlite')) === 5);
    await crashDaemon();
    const loggedBefore = await snapshotsLogged(logFile);
    await writeDists(join(root, 'dropped'), { name: 'tui-live-dropped', version: '0.1' }).then(async (d) => {
      await writeFile(join(packagesDir, 'tui_live_dropped-0.1-py3-none-any.whl'), await readFile(d.wheel));
    });
    screen = await s.waitForText('The pyrepo daemon is not running.');
    expect(screen).toMatch(/○ reconnecting/);
    expect(screen).toMatch(/^› tui-live-pkg/m);
    url = await start();
    expect(url).not.toBe(oldUrl);
    await s.waitFor('live again on the new port', (t) => t.includes('● live') && t.includes(url), 30_000);
    // Still filtered, still showing the yank; the new daemon said resync, and the dashboard
    // took a fresh snapshot (with the file put in while it was down); following events from it.
    screen = await s.waitFor('the projects after the restart', (t) => /^[› ] tui-live-pkg +(2\.0|1\.0) +2 +4 +5 /m.test(t) && /^[› ] tui-live-dropped +0\.1 /m.test(t) && t.includes('Projects  2 of 3'));
    expect(await snapshotsLogged(logFile)).toBeGreaterThan(loggedBefore);
    const res = await fetch(`${url}/packages/tui_live_pkg-1.0.tar.gz`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    // It joins the line of the three before it (the same file within 10 s), or starts its own.
    await s.waitFor('the download after the restart', (t) => /download (4× )?tui_live_pkg-1\.0\.tar\.gz \(other\)/.test(t));

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
