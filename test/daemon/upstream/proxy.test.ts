/**
 * The upstream proxy through buildApp() (app.inject), against a fake upstream on loopback:
 * pages in both formats with links to pyrepo, the private-name rule, allow and deny, files
 * fetched once and checked, stale pages when upstream fails, the negative cache, one fetch
 * per project, the cooldown, eviction and the host allow-list. The real clients are in
 * test/e2e/upstream.test.ts.
 */
import { existsSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DaemonSettings } from '../../../src/shared/settings.js';
import { makeApp, upload, type TestApp } from '../../helpers/app.js';
import { startFakeUpstream, type FakeUpstream } from '../../helpers/upstream.js';
import { waitFor } from '../../helpers/wait.js';

const JSON_ACCEPT = 'application/vnd.pypi.simple.v1+json';

let t: TestApp | undefined;
let up: FakeUpstream | undefined;
afterEach(async () => {
  await t?.close();
  await up?.stop();
  t = undefined;
  up = undefined;
});

async function proxyApp(settings: Partial<DaemonSettings> = {}, format: 'json' | 'html' = 'json'): Promise<{ t: TestApp; up: FakeUpstream }> {
  up = await startFakeUpstream({ format });
  t = await makeApp({ upstream: up.url, ...settings }, {});
  return { t, up };
}

const pagesAsked = (u: FakeUpstream, project: string) => u.requests.filter((r) => r === `/simple/${project}/`).length;

/** One GET over a kept-alive connection: its head (Date and connection headers left out) and body. */
async function rawGet(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; head: string; body: Buffer }> {
  const socket = connect(port, '127.0.0.1');
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines.join('')}\r\n`);
  let got = Buffer.alloc(0);
  for await (const chunk of socket as AsyncIterable<Buffer>) {
    got = Buffer.concat([got, chunk]);
    const end = got.indexOf('\r\n\r\n');
    if (end === -1) continue;
    const head = got.toString('latin1', 0, end);
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
    if (got.length < end + 4 + length) continue;
    socket.destroy();
    const kept = head.split('\r\n').filter((l) => !/^(date|connection|keep-alive):/i.test(l));
    return { status: Number(head.split(' ')[1]), head: kept.join('\r\n'), body: got.subarray(end + 4, end + 4 + length) };
  }
  throw new Error(`The connection ended before the answer to ${path}.`);
}

describe('upstream project pages', () => {
  it('come in JSON and HTML with every link pointing at pyrepo, metadata kept', async () => {
    const { t, up } = await proxyApp();
    const a = up.add({ name: 'requests', version: '2.31.0', requiresPython: '>=3.7' });
    up.add({ name: 'requests', version: '2.30.0', yanked: 'broken' });
    const res = await t.app.inject({ url: '/simple/requests/', headers: { accept: JSON_ACCEPT } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(JSON_ACCEPT);
    const page = res.json();
    expect(page.meta['api-version']).toBe('1.1');
    expect(page.versions).toEqual(['2.30.0', '2.31.0']);
    const file = page.files.find((f: { filename: string }) => f.filename === a.filename);
    expect(file).toMatchObject({
      url: `../../packages/${a.filename}`,
      hashes: { sha256: a.sha256 },
      'requires-python': '>=3.7',
      size: a.bytes.length,
      'upload-time': '2020-01-01T00:00:00.000000Z',
      yanked: false,
    });
    expect(file['core-metadata'].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(page.files.find((f: { filename: string }) => f.filename !== a.filename).yanked).toBe('broken');

    const html = await t.app.inject({ url: '/simple/requests/' });
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.body).toContain(`href="../../packages/${a.filename}#sha256=${a.sha256}"`);
    expect(html.body).toContain('data-requires-python="&gt;=3.7"');
    expect(html.body).toContain('data-yanked="broken"');
    expect(html.body).not.toContain(up.host);
    // One fetch served both formats.
    expect(pagesAsked(up, 'requests')).toBe(1);
  });

  it('an HTML upstream is read too (no sizes: the JSON page says API 1.0)', async () => {
    const { t, up } = await proxyApp({}, 'html');
    const a = up.add({ name: 'six', version: '1.16.0', requiresPython: '>=2.7, !=3.0.*' });
    const page = (await t.app.inject({ url: '/simple/six/', headers: { accept: JSON_ACCEPT } })).json();
    expect(page.meta['api-version']).toBe('1.0');
    expect(page.files).toEqual([expect.objectContaining({ filename: a.filename, hashes: { sha256: a.sha256 }, 'requires-python': '>=2.7, !=3.0.*', url: `../../packages/${a.filename}` })]);
  });
});

describe('the private-name rule', () => {
  it('a name on the index is never looked up upstream, even when upstream has a higher version', async () => {
    const { t, up } = await proxyApp();
    await upload(t.app, { name: 'acme-core', version: '1.0' });
    up.add({ name: 'acme-core', version: '99.0' });
    const page = (await t.app.inject({ url: '/simple/acme-core/', headers: { accept: JSON_ACCEPT } })).json();
    expect(page.versions).toEqual(['1.0']);
    const file = await t.app.inject({ url: '/packages/acme_core-99.0-py3-none-any.whl' });
    expect(file.statusCode).toBe(404);
    const meta = await t.app.inject({ url: '/packages/acme_core-99.0-py3-none-any.whl.metadata' });
    expect(meta.statusCode).toBe(404);
    expect(up.requests.filter((r) => r.includes('acme'))).toEqual([]);
  });

  it('nor is a name that was on the index, or one matching a private pattern: they answer as without an upstream', async () => {
    const { t, up } = await proxyApp({ private: ['internal-*'] });
    const { filename } = await upload(t.app, { name: 'gone-pkg', version: '1.0' });
    await t.app.inject({ method: 'DELETE', url: `/-/api/projects/gone-pkg/files/${filename}` });
    up.add({ name: 'gone-pkg', version: '2.0' });
    up.add({ name: 'internal-tools', version: '1.0' });
    for (const name of ['gone-pkg', 'internal-tools', 'Internal_Tools']) {
      const res = await t.app.inject({ url: `/simple/${name}/`, headers: { accept: JSON_ACCEPT } });
      if (name === 'Internal_Tools') expect(res.statusCode).toBe(301);
      else expect([res.statusCode, res.body]).toEqual([404, `No project named '${name}' on this index.\n`]);
    }
    expect((await t.app.inject({ url: '/packages/internal_tools-1.0-py3-none-any.whl' })).statusCode).toBe(404);
    expect(up.requests).toEqual([]);
  });

  it('allow and deny refuse with the reason', async () => {
    const { t, up } = await proxyApp({ upstreamDeny: ['evil-*'], upstreamAllow: ['evil-*', 'good'] });
    up.add({ name: 'evil-pkg', version: '1.0' });
    up.add({ name: 'other', version: '1.0' });
    const denied = await t.app.inject({ url: '/simple/evil-pkg/' });
    expect([denied.statusCode, denied.body]).toEqual([403, "The upstream project 'evil-pkg' is refused: it matches the upstream-deny pattern 'evil-*'.\n"]);
    const notAllowed = await t.app.inject({ url: '/packages/other-1.0-py3-none-any.whl' });
    expect(notAllowed.statusCode).toBe(403);
    expect(notAllowed.body).toContain('matches no upstream-allow pattern (evil-*, good)');
    expect(up.requests).toEqual([]);
  });
});

describe('upstream files', () => {
  it('are fetched on the first download, checked, kept, then served from the cache and counted', async () => {
    const { t, up } = await proxyApp();
    const a = up.add({ name: 'idna', version: '3.4' });
    await t.app.inject({ url: '/simple/idna/', headers: { accept: JSON_ACCEPT } });
    const first = await t.app.inject({ url: `/packages/${a.filename}`, headers: { 'user-agent': 'pip/23.2 {"installer":{"name":"pip"},"ci":true}' } });
    expect(first.statusCode).toBe(200);
    expect(first.rawPayload.equals(a.bytes)).toBe(true);
    expect(first.headers.etag).toBe(`"${a.sha256}"`);
    const second = await t.app.inject({ url: `/packages/${a.filename}`, headers: { range: 'bytes=0-9' } });
    expect(second.statusCode).toBe(206);
    expect(second.rawPayload.equals(a.bytes.subarray(0, 10))).toBe(true);
    expect(up.requests.filter((r) => r.startsWith('/files/'))).toEqual([`/files/${a.filename}`]);
    expect(existsSync(join(t.dataDir, 'upstream', 'files', a.filename))).toBe(true);

    const meta = await t.app.inject({ url: `/packages/${a.filename}.metadata` });
    expect(meta.statusCode).toBe(200);
    expect(meta.body).toContain('Name: idna');
    await t.app.inject({ url: `/packages/${a.filename}.metadata` });
    expect(up.requests.filter((r) => r.endsWith('.metadata'))).toHaveLength(1);

    const status = (await t.app.inject({ url: '/-/api/upstream' })).json();
    expect(status).toMatchObject({ url: up.url, files: 1, bytes: a.bytes.length, projects: 1 });
    // The ranged request from the first byte counts too, under no installer (it sent no User-Agent).
    expect(status.downloads).toEqual([
      { installer: 'pip', downloads: 1, ci: 1 },
      { installer: 'other', downloads: 1, ci: 0 },
    ]);
    expect(status.hitRate).toBeGreaterThan(0);
    expect((await t.app.inject({ url: '/-/health' })).json().upstream).toMatchObject({ files: 1 });
  });

  it('once cached, are sent on the hot path as their route sends them (headers in its order), counted once each', async () => {
    const { t, up } = await proxyApp();
    const a = up.add({ name: 'idna', version: '3.5' });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = t.app.server.address() as { port: number };
    await t.app.inject({ url: '/simple/idna/', headers: { accept: JSON_ACCEPT } });
    expect((await t.app.inject({ url: `/packages/${a.filename}` })).statusCode).toBe(200);
    const [answered, hits] = [t.app.hotPaths.answered, t.app.upstream!.status().hits];
    // If-Modified-Since (long ago) sends the same request to the route, which answers 200 too.
    const viaRoute = await rawGet(port, `/packages/${a.filename}`, { 'If-Modified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' });
    expect(t.app.hotPaths.answered).toBe(answered);
    const hot = await rawGet(port, `/packages/${a.filename}`, { 'User-Agent': 'pip/24.0 {"installer":{"name":"pip"}}' });
    expect(t.app.hotPaths.answered - answered).toBe(1);
    expect([hot.status, viaRoute.status]).toEqual([200, 200]);
    expect(hot.body.equals(a.bytes)).toBe(true);
    expect(hot.head).toBe(viaRoute.head);
    expect(t.app.upstream!.status().hits - hits).toBe(2);
    expect(t.app.upstream!.status().downloads).toEqual(expect.arrayContaining([{ installer: 'pip', downloads: 1, ci: 0 }]));
    expect(up.requests.filter((r) => r.startsWith('/files/'))).toHaveLength(1);
  });

  it('a file whose bytes do not match the page is refused with the reason and not kept', async () => {
    const { t, up } = await proxyApp();
    const a = up.add({ name: 'badpkg', version: '1.0' });
    up.corrupt(a.filename);
    const res = await t.app.inject({ url: `/packages/${a.filename}` });
    expect(res.statusCode).toBe(502);
    expect(res.body).toMatch(/does not match its page: sha256 [0-9a-f]{64} .* It was not kept\./);
    expect(readdirSync(join(t.dataDir, 'upstream', 'files'))).toEqual([]);
    // Asked again, it is fetched again (and refused again): nothing bad was remembered.
    expect((await t.app.inject({ url: `/packages/${a.filename}` })).statusCode).toBe(502);
    expect(up.requests.filter((r) => r.startsWith('/files/'))).toHaveLength(2);
  });

  it('the cache stays under its cap: least recently used files go first', async () => {
    up = await startFakeUpstream();
    const fake = up;
    const specs = ['alpha', 'beta', 'gamma'].map((name) => fake.add({ name, version: '1.0', description: 'x'.repeat(4000) }));
    const size = Math.max(...specs.map((s) => s.bytes.length));
    const capped = await makeApp({ upstream: up.url, upstreamCacheSize: size * 2 + 10 });
    t = capped;
    const app = capped.app;
    const get = (f: string) => app.inject({ url: `/packages/${f}` });
    await get(specs[0]!.filename);
    await get(specs[1]!.filename);
    await get(specs[0]!.filename); // alpha used last: beta is the least recently used
    await get(specs[2]!.filename);
    expect(readdirSync(join(capped.dataDir, 'upstream', 'files')).sort()).toEqual([specs[0]!.filename, specs[2]!.filename].sort());
    const status = (await app.inject({ url: '/-/api/upstream' })).json();
    expect(status.bytes).toBeLessThanOrEqual(size * 2 + 10);
    // purge of one project, then of everything
    expect((await app.inject({ method: 'DELETE', url: '/-/api/upstream/cache/alpha' })).json()).toEqual({ files: 1, bytes: specs[0]!.bytes.length });
    expect((await app.inject({ method: 'DELETE', url: '/-/api/upstream/cache' })).json()).toEqual({ files: 1, bytes: specs[2]!.bytes.length });
    expect(readdirSync(join(capped.dataDir, 'upstream', 'files'))).toEqual([]);
  });
});

describe('when upstream is slow, fails or says no', () => {
  it('a cached page is answered on the hot path, as the route answers it, and counted once', async () => {
    const { t, up } = await proxyApp();
    up.add({ name: 'idna', version: '3.7' });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = t.app.server.address() as { port: number };
    const headers = { accept: JSON_ACCEPT };
    const first = await t.app.inject({ url: '/simple/idna/', headers });
    expect(first.statusCode).toBe(200);
    const [answered, hits] = [t.app.hotPaths.answered, t.app.upstream!.status().hits];
    const res = await fetch(`http://127.0.0.1:${port}/simple/idna/`, { headers });
    const body = Buffer.from(await res.arrayBuffer());
    expect(t.app.hotPaths.answered - answered).toBe(1);
    expect(t.app.upstream!.status().hits - hits).toBe(1);
    expect(body.equals(first.rawPayload)).toBe(true);
    for (const name of ['etag', 'cache-control', 'vary', 'content-type', 'content-length']) expect(res.headers.get(name)).toBe(first.headers[name]);
    expect(pagesAsked(up, 'idna')).toBe(1);
  });

  it('a cached page that upstream failed to refresh is left to the route, which adds its warning', async () => {
    const { t, up } = await proxyApp({ upstreamTtl: 0 });
    up.add({ name: 'idna', version: '3.7' });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = t.app.server.address() as { port: number };
    const headers = { accept: JSON_ACCEPT };
    expect((await t.app.inject({ url: '/simple/idna/', headers })).statusCode).toBe(200);
    up.failing = true;
    await waitFor('a warning header', async () => (await fetch(`http://127.0.0.1:${port}/simple/idna/`, { headers })).headers.get('warning') !== null, 5000);
  });

  it('a cached page is served with a warning when upstream fails; without one the reason is a 502', async () => {
    const { t, up } = await proxyApp({ upstreamTtl: 0 });
    up.add({ name: 'urllib3', version: '2.0.0' });
    expect((await t.app.inject({ url: '/simple/urllib3/' })).statusCode).toBe(200);
    up.failing = true;
    // Past its time to live: served at once, refreshed behind; the refresh fails.
    await waitFor('a warning header', async () => (await t.app.inject({ url: '/simple/urllib3/' })).headers.warning !== undefined, 5000);
    const stale = await t.app.inject({ url: '/simple/urllib3/' });
    expect(stale.statusCode).toBe(200);
    expect(stale.headers.warning).toMatch(/^111 pyrepo "upstream failed \(it answered 500/);
    expect(stale.body).toContain('urllib3-2.0.0-py3-none-any.whl');
    const none = await t.app.inject({ url: '/simple/certifi/' });
    expect(none.statusCode).toBe(502);
    expect(none.body).toContain(`The project 'certifi' is not on this index, and its upstream (${up.url}) could not be asked: it answered 500`);
  });

  it('a 404 is remembered briefly, and concurrent requests make one upstream fetch', async () => {
    const { t, up } = await proxyApp();
    expect((await t.app.inject({ url: '/simple/nope/' })).statusCode).toBe(404);
    expect((await t.app.inject({ url: '/simple/nope/' })).body).toBe("No project named 'nope' on this index or its upstream.\n");
    expect(pagesAsked(up, 'nope')).toBe(1);
    up.add({ name: 'popular', version: '1.0' });
    up.delayMs = 200;
    const answers = await Promise.all(Array.from({ length: 8 }, () => t.app.inject({ url: '/simple/popular/' })));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(8).fill(200));
    expect(pagesAsked(up, 'popular')).toBe(1);
  });

  it('a slow upstream does not slow a request that has a page: the refresh runs behind it', async () => {
    const { t, up } = await proxyApp({ upstreamTtl: 0 });
    up.add({ name: 'slowpkg', version: '1.0' });
    await t.app.inject({ url: '/simple/slowpkg/' });
    up.delayMs = 2000;
    up.add({ name: 'slowpkg', version: '2.0' });
    const started = Date.now();
    const res = await t.app.inject({ url: '/simple/slowpkg/' });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(res.body).not.toContain('slowpkg-2.0');
    await waitFor('the refreshed page', async () => (await t.app.inject({ url: '/simple/slowpkg/' })).body.includes('slowpkg-2.0'), 8000);
  });
});

describe('policy and safety', () => {
  it('the cooldown hides upstream files younger than upstream-min-age', async () => {
    const { t, up } = await proxyApp({ upstreamMinAge: 3 * 86_400 });
    up.add({ name: 'fresh', version: '1.0', uploadTime: '2020-01-01T00:00:00Z' });
    const young = up.add({ name: 'fresh', version: '1.1', uploadTime: new Date(Date.now() - 3600_000).toISOString() });
    const page = (await t.app.inject({ url: '/simple/fresh/', headers: { accept: JSON_ACCEPT } })).json();
    expect(page.versions).toEqual(['1.0']);
    expect(page.files.map((f: { filename: string }) => f.filename)).toEqual(['fresh-1.0-py3-none-any.whl']);
    const direct = await t.app.inject({ url: `/packages/${young.filename}` });
    expect(direct.statusCode).toBe(404);
    expect(direct.body).toContain('held back by the cooldown');
  });

  it('links to hosts that are not the upstream\'s are left out', async () => {
    const { t, up } = await proxyApp();
    up.add({ name: 'mixed', version: '1.0' });
    const other = await startFakeUpstream();
    try {
      const b = other.add({ name: 'mixed', version: '2.0' });
      // A page whose second link points at another host.
      const html = `<a href="/files/mixed-1.0-py3-none-any.whl#sha256=${'0'.repeat(64)}">mixed-1.0-py3-none-any.whl</a><a href="http://${other.host}/files/${b.filename}#sha256=${b.sha256}">${b.filename}</a>`;
      const { parseProjectHtml } = await import('../../../src/daemon/services/upstream/parse.js');
      expect(parseProjectHtml(html, 'mixed', up.url).project.files).toHaveLength(2);
      up.format = 'html';
      const page = (await t.app.inject({ url: '/simple/mixed/' })).body;
      expect(page).toContain('mixed-1.0');
      expect((await t.app.inject({ url: `/packages/${b.filename}` })).statusCode).toBe(404);
      expect(other.requests).toEqual([]);
    } finally {
      await other.stop();
    }
  });

  it('without an upstream nothing changes: unknown names are 404 and the cache API says how to set one', async () => {
    t = await makeApp();
    expect((await t.app.inject({ url: '/simple/requests/' })).body).toBe("No project named 'requests' on this index.\n");
    const res = await t.app.inject({ url: '/-/api/upstream' });
    expect(res.statusCode).toBe(404);
    expect(res.json().message).toContain('pyrepo config set upstream on');
  });
});
