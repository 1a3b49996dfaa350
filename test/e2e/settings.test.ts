/**
 * Settings that stick, through the built CLI in a temporary PYREPO_HOME: flags of
 * `restart` are saved and survive a plain restart (the README's private-index recipe, TLS),
 * `pyrepo config` changes what the next restart applies and `status` says so, `serve`'s
 * flags are for one run; a restart refuses what the new daemon would refuse before it stops
 * the old one, and when the new one fails anyway the old one comes back with its settings.
 */
import { createServer, type Server } from 'node:net';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StatusOutputSchema, type StatusOutput } from '../../src/cli/json-output.js';
import { ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, runCli, startDaemon, type RunOptions } from '../helpers/daemon.js';
import { makeTlsPair } from '../helpers/tls.js';

let root: string;
let opts: RunOptions;
const roots: string[] = [];

const settingsFile = () => join(root, 'pyrepo-home', 'config', 'settings.json');

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function status(): Promise<StatusOutput> {
  const r = await runCli(['status', '--json'], opts);
  const s: unknown = JSON.parse(r.stdout);
  if (!Value.Check(StatusOutputSchema, s)) throw new Error(`status --json does not match its schema: ${r.stdout}`);
  return s;
}

async function config(...args: string[]): Promise<string> {
  const r = await runCli(['config', ...args], opts);
  expect(r.code, r.output).toBe(0);
  return r.stdout;
}

/** A TCP server of "another program" on a free loopback port. */
async function blocker(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, server };
}

beforeEach(async () => {
  ensureBuilt();
  root = await makeTempRoot('pyrepo-settings-');
  roots.push(root);
  opts = { env: isolatedEnv(root), cwd: root, timeoutMs: 60_000 };
});

afterEach(async () => {
  await runCli(['stop', '--timeout', '5'], opts);
  // A daemon of this test's folders that the CLI could not find is killed.
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.includes(root) && Number(pid) !== process.pid) process.kill(Number(pid), 'SIGKILL');
  }
});

afterAll(async () => {
  for (const r of roots) await removeTemp(r);
});

describe('flags of start and restart are saved', () => {
  it('a private index stays private after a plain restart; what was saved and how to undo it are said; config and status agree', async () => {
    expect((await runCli(['start', '--port', '0'], opts)).code).toBe(0);
    const privately = await runCli(['restart', '--authenticate', 'list,download,upload'], opts);
    expect(privately.code, privately.output).toBe(0);
    expect(privately.stdout).toContain('Saved for later starts: authenticate list,download,upload (was upload).');
    expect(privately.stdout).toContain('Undo: `pyrepo config unset authenticate`');
    expect((await fetch((await status()).url as string)).status).toBe(401);

    const plain = await runCli(['restart'], opts);
    expect(plain.code, plain.output).toBe(0);
    expect(plain.stdout).not.toContain('Saved');
    expect(plain.stdout).toContain('nothing is open without credentials');
    expect((await fetch((await status()).url as string)).status).toBe(401);
    expect((await config('get', 'authenticate')).trim()).toBe('list,download,upload');

    // Changed while running: said at once, by status, and applied by the next restart.
    const unset = await config('unset', 'authenticate');
    expect(unset).toContain('Saved: authenticate upload (was list,download,upload).');
    expect(unset).toMatch(/pyrepo is running with authenticate list,download,upload \(pid \d+\): `pyrepo restart` applies the saved settings\./);
    const pending = await status();
    expect(pending.unappliedSettings).toEqual([{ name: 'authenticate', running: 'list,download,upload', saved: 'upload' }]);
    const human = await runCli(['status'], opts);
    expect(human.code, human.output).toBe(0);
    expect(human.stdout).toContain('! Saved settings it does not use yet: authenticate upload (runs with list,download,upload). `pyrepo restart` applies them.');
    expect((await runCli(['restart'], opts)).code).toBe(0);
    const applied = await status();
    expect(applied.unappliedSettings).toBeUndefined();
    expect((await fetch(applied.url as string)).status).toBe(200);

    const list = await config('list');
    expect(list).toMatch(/^authenticate +upload +yes$/m);
    expect(list).toMatch(/^port +0 +no: 8645$/m);
  }, 180_000);

  it('TLS flags survive a plain restart too', async () => {
    const pair = makeTlsPair(root);
    expect((await runCli(['start', '--port', '0'], opts)).code).toBe(0);
    const https = await runCli(['restart', '--tls-cert', pair.cert, '--tls-key', pair.key], opts);
    expect(https.code, https.output).toBe(0);
    expect(https.stdout).toContain(`Saved for later starts: tls-cert ${pair.cert} (was not set), tls-key ${pair.key} (was not set).`);
    expect((await status()).url).toMatch(/^https:/);
    expect((await runCli(['restart'], opts)).code).toBe(0);
    const after = await status();
    expect(after.url).toMatch(/^https:/);
    expect(after.responding).toBe(true);
  }, 120_000);

  it("serve's flags are for that run only", async () => {
    const daemon = await startDaemon({ args: ['--max-upload-size', '5MB', '--overwrite'] });
    try {
      const file = join(daemon.root, 'pyrepo-home', 'config', 'settings.json');
      expect(existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { overwrite?: boolean }).overwrite : false).toBe(false);
    } finally {
      await daemon.stop();
      await removeTemp(daemon.root);
    }
  });

  it('a start that fails saves nothing and says why as text, with no raw log lines', async () => {
    // An earlier run leaves its JSON lines in the log; they explain nothing about this start.
    expect((await runCli(['start', '--port', '0'], opts)).code).toBe(0);
    expect((await runCli(['stop'], opts)).code).toBe(0);
    const savedText = () => (existsSync(settingsFile()) ? readFileSync(settingsFile(), 'utf8') : '');
    const saved = savedText();
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    const r = await runCli(['start', '--port', '0', '--packages-dir', join(file, 'packages')], opts);
    expect(r.code, r.output).toBe(2);
    expect(r.stderr).toContain(`Error: The daemon did not start: Cannot create the folder ${join(file, 'packages')}`);
    expect(r.stderr).not.toContain('{"level"');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).not.toContain('Server listening');
    expect(savedText()).toBe(saved);
    expect((await status()).running).toBe(false);
  }, 120_000);
});

describe('a restart never takes the index down', () => {
  it('refuses, before stopping anything, a port another program holds, TLS files that cannot serve, and anonymous uploads beyond loopback', async () => {
    expect((await runCli(['start', '--port', '0'], opts)).code).toBe(0);
    const before = await status();
    const stillRunning = async () => {
      const now = await status();
      expect(now.pid).toBe(before.pid);
      expect(isAlive(before.pid as number)).toBe(true);
    };
    const saved = readFileSync(settingsFile(), 'utf8');

    const { port, server } = await blocker();
    try {
      const taken = await runCli(['restart', '--port', String(port)], opts);
      expect(taken.code, taken.output).toBe(2);
      expect(taken.stderr).toContain(`Error: Port ${port} on 127.0.0.1 is already in use by another program. Nothing was stopped: pyrepo still runs at ${before.url} (pid ${before.pid}) with its settings.`);
      expect(taken.stderr).toContain(`\`pyrepo restart --port ${port + 1}\``);
      expect(taken.stdout).not.toContain('Stopped');
      await stillRunning();

      // The same port saved first, then a plain restart: refused just the same.
      expect(await config('set', 'port', String(port))).toContain('`pyrepo restart` applies the saved settings');
      const plain = await runCli(['restart'], opts);
      expect(plain.code, plain.output).toBe(2);
      expect(plain.stderr).toContain(`Port ${port} on 127.0.0.1 is already in use`);
      await stillRunning();
      await config('unset', 'port');
    } finally {
      await new Promise((r) => server.close(r));
    }

    const good = makeTlsPair(root, 'good');
    const other = makeTlsPair(root, 'other');
    const notACert = join(root, 'notes.txt');
    writeFileSync(notACert, 'not a certificate\n');
    for (const [cert, key, message] of [
      [notACert, good.key, `The TLS certificate ${notACert} is not a certificate`],
      [good.cert, other.key, `The TLS key ${other.key} does not belong to the certificate ${good.cert}`],
      [good.cert, join(root, 'missing.key'), `Cannot read the TLS key ${join(root, 'missing.key')}: no such file.`],
    ] as const) {
      const r = await runCli(['restart', '--tls-cert', cert, '--tls-key', key], opts);
      expect(r.code, r.output).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).toContain('Nothing was stopped');
      await stillRunning();
    }

    // A settings file edited by hand to open uploads beyond loopback (config set refuses it).
    const lan = await runCli(['config', 'set', 'host', '0.0.0.0', 'authenticate', 'none'], opts);
    expect(lan.code).toBe(64);
    writeFileSync(settingsFile(), JSON.stringify({ ...(JSON.parse(saved) as object), host: '0.0.0.0', authenticate: [] }));
    const open = await runCli(['restart'], opts);
    expect(open.code, open.output).toBe(2);
    expect(open.stderr).toContain('Refusing to listen on 0.0.0.0 with uploads open to anyone');
    await stillRunning();
  }, 180_000);

  it('when the new daemon fails anyway, the old one comes back with its settings, and the saved setting that caused it is put back', async () => {
    expect((await runCli(['start', '--port', '0', '--max-upload-size', '50MB'], opts)).code).toBe(0);
    const before = await status();
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    const bad = join(file, 'packages');
    await config('set', 'packages-dir', bad);

    const r = await runCli(['restart'], opts);
    expect(r.code, r.output).toBe(2);
    expect(r.stdout).toContain(`Stopped pyrepo (pid ${before.pid}).`);
    const after = await status();
    expect(after.running).toBe(true);
    expect(after.responding).toBe(true);
    expect(after.packagesDir).toBe(before.packagesDir);
    expect(r.stderr).toContain(`Error: The daemon did not start with the new settings: Cannot create the folder ${bad}`);
    expect(r.stderr).toContain(`pyrepo runs again with its previous settings at ${after.url} (pid ${after.pid}).`);
    expect(r.stderr).toContain(`The saved setting is put back to what it ran with: packages-dir ${before.packagesDir} instead of ${bad} (\`pyrepo config set packages-dir ${bad}\` saves the new value again).`);
    expect(r.stderr).not.toContain('{"level"');
    expect((await config('get', 'packages-dir')).trim()).toBe('');
    expect((await config('get', 'max-upload-size')).trim()).toBe('50MB');
    expect(after.unappliedSettings).toBeUndefined();
  }, 120_000);
});
