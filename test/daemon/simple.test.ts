import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeApp, upload, type TestApp } from '../helpers/app.js';
import { buildSdist, buildWheel, metadataText, sdistFilename, wheelFilename, type DistSpec } from '../helpers/dists.js';

const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';
const HTML_TYPE = 'application/vnd.pypi.simple.v1+html';
const PIP_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

interface SimpleFile {
  filename: string;
  url: string;
  hashes: Record<string, string>;
  'requires-python'?: string;
  'core-metadata'?: false | { sha256: string };
  yanked?: boolean | string;
  size: number;
  'upload-time': string;
}
interface SimpleProject {
  meta: { 'api-version': string; '_last-serial'?: number };
  name: string;
  versions: string[];
  files: SimpleFile[];
}

const HELLO: DistSpec = { name: 'Hello_World', version: '1.0.0', summary: 'Hi', requiresPython: '>=3.8' };
const HELLO2: DistSpec = { name: 'Hello_World', version: '2.0', requiresPython: '<4,>=3.9' };
const OTHER: DistSpec = { name: 'other.pkg', version: '0.1' };

let t: TestApp;

beforeAll(async () => {
  t = await makeApp();
  for (const [spec, kind] of [
    [HELLO, 'wheel'],
    [HELLO, 'sdist'],
    [HELLO2, 'wheel'],
    [OTHER, 'sdist'],
  ] as const) {
    const { res } = await upload(t.app, spec, kind);
    expect(res.statusCode, res.body).toBe(200);
  }
});
afterAll(async () => {
  await t.close();
});

function get(url: string, headers: Record<string, string> = {}) {
  return t.app.inject({ method: 'GET', url, headers });
}

function anchors(html: string): { attrs: Record<string, string>; text: string }[] {
  const out: { attrs: Record<string, string>; text: string }[] = [];
  for (const m of html.matchAll(/<a\s([^>]*)>([^<]*)<\/a>/g)) {
    const attrs: Record<string, string> = {};
    for (const a of (m[1] as string).matchAll(/([\w-]+)="([^"]*)"/g)) attrs[a[1] as string] = a[2] as string;
    out.push({ attrs, text: m[2] as string });
  }
  return out;
}

describe('GET /simple/', () => {
  it('serves HTML by default with the repository-version meta', async () => {
    const res = await get('/simple/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers.vary).toMatch(/Accept/);
    expect(res.body).toMatch(/^<!DOCTYPE html>/);
    expect(res.body).toContain('<meta name="pypi:repository-version" content="1.1">');
    const links = anchors(res.body);
    expect(links.map((l) => [l.attrs.href, l.text])).toEqual([
      ['/simple/hello-world/', 'Hello_World'],
      ['/simple/other-pkg/', 'other.pkg'],
    ]);
  });

  it('serves JSON to pip', async () => {
    const res = await get('/simple/', { accept: PIP_ACCEPT });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(JSON_TYPE);
    expect(res.headers.vary).toMatch(/Accept/);
    const body = res.json() as { meta: { 'api-version': string }; projects: { name: string }[] };
    expect(body.meta['api-version']).toBe('1.1');
    expect(body.projects.map((p) => p.name).sort()).toEqual(['Hello_World', 'other.pkg']);
  });

  it('serves v1+html when asked', async () => {
    const res = await get('/simple/', { accept: HTML_TYPE });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(HTML_TYPE);
  });

  it('honours ?format=', async () => {
    const res = await get(`/simple/?format=${encodeURIComponent(JSON_TYPE)}`, { accept: 'text/html' });
    expect(res.headers['content-type']).toBe(JSON_TYPE);
    const html = await get(`/simple/?format=text/html`, { accept: PIP_ACCEPT });
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('answers 406 for an unknown ?format=', async () => {
    const res = await get('/simple/?format=application/xml');
    expect(res.statusCode).toBe(406);
    expect((await get('/simple/hello-world/?format=application/xml')).statusCode).toBe(406);
  });

  it('answers 406 when nothing acceptable is offered', async () => {
    const res = await get('/simple/', { accept: 'application/xml' });
    expect(res.statusCode).toBe(406);
    expect(res.body).toMatch(/application\/vnd\.pypi\.simple\.v1\+json/);
  });

  it('redirects /simple to /simple/ (301), keeping the query', async () => {
    const res = await get('/simple');
    expect(res.statusCode).toBe(301);
    expect(res.headers.location).toBe('/simple/');
    const q = await get('/simple?format=text/html');
    expect(q.statusCode).toBe(301);
    expect(q.headers.location).toBe('/simple/?format=text/html');
  });

  it('revalidates: ETag, Cache-Control, 304 on If-None-Match', async () => {
    const res = await get('/simple/');
    const etag = res.headers.etag as string;
    expect(etag).toMatch(/^"[^"]+"$/);
    expect(res.headers['cache-control']).toBe('max-age=0, must-revalidate');
    const again = await get('/simple/', { 'if-none-match': etag });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    expect(again.headers.etag).toBe(etag);
    const json = await get('/simple/', { accept: JSON_TYPE });
    expect(json.headers.etag).not.toBe(etag);
    const mismatch = await get('/simple/', { accept: JSON_TYPE, 'if-none-match': etag });
    expect(mismatch.statusCode).toBe(200);
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await t.app.inject({ method: 'HEAD', url: '/simple/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toBe('');
  });
});

describe('GET /simple/<project>/ (HTML)', () => {
  it('lists one anchor per file with sha256, requires-python and core metadata', async () => {
    const res = await get('/simple/hello-world/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers.vary).toMatch(/Accept/);
    expect(res.headers['cache-control']).toBe('max-age=0, must-revalidate');
    expect(res.body).toContain('<meta name="pypi:repository-version" content="1.1">');
    const links = anchors(res.body);
    const byName = new Map(links.map((l) => [l.text, l.attrs]));
    expect([...byName.keys()].sort()).toEqual(
      [wheelFilename(HELLO), sdistFilename(HELLO), wheelFilename(HELLO2)].sort(),
    );

    const wheel = byName.get(wheelFilename(HELLO)) as Record<string, string>;
    expect(wheel.href).toBe(`../../packages/${wheelFilename(HELLO)}#sha256=${sha256(buildWheel(HELLO))}`);
    expect(wheel['data-requires-python']).toBe('&gt;=3.8');
    const metaHash = sha256(metadataText(HELLO));
    expect(wheel['data-core-metadata']).toBe(`sha256=${metaHash}`);
    expect(wheel['data-dist-info-metadata']).toBe(`sha256=${metaHash}`);
    expect(wheel).not.toHaveProperty('data-yanked');

    const sdist = byName.get(sdistFilename(HELLO)) as Record<string, string>;
    expect(sdist.href).toBe(`../../packages/${sdistFilename(HELLO)}#sha256=${sha256(buildSdist(HELLO))}`);
    expect(sdist['data-requires-python']).toBe('&gt;=3.8');
    expect(sdist).not.toHaveProperty('data-core-metadata');
    expect(sdist).not.toHaveProperty('data-dist-info-metadata');

    const wheel2 = byName.get(wheelFilename(HELLO2)) as Record<string, string>;
    expect(wheel2['data-requires-python']).toBe('&lt;4,&gt;=3.9');
  });

  it('never writes a raw < or > inside an attribute', async () => {
    const res = await get('/simple/hello-world/');
    for (const m of res.body.matchAll(/<a\s([^>]*)>/g)) {
      expect(m[1]).not.toMatch(/[<]/);
    }
    expect(res.body).not.toContain('"<4');
    expect(res.body).not.toContain('">=3');
  });

  it('omits data-requires-python for files without it', async () => {
    const res = await get('/simple/other-pkg/');
    const [a] = anchors(res.body);
    expect(a?.text).toBe(sdistFilename(OTHER));
    expect(a?.attrs).not.toHaveProperty('data-requires-python');
  });

  it.each([
    ['/simple/Hello_World/', '/simple/hello-world/'],
    ['/simple/hello_world/', '/simple/hello-world/'],
    ['/simple/HELLO.WORLD/', '/simple/hello-world/'],
    ['/simple/hello_world', '/simple/hello-world/'],
    ['/simple/hello-world', '/simple/hello-world/'],
    ['/simple/Foo_Bar/', '/simple/foo-bar/'],
    ['/simple/foo_bar', '/simple/foo-bar/'],
  ])('redirects %s to %s (301)', async (from, to) => {
    const res = await get(from);
    expect(res.statusCode).toBe(301);
    expect(res.headers.location).toBe(to);
  });

  it('keeps ?format= across the redirect', async () => {
    const q = `?format=${encodeURIComponent(JSON_TYPE)}`;
    const res = await get(`/simple/Hello_World/${q}`);
    expect(res.statusCode).toBe(301);
    expect(res.headers.location).toBe(`/simple/hello-world/${q}`);
    const bare = await get(`/simple/hello_world${q}`);
    expect(bare.statusCode).toBe(301);
    expect(bare.headers.location).toBe(`/simple/hello-world/${q}`);
  });

  it('answers HEAD on a project page with its headers and no body', async () => {
    const get = await t.app.inject({ url: '/simple/hello-world/', headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
    const head = await t.app.inject({ method: 'HEAD', url: '/simple/hello-world/', headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
    for (const h of ['content-type', 'etag', 'vary', 'cache-control', 'content-length']) expect(head.headers[h], h).toBe(get.headers[h]);
  });

  it('answers 404 for unknown projects, in HTML and JSON', async () => {
    const res = await get('/simple/does-not-exist/');
    expect(res.statusCode).toBe(404);
    expect(res.body).toMatch(/does-not-exist/);
    const json = await get('/simple/does-not-exist/', { accept: PIP_ACCEPT });
    expect(json.statusCode).toBe(404);
  });

  it('answers 304 for a matching If-None-Match', async () => {
    const res = await get('/simple/hello-world/', { accept: PIP_ACCEPT });
    const again = await get('/simple/hello-world/', { accept: PIP_ACCEPT, 'if-none-match': res.headers.etag as string });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    const weak = await get('/simple/hello-world/', { accept: PIP_ACCEPT, 'if-none-match': `W/${res.headers.etag as string}` });
    expect(weak.statusCode).toBe(304);
    const other = await get('/simple/hello-world/', { accept: PIP_ACCEPT, 'if-none-match': '"nope"' });
    expect(other.statusCode).toBe(200);
  });
});

describe('GET /simple/<project>/ (JSON)', () => {
  async function project(name = 'hello-world'): Promise<SimpleProject> {
    const res = await get(`/simple/${name}/`, { accept: PIP_ACCEPT });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(JSON_TYPE);
    expect(res.headers.vary).toMatch(/Accept/);
    return res.json() as SimpleProject;
  }

  it('has meta, the normalized name and the versions', async () => {
    const body = await project();
    expect(body.meta['api-version']).toBe('1.1');
    expect(body.name).toBe('hello-world');
    expect([...body.versions].sort()).toEqual(['1.0.0', '2.0']);
    for (const f of body.files) expect(body.versions).toContain(f.filename.split('-')[1]?.replace(/\.tar\.gz$/, ''));
  });

  it('describes every file', async () => {
    const body = await project();
    const byName = new Map(body.files.map((f) => [f.filename, f]));
    const wheel = byName.get(wheelFilename(HELLO)) as SimpleFile;
    const wheelBytes = buildWheel(HELLO);
    expect(wheel.url).toBe(`../../packages/${wheelFilename(HELLO)}`);
    expect(wheel.hashes).toEqual({ sha256: sha256(wheelBytes) });
    expect(wheel.size).toBe(wheelBytes.length);
    expect(wheel['requires-python']).toBe('>=3.8');
    expect(wheel['core-metadata']).toEqual({ sha256: sha256(metadataText(HELLO)) });
    expect(wheel.yanked).toBe(false);
    expect(wheel['upload-time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/);
    expect(Math.abs(Date.parse(wheel['upload-time']) - Date.now())).toBeLessThan(5 * 60_000);

    const sdist = byName.get(sdistFilename(HELLO)) as SimpleFile;
    expect(sdist.size).toBe(buildSdist(HELLO).length);
    expect(sdist['core-metadata']).toBe(false);
    expect(sdist.hashes.sha256).toBe(sha256(buildSdist(HELLO)));
  });

  it('never emits dist-info-metadata', async () => {
    const res = await get('/simple/hello-world/', { accept: JSON_TYPE });
    expect(res.body).not.toContain('dist-info-metadata');
    for (const f of (res.json() as SimpleProject).files) expect(Object.keys(f)).not.toContain('dist-info-metadata');
  });

  it('omits requires-python (rather than sending null) when there is none', async () => {
    const body = await project('other-pkg');
    expect(body.files).toHaveLength(1);
    expect(body.files[0]).not.toHaveProperty('requires-python');
  });
});

describe('releases whose versions differ only in trailing zeros (1.0.0 and 1.0)', () => {
  let u: TestApp;
  beforeAll(async () => {
    u = await makeApp();
    const a = await upload(u.app, { name: 'zeros', version: '1.0.0' }, 'wheel');
    expect(a.res.statusCode, a.res.body).toBe(200);
    const b = await upload(u.app, { name: 'zeros', version: '1.0' }, 'sdist');
    expect(b.res.statusCode, b.res.body).toBe(200);
  });
  afterAll(async () => {
    await u.close();
  });

  it('are one entry of the simple JSON versions set', async () => {
    const simple = (await u.app.inject({ url: '/simple/zeros/', headers: { accept: JSON_TYPE } })).json() as SimpleProject;
    expect(simple.files.map((f) => f.filename).sort()).toEqual(['zeros-1.0.0-py3-none-any.whl', 'zeros-1.0.tar.gz']);
    // One release, so one entry in the `versions` set (PEP 440: 1.0 == 1.0.0).
    expect(simple.versions).toHaveLength(1);
    expect(['1.0', '1.0.0']).toContain(simple.versions[0]);
  });

  it('are one release in the control API', async () => {
    const detail = (await u.app.inject({ url: '/-/api/projects/zeros' })).json() as {
      releases: { version: string; files: { filename: string }[] }[];
    };
    expect(detail.releases).toHaveLength(1);
    expect(detail.releases[0]?.files).toHaveLength(2);
  });

  it('are one release in the PyPI JSON API', async () => {
    const pypi = (await u.app.inject({ url: '/pypi/zeros/json' })).json() as {
      releases: Record<string, unknown[]>;
      urls: unknown[];
    };
    expect(Object.keys(pypi.releases)).toHaveLength(1);
    expect(Object.values(pypi.releases)[0]).toHaveLength(2);
    expect(pypi.urls).toHaveLength(2);
  });
});

describe('yanked files', () => {
  let u: TestApp;
  beforeAll(async () => {
    u = await makeApp();
    expect((await upload(u.app, { name: 'yanky', version: '1.0' }, 'wheel')).res.statusCode).toBe(200);
    expect((await upload(u.app, { name: 'yanky', version: '1.0' }, 'sdist')).res.statusCode).toBe(200);
    expect((await upload(u.app, { name: 'yanky', version: '2.0' }, 'wheel')).res.statusCode).toBe(200);
  });
  afterAll(async () => {
    await u.close();
  });

  it('carry data-yanked with the escaped reason in HTML and the reason in JSON', async () => {
    const before = await u.app.inject({ url: '/simple/yanky/' });
    const etag = before.headers.etag as string;
    const y = await u.app.inject({
      method: 'POST',
      url: '/-/api/projects/yanky/releases/1.0/yank',
      payload: { reason: 'Broken <build> & "bad"' },
    });
    expect(y.statusCode, y.body).toBe(200);

    const html = await u.app.inject({ url: '/simple/yanky/', headers: { 'if-none-match': etag } });
    expect(html.statusCode).toBe(200);
    expect(html.headers.etag).not.toBe(etag);
    const links = anchors(html.body);
    const yanked = links.filter((l) => 'data-yanked' in l.attrs).map((l) => l.text).sort();
    expect(yanked).toEqual(['yanky-1.0-py3-none-any.whl', 'yanky-1.0.tar.gz']);
    for (const l of links.filter((x) => x.text.includes('-1.0'))) {
      expect(l.attrs['data-yanked']).toBe('Broken &lt;build&gt; &amp; &quot;bad&quot;');
    }
    expect(links.find((l) => l.text.includes('-2.0'))?.attrs).not.toHaveProperty('data-yanked');

    const json = (await u.app.inject({ url: '/simple/yanky/', headers: { accept: JSON_TYPE } })).json() as SimpleProject;
    for (const f of json.files) {
      expect(f.yanked).toBe(f.filename.includes('-1.0') ? 'Broken <build> & "bad"' : false);
    }
  });

  it('carry an empty data-yanked and yanked: true without a reason', async () => {
    const y = await u.app.inject({ method: 'POST', url: '/-/api/projects/yanky/releases/2.0/yank', payload: {} });
    expect(y.statusCode, y.body).toBe(200);
    const html = await u.app.inject({ url: '/simple/yanky/' });
    const two = anchors(html.body).find((l) => l.text.includes('-2.0'));
    expect(two?.attrs['data-yanked']).toBe('');
    const json = (await u.app.inject({ url: '/simple/yanky/', headers: { accept: JSON_TYPE } })).json() as SimpleProject;
    expect(json.files.find((f) => f.filename.includes('-2.0'))?.yanked).toBe(true);
  });
});
