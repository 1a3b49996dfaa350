import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestsOf, makeApp, upload, type TestApp } from '../helpers/app.js';
import { metadataText, wheelFilename, type DistSpec } from '../helpers/dists.js';

interface PypiFile {
  filename: string;
  packagetype: string;
  python_version: string;
  md5_digest: string;
  digests: { md5: string; sha256: string; blake2b_256: string };
  'core-metadata': false | { sha256: string };
  size: number;
  upload_time: string;
  upload_time_iso_8601: string;
  url: string;
  requires_python: string | null;
  yanked: boolean;
  yanked_reason: string | null;
}
interface PypiJson {
  info: {
    name: string;
    version: string;
    summary: string | null;
    description: string;
    requires_python: string | null;
    requires_dist: string[] | null;
    project_urls: Record<string, string> | null;
    home_page: string | null;
    classifiers: string[];
    yanked: boolean;
    yanked_reason: string | null;
    package_url: string;
    release_url: string;
  };
  last_serial: number;
  releases?: Record<string, PypiFile[]>;
  urls: PypiFile[];
  vulnerabilities: unknown[];
}

const V1: DistSpec = {
  name: 'Json_Demo',
  version: '1.0',
  summary: 'First',
  requiresPython: '>=3.8',
  requiresDist: ['requests>=2', 'click; extra == "cli"'],
  extraHeaders: [
    ['Home-page', 'https://example.org'],
    ['Project-URL', 'Source, https://example.org/src'],
    ['Classifier', 'Programming Language :: Python :: 3'],
  ],
  description: 'Long *description*.',
};
const V15: DistSpec = { name: 'Json_Demo', version: '1.5', summary: 'Will be yanked' };
const V2B: DistSpec = { name: 'Json_Demo', version: '2.0b1', summary: 'Pre-release' };

let t: TestApp;
const uploaded: Record<string, { filename: string; bytes: Buffer }> = {};

beforeAll(async () => {
  t = await makeApp();
  for (const [spec, kind] of [
    [V1, 'wheel'],
    [V1, 'sdist'],
    [V15, 'wheel'],
    [V2B, 'wheel'],
  ] as const) {
    const { res, filename, bytes } = await upload(t.app, spec, kind);
    expect(res.statusCode, res.body).toBe(200);
    uploaded[filename] = { filename, bytes };
  }
  const y = await t.app.inject({ method: 'POST', url: '/-/api/projects/json-demo/releases/1.5/yank', payload: { reason: 'bad' } });
  expect(y.statusCode, y.body).toBe(200);
});
afterAll(async () => {
  await t.close();
});

async function getJson(url: string, host = 'index.test:8645'): Promise<PypiJson> {
  const res = await t.app.inject({ url, headers: { host } });
  expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return res.json() as PypiJson;
}

describe('GET /pypi/<project>/json', () => {
  it('describes the latest non-yanked final release in info', async () => {
    const body = await getJson('/pypi/json-demo/json');
    expect(body.info.name).toBe('Json_Demo');
    expect(body.info.version).toBe('1.0');
    expect(body.info.summary).toBe('First');
    expect(body.info.requires_python).toBe('>=3.8');
    expect(body.info.requires_dist).toEqual(['requests>=2', 'click; extra == "cli"']);
    expect(body.info.home_page).toBe('https://example.org');
    expect(body.info.project_urls).toEqual({ Source: 'https://example.org/src' });
    expect(body.info.classifiers).toEqual(['Programming Language :: Python :: 3']);
    expect(body.info.description).toBe('Long *description*.\n');
    expect(body.info.yanked).toBe(false);
    expect(body.info.yanked_reason).toBeNull();
    expect(typeof body.last_serial).toBe('number');
    expect(body.vulnerabilities).toEqual([]);
  });

  it('lists every release with its files', async () => {
    const body = await getJson('/pypi/json-demo/json');
    expect(Object.keys(body.releases ?? {}).sort()).toEqual(['1.0', '1.5', '2.0b1']);
    expect((body.releases?.['1.0'] ?? []).map((f) => f.filename).sort()).toEqual(
      ['json_demo-1.0-py3-none-any.whl', 'json_demo-1.0.tar.gz'].sort(),
    );
    const yanked = body.releases?.['1.5']?.[0];
    expect(yanked?.yanked).toBe(true);
    expect(yanked?.yanked_reason).toBe('bad');
    expect(body.releases?.['2.0b1']?.[0]?.yanked).toBe(false);
  });

  it('describes the files of info.version in urls', async () => {
    const body = await getJson('/pypi/json-demo/json');
    expect(body.urls.map((f) => f.filename).sort()).toEqual(['json_demo-1.0-py3-none-any.whl', 'json_demo-1.0.tar.gz']);
    for (const f of body.urls) {
      const bytes = uploaded[f.filename]?.bytes as Buffer;
      const d = digestsOf(bytes);
      expect(f.digests).toEqual({ md5: d.md5, sha256: d.sha256, blake2b_256: d.blake2_256 });
      expect(f.md5_digest).toBe(d.md5);
      expect(f.size).toBe(bytes.length);
      expect(f.url).toBe(`http://index.test:8645/packages/${f.filename}`);
      expect(f.upload_time_iso_8601).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      expect(f.upload_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      expect(f.upload_time_iso_8601.startsWith(f.upload_time)).toBe(true);
      expect(f.requires_python).toBe('>=3.8');
      expect(f.yanked).toBe(false);
      if (f.filename.endsWith('.whl')) {
        expect(f.packagetype).toBe('bdist_wheel');
        expect(f.python_version).toBe('py3');
        expect(f['core-metadata']).toEqual({ sha256: createHash('sha256').update(metadataText(V1)).digest('hex') });
      } else {
        expect(f.packagetype).toBe('sdist');
        expect(f.python_version).toBe('source');
        expect(f['core-metadata']).toBe(false);
      }
    }
  });

  it('serves the URL with a trailing slash too', async () => {
    const body = await getJson('/pypi/json-demo/json/');
    expect(body.info.version).toBe('1.0');
  });

  it('uses the Host the client used in absolute URLs', async () => {
    const body = await getJson('/pypi/json-demo/json', 'other.host:9000');
    expect(body.urls[0]?.url.startsWith('http://other.host:9000/packages/')).toBe(true);
    expect(body.info.package_url).toBe('http://other.host:9000/pypi/json-demo/');
  });

  it('redirects non-normalized names (301)', async () => {
    for (const [from, to] of [
      ['/pypi/Json_Demo/json', '/pypi/json-demo/json'],
      ['/pypi/json.demo/json/', '/pypi/json-demo/json/'],
      ['/pypi/JSON-DEMO/1.0/json', '/pypi/json-demo/1.0/json'],
    ] as const) {
      const res = await t.app.inject({ url: from });
      expect(res.statusCode, from).toBe(301);
      expect(res.headers.location).toBe(to);
    }
  });

  it('answers 404 for an unknown project', async () => {
    const res = await t.app.inject({ url: '/pypi/nope/json' });
    expect(res.statusCode).toBe(404);
    expect(res.body).toMatch(/nope/);
  });

  it('supports ETag revalidation', async () => {
    const res = await t.app.inject({ url: '/pypi/json-demo/json' });
    const again = await t.app.inject({ url: '/pypi/json-demo/json', headers: { 'if-none-match': res.headers.etag as string } });
    expect(again.statusCode).toBe(304);
  });
});

describe('GET /pypi/<project>/<version>/json', () => {
  it('describes that release and has no releases map', async () => {
    const body = await getJson('/pypi/json-demo/2.0b1/json');
    expect(body.info.version).toBe('2.0b1');
    expect(body.info.summary).toBe('Pre-release');
    expect(body.info.requires_python).toBeNull();
    expect(body.info.requires_dist).toBeNull();
    expect(body).not.toHaveProperty('releases');
    expect(body.urls.map((f) => f.filename)).toEqual([wheelFilename(V2B)]);
  });

  it('describes a yanked release as yanked', async () => {
    const body = await getJson('/pypi/json-demo/1.5/json/');
    expect(body.info.yanked).toBe(true);
    expect(body.info.yanked_reason).toBe('bad');
    expect(body.urls[0]?.yanked).toBe(true);
    expect(body.urls[0]?.yanked_reason).toBe('bad');
  });

  it('finds 1.0 when asked for 1.0.0 (and 1)', async () => {
    for (const v of ['1.0.0', '1', '1.0']) {
      const body = await getJson(`/pypi/json-demo/${v}/json`);
      expect(body.info.version).toBe('1.0');
      expect(body.urls).toHaveLength(2);
    }
  });

  it('answers 404 for an unknown version', async () => {
    const res = await t.app.inject({ url: '/pypi/json-demo/9.9/json' });
    expect(res.statusCode).toBe(404);
    expect(res.body).toMatch(/9\.9/);
    expect((await t.app.inject({ url: '/pypi/nope/1.0/json' })).statusCode).toBe(404);
  });

  it('keeps post-releases apart from their base release', async () => {
    for (const v of ['3.0', '3.0.post1', '3.0.post2']) {
      const { res } = await upload(t.app, { name: 'Json_Demo', version: v }, 'wheel');
      expect(res.statusCode, res.body).toBe(200);
    }
    const post = await getJson('/pypi/json-demo/3.0.post1/json');
    expect(post.info.version).toBe('3.0.post1');
    expect(post.urls.map((f) => f.filename)).toEqual(['json_demo-3.0.post1-py3-none-any.whl']);
    const all = await getJson('/pypi/json-demo/json');
    expect(all.info.version).toBe('3.0.post2');
    expect(all.urls.map((f) => f.filename)).toEqual(['json_demo-3.0.post2-py3-none-any.whl']);
    expect(Object.keys(all.releases ?? {}).sort()).toEqual(['1.0', '1.5', '2.0b1', '3.0', '3.0.post1', '3.0.post2']);
  });
});

describe('a project with only pre-releases and yanked releases', () => {
  it('falls back to the newest pre-release, then to yanked releases', async () => {
    const u = await makeApp();
    try {
      for (const v of ['1.0a1', '1.0b2']) expect((await upload(u.app, { name: 'pre', version: v }, 'wheel')).res.statusCode).toBe(200);
      let info = ((await u.app.inject({ url: '/pypi/pre/json' })).json() as PypiJson).info;
      expect(info.version).toBe('1.0b2');
      await u.app.inject({ method: 'POST', url: '/-/api/projects/pre/releases/1.0b2/yank', payload: {} });
      await u.app.inject({ method: 'POST', url: '/-/api/projects/pre/releases/1.0a1/yank', payload: {} });
      info = ((await u.app.inject({ url: '/pypi/pre/json' })).json() as PypiJson).info;
      expect(info.version).toBe('1.0b2');
      expect(info.yanked).toBe(true);
    } finally {
      await u.close();
    }
  });
});
