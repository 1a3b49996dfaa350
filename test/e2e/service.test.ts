/**
 * `pyrepo service install | uninstall | status` through the built CLI, with a fake
 * `systemctl` first on PATH that records its arguments (and can fail as it does without a
 * user bus), and the written unit checked by the real `systemd-analyze verify`.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemdExecArg } from '../../src/cli/services/service-unit.js';
import { DAEMON_NODE_FLAGS } from '../../src/shared/heap-limits.js';
import { CLI_PATH, ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, run, runCli, type RunOptions } from '../helpers/daemon.js';

const MARKER = '# Written by pyrepo service install; pyrepo service uninstall removes it.';

let root: string;
let opts: RunOptions;
const roots: string[] = [];

const unitFile = () => join(root, 'xdg', 'config', 'systemd', 'user', 'pyrepo.service');
const callLog = () => join(root, 'systemctl-calls.txt');

/** The systemctl calls recorded so far, one argument list per line. */
function calls(): string[] {
  return existsSync(callLog()) ? readFileSync(callLog(), 'utf8').split('\n').filter(Boolean) : [];
}

/** A fake systemctl that records its arguments; FAKE_SYSTEMCTL_FAIL=1 makes it fail as it does without a user bus. */
function fakeSystemctl(binDir: string): void {
  mkdirSync(binDir, { recursive: true });
  const script = join(binDir, 'systemctl');
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      'printf "%s\\n" "$*" >> "$FAKE_SYSTEMCTL_LOG"',
      'if [ -n "$FAKE_SYSTEMCTL_FAIL" ]; then echo "Failed to connect to bus: No medium found" >&2; exit 1; fi',
      'case "$2" in is-enabled) echo enabled ;; is-active) echo active ;; esac',
      'exit 0',
      '',
    ].join('\n'),
  );
  chmodSync(script, 0o755);
}

function envFor(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = isolatedEnv(root, extra);
  return { ...env, PATH: `${join(root, 'bin')}:${env.PATH ?? '/usr/bin:/bin'}`, FAKE_SYSTEMCTL_LOG: callLog() };
}

beforeEach(async () => {
  ensureBuilt();
  root = await makeTempRoot('pyrepo-service-');
  roots.push(root);
  fakeSystemctl(join(root, 'bin'));
  opts = { env: envFor(), cwd: root, timeoutMs: 30_000 };
});

afterEach(async () => {
  // A daemon a test started with `pyrepo start` must not outlive it.
  await runCli(['stop', '--timeout', '5'], opts);
});

afterAll(async () => {
  for (const r of roots) await removeTemp(r);
});

describe('pyrepo service install', () => {
  it('writes the unit, reloads systemd, enables and starts it, and says where the log is', async () => {
    const r = await runCli(['service', 'install'], opts);
    expect(r.code, r.output).toBe(0);
    expect(calls()).toEqual(['--user daemon-reload', '--user enable --now pyrepo.service']);
    const unit = readFileSync(unitFile(), 'utf8');
    expect(unit.split('\n')[0]).toBe(MARKER);
    expect(unit).toContain(`\nExecStart=${systemdExecArg(process.execPath)} ${DAEMON_NODE_FLAGS.join(' ')} ${systemdExecArg(CLI_PATH)} serve\n`);
    expect(unit).toContain(`\nEnvironment=PYREPO_HOME=${join(root, 'pyrepo-home')}\n`);
    expect(unit).toContain('\nWantedBy=default.target\n');
    expect(r.stdout).toContain(`Wrote the systemd user unit ${unitFile()}`);
    expect(r.stdout).toContain('journalctl --user -u pyrepo');
  });

  it('is idempotent: the same unit again is "already installed" and left untouched', async () => {
    expect((await runCli(['service', 'install'], opts)).code).toBe(0);
    const before = statSync(unitFile());
    const text = readFileSync(unitFile(), 'utf8');
    const r = await runCli(['service', 'install'], opts);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toMatch(/already installed/);
    expect(readFileSync(unitFile(), 'utf8')).toBe(text);
    expect(statSync(unitFile()).mtimeMs).toBe(before.mtimeMs);
    expect(statSync(unitFile()).ino).toBe(before.ino);
  });

  it('--no-enable writes the unit without calling systemctl and prints the commands', async () => {
    const r = await runCli(['service', 'install', '--no-enable'], opts);
    expect(r.code, r.output).toBe(0);
    expect(existsSync(unitFile())).toBe(true);
    expect(calls()).toEqual([]);
    expect(r.stdout).toContain('systemctl --user enable --now pyrepo.service');
  });

  it('refuses a pyrepo.service it did not write, unless --force', async () => {
    mkdirSync(join(root, 'xdg', 'config', 'systemd', 'user'), { recursive: true });
    const foreign = '[Unit]\nDescription=my own\n\n[Service]\nExecStart=/usr/bin/sleep infinity\n';
    writeFileSync(unitFile(), foreign);
    const r = await runCli(['service', 'install'], opts);
    expect(r.code, r.output).toBe(1);
    expect(r.stderr).toMatch(/not written by pyrepo/);
    expect(r.stderr).toContain('--force');
    expect(r.stderr).not.toMatch(/bug in pyrepo/i);
    expect(readFileSync(unitFile(), 'utf8')).toBe(foreign);
    expect(calls()).toEqual([]);

    const u = await runCli(['service', 'uninstall'], opts);
    expect(u.code, u.output).toBe(1);
    expect(readFileSync(unitFile(), 'utf8')).toBe(foreign);

    const forced = await runCli(['service', 'install', '--force'], opts);
    expect(forced.code, forced.output).toBe(0);
    expect(readFileSync(unitFile(), 'utf8').split('\n')[0]).toBe(MARKER);
    expect(calls()).toEqual(['--user daemon-reload', '--user enable pyrepo.service', '--user restart pyrepo.service']);
  });

  it('without a user bus: keeps the unit, says so plainly with the commands to run later, exits 1', async () => {
    const r = await runCli(['service', 'install'], { ...opts, env: envFor({ FAKE_SYSTEMCTL_FAIL: '1' }) });
    expect(r.code, r.output).toBe(1);
    expect(r.stdout).toContain(`Wrote the systemd user unit ${unitFile()}`);
    expect(r.stderr).toContain('Failed to connect to bus');
    expect(r.stderr).toMatch(/written, but it could not be enabled/);
    expect(r.stderr).toContain('systemctl --user daemon-reload');
    expect(r.stderr).toContain('systemctl --user enable --now pyrepo.service');
    expect(r.stderr).not.toMatch(/bug in pyrepo/i);
    expect(readFileSync(unitFile(), 'utf8').split('\n')[0]).toBe(MARKER);
    expect(calls()).toEqual(['--user daemon-reload']);
  });

  it('stops a daemon that `pyrepo start` runs before enabling the service (it would hold the port)', async () => {
    const start = await runCli(['start', '--port', '0'], { ...opts, timeoutMs: 60_000 });
    expect(start.code, start.output).toBe(0);
    const state = JSON.parse(readFileSync(join(root, 'pyrepo-home', 'data', 'daemon.json'), 'utf8')) as { pid: number };
    const r = await runCli(['service', 'install'], opts);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain(`Stopped the daemon that \`pyrepo start\` ran (pid ${state.pid})`);
    const status = await runCli(['status', '--json'], opts);
    expect((JSON.parse(status.stdout) as { running: boolean }).running).toBe(false);
    expect(calls()).toEqual(['--user daemon-reload', '--user enable --now pyrepo.service']);
  });
});

describe('pyrepo service uninstall and status', () => {
  it('uninstall disables and removes the unit; then "not installed" is success', async () => {
    expect((await runCli(['service', 'install'], opts)).code).toBe(0);
    rmSync(callLog());
    const r = await runCli(['service', 'uninstall'], opts);
    expect(r.code, r.output).toBe(0);
    expect(calls()).toEqual(['--user disable --now pyrepo.service', '--user daemon-reload']);
    expect(existsSync(unitFile())).toBe(false);
    expect(r.stdout).toMatch(/Stopped and disabled the pyrepo service, and removed/);

    const again = await runCli(['service', 'uninstall'], opts);
    expect(again.code, again.output).toBe(0);
    expect(again.stdout).toMatch(/not installed/);
  });

  it('status shows not installed, then installed, enabled and active', async () => {
    const none = await runCli(['service', 'status'], opts);
    expect(none.code, none.output).toBe(0);
    expect(none.stdout).toMatch(/not installed/);
    expect((await runCli(['service', 'install'], opts)).code).toBe(0);
    const r = await runCli(['service', 'status', '--json'], opts);
    expect(r.code, r.output).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ manager: 'systemd', file: unitFile(), installed: true, ours: true, enabled: 'enabled', active: 'active' });
  });
});

// The real systemd parser on the real unit: CI must have it (.ci/run installs `systemd`).
const analyze = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' }).stdout.trim();
const why = 'systemd-analyze is not installed (apt-get install systemd); CI installs it';
if (!analyze && process.env.CI) {
  describe('systemd-analyze verify', () => {
    it('is installed in CI', () => {
      expect.fail(`${why}, but it is missing: .ci/run must install it`);
    });
  });
}

describe.skipIf(!analyze)(analyze ? 'systemd-analyze verify' : `systemd-analyze verify (skipped: ${why})`, () => {
  // A PYREPO_HOME that needs quoting and %-escaping in the unit.
  it.each([
    ['a plain PYREPO_HOME', 'pyrepo-home'],
    ['a PYREPO_HOME with spaces, %, quotes and a backslash', 'my "pyrepo" home 100% \\ %h'],
  ])('accepts the unit with %s', async (_what, home) => {
    const env = envFor({ PYREPO_HOME: join(root, home) });
    const r = await runCli(['service', 'install', '--no-enable'], { ...opts, env });
    expect(r.code, r.output).toBe(0);
    const unit = readFileSync(unitFile(), 'utf8');
    // `--user` needs a running user manager; the system scope checks the same syntax and paths.
    const v = await run(analyze, ['verify', unitFile()], { env: { ...process.env, LC_ALL: 'C', SYSTEMD_LOG_COLOR: '0' }, cwd: root, timeoutMs: 30_000 });
    // It can also complain about the host's own units; only lines about ours matter.
    const ours = v.output.split('\n').filter((l) => l.includes(unitFile()) || l.includes('pyrepo.service'));
    expect(ours, `systemd-analyze verify said:\n${v.output}\nUnit:\n${unit}`).toEqual([]);
    if (v.code !== 0) expect(v.output, `systemd-analyze verify exited ${v.code}`).not.toMatch(/pyrepo/);
  });
});
