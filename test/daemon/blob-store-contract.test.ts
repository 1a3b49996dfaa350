/**
 * The contract of a BlobStore (src/daemon/stores/blob-store.ts), run against every adapter:
 * the packages folder and an S3-compatible bucket (s3rver on loopback).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../src/daemon/stores/blob-store.js';
import { FolderBlobs } from '../../src/daemon/stores/folder-blobs.js';
import { parseS3Url, S3Blobs, usesPathStyle } from '../../src/daemon/stores/s3-blobs.js';
import { startS3, type S3Server } from '../helpers/s3.js';

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let s3: S3Server;
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'pyrepo-blobs-'));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => {
  await s3?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let prefixes = 0;
const adapters: { name: string; make: () => { store: BlobStore; spool: string } }[] = [
  {
    name: 'packages folder',
    make: () => {
      const dir = tempDir();
      return { store: FolderBlobs.at(dir), spool: dir };
    },
  },
  {
    name: 'S3 bucket',
    make: () => {
      const spool = tempDir();
      return { store: new S3Blobs(parseS3Url(`s3://${s3.bucket}/case-${++prefixes}`), spool, { ...s3.env }), spool };
    },
  },
];

describe.each(adapters)('blob store contract: $name', (adapter) => {
  let store: BlobStore;
  let spool: string;
  beforeEach(async () => {
    ({ store, spool } = adapter.make());
    await store.prepare();
    return () => store.close();
  });

  it('publishes a streamed file whole, under the key it returns, and reads it and ranges of it back', async () => {
    const content = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
    const temp = await store.createTemp();
    await temp.handle?.write(content.subarray(0, 100_000));
    await temp.handle?.write(content.subarray(100_000));
    await store.seal(temp);
    expect(await store.stat('demo-1.0-py3-none-any.whl')).toBeUndefined();
    const key = await store.commit(temp, 'demo-1.0-py3-none-any.whl', sha256(content));
    expect((await store.stat(key))?.size).toBe(content.length);
    expect((await bytesOf(await store.open(key))).equals(content)).toBe(true);
    expect((await bytesOf(await store.open(key, { start: 10, end: 19 }))).equals(content.subarray(10, 20))).toBe(true);
    expect((await bytesOf(await store.open(key, { start: 299_990, end: 299_999 }))).equals(content.subarray(299_990))).toBe(true);
    // Nothing temporary is left behind.
    expect(readdirSync(spool).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('publishes a small file written from memory', async () => {
    const content = Buffer.from('small file');
    const temp = store.writeTemp(content);
    await store.seal(temp);
    const key = await store.commit(temp, 'small-1.0.tar.gz', sha256(content));
    expect((await bytesOf(await store.open(key))).toString()).toBe('small file');
    expect((await store.read(key)).toString()).toBe('small file');
  });

  it('discards an unfinished file without a trace, and removes keys (a gone one is no error)', async () => {
    const temp = await store.createTemp();
    await temp.handle?.write(Buffer.from('half'));
    await store.discard(temp);
    expect(readdirSync(spool).filter((n) => n.startsWith('.'))).toEqual([]);
    const content = Buffer.from('to remove');
    const t2 = store.writeTemp(content);
    await store.seal(t2);
    const key = await store.commit(t2, 'gone-1.0.tar.gz', sha256(content));
    await store.remove(key);
    await store.remove(key);
    expect(await store.stat(key)).toBeUndefined();
    await expect(store.open(key)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(store.read(key)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('the packages folder serves from descriptors it keeps open', () => {
  it('gives the same open file for the same content, a new one for other content, and none for a missing key', async () => {
    const dir = tempDir();
    const blobs = FolderBlobs.at(dir);
    await blobs.prepare();
    const content = Buffer.from('kept open');
    const temp = blobs.writeTemp(content);
    await blobs.seal(temp);
    const key = await blobs.commit(temp, 'kept-1.0.tar.gz', sha256(content));
    expect(blobs.pathOf(key)).toBe(join(dir, 'kept-1.0.tar.gz'));
    expect(blobs.statNow(key)).toEqual(await blobs.stat(key));
    expect(blobs.statNow('missing-1.0.tar.gz')).toBeUndefined();
    const first = blobs.acquire(key, sha256(content));
    expect(first).toMatchObject({ size: content.length, kept: true });
    blobs.done(first!);
    expect(blobs.acquire(key, sha256(content))?.fd).toBe(first?.fd);
    // Another content under that name (a replaced file) is opened again.
    const other = blobs.acquire(key, 'f'.repeat(64));
    expect(other).toMatchObject({ size: content.length, kept: true });
    expect(other).not.toBe(first);
    blobs.forget(key);
    expect(blobs.acquire('missing-1.0.tar.gz', sha256(content))).toBeUndefined();
    await blobs.close();
  });
});

describe('S3 settings', () => {
  it('reads s3://bucket/prefix and says what is wrong with a bad one', () => {
    expect(parseS3Url('s3://team-index')).toEqual({ bucket: 'team-index', prefix: '' });
    expect(parseS3Url('s3://team-index/pyrepo/prod/')).toEqual({ bucket: 'team-index', prefix: 'pyrepo/prod/' });
    expect(() => parseS3Url('http://team-index')).toThrow(/s3:\/\/bucket/);
    expect(() => parseS3Url('s3://No_Such')).toThrow(/not a valid bucket name/);
  });

  it('uses path-style addressing with a custom endpoint unless told otherwise', () => {
    expect(usesPathStyle({})).toBe(false);
    expect(usesPathStyle({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000' })).toBe(true);
    expect(usesPathStyle({ AWS_ENDPOINT_URL: 'https://minio.example', AWS_S3_FORCE_PATH_STYLE: 'false' })).toBe(false);
    expect(usesPathStyle({ AWS_S3_FORCE_PATH_STYLE: 'true' })).toBe(true);
  });

  it('stores the same content once, by its sha256, and says clearly when the bucket is missing', async () => {
    const blobs = new S3Blobs(parseS3Url(`s3://${s3.bucket}/dedupe`), tempDir(), { ...s3.env });
    await blobs.prepare();
    const content = Buffer.from('same bytes');
    const keys = [];
    for (const name of ['a-1.0.tar.gz', 'b-1.0.tar.gz']) {
      const t = blobs.writeTemp(content);
      await blobs.seal(t);
      keys.push(await blobs.commit(t, name, sha256(content)));
    }
    expect(keys[0]).toBe(keys[1]);
    expect(keys[0]).toBe(`dedupe/blobs/sha256/${sha256(content).slice(0, 2)}/${sha256(content).slice(2, 4)}/${sha256(content)}`);
    const listed = [];
    for await (const b of blobs.list()) listed.push(b.key);
    expect(listed).toEqual([keys[0]]);
    await blobs.close();
    const missing = new S3Blobs(parseS3Url('s3://no-such-bucket'), tempDir(), { ...s3.env });
    await expect(missing.prepare()).rejects.toThrow(/The bucket 'no-such-bucket' cannot be used: it does not exist/);
    await missing.close();
  });
});
