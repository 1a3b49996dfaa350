/**
 * The front door (src/daemon/front-door.ts) over raw sockets to the listening daemon: what it
 * answers is byte for byte what node:http answers; pipelined requests, a head in pieces and
 * a client that does not read are answered in order and whole; everything that is not a
 * plain GET is handed to node:http with the bytes already read, and goes on there on the
 * same connection; closing the server does not wait for idle connections.
 */
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formFieldsFor, makeApp, makeDist, upload, uploadForm, type TestApp } from '../helpers/app.js';
import { wheelFilename, type DistSpec } from '../helpers/dists.js';
import { plainRequest } from '../../src/daemon/front-door.js';

const SPEC: DistSpec = { name: 'Door', version: '1.0' };
/** Text that does not compress: 150 KB of base64 from a hash chain. */
const noise = Array.from({ length: 3400 }, (_, i) => `# ${createHash('sha256').update(String(i)).digest('base64')}`).join('\n');
/** Over 64 KiB (its head and body go out in a writev, and fill the socket soon), under READ_AT_ONCE_BYTES (answered hot). */
const BIG: DistSpec = { name: 'Door', version: '2.0', modules: { 'door/data.py': `${noise}\n` } };
const WHEEL = wheelFilename(SPEC);
const BIG_WHEEL = wheelFilename(BIG);
const PAGE_ACCEPT = 'application/vnd.pypi.simple.v1+json';

let t: TestApp;
let port: number;

beforeAll(async () => {
  t = await makeApp({ logLevel: 'info', accessLog: true });
  expect((await upload(t.app, SPEC, 'wheel')).res.statusCode).toBe(200);
  expect((await upload(t.app, BIG, 'wheel')).res.statusCode).toBe(200);
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.server.address() as { port: number }).port;
  // Rendered once, so that the front door answers the page.
  await t.app.inject({ url: '/simple/door/', headers: { accept: PAGE_ACCEPT } });
});
afterAll(async () => {
  await t?.close();
});

interface Response {
  head: string;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** A raw connection: writes bytes, reads whole responses (Content-Length framed, or to the end). */
class Raw {
  readonly socket: Socket;
  private buffer = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | undefined;

  constructor() {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake?.();
    });
    const ended = () => {
      this.ended = true;
      this.wake?.();
    };
    this.socket.on('end', ended);
    this.socket.on('close', ended);
    this.socket.on('error', () => undefined);
  }

  send(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  private async more(what: string): Promise<void> {
    if (this.ended) throw new Error(`The connection ended while waiting for ${what}.`);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}.`)), 5000);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** The next response; `bodiless` for the answer to a HEAD. */
  async response(bodiless = false): Promise<Response> {
    let end: number;
    while ((end = this.buffer.indexOf('\r\n\r\n')) === -1) await this.more('a head');
    const head = this.buffer.toString('latin1', 0, end);
    const [statusLine, ...lines] = head.split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
    const status = Number(statusLine?.split(' ')[1]);
    const length = bodiless || status === 304 ? 0 : headers['content-length'] !== undefined ? Number(headers['content-length']) : undefined;
    if (length === undefined) {
      while (!this.ended) await this.more('the end of a body');
    } else {
      while (this.buffer.length < end + 4 + length) await this.more('a body');
    }
    const stop = length === undefined ? this.buffer.length : end + 4 + length;
    const body = this.buffer.subarray(end + 4, stop);
    this.buffer = this.buffer.subarray(stop);
    return { head, status, headers, body };
  }

  async closed(): Promise<boolean> {
    if (this.ended || this.socket.destroyed) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), 3000);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

const get = (path: string, headers: Record<string, string> = {}) =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

/** The response to one request on a new connection, with how many were answered at the front door. */
async function once(request: string | Buffer, bodiless = false): Promise<{ res: Response; front: number; handed: number }> {
  const door = t.app.frontDoor!;
  const [answered, handed] = [door.answered, door.handedOver];
  const raw = new Raw();
  raw.send(request);
  const res = await raw.response(bodiless);
  raw.close();
  return { res, front: door.answered - answered, handed: door.handedOver - handed };
}

const withoutDate = (head: string) => head.replace(/\r\nDate: [^\r]+/, '\r\nDate: -');

describe('the front door answers plain GETs as node:http does', () => {
  it.each([
    ['a file', `/packages/${WHEEL}`, {}],
    ['a file over 64 KiB (head and body in two writes)', `/packages/${BIG_WHEEL}`, {}],
    ['a page', '/simple/door/', { Accept: PAGE_ACCEPT }],
    ['a page asked with Connection: keep-alive and spaces around values', '/simple/door/', { Accept: `  ${PAGE_ACCEPT}\t`, Connection: 'Keep-Alive' }],
  ])('%s: the same bytes', async (_what, path, headers) => {
    const front = await once(get(path, headers));
    // A repeated header is not plain: the same request then goes through node:http (and its hot path).
    const viaHttp = await once(get(path, { ...headers, 'X-Twice': 'a' }).replace('\r\n\r\n', '\r\nX-Twice: b\r\n\r\n'));
    expect([front.front, front.handed, viaHttp.front, viaHttp.handed]).toEqual([1, 0, 0, 1]);
    expect(front.res.status).toBe(200);
    expect(withoutDate(front.res.head)).toBe(withoutDate(viaHttp.res.head));
    expect(front.res.body.equals(viaHttp.res.body)).toBe(true);
    expect(front.res.head).toMatch(/\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\n/);
  });

  it("a page's 304: the same bytes", async () => {
    const etag = (await once(get('/simple/door/', { Accept: PAGE_ACCEPT }))).res.headers.etag as string;
    const headers = { Accept: PAGE_ACCEPT, 'If-None-Match': etag };
    const front = await once(get('/simple/door/', headers));
    const viaHttp = await once(get('/simple/door/', { ...headers, 'x-twice': 'a' }).replace('\r\n\r\n', '\r\nx-twice: a\r\n\r\n'));
    expect([front.res.status, front.front, viaHttp.handed]).toEqual([304, 1, 1]);
    expect(withoutDate(front.res.head)).toBe(withoutDate(viaHttp.res.head));
  });

  it('has a file over 64 KiB and under 256 KiB to send', async () => {
    const { res } = await once(get(`/packages/${BIG_WHEEL}`));
    expect(res.body.length).toBeGreaterThan(64 * 1024);
    expect(res.body.length).toBeLessThan(256 * 1024);
  });

  it('answers pipelined requests in order, and a head that arrives a byte at a time', async () => {
    const raw = new Raw();
    raw.send(get(`/packages/${WHEEL}`) + get('/simple/door/', { Accept: PAGE_ACCEPT }) + get(`/packages/${BIG_WHEEL}`));
    const [a, b, c] = [await raw.response(), await raw.response(), await raw.response()];
    expect([a.status, b.status, c.status]).toEqual([200, 200, 200]);
    expect(b.headers['content-type']).toBe(PAGE_ACCEPT);
    expect(Number(c.headers['content-length'])).toBe(c.body.length);
    const slow = Buffer.from(get(`/packages/${WHEEL}`));
    for (const byte of slow) {
      raw.send(Buffer.from([byte]));
      await new Promise((r) => setImmediate(r));
    }
    expect((await raw.response()).body.equals(a.body)).toBe(true);
    raw.close();
  });

  it('renders a page not rendered yet and answers it here, the requests pipelined behind it in order; an unknown name goes to node:http', async () => {
    const later: DistSpec = { name: 'Later', version: '1.0' };
    expect((await upload(t.app, later, 'wheel')).res.statusCode).toBe(200);
    const door = t.app.frontDoor!;
    const [answered, handed] = [door.answered, door.handedOver];
    const raw = new Raw();
    raw.send(get('/simple/later/', { Accept: PAGE_ACCEPT }) + get(`/packages/${WHEEL}`) + get('/simple/later/', { Accept: PAGE_ACCEPT }));
    const [a, b, c] = [await raw.response(), await raw.response(), await raw.response()];
    expect([a.status, b.status, c.status]).toEqual([200, 200, 200]);
    expect(JSON.parse(a.body.toString()) as { name: string }).toMatchObject({ name: 'later' });
    expect(b.headers['content-type']).not.toBe(PAGE_ACCEPT);
    expect(c.body.equals(a.body)).toBe(true);
    expect([door.answered - answered, door.handedOver - handed]).toEqual([3, 0]);
    raw.close();

    const unknown = await once(get('/simple/no-such-project/', { Accept: PAGE_ACCEPT }));
    expect([unknown.res.status, unknown.front, unknown.handed]).toEqual([404, 0, 1]);
  });

  it('reads no further while a client does not read its answers, and then answers all of them', async () => {
    const raw = new Raw();
    raw.socket.pause();
    const count = 60;
    raw.send(get(`/packages/${BIG_WHEEL}`).repeat(count));
    // Well over what the socket buffers take: the daemon stops reading until these are read.
    await new Promise((r) => setTimeout(r, 200));
    raw.socket.resume();
    const sizes = new Set<number>();
    for (let i = 0; i < count; i++) sizes.add((await raw.response()).body.length);
    expect([...sizes]).toHaveLength(1);
    raw.close();
  });

  it('answers many connections asking at once, each in order (small answers go out in batches of 16 connections)', async () => {
    const small = (await once(get(`/packages/${WHEEL}`))).res.body;
    const page = (await once(get('/simple/door/', { Accept: PAGE_ACCEPT }))).res.body;
    const raws = Array.from({ length: 40 }, () => new Raw());
    for (const raw of raws) raw.send(get(`/packages/${WHEEL}`) + get('/simple/door/', { Accept: PAGE_ACCEPT }) + get(`/packages/${BIG_WHEEL}`) + get(`/packages/${WHEEL}`));
    for (const raw of raws) {
      const [a, b, c, d] = [await raw.response(), await raw.response(), await raw.response(), await raw.response()];
      expect([a.status, b.status, c.status, d.status]).toEqual([200, 200, 200, 200]);
      expect(a.body.equals(small) && b.body.equals(page) && d.body.equals(small)).toBe(true);
      expect(c.body.length).toBe(Number(c.headers['content-length']));
      raw.close();
    }
  });

  it('answers a burst of small pipelined answers larger than what a connection may leave unsent', async () => {
    const small = (await once(get(`/packages/${WHEEL}`))).res.body;
    const count = Math.ceil((3 * 64 * 1024) / small.length);
    const raw = new Raw();
    raw.send(get(`/packages/${WHEEL}`).repeat(count));
    for (let i = 0; i < count; i++) expect((await raw.response()).body.equals(small)).toBe(true);
    raw.close();
  });

  it('counts each download it answers and writes its access line', async () => {
    const downloads = async () => ((await t.app.inject({ url: '/-/api/projects/door' })).json() as { downloads: number }).downloads;
    const before = await downloads();
    const { front } = await once(get(`/packages/${WHEEL}`, { 'User-Agent': 'pip/24.0' }));
    expect(front).toBe(1);
    expect(await downloads()).toBe(before + 1);
  });
});

describe('everything else is handed to node:http, with the bytes already read', () => {
  it('an upload after a download on the same connection, and the requests after it', async () => {
    const raw = new Raw();
    raw.send(get(`/packages/${WHEEL}`));
    expect((await raw.response()).status).toBe(200);
    const spec = { name: 'Door', version: '3.0' };
    const dist = makeDist(spec, 'wheel');
    const form = uploadForm(dist.bytes, dist.filename, formFieldsFor(spec, dist));
    const head = `POST /legacy/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${form.headers['content-type']}\r\nContent-Length: ${form.payload.length}\r\n\r\n`;
    // The upload and a download behind it in one write: both must arrive at node:http whole.
    // (node:http starts on a pipelined request before the one ahead is answered, so the
    // download is of a file there already.)
    raw.send(Buffer.concat([Buffer.from(head), form.payload, Buffer.from(get(`/packages/${WHEEL}`))]));
    expect((await raw.response()).status).toBe(200);
    const behind = await raw.response();
    expect(behind.status).toBe(200);
    expect(behind.headers['content-type']).toBe('application/zip');
    raw.send(get(`/packages/${dist.filename}`));
    const downloaded = await raw.response();
    expect(downloaded.status).toBe(200);
    expect(downloaded.body.equals(dist.bytes)).toBe(true);
    raw.close();
  });

  it.each([
    ['HTTP/1.0', `GET /packages/${WHEEL} HTTP/1.0\r\n\r\n`, 200],
    ['Connection: close', get(`/packages/${WHEEL}`, { Connection: 'close' }), 200],
    ['HEAD', get(`/packages/${WHEEL}`).replace(/^GET/, 'HEAD'), 200],
    ['a query string (the route decides)', get('/simple/door/?x=1', { Accept: PAGE_ACCEPT }), 200],
    ['no Host', `GET /packages/${WHEEL} HTTP/1.1\r\n\r\n`, 400],
    ['a bare LF', `GET /packages/${WHEEL} HTTP/1.1\nHost: x\n\n`, 400],
    ['a bare LF inside a head that ends with CRLF CRLF', `GET /packages/${WHEEL} HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n`, 400],
    ['a head over 16 KiB', get(`/packages/${WHEEL}`, { 'X-Big': 'y'.repeat(17_000) }), 431],
    ['a header name with a space', `GET /packages/${WHEEL} HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n`, 400],
    ['a control character in a value', `GET /packages/${WHEEL} HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n`, 400],
    ['an unknown file', get('/packages/nothing-1.0.tar.gz'), 404],
  ])('%s', async (what, request, status) => {
    const { res, front, handed } = await once(request, what === 'HEAD');
    expect(res.status).toBe(status);
    expect([front, handed]).toEqual([0, 1]);
  });

  it('only plain GETs are read as such', () => {
    expect(plainRequest(`GET /simple/ HTTP/1.1\r\nHost: x\r\nAccept: text/html`)).toEqual({ method: 'GET', url: '/simple/', headers: { host: 'x', accept: 'text/html' } });
    // Names in any case, values trimmed of spaces and tabs, an empty value, keep-alive asked for.
    expect(plainRequest(`GET /a HTTP/1.1\r\nHOST:x\r\nX-Empty:\r\nUser-Agent: \tpip/24 (a:b) \t\r\nConnection: Keep-Alive`)).toEqual({
      method: 'GET',
      url: '/a',
      headers: { host: 'x', 'x-empty': '', 'user-agent': 'pip/24 (a:b)', connection: 'Keep-Alive' },
    });
    for (const head of [
      'GET /simple/ HTTP/1.1',
      'POST /legacy/ HTTP/1.1\r\nHost: x',
      'GET simple HTTP/1.1\r\nHost: x',
      'GET /simple/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0',
      'GET /simple/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked',
      'GET /simple/ HTTP/1.1\r\nHost: x\r\n folded',
      'GET /simple/ HTTP/1.1\r\nHost: x\r\nHost: y',
      'GET /simple/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket',
      'GET /sim ple/ HTTP/1.1\r\nHost: x',
      'GET /simple/ HTTP/1.1\r\nHost: x\r\nX: caf\xe9',
      'GET /simple/ HTTP/1.1\r\nHost: x\r\n: no name',
      'GET /simple/ HTTP/1.1\r\nHost: x\r\nX: a\rb',
      'GET /simple/ HTTP/1.1\r\nHost: x\nX: b',
      'GET /simple/ HTTP/1.1\r\nHost: x\r\nX\t: y',
      'GET /simple/ HTTP/1.1\r\nHost: x\r\n',
      'GET /simple/ HTTP/1.1\r\nHost: x\r\nConnection: close',
    ]) {
      expect(plainRequest(head), JSON.stringify(head)).toBeUndefined();
    }
  });

  it('reads header lines met before as it read them the first time, whatever the request line', () => {
    const fields = '\r\nHost: x\r\nAccept: text/html';
    for (const url of ['/simple/a/', '/packages/b.whl', '/simple/a/']) {
      expect(plainRequest(`GET ${url} HTTP/1.1${fields}`)).toEqual({ method: 'GET', url, headers: { host: 'x', accept: 'text/html' } });
      // The same lines after a request line that is not plain, and lines that are not plain after a plain one.
      expect(plainRequest(`POST ${url} HTTP/1.1${fields}`)).toBeUndefined();
      expect(plainRequest(`GET ${url} HTTP/1.1\r\nHost: x\r\nContent-Length: 0`)).toBeUndefined();
      expect(plainRequest(`GET ${url} HTTP/1.0${fields}`)).toBeUndefined();
    }
  });
});

describe('closing', () => {
  it('closes a connection held at the front door once it has been idle for keepAliveTimeout, not before', async () => {
    const c = await makeApp();
    expect((await upload(c.app, SPEC, 'wheel')).res.statusCode).toBe(200);
    c.app.server.keepAliveTimeout = 400;
    await c.app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const p = (c.app.server.address() as { port: number }).port;
      const socket = connect(p, '127.0.0.1');
      socket.on('error', () => undefined);
      let closedAt = 0;
      socket.once('close', () => (closedAt = Date.now()));
      const ask = () => {
        const answered = new Promise<void>((resolve) => socket.once('data', () => resolve()));
        socket.write(`GET /packages/${WHEEL} HTTP/1.1\r\nHost: x\r\n\r\n`);
        return answered;
      };
      // A request every 200 ms keeps it open for more than twice its timeout.
      for (let i = 0; i < 5; i++) {
        await ask();
        await new Promise((r) => setTimeout(r, 200));
      }
      await ask();
      const lastActive = Date.now();
      expect(c.app.frontDoor?.connections).toBe(1);
      while (closedAt === 0 && Date.now() - lastActive < 5000) await new Promise((r) => setTimeout(r, 20));
      expect(closedAt - lastActive).toBeGreaterThanOrEqual(400);
      // Looked for four times per timeout here, with room for a busy machine.
      expect(closedAt - lastActive).toBeLessThan(1500);
      expect(c.app.frontDoor?.connections).toBe(0);
    } finally {
      await c.close();
    }
  });

  it('closes idle connections held at the front door at once', async () => {
    const c = await makeApp();
    expect((await upload(c.app, SPEC, 'wheel')).res.statusCode).toBe(200);
    await c.app.listen({ host: '127.0.0.1', port: 0 });
    const p = (c.app.server.address() as { port: number }).port;
    const socket = connect(p, '127.0.0.1');
    socket.on('error', () => undefined);
    const answered = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write(`GET /packages/${WHEEL} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await answered;
    expect(c.app.frontDoor?.connections).toBe(1);
    const started = Date.now();
    const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await c.close();
    await gone;
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
