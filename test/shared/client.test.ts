/**
 * The typed daemon client against small local servers: answers checked against their
 * schemas, errors classified (nothing listening, a refused certificate, a bad answer), and
 * an HTTPS daemon reached by trusting its own certificate.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Health } from '../../src/shared/api.js';
import { daemonClientFor, DaemonClient, DaemonRequestError } from '../../src/shared/client.js';
import { requireTools } from '../helpers/keyring-session.js';

const HEALTH: Health = {
  status: 'ok',
  version: '0.0.0',
  pid: 1234,
  startedAt: '2026-01-01T00:00:00.000Z',
  uptimeSeconds: 5,
  projects: 0,
  files: 0,
  dataDir: '/d',
  packagesDir: '/p',
  indexing: false,
  problems: [],
  access: 'open',
  authenticate: ['upload'],
};

function handler(req: IncomingMessage, res: ServerResponse): void {
  if (req.url === '/-/health') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(HEALTH));
  } else if (req.url === '/-/api/projects') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"not":"projects"}');
  } else {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ statusCode: 404, code: 'PYREPO_NOT_FOUND', error: 'Not Found', message: `Nothing at ${req.url}` }));
  }
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

async function failure(p: Promise<unknown>): Promise<DaemonRequestError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DaemonRequestError);
  return err as DaemonRequestError;
}

describe('DaemonClient over HTTP', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createHttpServer(handler);
    base = `http://127.0.0.1:${await listen(server)}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('returns answers that match their schema, and any path status', async () => {
    const client = new DaemonClient(`${base}/`);
    expect(await client.health()).toEqual(HEALTH);
    expect(await client.statusOf('/elsewhere')).toBe(404);
  });

  it('classifies failures: a bad answer, an error body, nothing listening', async () => {
    const client = new DaemonClient(base);
    expect((await failure(client.listProjects())).code).toBe('PYREPO_CLIENT_BAD_RESPONSE');
    const missing = await failure(client.project('nope'));
    expect([missing.status, missing.code, missing.message]).toEqual([404, 'PYREPO_NOT_FOUND', 'Nothing at /-/api/projects/nope']);
    const closed = createHttpServer();
    const port = await listen(closed);
    await new Promise<void>((r) => closed.close(() => r()));
    const refused = await failure(new DaemonClient(`http://127.0.0.1:${port}`).health());
    expect([refused.status, refused.code]).toEqual([0, 'PYREPO_CLIENT_UNREACHABLE']);
  });
});

const TLS_TOOLS = requireTools('client tests', [['openssl', ['version']]]);

describe.skipIf(TLS_TOOLS.length > 0)('DaemonClient over HTTPS', () => {
  let dir: string;
  let server: Server;
  let base: string;
  let certFile: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pyrepo-client-tls-'));
    certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    // A certificate for another name: the client trusts this certificate, not a host name.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=pypi.example.lan'], { stdio: 'pipe' });
    server = createHttpsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, handler);
    base = `https://127.0.0.1:${await listen(server)}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("trusts the daemon's own certificate from its state file, whatever name it was made for", async () => {
    const state = { pid: 1234, url: base, host: '127.0.0.1', port: 0, version: '0.0.0', startedAt: '', dataDir: '/d', packagesDir: '/p', tlsCert: certFile };
    const client = daemonClientFor(state);
    expect((await client.health()).pid).toBe(1234);
    expect(await client.statusOf('/x')).toBe(404);
  });

  it('refuses the certificate without it, saying so (not "nothing listens")', async () => {
    const err = await failure(new DaemonClient(base).health());
    expect(err.code).toBe('PYREPO_CLIENT_TLS');
    expect(err.message).toMatch(/the TLS connection failed/);
  });

  it('names an unreadable certificate file', () => {
    const state = { pid: 1, url: base, host: '127.0.0.1', port: 0, version: '', startedAt: '', dataDir: '', packagesDir: '', tlsCert: join(dir, 'gone.pem') };
    expect(() => daemonClientFor(state)).toThrow(/Cannot read the daemon's TLS certificate .*gone\.pem/);
  });
});
