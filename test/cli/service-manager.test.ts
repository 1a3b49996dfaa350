/**
 * install/uninstall/status of the login service with a substituted host: the calls to
 * systemctl and launchctl, what happens when they fail, foreign files, and the daemon
 * that `pyrepo start` ran. The launchd paths run here on Linux through the same seam.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AbortError } from '../../src/cli/errors.js';
import { installService, serviceStatus, uninstallService, type CommandOutcome, type ServiceHost } from '../../src/cli/services/service-manager.js';
import { SERVICE_MARKER } from '../../src/cli/services/service-unit.js';

let root: string;
let calls: string[];
/** Answers by command line prefix ("systemctl --user daemon-reload"); unlisted ones succeed quietly. */
let answers: Map<string, Partial<CommandOutcome>>;
let daemon: { pid: number; byService: boolean } | undefined;
let stopped: number;

const ok: CommandOutcome = { ok: true, missing: false, exitCode: 0, stdout: '', stderr: '' };

function host(platform: NodeJS.Platform = 'linux', env: NodeJS.ProcessEnv = {}): ServiceHost {
  return {
    platform,
    env: { XDG_CONFIG_HOME: join(root, 'config'), PYREPO_HOME: join(root, 'pyrepo home'), ...env },
    home: join(root, 'home'),
    cwd: root,
    uid: 501,
    nodePath: '/usr/bin/node',
    cliEntry: '/opt/pyrepo/dist/cli/index.js',
    run: async (file, args) => {
      const cmd = [file, ...args].join(' ');
      calls.push(cmd);
      for (const [prefix, answer] of answers) if (cmd.startsWith(prefix)) return { ...ok, ...answer };
      return ok;
    },
    daemon: {
      find: async () => daemon,
      stop: async () => {
        stopped++;
        daemon = undefined;
      },
    },
  };
}

const unitFile = () => join(root, 'config', 'systemd', 'user', 'pyrepo.service');
const plistFile = () => join(root, 'home', 'Library', 'LaunchAgents', 'dev.pyrepo.daemon.plist');
const busDown: Partial<CommandOutcome> = { ok: false, exitCode: 1, stderr: 'Failed to connect to bus: No medium found\n' };

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'pyrepo-svc-'));
  calls = [];
  answers = new Map();
  daemon = undefined;
  stopped = 0;
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('systemd', () => {
  it('writes the unit, reloads and enables it; again is unchanged; a changed unit restarts', async () => {
    const first = await installService(host(), { force: false, enable: true });
    expect(first).toMatchObject({ manager: 'systemd', file: unitFile(), fileState: 'created', enablement: { kind: 'enabled', restarted: false } });
    expect(calls).toEqual(['systemctl --user daemon-reload', 'systemctl --user enable --now pyrepo.service']);
    const text = readFileSync(unitFile(), 'utf8');
    expect(text).toContain(`"PYREPO_HOME=${join(root, 'pyrepo home')}"`);
    expect(lstatSync(unitFile()).mode & 0o777).toBe(0o644);

    calls = [];
    const again = await installService(host(), { force: false, enable: true });
    expect(again.fileState).toBe('unchanged');
    expect(calls).toEqual(['systemctl --user daemon-reload', 'systemctl --user enable --now pyrepo.service']);

    calls = [];
    const moved = await installService({ ...host(), cliEntry: '/opt/pyrepo-2/dist/cli/index.js' }, { force: false, enable: true });
    expect(moved).toMatchObject({ fileState: 'updated', enablement: { kind: 'enabled', restarted: true } });
    expect(calls).toEqual(['systemctl --user daemon-reload', 'systemctl --user enable pyrepo.service', 'systemctl --user restart pyrepo.service']);
  });

  it('--no-enable only writes the file', async () => {
    const r = await installService(host(), { force: false, enable: false });
    expect(r.enablement).toEqual({ kind: 'skipped', commands: ['systemctl --user daemon-reload', 'systemctl --user enable --now pyrepo.service'] });
    expect(calls).toEqual([]);
    expect(existsSync(unitFile())).toBe(true);
  });

  it('keeps the unit and says what to run when the user bus is missing', async () => {
    answers.set('systemctl --user daemon-reload', busDown);
    daemon = { pid: 4242, byService: false };
    const r = await installService(host(), { force: false, enable: true });
    expect(r.enablement).toMatchObject({ kind: 'failed', reason: '`systemctl --user daemon-reload` failed: Failed to connect to bus: No medium found' });
    expect(existsSync(unitFile())).toBe(true);
    // The running daemon is left alone when the service cannot replace it.
    expect(stopped).toBe(0);
  });

  it('says systemctl is missing when it is', async () => {
    answers.set('systemctl', { ok: false, missing: true, exitCode: undefined, stderr: 'systemctl is not installed' });
    const r = await installService(host(), { force: false, enable: true });
    expect(r.enablement).toMatchObject({ kind: 'failed', reason: 'systemctl is not installed' });
  });

  it('stops a daemon that `pyrepo start` ran before enabling, but not one the service runs', async () => {
    daemon = { pid: 4242, byService: false };
    const r = await installService(host(), { force: false, enable: true });
    expect(r.stoppedPid).toBe(4242);
    expect(stopped).toBe(1);

    daemon = { pid: 77, byService: true };
    const again = await installService(host(), { force: false, enable: true });
    expect(again.stoppedPid).toBeUndefined();
    expect(stopped).toBe(1);
  });

  it('refuses a unit someone else wrote unless forced, for install and uninstall', async () => {
    mkdirSync(join(root, 'config', 'systemd', 'user'), { recursive: true });
    writeFileSync(unitFile(), '[Service]\nExecStart=/usr/bin/mine\n');
    await expect(installService(host(), { force: false, enable: true })).rejects.toThrow(AbortError);
    await expect(installService(host(), { force: false, enable: true })).rejects.toThrow(/not written by pyrepo/);
    await expect(uninstallService(host(), { force: false })).rejects.toThrow(/not written by pyrepo/);
    expect(readFileSync(unitFile(), 'utf8')).toBe('[Service]\nExecStart=/usr/bin/mine\n');
    expect(calls).toEqual([]);

    const r = await installService(host(), { force: true, enable: true });
    expect(r.fileState).toBe('replaced');
    expect(readFileSync(unitFile(), 'utf8').split('\n')[0]).toBe(`# ${SERVICE_MARKER}`);
    expect(calls.at(-1)).toBe('systemctl --user restart pyrepo.service');
  });

  it('uninstall disables, removes and reloads; not installed is success', async () => {
    await installService(host(), { force: false, enable: false });
    const r = await uninstallService(host(), { force: false });
    expect(r).toMatchObject({ removed: true, disabled: true });
    expect(r.warning).toBeUndefined();
    expect(calls).toEqual(['systemctl --user disable --now pyrepo.service', 'systemctl --user daemon-reload']);
    expect(existsSync(unitFile())).toBe(false);

    calls = [];
    expect(await uninstallService(host(), { force: false })).toMatchObject({ removed: false });
    expect(calls).toEqual([]);
  });

  it('uninstall without a user bus removes the unit and its login link, with a warning', async () => {
    await installService(host(), { force: false, enable: false });
    const wants = join(root, 'config', 'systemd', 'user', 'default.target.wants');
    mkdirSync(wants);
    symlinkSync(unitFile(), join(wants, 'pyrepo.service'));
    answers.set('systemctl --user disable', busDown);
    const r = await uninstallService(host(), { force: false });
    expect(r).toMatchObject({ removed: true, disabled: false });
    expect(r.warning).toMatch(/Failed to connect to bus/);
    expect(existsSync(unitFile())).toBe(false);
    expect(existsSync(join(wants, 'pyrepo.service'))).toBe(false);
    expect(() => lstatSync(join(wants, 'pyrepo.service'))).toThrow();
  });

  it('status reports the file and what systemctl says, even when it exits non-zero', async () => {
    expect(await serviceStatus(host())).toMatchObject({ installed: false, ours: false });
    await installService(host(), { force: false, enable: false });
    answers.set('systemctl --user is-enabled', { ok: false, exitCode: 1, stdout: 'disabled\n' });
    answers.set('systemctl --user is-active', { ok: false, exitCode: 3, stdout: 'inactive\n' });
    expect(await serviceStatus(host())).toEqual({ manager: 'systemd', file: unitFile(), installed: true, ours: true, enabled: 'disabled', active: 'inactive' });
    answers.set('systemctl --user is-active', { ...busDown, stdout: '' });
    expect(await serviceStatus(host())).toMatchObject({ enabled: 'disabled', active: undefined, unknown: expect.stringMatching(/Failed to connect to bus/) });
  });
});

describe('launchd (macOS), through the same seam', () => {
  it('writes the plist and bootstraps it into the GUI domain', async () => {
    answers.set('launchctl print', { ok: false, exitCode: 113, stderr: 'Could not find service' });
    const r = await installService(host('darwin'), { force: false, enable: true });
    expect(r).toMatchObject({ manager: 'launchd', file: plistFile(), fileState: 'created', enablement: { kind: 'enabled' } });
    expect(calls).toEqual([
      'launchctl print gui/501/dev.pyrepo.daemon',
      'launchctl enable gui/501/dev.pyrepo.daemon',
      `launchctl bootstrap gui/501 ${plistFile()}`,
    ]);
    const plist = readFileSync(plistFile(), 'utf8');
    expect(plist).toContain(`<string>${join(root, 'pyrepo home', 'logs', 'daemon.log')}</string>`);
    // launchd does not create the log's folder.
    expect(existsSync(join(root, 'pyrepo home', 'logs'))).toBe(true);
  });

  it('falls back to `launchctl load -w`, and reports both failures', async () => {
    answers.set('launchctl print', { ok: false, exitCode: 113 });
    answers.set('launchctl bootstrap', { ok: false, exitCode: 5, stderr: 'Bootstrap failed: 5: Input/output error' });
    const r = await installService(host('darwin'), { force: false, enable: true });
    expect(r.enablement).toMatchObject({ kind: 'enabled' });
    expect(calls.at(-1)).toBe(`launchctl load -w ${plistFile()}`);

    calls = [];
    answers.set('launchctl load', { ok: false, exitCode: 1, stderr: 'Load failed: 5' });
    rmSync(plistFile());
    const failed = await installService(host('darwin'), { force: false, enable: true });
    expect(failed.enablement).toMatchObject({ kind: 'failed', commands: [`launchctl bootstrap gui/501 ${plistFile()}`] });
    expect(failed.enablement.kind === 'failed' && failed.enablement.reason).toMatch(/Bootstrap failed.*Load failed/);
  });

  it('reloads a changed plist that is loaded, and leaves an unchanged loaded one alone', async () => {
    await installService(host('darwin'), { force: false, enable: false });
    calls = [];
    expect((await installService(host('darwin'), { force: false, enable: true })).enablement).toEqual({ kind: 'enabled', restarted: false });
    expect(calls).toEqual(['launchctl print gui/501/dev.pyrepo.daemon']);

    calls = [];
    const r = await installService({ ...host('darwin'), nodePath: '/opt/homebrew/bin/node' }, { force: false, enable: true });
    expect(r).toMatchObject({ fileState: 'updated', enablement: { kind: 'enabled', restarted: true } });
    expect(calls).toEqual([
      'launchctl print gui/501/dev.pyrepo.daemon',
      'launchctl bootout gui/501/dev.pyrepo.daemon',
      'launchctl enable gui/501/dev.pyrepo.daemon',
      `launchctl bootstrap gui/501 ${plistFile()}`,
    ]);
  });

  it('uninstall boots the job out and removes the plist', async () => {
    await installService(host('darwin'), { force: false, enable: false });
    calls = [];
    const r = await uninstallService(host('darwin'), { force: false });
    expect(r).toMatchObject({ removed: true, disabled: true });
    expect(calls).toEqual(['launchctl print gui/501/dev.pyrepo.daemon', 'launchctl bootout gui/501/dev.pyrepo.daemon']);
    expect(existsSync(plistFile())).toBe(false);
  });

  it('status reads the job state from `launchctl print`', async () => {
    await installService(host('darwin'), { force: false, enable: false });
    answers.set('launchctl print', { stdout: 'gui/501/dev.pyrepo.daemon = {\n\tactive count = 1\n\tstate = running\n' });
    expect(await serviceStatus(host('darwin'))).toMatchObject({ installed: true, ours: true, enabled: 'loaded', active: 'running' });
  });
});

describe('other platforms', () => {
  it('says Windows is not supported and points to Task Scheduler', async () => {
    const err = await installService(host('win32'), { force: false, enable: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).message).toMatch(/not supported on Windows/);
    expect((err as AbortError).nextStep).toMatch(/Task Scheduler.*pyrepo serve/);
    await expect(uninstallService(host('win32'), { force: false })).rejects.toThrow(/not supported/);
  });
});
