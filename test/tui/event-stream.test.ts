/**
 * followEvents against a real local server (HTTP, and HTTPS with a self-signed certificate
 * trusted as the daemon's own): what it sends (credentials, Last-Event-ID), what it hands
 * on (messages with their ids), and how each way of failing reads.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { followEvents, StreamError } from '../../src/tui/live/event-stream.js';
import type { SseMessage } from '../../src/tui/live/sse.js';
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

async function follow(baseUrl: string, extra: Partial<Parameters<typeof followEvents>[1]> = {}, target: { authorization?: string; tlsCertificate?: string } = {}) {
  const messages: SseMessage[] = [];
  let opened = 0;
  const error = await followEvents(
    { baseUrl, ...target },
    { signal: new AbortController().signal, onOpen: () => opened++, onMessage: (m) => messages.push(m), ...extra },
  ).then(
    () => undefined,
    (err: unknown) => err,
  );
  return { messages, opened, error };
}

describe('followEvents', () => {
  it('sends the credentials and Last-Event-ID, hands on messages with their ids, and reports the end of the stream', async () => {
    const seen: IncomingMessage[] = [];
    const port = await listen(createHttp(), sse(': hi\n\nid: 7\nevent: download\ndata: {"type":"download"}\n\nid: 8\ndata: {}\n\n', seen));
    const r = await follow(`http://127.0.0.1:${port}/`, { lastEventId: '6' }, { authorization: 'Basic abc' });
    expect(seen[0]?.url).toBe('/-/events');
    expect(seen[0]?.headers).toMatchObject({ authorization: 'Basic abc', 'last-event-id': '6', accept: 'text/event-stream' });
    expect(r.opened).toBe(1);
    expect(r.messages).toEqual([
      { event: 'download', data: '{"type":"download"}', id: '7' },
      { event: 'message', data: '{}', id: '8' },
    ]);
    expect(r.error).toBeInstanceOf(StreamError);
    expect((r.error as Error).message).toBe('The daemon closed the event stream.');
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
    expect(r.error).toMatchObject({ status: 401, message: 'The daemon refused the event stream (401): The control API needs the admin identity.' });
  });

  it('gives up on a stream that goes silent, and on an address where nothing listens', async () => {
    const port = await listen(createHttp(), sse(': open\n\n', [], true));
    const silent = await follow(`http://127.0.0.1:${port}`, { idleMs: 1000 });
    expect((silent.error as Error).message).toBe('The event stream went silent for 1 s.');
    const server = createHttp();
    const free = await listen(server, () => undefined);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    servers.splice(servers.indexOf(server), 1);
    const nobody = await follow(`http://127.0.0.1:${free}`);
    expect((nobody.error as Error).message).toMatch(/^Cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED\.$/);
  });

  it('stops quietly when aborted', async () => {
    const port = await listen(createHttp(), sse(': open\n\n', [], true));
    const abort = new AbortController();
    const done = followEvents({ baseUrl: `http://127.0.0.1:${port}` }, { signal: abort.signal, onOpen: () => abort.abort(), onMessage: () => undefined });
    await expect(done).resolves.toBeUndefined();
  });

  it.skipIf(NO_OPENSSL)('follows an HTTPS daemon, trusting its own certificate whatever name it was made for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pyrepo-sse-tls-'));
    try {
      const key = join(dir, 'key.pem');
      const cert = join(dir, 'cert.pem');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=board.lan'], { stdio: 'pipe' });
      const pem = readFileSync(cert, 'utf8');
      const port = await listen(createHttps({ key: readFileSync(key), cert: pem }), sse('id: 1\ndata: {}\n\n', []));
      const trusted = await follow(`https://127.0.0.1:${port}`, {}, { tlsCertificate: pem });
      expect(trusted.messages).toEqual([{ event: 'message', data: '{}', id: '1' }]);
      const untrusted = await follow(`https://127.0.0.1:${port}`);
      expect(untrusted.opened).toBe(0);
      expect((untrusted.error as Error).message).toMatch(/^Cannot reach https:\/\/127\.0\.0\.1:\d+: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
