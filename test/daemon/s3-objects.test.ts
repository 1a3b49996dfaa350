/**
 * The direct PUT and GET of objects (src/daemon/stores/s3-objects.ts) against a small HTTP
 * server that plays an S3 store's part: what is sent (path, signature, payload hash, body),
 * retries of a busy store, and the errors a caller gets. The requests against a real
 * S3-compatible server are in the blob store contract.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { S3Objects, S3RequestError } from '../../src/daemon/stores/s3-objects.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A store answering each request with the next of `answers` (the last one repeats). */
async function store(answers: { status: number; body?: string }[]): Promise<{ objects: S3Objects; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const answer = answers[Math.min(seen.length - 1, answers.length - 1)] as { status: number; body?: string };
      res.writeHead(answer.status).end(answer.body ?? '');
    });
  });
  await new Promise<void>((resolve) => (server as Server).listen(0, '127.0.0.1', resolve));
  const { port } = (server as Server).address() as AddressInfo;
  const objects = new S3Objects({
    address: { protocol: 'http:', hostname: '127.0.0.1', port, pathPrefix: '/bucket' },
    region: 'eu-west-1',
    credentials: () => Promise.resolve({ accessKeyId: 'AKID', secretAccessKey: 'SECRET' }),
  });
  return { objects, seen };
}

const SHA = 'ab'.repeat(32);

describe('objects put and got without the SDK', () => {
  it('puts the bytes at the bucket path, signed, with the content sha256 as the payload hash', async () => {
    const { objects, seen } = await store([{ status: 200 }]);
    await objects.put('pre fix/blobs/sha256/ab/cd/x', Buffer.from('wheel bytes'), SHA);
    objects.close();
    expect(seen).toHaveLength(1);
    const [put] = seen as [Seen];
    expect(put.method).toBe('PUT');
    expect(put.url).toBe('/bucket/pre%20fix/blobs/sha256/ab/cd/x');
    expect(put.body).toBe('wheel bytes');
    expect(put.headers['x-amz-content-sha256']).toBe(SHA);
    expect(put.headers['content-length']).toBe('11');
    expect(put.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/eu-west-1\/s3\/aws4_request, SignedHeaders=.*x-amz-content-sha256.*, Signature=[0-9a-f]{64}$/);
  });

  it('streams a large body, opening it again when a busy store makes it try again', async () => {
    const { objects, seen } = await store([{ status: 503, body: '<Error><Code>SlowDown</Code></Error>' }, { status: 200 }]);
    let opened = 0;
    await objects.put('k', { size: 6, open: () => (opened++, Readable.from([Buffer.from('abc'), Buffer.from('def')])) }, SHA);
    objects.close();
    expect(opened).toBe(2);
    expect(seen.map((s) => s.body)).toEqual(['abcdef', 'abcdef']);
  });

  it('gets a range, says ENOENT for a missing object, and names the store error it gives up on', async () => {
    const found = await store([{ status: 206, body: 'cd' }]);
    const stream = await found.objects.get('k', { start: 2, end: 3 });
    let text = '';
    for await (const chunk of stream as AsyncIterable<Buffer>) text += chunk.toString();
    found.objects.close();
    expect(text).toBe('cd');
    expect(found.seen[0]?.headers.range).toBe('bytes=2-3');
    await new Promise<void>((resolve) => (server as Server).close(() => resolve()));

    const missing = await store([{ status: 404, body: '<Error><Code>NoSuchKey</Code></Error>' }]);
    await expect(missing.objects.get('gone')).rejects.toMatchObject({ code: 'ENOENT' });
    missing.objects.close();
    await new Promise<void>((resolve) => (server as Server).close(() => resolve()));

    const denied = await store([{ status: 403, body: '<Error><Code>AccessDenied</Code></Error>' }]);
    const err = await denied.objects.put('k', Buffer.from('x'), SHA).catch((e: unknown) => e);
    denied.objects.close();
    expect(err).toBeInstanceOf(S3RequestError);
    expect((err as S3RequestError).message).toBe('PUT k: the store answered 403 AccessDenied.');
    expect(denied.seen).toHaveLength(1);
  });

  it('tries a store that keeps failing three times, then says so', async () => {
    const { objects, seen } = await store([{ status: 500, body: '<Error><Code>InternalError</Code></Error>' }]);
    await expect(objects.put('k', Buffer.from('x'), SHA)).rejects.toThrow('PUT k: the store answered 500 InternalError.');
    objects.close();
    expect(seen).toHaveLength(3);
  });
});
