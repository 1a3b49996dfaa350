/**
 * The hot paths (downloads and project pages answered before fastify routes them) answer
 * exactly as the routes do: every request here goes once over a real socket to the
 * listening daemon and once through app.inject(), which never reaches the hot paths, and
 * the two answers must match. The hot-path counter shows which requests took that path.
 */
import { request } from 'node:http';
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, formFieldsFor, makeApp, makeDist, upload, uploadForm, type TestApp } from '../helpers/app.js';
import { buildWheel, wheelFilename, sdistFilename, type DistSpec } from '../helpers/dists.js';
import { OpenFiles, openFileBudget, REVALIDATE_MS } from '../../src/daemon/services/open-files.js';

const SPEC: DistSpec = { name: 'Hot_Demo', version: '1.0', modules: { 'hot_demo/__init__.py': '# hot\n'.repeat(100) } };
const WHEEL = wheelFilename(SPEC);
const SDIST = sdistFilename(SPEC);
/** Headers that belong to the connection, not to the answer. */
const CONNECTION_HEADERS = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

function comparable(headers: Record<string, string | string[] | number | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !CONNECTION_HEADERS.has(k.toLowerCase())) out[k.toLowerCase()] = String(v);
  return out;
}

function overSocket(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: comparable(res.headers), body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const lines: Record<string, unknown>[] = [];
const logStream = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});

let t: TestApp;
let port: number;

beforeAll(async () => {
  t = await makeApp({ logLevel: 'info', accessLog: true }, { logStream });
  expect((await upload(t.app, SPEC, 'wheel')).res.statusCode).toBe(200);
  expect((await upload(t.app, SPEC, 'sdist')).res.statusCode).toBe(200);
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.server.address() as { port: number }).port;
});
afterAll(async () => {
  await t.close();
});

/** Sends the request both ways; returns the socket's answer and whether the hot path gave it. */
async function both(path: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET'): Promise<{ answer: Answer; hot: boolean }> {
  const before = t.app.hotPaths.answered;
  const answer = await overSocket(port, path, headers, method);
  const hot = t.app.hotPaths.answered > before;
  const injected = await t.app.inject({ method, url: path, headers });
  expect({ status: answer.status, headers: answer.headers }).toEqual({ status: injected.statusCode, headers: comparable(injected.headers) });
  expect(answer.body.equals(injected.rawPayload)).toBe(true);
  return { answer, hot };
}

describe('answered on the hot path, as the routes answer', () => {
  it.each([
    ['a wheel', `/packages/${WHEEL}`, {}],
    ['an sdist, asked with gzip (never encoded)', `/packages/${SDIST}`, { 'accept-encoding': 'gzip, br' }],
    ['a file under a subfolder path', `/packages/hot-demo/${WHEEL}`, {}],
    ['a page as PEP 691 JSON', '/simple/hot-demo/', { accept: 'application/vnd.pypi.simple.v1+json' }],
    ['a page as PEP 691 HTML', '/simple/hot-demo/', { accept: 'application/vnd.pypi.simple.v1+html' }],
    ["a page for pip's Accept", '/simple/hot-demo/', { accept: 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01' }],
    ['a page with no Accept', '/simple/hot-demo/', {}],
    ['the list of every project as HTML', '/simple/', { accept: 'text/html' }],
    ['the list of every project as JSON', '/simple/', { accept: 'application/vnd.pypi.simple.v1+json' }],
  ])('%s', async (_what, path, headers) => {
    // A page is answered here once rendered (the route renders it and keeps it).
    if (path.startsWith('/simple/')) await t.app.inject({ url: path, headers });
    const { answer, hot } = await both(path, headers);
    expect(answer.status).toBe(200);
    expect(hot).toBe(true);
  });

  it('a page not rendered yet: rendered and answered for a reader that can wait, left to the route by one that cannot', async () => {
    const headers = { accept: 'application/vnd.pypi.simple.v1+html' };
    expect((await upload(t.app, { ...SPEC, version: '2.0' }, 'wheel')).res.statusCode).toBe(200);
    const req = { method: 'GET', url: '/simple/hot-demo/', headers: { host: 'localhost', ...headers } };
    // node:http's request handler cannot wait: the route renders the page.
    expect(t.app.hotPaths.answer(req)).toBeUndefined();
    // The front door (over a socket) can: the page is rendered and answered here, as the route answers it.
    const first = await both('/simple/hot-demo/', headers);
    expect(first.hot).toBe(true);
    expect(first.answer.body.toString()).toContain('2.0');
    expect(t.app.hotPaths.answer(req)).toMatchObject({ status: 200 });
  });

  it("a page's revalidation: 304 for its ETag", async () => {
    const { answer: first } = await both('/simple/hot-demo/', { accept: 'application/vnd.pypi.simple.v1+json' });
    const etag = first.headers.etag as string;
    const { answer, hot } = await both('/simple/hot-demo/', { accept: 'application/vnd.pypi.simple.v1+json', 'if-none-match': etag });
    expect(answer.status).toBe(304);
    expect(hot).toBe(true);
  });

  it('counts each download, and writes the access line the routes write', async () => {
    const count = async () => {
      const res = await t.app.inject({ url: '/-/api/projects/hot-demo' });
      return (res.json() as { downloads: number }).downloads;
    };
    const before = await count();
    lines.length = 0;
    const { hot } = await both(`/packages/${WHEEL}`, { 'user-agent': 'pip/24.0' });
    expect(hot).toBe(true);
    // Once over the socket, once injected.
    expect(await count()).toBe(before + 2);
    const access = lines.filter((l) => l.msg === 'request' && l.url === `/packages/${WHEEL}`);
    expect(access).toHaveLength(2);
    const [fromHot, fromRoute] = access as [Record<string, unknown>, Record<string, unknown>];
    expect(Object.keys(fromHot)).toEqual(Object.keys(fromRoute));
    expect({ ...fromHot, time: 0, ms: 0, reqId: '' }).toEqual({ ...fromRoute, time: 0, ms: 0, reqId: '' });
    expect(fromHot.reqId).toMatch(/^req-[0-9a-z]+$/);
    expect(fromHot.reqId).not.toBe(fromRoute.reqId);
  });
});

describe('left to the routes', () => {
  it.each([
    ['a range', `/packages/${WHEEL}`, { range: 'bytes=0-9' }, 206],
    ['If-None-Match on a file', `/packages/${WHEEL}`, { 'if-none-match': '"nope"' }, 200],
    ['If-Modified-Since on a file', `/packages/${WHEEL}`, { 'if-modified-since': new Date(Date.now() + 86_400_000).toUTCString() }, 304],
    ['core metadata', `/packages/${WHEEL}.metadata`, {}, 200],
    ['a file not on the index', '/packages/nope-1.0-py3-none-any.whl', {}, 404],
    ['a query string', `/packages/${WHEEL}?x=1`, {}, 200],
    ['a non-normalized name', '/simple/Hot_Demo/', {}, 301],
    ['an unknown project', '/simple/not-here/', {}, 404],
    ['no acceptable format', '/simple/hot-demo/', { accept: 'image/png' }, 406],
    ['a format in the query', `/simple/hot-demo/?format=${encodeURIComponent('application/vnd.pypi.simple.v1+json')}`, {}, 200],
  ])('%s', async (_what, path, headers, status) => {
    const { answer, hot } = await both(path, headers);
    expect(answer.status).toBe(status);
    expect(hot).toBe(false);
  });

  it('HEAD', async () => {
    const { answer, hot } = await both(`/packages/${WHEEL}`, {}, 'HEAD');
    expect(answer.status).toBe(200);
    expect(hot).toBe(false);
  });
});

describe('reads that need credentials', () => {
  it('go through access control: 401 without credentials, the file with them', async () => {
    const p = await makeApp({ authenticate: ['list', 'download', 'upload'] });
    try {
      const dist = makeDist(SPEC, 'wheel');
      const form = uploadForm(dist.bytes, dist.filename, formFieldsFor(SPEC, dist));
      expect((await p.app.inject({ method: 'POST', url: '/legacy/', payload: form.payload, headers: { ...form.headers, authorization: p.adminAuth } })).statusCode).toBe(200);
      await p.app.listen({ host: '127.0.0.1', port: 0 });
      const privatePort = (p.app.server.address() as { port: number }).port;
      expect((await overSocket(privatePort, `/packages/${WHEEL}`)).status).toBe(401);
      expect((await overSocket(privatePort, '/simple/hot-demo/')).status).toBe(401);
      expect((await overSocket(privatePort, `/packages/${WHEEL}`, { authorization: basic('admin', 'wrong') })).status).toBe(401);
      expect((await overSocket(privatePort, `/packages/${WHEEL}`, { authorization: p.adminAuth })).status).toBe(200);
      expect(p.app.hotPaths.answered).toBe(0);
    } finally {
      await p.close();
    }
  });
});

describe('kept descriptors', () => {
  const spec: DistSpec = { name: 'kept', version: '1.0' };
  const name = wheelFilename(spec);

  it('send what the catalog names: new content under a new sha256 at once, and a file gone behind its back after the revalidation time', async () => {
    const dir = t.root;
    const path = join(dir, name);
    const first = buildWheel(spec);
    writeFileSync(path, first);
    const files = new OpenFiles(8, 1024 * 1024, 50);
    const a = files.acquire(path, 'sha-a');
    expect(a?.kept).toBe(true);
    expect(files.acquire(path, 'sha-a')).toBe(a);

    // Replaced by a rename, as an overwrite does: the catalog's new sha256 opens the new file at once.
    const second = buildWheel({ ...spec, summary: 'rebuilt' });
    writeFileSync(`${path}.new`, second);
    renameSync(`${path}.new`, path);
    const b = files.acquire(path, 'sha-b');
    expect(b).not.toBe(a);
    expect(b?.size).toBe(second.length);

    // Deleted by hand, the catalog not told: found gone once the revalidation time has passed.
    rmSync(path);
    await new Promise((r) => setTimeout(r, 80));
    expect(files.acquire(path, 'sha-b')).toBeUndefined();
    expect(files.size).toBe(0);
    files.clear();
  });

  /** A cache of `max` and a count of the files it opened (it makes a path only to open one). */
  const counted = (max: number) => {
    const opened: string[] = [];
    const files = new OpenFiles(max, 1024 * 1024, REVALIDATE_MS, (key) => {
      opened.push(key);
      return key;
    });
    /** Acquires and is done with it, as every download is; the file's fd. */
    const use = (key: string) => {
      const f = files.acquire(key, 'a'.repeat(64));
      if (f) files.done(f);
      return f;
    };
    return { files, opened, use };
  };

  it('are found by the number they were acquired with, while that number still names their key', () => {
    const { files, opened } = counted(4);
    const [p, q] = ['n1', 'n2'].map((n) => join(t.root, `${n}.whl`)) as [string, string];
    for (const path of [p, q]) writeFileSync(path, 'bytes');
    const use = (key: string, id?: number) => {
      const f = files.acquire(key, 'a'.repeat(64), id);
      if (f) files.done(f);
      return f;
    };
    const a = use(p, 7);
    expect(use(p, 7)).toBe(a);
    expect(opened).toEqual([p]);
    // The number now names another file (the first was removed): that file is opened, not the first sent.
    const b = use(q, 7);
    expect(b).not.toBe(a);
    expect(opened).toEqual([p, q]);
    // Forgotten by key and number: opened again at the next download.
    files.forget(q, 7);
    expect(use(q, 7)).toBeDefined();
    expect(opened).toEqual([p, q, q]);
    // Numbers far past the first ones.
    expect(use(p, 100_000)?.fd).toBeGreaterThan(-1);
    expect(use(p, 100_000)).toBe(use(p, 100_000));
    files.clear();
    expect(files.size).toBe(0);
    use(q, 7);
    expect(opened).toEqual([p, q, q, p, q]);
    files.clear();
  });

  it('keep at most their budget, closing the oldest', () => {
    const { files, use } = counted(2);
    const paths = ['x1', 'x2', 'x3'].map((n) => join(t.root, `${n}.whl`));
    for (const p of paths) writeFileSync(p, 'bytes');
    for (const p of paths) use(p);
    expect(files.size).toBe(2);
    files.clear();
    expect(files.size).toBe(0);
  });

  it('when full, close the oldest one for each file opened, past those forgotten already', () => {
    const { files, opened, use } = counted(4);
    const paths = Array.from({ length: 6 }, (_, i) => join(t.root, `many-${i}.whl`));
    for (const p of paths) writeFileSync(p, 'bytes');
    for (const p of paths.slice(0, 4)) use(p);
    // The oldest is forgotten (it could not be read whole): its place in the queue is skipped.
    files.forget(paths[0] as string);
    use(paths[4] as string);
    expect(files.size).toBe(4);
    // Full again: the next file closes the oldest still kept (the second), and only that one.
    use(paths[5] as string);
    expect(files.size).toBe(4);
    opened.length = 0;
    for (const p of [paths[2], paths[3], paths[4], paths[5]]) use(p as string);
    expect(opened).toEqual([]);
    use(paths[1] as string);
    expect(opened).toEqual([paths[1]]);
    expect(files.size).toBe(4);
    files.clear();
  });

  it('never close a file between its acquire and done: with every kept file in use, the next is opened and not kept', () => {
    const { files, use } = counted(1);
    const [p1, p2] = ['busy-1', 'busy-2'].map((n) => join(t.root, `${n}.whl`)) as [string, string];
    writeFileSync(p1, 'first');
    writeFileSync(p2, 'second!');
    const held = files.acquire(p1, 'a'.repeat(64));
    const other = files.acquire(p2, 'a'.repeat(64));
    expect([held?.kept, other?.kept]).toEqual([true, false]);
    expect(held && readFileSync(`/proc/self/fd/${held.fd}`, 'utf8')).toBe('first');
    if (held) files.done(held);
    if (other) files.done(other);
    // Done with: the next file takes its place (and its object), the first is closed.
    expect(use(p2)?.kept).toBe(true);
    expect(files.size).toBe(1);
    files.clear();
  });

  it('keep a sha256 that is not hex as it is, and tell contents apart by it', () => {
    const { files, opened } = counted(4);
    const p = join(t.root, 'odd-sha.whl');
    writeFileSync(p, 'bytes');
    const a = files.acquire(p, 'not-a-hex-digest');
    if (a) files.done(a);
    expect(files.acquire(p, 'not-a-hex-digest')).toBe(a);
    if (a) files.done(a);
    expect(opened).toEqual([p]);
    // Another content: opened again, in the slot the first one left (which must forget its odd digest).
    const hex = files.acquire(p, 'b'.repeat(64));
    if (hex) files.done(hex);
    expect(opened).toEqual([p, p]);
    // Kept as bytes: the same digest finds it, another one opens the file again.
    opened.length = 0;
    const again = files.acquire(p, 'b'.repeat(64));
    expect(again).toBe(hex);
    if (again) files.done(again);
    expect(opened).toEqual([]);
    // The same bytes in capitals are the same content.
    const upper = files.acquire(p, 'B'.repeat(64));
    expect(upper).toBe(hex);
    if (upper) files.done(upper);
    expect(opened).toEqual([]);
    expect(files.acquire(p, `${'b'.repeat(63)}c`)).toBeDefined();
    expect(opened).toEqual([p]);
    files.clear();
  });

  it('keep what they know of each file as the cache grows past its first slots', () => {
    const { files, opened } = counted(600);
    const paths = Array.from({ length: 300 }, (_, i) => join(t.root, `grown-${i}.whl`));
    paths.forEach((p, i) => writeFileSync(p, 'x'.repeat(i + 1)));
    const shaOf = (i: number) => i.toString(16).padStart(64, '0');
    const use = (i: number) => {
      const f = files.acquire(paths[i] as string, shaOf(i));
      if (f) files.done(f);
      return f;
    };
    for (let i = 0; i < paths.length; i++) expect(use(i)?.size).toBe(i + 1);
    expect(files.size).toBe(300);
    opened.length = 0;
    // Every one found again with its size, date and digest, none opened twice.
    for (let i = 0; i < paths.length; i++) {
      const f = use(i);
      expect([f?.kept, f?.size, f?.lastModified]).toEqual([true, i + 1, new Date(Math.floor(statSync(paths[i] as string).mtimeMs / 1000) * 1000).toUTCString()]);
    }
    expect(opened).toEqual([]);
    files.clear();
  });

  it('keep their queue bounded when files are forgotten and opened again many times', () => {
    const { files, use } = counted(2);
    const p = join(t.root, 'again.whl');
    writeFileSync(p, 'bytes');
    for (let i = 0; i < 3000; i++) {
      use(p);
      files.forget(p);
    }
    const queue = files as unknown as { tail: number; head: number };
    expect(queue.tail - queue.head).toBeLessThanOrEqual(2 * 2 + 1024);
    files.clear();
  });

  it('go round their queue many times and still close the oldest, each descriptor the file of its key', () => {
    const { files, opened, use } = counted(2);
    const paths = ['r1', 'r2', 'r3'].map((n) => join(t.root, `${n}.whl`));
    paths.forEach((p, i) => writeFileSync(p, `content ${i}`));
    // Three files in turn through a cache of two: each one opened again, the oldest closed.
    for (let round = 0; round < 3000; round++) {
      const i = round % 3;
      const f = files.acquire(paths[i] as string, 'a'.repeat(64));
      expect(f && readFileSync(`/proc/self/fd/${f.fd}`, 'utf8')).toBe(`content ${i}`);
      if (f) files.done(f);
    }
    expect(opened).toHaveLength(3000);
    expect(files.size).toBe(2);
    // The two last are the ones kept.
    opened.length = 0;
    use(paths[1] as string);
    use(paths[2] as string);
    expect(opened).toEqual([]);
    files.clear();
    expect(files.size).toBe(0);
  });

  it('use a file closed while it was lent again once done with, and forget keys of files long gone', () => {
    const { files, use } = counted(1);
    const p = join(t.root, 'lent.whl');
    writeFileSync(p, 'bytes');
    const lent = files.acquire(p, 'a'.repeat(64));
    files.forget(p);
    expect(files.size).toBe(0);
    if (lent) files.done(lent);
    // The object comes back for the next file kept.
    expect(use(p)).toBe(lent);
    files.clear();

    // Past four keys per kept file (and 1,024), the keys of files not kept are let go.
    const many = Array.from({ length: 1100 }, (_, i) => join(t.root, `gone-${i}.whl`));
    for (const m of many) writeFileSync(m, 'x');
    for (const m of many) use(m);
    const byKey = (files as unknown as { byKey: Map<string, unknown> }).byKey;
    expect(byKey.size).toBeLessThanOrEqual(4 * 1 + 1024);
    expect(files.size).toBe(1);
    files.clear();
  });

  it('get a budget of the descriptor limit less 4,096 (a quarter of a low one), at most 16,000', () => {
    const budget = (soft: string) => {
      const file = join(t.root, `limits-${soft}`);
      writeFileSync(file, `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                1048576              files\n`);
      return openFileBudget(file);
    };
    expect([budget('1024'), budget('8192'), budget('20000'), budget('1048576'), budget('unlimited')]).toEqual([256, 4096, 15_904, 16_000, 256]);
    expect(openFileBudget(join(t.root, 'no-such-limits'))).toBe(256);
  });

  it('are not kept for files larger than one read', () => {
    const files = new OpenFiles(8, 4);
    const p = join(t.root, 'large.whl');
    writeFileSync(p, 'more than four bytes');
    const f = files.acquire(p, 'sha');
    expect(f?.kept).toBe(false);
    if (f) files.done(f);
    expect(files.size).toBe(0);
  });
});
