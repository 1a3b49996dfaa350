/**
 * `/-/health` on an index whose reads need credentials tells an anonymous caller only that
 * it is up; the admin (credentials with the request) and the daemon's own CLI (the
 * instance id of its state file) get everything, and the CLI still tells its own daemon
 * from another one answering on the same port.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { Value } from '@sinclair/typebox/value';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthSchema, INSTANCE_HEADER, type DaemonState } from '../../src/shared/api.js';
import { daemonClientFor, DaemonRequestError } from '../../src/shared/client.js';
import { dataLayout } from '../../src/shared/paths.js';
import { probeDaemon } from '../../src/cli/services/daemon-control.js';
import { accessFiles, readAccessFile, writeAccessFile } from '../../src/shared/access-file.js';
import { hashPassword } from '../../src/shared/htpasswd.js';
import { basic, makeApp, type TestApp } from '../helpers/app.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const PRIVATE = { authenticate: ['list', 'download', 'upload'] as ('list' | 'download' | 'upload')[] };

describe('/-/health', () => {
  it('tells an anonymous caller of a private index only that it is up, and nothing else', async () => {
    t = await makeApp(PRIVATE, { autoAdmin: false });
    const res = await t.app.inject('/-/health');
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('{"status":"ok"}');
    // Nor to a signed-in user who is not an admin, nor to a wrong instance id.
    const files = accessFiles(t.dataDir);
    writeFileSync(files.htpasswd, `${readFileSync(files.htpasswd, 'utf8')}ann:${await hashPassword('ann-pw', 4)}\n`);
    writeAccessFile(files.access, { ...readAccessFile(files.access), roles: { admin: 'admin', ann: 'uploader' } });
    expect((await t.app.inject({ url: '/-/health', headers: { authorization: basic('ann', 'ann-pw') } })).body).toBe('{"status":"ok"}');
    const wrong = randomBytes(16).toString('hex');
    expect((await t.app.inject({ url: '/-/health', headers: { [INSTANCE_HEADER]: wrong } })).body).toBe('{"status":"ok"}');
    expect((await t.app.inject({ url: '/-/health', headers: { [INSTANCE_HEADER]: 'short' } })).body).toBe('{"status":"ok"}');
    // Wrong credentials are wrong here too.
    expect((await t.app.inject({ url: '/-/health', headers: { authorization: basic('admin', 'not-the-password') } })).statusCode).toBe(401);
  });

  it('gives the admin and the holder of the instance id everything', async () => {
    t = await makeApp(PRIVATE, { autoAdmin: false });
    for (const headers of [{ authorization: t.adminAuth }, { [INSTANCE_HEADER]: t.app.instance }]) {
      const res = await t.app.inject({ url: '/-/health', headers });
      expect(res.statusCode).toBe(200);
      const body = res.json() as Record<string, unknown>;
      expect(Value.Check(HealthSchema, body), res.body).toBe(true);
      expect(body).toMatchObject({ status: 'ok', pid: process.pid, dataDir: t.dataDir, packagesDir: t.packagesDir });
      // The id is never sent back.
      expect(res.body).not.toContain(t.app.instance);
    }
  });

  it('stays whole for everyone when reads are open (nothing there is private)', async () => {
    t = await makeApp({ authenticate: ['upload'] }, { autoAdmin: false });
    const body = (await t.app.inject('/-/health')).json() as Record<string, unknown>;
    expect(Value.Check(HealthSchema, body)).toBe(true);
  });
});

describe('the CLI finding its own daemon on a private index', () => {
  async function listening(): Promise<{ url: string; state: (instance: string) => DaemonState }> {
    t = await makeApp(PRIVATE, { autoAdmin: false });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (t.app.server.address() as AddressInfo).port;
    const url = `http://127.0.0.1:${port}`;
    const dataDir = t.dataDir;
    const packagesDir = t.packagesDir;
    return {
      url,
      // This test process is the daemon: the pid in the state file and in /-/health agree.
      state: (instance) => ({ pid: process.pid, url, host: '127.0.0.1', port, version: '0.0.0', startedAt: new Date().toISOString(), dataDir, packagesDir, instance }),
    };
  }

  it('gets the whole health with the state file, and only "up" without it', async () => {
    const { state } = await listening();
    const app = t as TestApp;
    const health = await daemonClientFor(state(app.app.instance)).health();
    expect(health.pid).toBe(process.pid);
    const other = daemonClientFor(state(randomBytes(16).toString('hex')));
    expect(await other.ping()).toEqual({ status: 'ok' });
    const err = await other.health().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonRequestError);
    expect((err as DaemonRequestError).code).toBe('PYREPO_CLIENT_HEALTH_WITHHELD');
  });

  it('probeDaemon: running with its own state file; a state file another daemon does not recognise is stale and removed', async () => {
    const { state } = await listening();
    const app = t as TestApp;
    const { stateFile } = dataLayout(app.dataDir);
    mkdirSync(app.dataDir, { recursive: true });
    writeFileSync(stateFile, JSON.stringify(state(app.app.instance)));
    const probe = await probeDaemon(app.dataDir);
    expect(probe.kind).toBe('running');
    expect(probe.kind === 'running' && probe.health.projects).toBe(0);

    writeFileSync(stateFile, JSON.stringify(state(randomBytes(16).toString('hex'))));
    const stale = await probeDaemon(app.dataDir);
    expect(stale.kind).toBe('stopped');
    expect(existsSync(stateFile)).toBe(false);
  });
});
