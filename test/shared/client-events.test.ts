/**
 * DaemonClient.events against a real local server (HTTP, and HTTPS with a self-signed
 * certificate trusted as the daemon's own): what it sends (credentials, Last-Event-ID),
 * what it hands on (events with their ids, unknown ones apart), and how each way of
 * failing reads.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { IndexEvent } from '../../src/shared/api.js';
import { DaemonClient, DaemonRequestError, type EventStreamOptions } from '../../src/shared/client.js';
import { requireTools } from '../helpers/keyring-session.js';

const NO_OPENSSL = requireTools('event stream over TLS', [['openssl', ['version']]]).length > 0;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function listen(server: Server, handler: Handler): Promise<number> {
  server.on('request', handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** An SSE endpoint that sends `body`, then ends (or stays open with `hold`). */
function sse(body: string, seen: IncomingMessage[], hold = false): Handler {
  return (req, res) => {
    seen.push(req);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(body);
    if (!hold) res.end();
  };
}

async function follow(baseUrl: string, extra: Partial<EventStreamOptions> = {}, target: { authorization?: string; tlsCertificate?: string } = {}) {
  const events: { event: IndexEvent; id: string | undefined }[] = [];
  const unknown: { type: string; data: unknown; id: string | undefined }[] = [];
  let opened = 0;
  const error = await new DaemonClient(baseUrl, target)
    .events({
      signal: new AbortController().signal,
      onOpen: () => opened++,
      onEvent: (event, id) => events.push({ event, id }),
      onUnknown: (type, data, id) => unknown.push({ type, data, id }),
      ...extra,
    })
    .then(
      () => undefined,
      (err: unknown) => err,
    );
  return { events, unknown, opened, error };
}

const YANK = { type: 'yank', time: '2026-01-01T00:00:00.000Z', project: 'p', version: '1.0', reason: null };

describe('DaemonClient.events', () => {
  it('sends the credentials and Last-Event-ID, hands on events with their ids (unknown ones apart), and reports the end of the stream', async () => {
    const seen: IncomingMessage[] = [];
    const port = await listen(createHttp(), sse(`: hi\n\nid: 7\nevent: yank\ndata: ${JSON.stringify(YANK)}\n\nid: 8\nevent: future\ndata: {"type":"future"}\n\n`, seen));
    const r = await follow(`http://127.0.0.1:${port}/`, { lastEventId: '6' }, { authorization: 'Basic abc' });
    expect(seen[0]?.url).toBe('/-/events');
    expect(seen[0]?.headers).toMatchObject({ authorization: 'Basic abc', 'last-event-id': '6', accept: 'text/event-stream' });
    expect(r.opened).toBe(1);
    expect(r.events).toEqual([{ event: YANK, id: '7' }]);
    expect(r.unknown).toEqual([{ type: 'future', data: { type: 'future' }, id: '8' }]);
    expect(r.error).toBeInstanceOf(DaemonRequestError);
    expect(r.error).toMatchObject({ code: 'PYREPO_CLIENT_STREAM_ENDED', message: `The daemon at http://127.0.0.1:${port} closed the event stream.` });
  });

  it('sends no Last-Event-ID on a first connection', async () => {
    const seen: IncomingMessage[] = [];
    const port = await listen(createHttp(), sse('', seen));
    await follow(`http://127.0.0.1:${port}`);
    expect(seen[0]?.headers).not.toHaveProperty('last-event-id');
  });

  it('says why the daemon refused, in its own words', async () => {
    const port = await listen(createHttp(), (_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ statusCode: 401, code: 'PYREPO_AUTH', error: 'Unauthorized', message: 'The control API needs the admin identity.' }));
    });
    const r = await follow(`http://127.0.0.1:${port}`);
    expect(r.opened).toBe(0);
    expect(r.error).toMatchObject({ status: 401, code: 'PYREPO_AUTH', message: 'The control API needs the admin identity.' });
  });

  it('gives up on a stream that goes silent, and on an address where nothing listens', async () => {
    const port = await listen(createHttp(), sse(': open\n\n', [], true));
    const silent = await follow(`http://127.0.0.1:${port}`, { idleMs: 1000 });
    expect(silent.error).toMatchObject({ code: 'PYREPO_CLIENT_TIMEOUT', message: `The event stream of http://127.0.0.1:${port} went silent for 1 s.` });
    const server = createHttp();
    const free = await listen(server, () => undefined);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    servers.splice(servers.indexOf(server), 1);
    const nobody = await follow(`http://127.0.0.1:${free}`);
    expect(nobody.error).toMatchObject({ code: 'PYREPO_CLIENT_UNREACHABLE' });
    expect((nobody.error as Error).message).toMatch(/could not connect \(ECONNREFUSED\)/);
  });

  it('stops quietly when aborted', async () => {
    const port = await listen(createHttp(), sse(': open\n\n', [], true));
    const abort = new AbortController();
    const done = new DaemonClient(`http://127.0.0.1:${port}`).events({ signal: abort.signal, onOpen: () => abort.abort(), onEvent: () => undefined });
    await expect(done).resolves.toBeUndefined();
  });

  it.skipIf(NO_OPENSSL)('follows an HTTPS daemon, trusting its own certificate whatever name it was made for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pyrepo-sse-tls-'));
    try {
      const key = join(dir, 'key.pem');
      const cert = join(dir, 'cert.pem');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=board.lan'], { stdio: 'pipe' });
      const pem = readFileSync(cert, 'utf8');
      const port = await listen(createHttps({ key: readFileSync(key), cert: pem }), sse(`id: 1\ndata: ${JSON.stringify(YANK)}\n\n`, []));
      const trusted = await follow(`https://127.0.0.1:${port}`, {}, { tlsCertificate: pem });
      expect(trusted.events).toEqual([{ event: YANK, id: '1' }]);
      const untrusted = await follow(`https://127.0.0.1:${port}`);
      expect(untrusted.opened).toBe(0);
      expect(untrusted.error).toMatchObject({ code: 'PYREPO_CLIENT_TLS' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
