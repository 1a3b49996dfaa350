/**
 * Upload bodies that are not whole multipart forms: the wrong content type, a form cut off
 * before its closing boundary, a connection closed or gone quiet mid-body. Each gets a
 * clear answer (or none, when the client is gone), nothing is written, and the daemon
 * keeps answering. In-process with inject, and over real sockets for what only a
 * connection can do.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/daemon/app.js';
import { formFieldsFor, listTree, makeDist, testSettings, uploadForm } from '../helpers/app.js';

const SPEC = { name: 'body_demo', version: '1.0' };
const WHEEL = makeDist(SPEC, 'wheel');
const FORM = uploadForm(WHEEL.bytes, WHEEL.filename, formFieldsFor(SPEC, WHEEL));
const CLOSING = Buffer.from('------pyrepoTestBoundary7MA4YWxkTrZu0gW--\r\n');
/** Short, so that a stalled upload is answered within the test's time. */
const IDLE_MS = 700;

let root: string;
let packagesDir: string;
let app: FastifyInstance;
let port: number;
const logged: { level: number; msg: string }[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pyrepo-body-'));
  const settings = testSettings(root, { logLevel: 'info' });
  packagesDir = settings.packagesDir;
  await mkdir(settings.dataDir, { recursive: true });
  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logged.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  app = await buildApp({ settings, logStream, uploadIdleTimeoutMs: IDLE_MS });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
});

afterAll(async () => {
  await app?.close();
  await rm(root, { recursive: true, force: true });
});

/** The packages folder holds nothing (no file, no temporary file), and the daemon answers. */
async function nothingWritten(): Promise<void> {
  expect(await listTree(packagesDir)).toEqual([]);
  expect((await app.inject({ url: '/-/health' })).statusCode).toBe(200);
  expect(logged.filter((l) => l.level >= 50), JSON.stringify(logged)).toEqual([]);
}

function post(payload: Buffer | string | Readable, headers: Record<string, string>) {
  return app.inject({ method: 'POST', url: '/legacy/', payload, headers });
}

describe('an upload that is not multipart/form-data', () => {
  it.each([
    ['application/json', '{"name": "body_demo"}'],
    ['application/json', '{not json'],
    ['text/plain', 'hello'],
    ['application/octet-stream', WHEEL.bytes],
    ['application/zip', WHEEL.bytes],
  ] as const)('is refused, naming %s and saying uploads are multipart/form-data', async (type, body) => {
    const res = await post(body, { 'content-type': type });
    expect(res.statusCode, res.body).toBe(415);
    for (const text of [res.body, res.statusMessage]) {
      expect(text).toContain(`Content-Type '${type}'`);
      expect(text).toContain('multipart/form-data');
    }
    await nothingWritten();
  });

  it('is refused at / (pypiserver) as at /legacy/', async () => {
    const res = await app.inject({ method: 'POST', url: '/', payload: 'x', headers: { 'content-type': 'text/plain' } });
    expect(res.statusCode).toBe(415);
    expect(res.body).toMatch(/multipart\/form-data.*'text\/plain'/);
  });

  it('still serves a urlencoded remove_pkg (pypiserver) and says why a bodiless POST is no upload', async () => {
    const remove = await post(new URLSearchParams({ ':action': 'remove_pkg', name: 'nothing', version: '1' }).toString(), {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(remove.statusCode).toBe(404);
    const empty = await app.inject({ method: 'POST', url: '/legacy/' });
    expect(empty.statusCode).toBe(400);
    expect(empty.body).toMatch(/:action.*multipart\/form-data/);
  });

  it('names a multipart Content-Type without a boundary', async () => {
    const res = await post(FORM.payload, { 'content-type': 'multipart/form-data' });
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatch(/no boundary parameter/);
    await nothingWritten();
  });
});

/**
 * The two ways a form is read: whole, when its Content-Length says it fits in memory
 * (upload-form.ts), or streamed through busboy (a body of unknown length, or a large one).
 */
const WAYS = [
  ['read whole', (payload: Buffer) => payload],
  ['streamed (no Content-Length)', (payload: Buffer) => Readable.from([payload])],
] as const;

describe.each(WAYS)('a multipart body sent with inject (the whole, short body arrives), %s', (_way, send) => {
  it.each([
    ['without its closing boundary', FORM.payload.subarray(0, FORM.payload.length - CLOSING.length)],
    ['between two fields', FORM.payload.subarray(0, FORM.payload.indexOf('\r\n------pyrepo', 200) + 2)],
    ['inside a field', FORM.payload.subarray(0, 100)],
    ['inside a part header', FORM.payload.subarray(0, 30)],
  ])('is refused 400 as cut off, %s', async (_where, payload) => {
    const res = await post(send(payload), FORM.headers);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.body).toMatch(/^The multipart body ended (after \d+ bytes, without its closing boundary|before the file was complete): the upload was cut off/);
    expect(res.statusMessage).toMatch(/cut off/);
    await nothingWritten();
  });

  it('is refused 400 inside the file, in one message (not wrapped in another)', async () => {
    const res = await post(send(FORM.payload.subarray(0, FORM.payload.length - 300)), FORM.headers);
    expect(res.statusCode).toBe(400);
    expect(res.body).toBe('The multipart body ended before the file was complete: the upload was cut off (by the client or a proxy); nothing was stored.\n');
    await nothingWritten();
  });

  it('is refused 400 when its content part has no filename (a field, whatever its Content-Type)', async () => {
    const content = FORM.payload.indexOf('name="content"');
    const head = FORM.payload.subarray(0, content).lastIndexOf('------pyrepo');
    const noFilename = Buffer.concat([
      FORM.payload.subarray(0, head),
      Buffer.from('------pyrepoTestBoundary7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name="content"\r\nContent-Type: application/octet-stream\r\n\r\nnot a file\r\n'),
      CLOSING,
    ]);
    const res = await post(send(noFilename), FORM.headers);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.body).toMatch(/does not have a file/);
    await nothingWritten();
  });

  it('is accepted whole', async () => {
    const res = await post(send(FORM.payload), FORM.headers);
    expect(res.statusCode, res.body).toBe(200);
    expect(await listTree(packagesDir)).toEqual([WHEEL.filename]);
    const removed = await app.inject({ method: 'POST', url: '/legacy/', payload: new URLSearchParams({ ':action': 'remove_pkg', name: SPEC.name, version: SPEC.version }).toString(), headers: { ...FORM.headers, 'content-type': 'application/x-www-form-urlencoded' } });
    expect(removed.statusCode, removed.body).toBe(200);
    await nothingWritten();
  });
});

interface RawAnswer {
  /** Everything the server sent. */
  text: string;
  /** Whether the server closed the connection (within the wait). */
  closed: boolean;
  ms: number;
}

/**
 * Sends `head` and `body` on a raw connection, then ends it (`end`: a FIN, the declared
 * length never met), resets it (`reset`), or keeps it open (`wait`). Resolves when the
 * server closes the connection or `timeoutMs` passes.
 */
function rawPost(head: string, body: Buffer, after: 'end' | 'reset' | 'wait', timeoutMs: number): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed, ms: Date.now() - started });
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('close', () => done(true));
    socket.on('error', () => undefined);
    socket.write(head);
    socket.write(body, () => {
      if (after === 'end') socket.end();
      if (after === 'reset') socket.resetAndDestroy();
    });
  });
}

function headFor(contentLength: number): string {
  return `POST /legacy/ HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: ${FORM.headers['content-type']}\r\nContent-Length: ${contentLength}\r\n\r\n`;
}

/** A head without Content-Length, its body sent in chunks: the form streams through busboy. */
const CHUNKED_HEAD = () => `POST /legacy/ HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: ${FORM.headers['content-type']}\r\nTransfer-Encoding: chunked\r\n\r\n`;
/** `bytes` as one chunk, the body not ended (no last chunk). */
const oneChunk = (bytes: Buffer) => Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]);

describe('a chunked multipart body (streamed through busboy) cut off on a real connection', () => {
  const part = FORM.payload.subarray(0, FORM.payload.length - 300);

  it('closed by the client: 400 in plain text, then the connection closes', async () => {
    const answer = await rawPost(CHUNKED_HEAD(), oneChunk(part), 'end', 5000);
    expect(answer.closed).toBe(true);
    expect(answer.text).toMatch(/^HTTP\/1\.1 400 The connection was closed before the request body was complete/);
    await nothingWritten();
  });

  it('that stops arriving: 408 after the idle time, then closed', async () => {
    const answer = await rawPost(CHUNKED_HEAD(), oneChunk(part), 'wait', IDLE_MS + 5000);
    expect(answer.closed).toBe(true);
    expect(answer.ms).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(answer.text).toMatch(/^HTTP\/1\.1 408 The upload stopped arriving/);
    await nothingWritten();
  });
});

describe('a multipart body cut off on a real connection', () => {
  const full = FORM.payload.length;

  it.each([
    ['inside the file', FORM.payload.subarray(0, full - 300)],
    ['inside the fields', FORM.payload.subarray(0, 100)],
  ])('closed by the client %s (fewer bytes than Content-Length): 400 in plain text, then the connection closes', async (_where, body) => {
    const answer = await rawPost(headFor(full), body, 'end', 5000);
    expect(answer.closed).toBe(true);
    expect(answer.text).toMatch(/^HTTP\/1\.1 400 The connection was closed before the request body was complete/);
    expect(answer.text).toContain('Content-Type: text/plain; charset=utf-8');
    expect(answer.text).not.toContain('Client Error');
    await nothingWritten();
  });

  it('that stops arriving (more bytes declared than sent, connection kept open): 408 after the idle time, then closed', async () => {
    const answer = await rawPost(headFor(full), FORM.payload.subarray(0, full - 300), 'wait', IDLE_MS + 5000);
    expect(answer.closed).toBe(true);
    expect(answer.ms).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(answer.text).toMatch(/^HTTP\/1\.1 408 The upload stopped arriving/);
    expect(answer.text).toMatch(/nothing was stored/);
    await nothingWritten();
  });

  it('that stops inside the fields is answered 408 too', async () => {
    const answer = await rawPost(headFor(full), FORM.payload.subarray(0, 100), 'wait', IDLE_MS + 5000);
    expect(answer.text).toMatch(/^HTTP\/1\.1 408 /);
    await nothingWritten();
  });

  it('reset by the client mid-file: nothing written, nothing logged as an error', async () => {
    const answer = await rawPost(headFor(full), FORM.payload.subarray(0, full - 300), 'reset', 5000);
    expect(answer.closed).toBe(true);
    await nothingWritten();
  });

  it('with the exact length but no closing boundary: 400 as cut off', async () => {
    const body = FORM.payload.subarray(0, full - CLOSING.length);
    const answer = await rawPost(headFor(body.length), body, 'wait', 5000);
    expect(answer.text).toMatch(/^HTTP\/1\.1 400 The multipart body ended (after \d+ bytes, without its closing boundary|before the file was complete|before its closing boundary): the upload was cut off/);
    await nothingWritten();
  });

  it('sent slowly but steadily, a whole upload is accepted (the idle time is between bytes, not for the whole body)', async () => {
    const chunks = [FORM.payload.subarray(0, 400), FORM.payload.subarray(400, 800), FORM.payload.subarray(800)];
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text.includes('\r\n\r\n')) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.write(headFor(full));
      let i = 0;
      const next = () => {
        const chunk = chunks[i++];
        if (chunk) socket.write(chunk, () => setTimeout(next, IDLE_MS / 2));
      };
      next();
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(await listTree(packagesDir)).toEqual([WHEEL.filename]);
  });
});
