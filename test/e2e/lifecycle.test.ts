/**
 * The background daemon's lifecycle through the built CLI, in a temporary PYREPO_HOME:
 * init → start → status → stop, already running / already stopped, crash and stale-state
 * recovery, a port taken by another program, two starts at once, a stop that has to
 * force, a deleted data folder, logs, and managing releases (list, info, yank, remove).
 */
import { createServer, type Server } from 'node:net';
import { readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProjectDetailSchema, ProjectListSchema, YankResultSchema } from '../../src/shared/api.js';
import { DoctorOutputSchema, StatusOutputSchema, type StatusOutput } from '../../src/cli/json-output.js';
import { ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, runCli, startCli, waitFor, type RunOptions, type RunResult } from '../helpers/daemon.js';
import { buildSdist, buildWheel, sdistFilename, wheelFilename } from '../helpers/dists.js';
import { hashPassword, verifyPassword } from '../../src/shared/htpasswd.js';

let root: string;
let opts: RunOptions;
const roots: string[] = [];

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

async function status(): Promise<{ r: RunResult; s: StatusOutput }> {
  const r = await runCli(['status', '--json'], opts);
  const s: unknown = JSON.parse(r.stdout);
  if (!Value.Check(StatusOutputSchema, s)) throw new Error(`status --json does not match its schema: ${r.stdout}`);
  return { r, s };
}

const home = () => join(root, 'pyrepo-home');
const stateFile = () => join(home(), 'data', 'daemon.json');
const logFile = () => join(home(), 'logs', 'daemon.log');
const adminPassword = () =>
  (JSON.parse(readFileSync(join(home(), 'config', 'secrets.json'), 'utf8')) as { entries: { service: string; secret: string }[] }).entries.find((e) => e.service === 'pyrepo-admin')?.secret ?? '';

beforeEach(async () => {
  ensureBuilt();
  root = await makeTempRoot('pyrepo-life-');
  roots.push(root);
  opts = { env: isolatedEnv(root), cwd: root, timeoutMs: 60_000 };
});

afterEach(async () => {
  // Whatever a test left running is stopped, and any daemon of this test's folders that
  // the CLI could not find is killed.
  await runCli(['stop', '--timeout', '5'], opts);
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    const cmdline = (() => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        return '';
      }
    })();
    if (cmdline.includes(root) && Number(pid) !== process.pid) process.kill(Number(pid), 'SIGKILL');
  }
});

afterAll(async () => {
  for (const r of roots) await removeTemp(r);
});

describe('init, start, status, stop', () => {
  it('init --yes sets everything up and starts; start again says so; stop; status exits 3', async () => {
    const init = await runCli(['init', '--yes', '--port', '0'], opts);
    expect(init.code, init.output).toBe(0);
    expect(init.stdout).toContain('Created the settings');
    expect(init.stdout).toMatch(/admin identity: +'admin', with a new password kept in .*secrets\.json/);
    expect(init.stdout).toMatch(/is running at http:\/\/127\.0\.0\.1:\d+\/simple\/ \(pid \d+\)/);

    const { r, s } = await status();
    expect(r.code, r.output).toBe(0);
    expect(s).toMatchObject({ running: true, responding: true, projects: 0, files: 0, problems: [], version: expect.any(String) });
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/simple\/$/);
    expect(s.dataDir).toBe(join(home(), 'data'));
    const res = await fetch(s.url as string);
    expect(res.status).toBe(200);

    const human = await runCli(['status'], opts);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`pid:        ${s.pid}`);
    expect(human.stdout).toMatch(/uptime: +\d+ s/);
    // Started with two malloc arenas (less memory, heap-limits.ts), or the number the user set.
    const environ = readFileSync(`/proc/${s.pid}/environ`, 'utf8').split('\0');
    expect(environ).toContain(`MALLOC_ARENA_MAX=${opts.env?.MALLOC_ARENA_MAX ?? '2'}`);
    // And a bound on the young generation that nothing at run time undoes (heap-limits.ts).
    expect(readFileSync(`/proc/${s.pid}/cmdline`, 'utf8').split('\0')).toContain('--max-semi-space-size=2');

    const again = await runCli(['start'], opts);
    expect(again.code, again.output).toBe(0);
    expect(again.stdout).toContain(`already running at ${s.url} (pid ${s.pid})`);

    const stop = await runCli(['stop'], opts);
    expect(stop.code, stop.output).toBe(0);
    expect(stop.stdout).toContain(`Stopped pyrepo (pid ${s.pid}).`);
    expect(isAlive(s.pid as number)).toBe(false);
    expect(existsSync(stateFile())).toBe(false);

    const after = await status();
    expect(after.r.code).toBe(3);
    expect(after.s.running).toBe(false);
    const human2 = await runCli(['status'], opts);
    expect(human2.code).toBe(3);
    expect(human2.stdout).toContain('not running');

    const stopAgain = await runCli(['stop'], opts);
    expect(stopAgain.code, stopAgain.output).toBe(0);
    expect(stopAgain.stdout).toContain('not running; nothing to stop');
  });

  it('init is idempotent: a second run keeps the settings and the admin password', async () => {
    expect((await runCli(['init', '--yes', '--no-start', '--port', '0'], opts)).code).toBe(0);
    const secrets = readFileSync(join(home(), 'config', 'secrets.json'), 'utf8');
    const settings = readFileSync(join(home(), 'config', 'settings.json'), 'utf8');
    const second = await runCli(['init', '--yes', '--no-start'], opts);
    expect(second.code, second.output).toBe(0);
    expect(second.stdout).toContain('Kept the settings');
    expect(second.stdout).toContain("'admin' (kept as it was)");
    expect(readFileSync(join(home(), 'config', 'secrets.json'), 'utf8')).toBe(secrets);
    expect(readFileSync(join(home(), 'config', 'settings.json'), 'utf8')).toBe(settings);
    expect(second.stdout).not.toContain('Saved');
    const third = await runCli(['init', '--yes', '--no-start', '--no-configure', '--overwrite'], opts);
    expect(third.stdout).toContain('Saved for later starts: overwrite true (was false).');
    expect(third.stdout).toContain('Undo: `pyrepo config unset overwrite`');
    const { s } = await status();
    expect(s.running).toBe(false);
  });

  it('init adopts an existing pypiserver folder and the daemon serves its files', async () => {
    const folder = join(root, 'pypiserver-packages');
    mkdirSync(join(folder, 'sub'), { recursive: true });
    const spec = { name: 'adopted-pkg', version: '1.0' };
    writeFileSync(join(folder, wheelFilename(spec)), buildWheel(spec));
    writeFileSync(join(folder, 'sub', sdistFilename(spec)), buildSdist(spec));
    const init = await runCli(['init', '--yes', '--port', '0', '--packages-dir', folder], opts);
    expect(init.code, init.output).toBe(0);
    expect(init.stdout).toContain('2 distribution files already there');
    const list = await waitFor('the adopted project to be listed', async () => {
      const r = await runCli(['list', '--json'], opts);
      const parsed: unknown = JSON.parse(r.stdout);
      return Value.Check(ProjectListSchema, parsed) && parsed.projects.length === 1 ? parsed : undefined;
    });
    expect(list.projects[0]).toMatchObject({ name: 'adopted-pkg', files: 2, latestVersion: '1.0' });
  });
});

describe('recovery', () => {
  it('after kill -9, status reports not running and cleans the stale state; start works again', async () => {
    expect((await runCli(['init', '--yes', '--port', '0'], opts)).code).toBe(0);
    const { s } = await status();
    process.kill(s.pid as number, 'SIGKILL');
    await waitFor('the daemon to die', () => !isAlive(s.pid as number));
    expect(existsSync(stateFile())).toBe(true);

    const after = await status();
    expect(after.r.code).toBe(3);
    expect(after.s).toMatchObject({ running: false, stalePid: s.pid });
    expect(existsSync(stateFile())).toBe(false);

    const start = await runCli(['start'], opts);
    expect(start.code, start.output).toBe(0);
    const again = await status();
    expect(again.s.running).toBe(true);
    expect(again.s.pid).not.toBe(s.pid);
  });

  it('a state file naming a live process that is not a daemon is stale, and that process is left alone', async () => {
    expect((await runCli(['init', '--yes', '--no-start', '--port', '0'], opts)).code).toBe(0);
    mkdirSync(join(home(), 'data'), { recursive: true });
    // This test's own pid: alive, a node process, but nothing listens at the URL.
    const fake = { pid: process.pid, url: 'http://127.0.0.1:9', host: '127.0.0.1', port: 9, version: '0.0.0', startedAt: new Date().toISOString(), dataDir: join(home(), 'data'), packagesDir: join(home(), 'data', 'packages') };
    writeFileSync(stateFile(), JSON.stringify(fake));
    const stop = await runCli(['stop'], opts);
    expect(stop.code, stop.output).toBe(0);
    expect(stop.stdout).toContain('not running');
    expect(existsSync(stateFile())).toBe(false);
    // Still here to check: the stop did not signal this process.
    writeFileSync(stateFile(), '{ not json');
    const { r, s } = await status();
    expect(r.code).toBe(3);
    expect(s.running).toBe(false);
  });

  it('a garbled state file is cleaned and start proceeds', async () => {
    mkdirSync(join(home(), 'data'), { recursive: true });
    writeFileSync(stateFile(), 'garbage');
    const start = await runCli(['start', '--port', '0'], opts);
    expect(start.code, start.output).toBe(0);
    expect((await status()).s.running).toBe(true);
  });

  it('stop escalates to SIGKILL with a warning when the daemon does not end in time', async () => {
    expect((await runCli(['start', '--port', '0'], opts)).code).toBe(0);
    const { s } = await status();
    // A stopped process cannot act on SIGTERM, but SIGKILL still ends it.
    process.kill(s.pid as number, 'SIGSTOP');
    const stop = await runCli(['stop', '--timeout', '1'], opts);
    expect(stop.code, stop.output).toBe(0);
    expect(stop.stderr).toContain(`did not stop within 1 s of SIGTERM; killing it`);
    expect(stop.stdout).toContain('forcefully');
    expect(isAlive(s.pid as number)).toBe(false);
    expect(existsSync(stateFile())).toBe(false);
  });
});

describe('conflicts', () => {
  let blocker: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (blocker ? blocker.close(() => r()) : r()));
    blocker = undefined;
  });

  it('a port taken by another program: exit 2, the port named, how to choose another', async () => {
    blocker = createServer();
    await new Promise<void>((r) => blocker?.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const start = await runCli(['start', '--port', String(port)], opts);
    expect(start.code, start.output).toBe(2);
    expect(start.stderr).toContain(`Port ${port} on 127.0.0.1 is already in use by another program`);
    expect(start.stderr).toMatch(/pyrepo start --port \d+/);
    expect(start.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect((await status()).s.running).toBe(false);

    // doctor sees it too, while the daemon is stopped.
    expect((await runCli(['init', '--yes', '--no-start', '--port', String(port)], opts)).code).toBe(0);
    const doctor = await runCli(['doctor', '--json'], { ...opts, timeoutMs: 60_000 });
    expect(doctor.code, doctor.output).toBe(1);
    const parsed: unknown = JSON.parse(doctor.stdout);
    expect(Value.Check(DoctorOutputSchema, parsed)).toBe(true);
    const portCheck = (parsed as { checks: { check: string; verdict: string; detail: string }[] }).checks.find((c) => c.check === 'port');
    expect(portCheck).toMatchObject({ verdict: 'fail', detail: expect.stringContaining(`${port} is used by another program`) });
  });

  it('two starts at once start one daemon', async () => {
    const [a, b] = await Promise.all([runCli(['start', '--port', '0'], opts), runCli(['start', '--port', '0'], opts)]);
    expect(a.code, a.output).toBe(0);
    expect(b.code, b.output).toBe(0);
    const pids = [a, b].map((r) => /\(pid (\d+)\)/.exec(r.stdout)?.[1]);
    expect(pids[0]).toBeDefined();
    expect(pids[0]).toBe(pids[1]);
    expect([a, b].filter((r) => r.stdout.includes('already running'))).toHaveLength(1);
    const { s } = await status();
    expect(String(s.pid)).toBe(pids[0]);
    expect(existsSync(join(home(), 'data', 'start.lock'))).toBe(false);
  });

  it('serve refuses to run a second daemon on the data folder a running one serves', async () => {
    expect((await runCli(['start', '--port', '0'], opts)).code).toBe(0);
    const serve = await runCli(['serve', '--port', '0'], { ...opts, timeoutMs: 20_000 });
    expect(serve.code, serve.output).toBe(2);
    expect(serve.stderr).toContain('Another pyrepo daemon');
    expect(serve.stderr).toContain('pyrepo stop');
  });

  it.each(['serve', 'start'])('%s rewrites an admin entry that no longer matches the stored password, before it says it serves', async (command) => {
    // The admin's line as another password left it (the keychain was reset, say); the other user's line stays.
    const dataDir = join(home(), 'data');
    mkdirSync(dataDir, { recursive: true });
    const htpasswd = join(dataDir, 'users.htpasswd');
    const ann = `ann:${await hashPassword('ann-password')}`;
    writeFileSync(htpasswd, `admin:${await hashPassword('an-old-password')}\n${ann}\n`, { mode: 0o600 });
    const cli = startCli([command, '--port', '0'], opts);
    try {
      await waitFor(`${command} to say where it serves`, async () => /(http:\/\/\S+)\/simple\//.test(cli.stdout()), 30_000);
      const base = (/(http:\/\/\S+)\/simple\//.exec(cli.stdout()) as RegExpExecArray)[1] as string;
      const lines = readFileSync(htpasswd, 'utf8').trimEnd().split('\n');
      expect(lines[1]).toBe(ann);
      expect(await verifyPassword('an-old-password', (lines[0] as string).slice('admin:'.length))).toBe(false);
      // The stored password is the admin's now, for the running daemon too.
      const activity = (password: string) => fetch(`${base}/-/api/activity`, { headers: { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` } });
      expect((await activity(adminPassword())).status).toBe(200);
      expect((await activity('an-old-password')).status).toBe(401);
    } finally {
      await cli.stop('SIGINT');
    }
  });
});

describe('restart, and a start that fails', () => {
  it('restart stops the daemon and starts a new one with the flags given; a bad flag leaves the old one running', async () => {
    expect((await runCli(['start', '--port', '0'], opts)).code).toBe(0);
    const before = (await status()).s;
    const bad = await runCli(['restart', '--max-upload-size', 'lots'], opts);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain("Error: --max-upload-size 'lots' is not a size.");
    expect((await status()).s.pid).toBe(before.pid);
    expect(isAlive(before.pid as number)).toBe(true);

    const r = await runCli(['restart', '--port', '0', '--authenticate', 'list,upload'], opts);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain(`Stopped pyrepo (pid ${before.pid}).`);
    expect(r.stdout).toContain('access:     open to anyone who can connect: downloads; credentials needed for index pages, uploads, the control API');
    const after = (await status()).s;
    expect(after.running).toBe(true);
    expect(after.pid).not.toBe(before.pid);
    expect(isAlive(before.pid as number)).toBe(false);
    expect((await fetch(after.url as string)).status).toBe(401);
  });

  it('a daemon that cannot start: exit 2, the reason and what to do, no stack trace; TLS files are checked before it is spawned', async () => {
    const missing = join(root, 'no-such-cert.pem');
    const r = await runCli(['start', '--port', '0', '--tls-cert', missing, '--tls-key', missing], opts);
    expect(r.code, r.output).toBe(2);
    expect(r.stderr).toBe(`Error: Cannot read the TLS certificate ${missing}: no such file.\nFix the file, or point tls-cert and tls-key at a working pair (\`pyrepo config set tls-cert CERT tls-key KEY\`).\n`);
    expect(existsSync(logFile())).toBe(false);
    expect((await status()).s.running).toBe(false);

    // One the daemon itself refuses: its words, and nothing raw from its log.
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    const spawned = await runCli(['start', '--port', '0', '--packages-dir', join(file, 'packages')], opts);
    expect(spawned.code, spawned.output).toBe(2);
    expect(spawned.stderr).toMatch(/^Error: The daemon did not start: Cannot create the folder .*ENOTDIR/);
    expect(spawned.stderr).not.toContain('{"');
    expect(spawned.stderr).not.toMatch(/\n\s+at /);
    expect((await status()).s.running).toBe(false);
  });
});

describe('a deleted data folder', () => {
  it('is reported by status and doctor and logged once, without spinning', async () => {
    expect((await runCli(['start', '--port', '0'], opts)).code).toBe(0);
    const { s } = await status();
    rmSync(join(home(), 'data'), { recursive: true, force: true });

    // The daemon puts its state file back within a second or two, so the CLI still finds it.
    const after = await waitFor('status to find the daemon again', async () => {
      const st = await status();
      return st.s.running ? st : undefined;
    }, 10_000, 300);
    expect(after.r.code, after.r.output).toBe(1);
    expect(after.s.pid).toBe(s.pid);
    expect(after.s.problems.join('\n')).toMatch(/The catalog .* was deleted; restart pyrepo to rebuild it/);
    expect(after.s.problems.join('\n')).toMatch(/The packages folder .* was deleted/);
    const human = await runCli(['status'], opts);
    expect(human.stdout).toContain('running, with problems');

    const doctor = await runCli(['doctor'], opts);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(/FAIL +daemon .*was deleted/);

    const countProblemLines = () => readFileSync(logFile(), 'utf8').split('\n').filter((l) => l.includes('The catalog') && l.includes('was deleted')).length;
    await waitFor('the problem in the log', () => countProblemLines() > 0, 10_000, 200);
    const cpuBefore = cpuTicks(s.pid as number);
    // Watching a quiet daemon for a while is the point: the problem is not logged again, and checking costs next to nothing.
    await new Promise((r) => setTimeout(r, 6_000));
    // Read before the stop: once the daemon is gone and reaped, /proc has nothing of it.
    const cpuAfter = cpuTicks(s.pid as number);
    expect(countProblemLines()).toBe(1);
    expect(readFileSync(logFile(), 'utf8')).toContain('had disappeared (was the data folder deleted?); wrote it again');
    // And it still stops cleanly.
    const stop = await runCli(['stop'], opts);
    expect(stop.stdout).toContain(`Stopped pyrepo (pid ${s.pid}).`);
    // 6 s of a daemon that only checks its folders every 5 s: well under a tenth of a CPU second.
    expect(cpuAfter - cpuBefore).toBeLessThan(50);
  }, 60_000);
});

/** utime + stime of a process, in clock ticks (1/100 s on Linux). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

describe('logs', () => {
  it('shows the last lines as text, raw JSON with --raw, and a clear note when empty', async () => {
    const empty = await runCli(['logs'], opts);
    expect(empty.code).toBe(0);
    expect(empty.stderr).toContain('is empty or does not exist yet');

    expect((await runCli(['start', '--port', '0'], opts)).code).toBe(0);
    const text = await runCli(['logs', '-n', '3'], opts);
    expect(text.code, text.output).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (INFO|WARN|ERROR|DEBUG) /);
    expect(text.stdout).toMatch(/GET \/-\/health 200 \d+ ms/);

    const raw = await runCli(['logs', '-n', '2', '--raw'], opts);
    for (const line of raw.stdout.trim().split('\n')) expect(() => JSON.parse(line) as unknown).not.toThrow();

    const bad = await runCli(['logs', '-n', '-1'], opts);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('--lines must be a whole number');
  });

  it('-f prints new lines as they are written', async () => {
    expect((await runCli(['start', '--port', '0'], opts)).code).toBe(0);
    const { s } = await status();
    const follow = startCli(['logs', '-f', '-n', '0'], { ...opts, timeoutMs: 30_000 });
    // When the follower starts reading cannot be seen from outside: request until a request shows.
    let asked = 0;
    await waitFor('a request to show in `pyrepo logs -f`', async () => {
      await fetch(`${s.url as string}followed-marker-${++asked}/`);
      return follow.stdout().includes('/simple/followed-marker-');
    }, 20_000, 250);
    const r = await follow.stop(); // -f runs until stopped
    expect(r.stdout).toMatch(/\/simple\/followed-marker-\d+\//);
  });
});

describe('managing releases', () => {
  it('list, info, yank, unyank and remove (asks; --yes) with --json that matches the API schemas', async () => {
    expect((await runCli(['start', '--port', '0'], opts)).code).toBe(0);
    const { s } = await status();
    const packages = s.packagesDir;
    for (const version of ['1.0.0', '1.1.0']) {
      const spec = { name: 'Managed_Pkg', version, summary: 'Managed' };
      writeFileSync(join(packages, wheelFilename(spec)), buildWheel(spec));
      writeFileSync(join(packages, sdistFilename(spec)), buildSdist(spec));
    }
    await waitFor('the folder files to be indexed', async () => {
      const r = await runCli(['list', '--json'], opts);
      return (JSON.parse(r.stdout) as { projects: { files: number }[] }).projects[0]?.files === 4;
    }, 15_000, 300);

    const list = await runCli(['list'], opts);
    expect(list.stdout).toMatch(/Managed_Pkg +1\.1\.0 +2 +4 +0/);

    const info = await runCli(['info', 'managed.pkg', '--json'], opts);
    const detail: unknown = JSON.parse(info.stdout);
    expect(Value.Check(ProjectDetailSchema, detail)).toBe(true);
    expect((detail as { releases: { version: string }[] }).releases.map((r) => r.version)).toEqual(['1.1.0', '1.0.0']);

    const yank = await runCli(['yank', 'managed-pkg==1.1.0', '--reason', 'broken', '--json'], opts);
    expect(yank.code, yank.output).toBe(0);
    const yanked: unknown = JSON.parse(yank.stdout);
    expect(Value.Check(YankResultSchema, yanked)).toBe(true);
    expect(yanked).toMatchObject({ yanked: true, yankedReason: 'broken' });
    const page = (await (await fetch(`${s.url as string}managed-pkg/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as { files: { yanked: unknown }[] };
    expect(page.files.filter((f) => f.yanked === 'broken')).toHaveLength(2);
    expect((await runCli(['unyank', 'managed-pkg==1.1.0'], opts)).stdout).toContain('no longer yanked');

    const noVersion = await runCli(['yank', 'managed-pkg'], opts);
    expect(noVersion.code).toBe(64);
    expect(noVersion.stderr).toContain('Say which release: managed-pkg==<version>');

    const asked = await runCli(['remove', 'managed-pkg==1.0.0'], opts);
    expect(asked.code).toBe(1);
    expect(asked.stderr).toContain('Add --yes');
    expect(existsSync(join(packages, 'managed_pkg-1.0.0.tar.gz'))).toBe(true);

    const missing = await runCli(['remove', 'managed-pkg==9.9', '--yes'], opts);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('has no release 9.9');

    // One file of a release, by name.
    const one = await runCli(['remove', 'managed-pkg==1.0.0', 'managed_pkg-1.0.0.tar.gz', '--yes', '--json'], opts);
    expect(one.code, one.output).toBe(0);
    expect((JSON.parse(one.stdout) as { deleted: string[] }).deleted).toEqual(['managed_pkg-1.0.0.tar.gz']);
    expect(existsSync(join(packages, 'managed_pkg-1.0.0.tar.gz'))).toBe(false);
    expect(existsSync(join(packages, 'managed_pkg-1.0.0-py3-none-any.whl'))).toBe(true);
    const wrongFile = await runCli(['remove', 'managed-pkg', 'other-1.0.tar.gz', '--yes'], opts);
    expect(wrongFile.code).toBe(1);
    expect(wrongFile.stderr).toContain('has no file named other-1.0.tar.gz');

    // 1.0 is the release 1.0.0 (PEP 440), as yank sees it.
    const removed = await runCli(['remove', 'managed-pkg==1.0', '--yes', '--json'], opts);
    expect(removed.code, removed.output).toBe(0);
    expect((JSON.parse(removed.stdout) as { deleted: string[] }).deleted).toEqual(['managed_pkg-1.0.0-py3-none-any.whl']);
    expect(existsSync(join(packages, 'managed_pkg-1.0.0-py3-none-any.whl'))).toBe(false);

    const unknown = await runCli(['info', 'nope'], opts);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe("Error: There is no project 'nope' on the index.\n`pyrepo list` lists the projects on the index.\n");
    const typo = await runCli(['info', 'managed-pk'], opts);
    expect(typo.stderr).toContain("There is no project 'managed-pk' on the index. Did you mean 'Managed_Pkg'?");
    const yankTypo = await runCli(['yank', 'manged-pkg==1.1.0'], opts);
    expect(yankTypo.code).toBe(1);
    expect(yankTypo.stderr).toContain("There is no project 'manged-pkg' on the index. Did you mean 'Managed_Pkg'?");
    const noRelease = await runCli(['yank', 'managed-pkg==7.0'], opts);
    expect(noRelease.stderr).not.toContain('There is no project');

    // pyrepo board fills in a version the index has.
    const board = await runCli(['board', 'managed-pkg'], opts);
    expect(board.code, board.output).toBe(0);
    expect(board.stdout).toContain('mip.install("managed-pkg", version="1.1.0", index=...), upip.install("managed-pkg==1.1.0")');
    expect(board.stdout).not.toContain('"1.0"');
    expect((JSON.parse((await runCli(['board', 'managed-pkg', '--json'], opts)).stdout) as { version?: string }).version).toBe('1.1.0');
  }, 180_000);

  it('commands that need the daemon say it is not running, with exit 3', async () => {
    const r = await runCli(['list'], opts);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('The pyrepo daemon is not running.');
    expect(r.stderr).toContain('pyrepo start');
  });
});
