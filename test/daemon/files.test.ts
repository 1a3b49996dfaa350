import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeApp, upload, type TestApp } from '../helpers/app.js';
import { buildSdist, buildWheel, metadataText, sdistFilename, wheelFilename, type DistSpec } from '../helpers/dists.js';
import { waitFor } from '../helpers/wait.js';
import { READ_AT_ONCE_BYTES } from '../../src/daemon/services/open-files.js';

const SPEC: DistSpec = {
  name: 'files_demo',
  version: '1.0',
  summary: 'Files',
  // Enough content that ranges inside the file make sense.
  modules: { 'files_demo/__init__.py': '# padding\n'.repeat(200) },
  description: 'A description with ünïcödé.',
};
const WHEEL = buildWheel(SPEC);
const SDIST = buildSdist(SPEC);
const WHEEL_NAME = wheelFilename(SPEC);
const SDIST_NAME = sdistFilename(SPEC);
const IMMUTABLE = /max-age=365000000.*immutable|immutable.*max-age=365000000/;

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

interface Detail {
  downloads: number;
  releases: { version: string; downloads: number; files: { filename: string; downloads: number }[] }[];
}

let t: TestApp;

beforeAll(async () => {
  t = await makeApp();
  expect((await upload(t.app, SPEC, 'wheel')).res.statusCode).toBe(200);
  expect((await upload(t.app, SPEC, 'sdist')).res.statusCode).toBe(200);
});
afterAll(async () => {
  await t.close();
});

function get(url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') {
  return t.app.inject({ method, url, headers });
}

describe('GET /packages/<file>', () => {
  it('serves a wheel with its headers', async () => {
    const res = await get(`/packages/${WHEEL_NAME}`);
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(WHEEL)).toBe(true);
    expect(res.headers['content-type']).toBe('application/zip');
    expect(res.headers['content-length']).toBe(String(WHEEL.length));
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.headers['cache-control']).toMatch(IMMUTABLE);
    expect(res.headers['content-encoding']).toBeUndefined();
  });

  it('serves an sdist as application/gzip without content-encoding', async () => {
    const res = await get(`/packages/${SDIST_NAME}`, { 'accept-encoding': 'gzip, br' });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(SDIST)).toBe(true);
    expect(res.headers['content-type']).toBe('application/gzip');
    expect(res.headers['content-length']).toBe(String(SDIST.length));
    expect(res.headers['content-encoding']).toBeUndefined();
  });

  it('is the URL the simple page links to', async () => {
    const html = (await get('/simple/files-demo/')).body;
    const href = /href="([^"#]+)#sha256=([0-9a-f]+)"[^>]*>files_demo-1\.0-py3-none-any\.whl</.exec(html);
    expect(href).not.toBeNull();
    const url = new URL(href?.[1] as string, 'http://x/simple/files-demo/').pathname;
    expect(url).toBe(`/packages/${WHEEL_NAME}`);
    const res = await get(url);
    expect(sha256(res.rawPayload)).toBe(href?.[2]);
  });

  it('answers HEAD with the same length and no body', async () => {
    const res = await get(`/packages/${WHEEL_NAME}`, {}, 'HEAD');
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.length).toBe(0);
    expect(res.headers['content-length']).toBe(String(WHEEL.length));
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.headers['content-type']).toBe('application/zip');
  });

  it('answers a range with 206 and Content-Range', async () => {
    const res = await get(`/packages/${WHEEL_NAME}`, { range: 'bytes=0-9' });
    expect(res.statusCode).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes 0-9/${WHEEL.length}`);
    expect(res.headers['content-length']).toBe('10');
    expect(res.rawPayload.equals(WHEEL.subarray(0, 10))).toBe(true);
  });

  it('answers a range in the middle exactly', async () => {
    const res = await get(`/packages/${WHEEL_NAME}`, { range: 'bytes=100-199' });
    expect(res.statusCode).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes 100-199/${WHEEL.length}`);
    expect(res.rawPayload.equals(WHEEL.subarray(100, 200))).toBe(true);
  });

  it('answers a suffix range with the last bytes', async () => {
    const res = await get(`/packages/${WHEEL_NAME}`, { range: 'bytes=-10' });
    expect(res.statusCode).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes ${WHEEL.length - 10}-${WHEEL.length - 1}/${WHEEL.length}`);
    expect(res.rawPayload.equals(WHEEL.subarray(WHEEL.length - 10))).toBe(true);
  });

  it('answers an open-ended range', async () => {
    const res = await get(`/packages/${WHEEL_NAME}`, { range: `bytes=${WHEEL.length - 5}-` });
    expect(res.statusCode).toBe(206);
    expect(res.rawPayload.equals(WHEEL.subarray(WHEEL.length - 5))).toBe(true);
  });

  it('answers an unsatisfiable range with 416 and Content-Range: bytes */size', async () => {
    const res = await get(`/packages/${WHEEL_NAME}`, { range: 'bytes=99999999-' });
    expect(res.statusCode).toBe(416);
    expect(res.headers['content-range']).toBe(`bytes */${WHEEL.length}`);
  });

  it('answers 404 for unknown files', async () => {
    const res = await get('/packages/nope-1.0.tar.gz');
    expect(res.statusCode).toBe(404);
    expect(res.body).toMatch(/nope-1\.0\.tar\.gz/);
  });

  it('does not serve files outside the packages folder', async () => {
    for (const url of ['/packages/../data/catalog.sqlite', '/packages/%2e%2e/data/catalog.sqlite', '/packages/..%2fdata%2fcatalog.sqlite']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(404);
    }
  });
});

describe('ranges and validators (RFC 9110 §13, §14)', () => {
  const size = WHEEL.length;
  const url = `/packages/${WHEEL_NAME}`;

  it('serves the whole file (206) for a suffix range longer than the file, as §14.1.2 says', async () => {
    for (const method of ['GET', 'HEAD'] as const) {
      const res = await get(url, { range: `bytes=-${size * 20}` }, method);
      expect(res.statusCode, method).toBe(206);
      expect(res.headers['content-range']).toBe(`bytes 0-${size - 1}/${size}`);
      expect(res.headers['content-length']).toBe(String(size));
      if (method === 'GET') expect(res.rawPayload.equals(WHEEL)).toBe(true);
    }
    // Exactly the file's length is the same.
    expect((await get(url, { range: `bytes=-${size}` })).headers['content-range']).toBe(`bytes 0-${size - 1}/${size}`);
  });

  it('clamps a last position past the end', async () => {
    const res = await get(url, { range: `bytes=10-${size * 10}` });
    expect(res.statusCode).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes 10-${size - 1}/${size}`);
    expect(res.rawPayload.equals(WHEEL.subarray(10))).toBe(true);
  });

  it.each([`bytes=${WHEEL.length}-`, 'bytes=-0', `bytes=${WHEEL.length + 5}-${WHEEL.length + 9}`, `bytes=${WHEEL.length}-,-0`])(
    'answers an unsatisfiable %s with 416 and Content-Range: bytes */size',
    async (range) => {
      const res = await get(url, { range });
      expect(res.statusCode).toBe(416);
      expect(res.headers['content-range']).toBe(`bytes */${size}`);
    },
  );

  it.each(['bytes=5-2', 'bytes=abc', 'bytes=-', 'bytes=1-2-3', 'bytes=0-9,x', 'items=0-5', 'bytes', '=0-5'])(
    'ignores the invalid or foreign %j and serves the whole file (200)',
    async (range) => {
      const res = await get(url, { range });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-range']).toBeUndefined();
      expect(res.rawPayload.equals(WHEEL)).toBe(true);
    },
  );

  it('answers several ranges with the whole file (200), which §14.2 allows', async () => {
    const res = await get(url, { range: 'bytes=0-9,20-29' });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(WHEEL)).toBe(true);
  });

  it('serves the one satisfiable range of several, and reads list syntax with spaces and empty elements', async () => {
    const res = await get(url, { range: `bytes=0-9, ${size + 100}-` });
    expect(res.statusCode).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes 0-9/${size}`);
    expect((await get(url, { range: 'BYTES = 0-9 ,' })).headers['content-range']).toBe(`bytes 0-9/${size}`);
  });

  it('sends a strong ETag, the sha256, and answers If-None-Match with 304', async () => {
    const res = await get(url);
    expect(res.headers.etag).toBe(`"${sha256(WHEEL)}"`);
    expect(res.headers['accept-ranges']).toBe('bytes');
    const again = await get(url, { 'if-none-match': `W/"x", "${sha256(WHEEL)}"` });
    expect(again.statusCode).toBe(304);
    expect(again.rawPayload.length).toBe(0);
    expect((await get(url, { 'if-none-match': '"other"' })).statusCode).toBe(200);
  });

  it('honours If-Range only for the exact strong ETag or Last-Modified date (§13.1.5)', async () => {
    const first = await get(url);
    const etag = first.headers.etag as string;
    const modified = first.headers['last-modified'] as string;
    expect((await get(url, { range: 'bytes=0-9', 'if-range': etag })).statusCode).toBe(206);
    expect((await get(url, { range: 'bytes=0-9', 'if-range': modified })).statusCode).toBe(206);
    for (const stale of ['"something-else"', `W/${etag}`, 'Thu, 01 Jan 1970 00:00:00 GMT']) {
      const res = await get(url, { range: 'bytes=0-9', 'if-range': stale });
      expect(res.statusCode, stale).toBe(200);
      expect(res.rawPayload.equals(WHEEL)).toBe(true);
    }
  });

  it('answers If-Modified-Since with 304 unless If-None-Match is sent or no-cache asked, and If-Unmodified-Since before the file with 412', async () => {
    const modified = (await get(url)).headers['last-modified'] as string;
    const later = new Date(Date.parse(modified) + 60_000).toUTCString();
    const earlier = new Date(Date.parse(modified) - 60_000).toUTCString();
    expect((await get(url, { 'if-modified-since': modified })).statusCode).toBe(304);
    expect((await get(url, { 'if-modified-since': later })).statusCode).toBe(304);
    expect((await get(url, { 'if-modified-since': earlier })).statusCode).toBe(200);
    // RFC 9110 §13.1.3: If-None-Match decides alone.
    expect((await get(url, { 'if-modified-since': later, 'if-none-match': '"other"' })).statusCode).toBe(200);
    expect((await get(url, { 'if-modified-since': later, 'cache-control': 'no-cache' })).statusCode).toBe(200);
    expect((await get(url, { 'if-modified-since': 'not a date' })).statusCode).toBe(200);
    const refused = await get(url, { 'if-unmodified-since': earlier });
    expect(refused.statusCode).toBe(412);
    expect(refused.body).toMatch(/If-Unmodified-Since/);
    expect((await get(url, { 'if-unmodified-since': modified })).statusCode).toBe(200);
  });

  it('answers If-Match with another tag 412, and with its own tag the file', async () => {
    expect((await get(url, { 'if-match': '"nope"' })).statusCode).toBe(412);
    expect((await get(url, { 'if-match': `"${sha256(WHEEL)}"` })).statusCode).toBe(200);
  });
});

describe('a file larger than what is read at once (streamed)', () => {
  // Random bytes do not compress: the wheel is larger than READ_AT_ONCE_BYTES.
  const big: DistSpec = { name: 'big_demo', version: '1.0', modules: { 'big_demo/data.py': `DATA = '${randomBytes(400 * 1024).toString('base64')}'\n` } };
  const bytes = buildWheel(big);
  const url = `/packages/${wheelFilename(big)}`;

  beforeAll(async () => {
    expect(bytes.length).toBeGreaterThan(READ_AT_ONCE_BYTES);
    expect((await upload(t.app, big, 'wheel')).res.statusCode).toBe(200);
  });

  it('is sent whole, ranged and as HEAD exactly', async () => {
    const whole = await get(url);
    expect(whole.statusCode).toBe(200);
    expect(whole.headers['content-length']).toBe(String(bytes.length));
    expect(whole.rawPayload.equals(bytes)).toBe(true);
    const part = await get(url, { range: `bytes=1000-${READ_AT_ONCE_BYTES + 5000}` });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 1000-${READ_AT_ONCE_BYTES + 5000}/${bytes.length}`);
    expect(part.rawPayload.equals(bytes.subarray(1000, READ_AT_ONCE_BYTES + 5001))).toBe(true);
    const head = await get(url, {}, 'HEAD');
    expect(head.headers['content-length']).toBe(String(bytes.length));
    expect(head.rawPayload.length).toBe(0);
  });
});

describe('GET /packages/ (pypiserver\'s list of every file)', () => {
  it('links every file with its hash, as a page pip --find-links reads', async () => {
    const res = await get('/packages/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toMatch(/^<!DOCTYPE html>/);
    expect(res.body).toContain(`<a href="${WHEEL_NAME}#sha256=${sha256(WHEEL)}">${WHEEL_NAME}</a>`);
    expect(res.body).toContain(`<a href="${SDIST_NAME}#sha256=${sha256(SDIST)}">${SDIST_NAME}</a>`);
    // Each link leads to the file.
    expect((await get(`/packages/${WHEEL_NAME}`)).statusCode).toBe(200);
  });

  it('redirects /packages to /packages/, and revalidates with an ETag', async () => {
    const res = await get('/packages');
    expect(res.statusCode).toBe(301);
    expect(res.headers.location).toBe('/packages/');
    const page = await get('/packages/');
    expect((await get('/packages/', { 'if-none-match': page.headers.etag as string })).statusCode).toBe(304);
  });

  it('changes when a file is added', async () => {
    const before = (await get('/packages/')).headers.etag;
    expect((await upload(t.app, { ...SPEC, version: '2.0' }, 'wheel')).res.statusCode).toBe(200);
    const after = await get('/packages/');
    expect(after.headers.etag).not.toBe(before);
    expect(after.body).toContain(wheelFilename({ ...SPEC, version: '2.0' }));
  });

  it('lists the projects of every group read, by name, each oldest version first; HEAD says its length', async () => {
    // Several groups of projects read together (16), uploaded out of order.
    for (let i = 69; i >= 0; i--) {
      expect((await upload(t.app, { name: `listed-${String(i).padStart(2, '0')}`, version: i % 2 ? '1.10' : '1.9' }, 'sdist')).res.statusCode).toBe(200);
    }
    expect((await upload(t.app, { name: 'listed-00', version: '1.10' }, 'sdist')).res.statusCode).toBe(200);
    const res = await get('/packages/');
    expect(res.body.startsWith('<!DOCTYPE html>\n')).toBe(true);
    expect(res.body.endsWith('  </body>\n</html>\n')).toBe(true);
    const listed = [...res.body.matchAll(/>(listed_[^<]+)</g)].map((m) => m[1]);
    expect(listed.slice(0, 3)).toEqual(['listed_00-1.9.tar.gz', 'listed_00-1.10.tar.gz', 'listed_01-1.10.tar.gz']);
    expect(listed).toHaveLength(71);
    expect(listed.at(-1)).toBe('listed_69-1.10.tar.gz');
    const head = await get('/packages/', {}, 'HEAD');
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe(String(res.rawPayload.length));
    expect(head.headers.etag).toBe(res.headers.etag);
    expect(head.rawPayload.length).toBe(0);
  });
});

describe('GET /packages/<wheel>.metadata (PEP 658)', () => {
  it('is byte-identical to METADATA and hashes to the advertised sha256', async () => {
    const res = await get(`/packages/${WHEEL_NAME}.metadata`);
    expect(res.statusCode).toBe(200);
    const expected = Buffer.from(metadataText(SPEC), 'utf8');
    expect(res.rawPayload.equals(expected)).toBe(true);
    expect(res.headers['cache-control']).toMatch(IMMUTABLE);

    const json = (await get('/simple/files-demo/', { accept: 'application/vnd.pypi.simple.v1+json' })).json() as {
      files: { filename: string; 'core-metadata': false | { sha256: string } }[];
    };
    const advertised = json.files.find((f) => f.filename === WHEEL_NAME)?.['core-metadata'];
    expect(advertised).toEqual({ sha256: sha256(res.rawPayload) });
    const html = (await get('/simple/files-demo/')).body;
    expect(html).toContain(`data-core-metadata="sha256=${sha256(res.rawPayload)}"`);
  });

  it('answers HEAD', async () => {
    const res = await get(`/packages/${WHEEL_NAME}.metadata`, {}, 'HEAD');
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.length).toBe(0);
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(metadataText(SPEC))));
  });

  it('answers 404 for an sdist', async () => {
    const res = await get(`/packages/${SDIST_NAME}.metadata`);
    expect(res.statusCode).toBe(404);
  });

  it('answers 404 for an unknown wheel', async () => {
    expect((await get('/packages/nope-1.0-py3-none-any.whl.metadata')).statusCode).toBe(404);
  });
});

describe('download counting', () => {
  let u: TestApp;
  beforeAll(async () => {
    u = await makeApp();
    expect((await upload(u.app, SPEC, 'wheel')).res.statusCode).toBe(200);
    expect((await upload(u.app, SPEC, 'sdist')).res.statusCode).toBe(200);
  });
  afterAll(async () => {
    await u.close();
  });

  async function detail(): Promise<Detail> {
    u.app.index.catalog.flushDownloads();
    return (await u.app.inject({ url: '/-/api/projects/files-demo' })).json() as Detail;
  }
  function fileDownloads(d: Detail, filename: string): number {
    return d.releases.flatMap((r) => r.files).find((f) => f.filename === filename)?.downloads ?? -1;
  }

  it('counts GET 200 and ranges from byte 0, but not HEAD, suffix or middle ranges, or .metadata', async () => {
    expect(fileDownloads(await detail(), WHEEL_NAME)).toBe(0);
    const req = (headers: Record<string, string>, method: 'GET' | 'HEAD' = 'GET', suffix = '') =>
      u.app.inject({ method, url: `/packages/${WHEEL_NAME}${suffix}`, headers });

    expect((await req({})).statusCode).toBe(200); // counted
    expect((await req({})).statusCode).toBe(200); // counted
    expect((await req({}, 'HEAD')).statusCode).toBe(200); // not counted
    expect((await req({ range: 'bytes=0-99' })).statusCode).toBe(206); // counted
    expect((await req({ range: 'bytes=-22' })).statusCode).toBe(206); // not counted (suffix)
    expect((await req({ range: 'bytes=10-20' })).statusCode).toBe(206); // not counted
    expect((await req({}, 'GET', '.metadata')).statusCode).toBe(200); // not counted
    expect((await req({ range: 'bytes=99999999-' })).statusCode).toBe(416); // not counted

    const d = await detail();
    expect(fileDownloads(d, WHEEL_NAME)).toBe(3);
    expect(fileDownloads(d, SDIST_NAME)).toBe(0);
    expect(d.downloads).toBe(3);
    expect(d.releases[0]?.downloads).toBe(3);

    await u.app.inject({ url: `/packages/${SDIST_NAME}` });
    const after = await detail();
    expect(fileDownloads(after, SDIST_NAME)).toBe(1);
    expect(after.downloads).toBe(4);
  });

  it('shows the flushed counts in the project list and per day', async () => {
    const list = (await u.app.inject({ url: '/-/api/projects' })).json() as { projects: { name: string; downloads: number }[] };
    expect(list.projects.find((p) => p.name === 'files-demo')?.downloads).toBe(4);
    const d = (await u.app.inject({ url: '/-/api/projects/files-demo' })).json() as {
      downloadsByDay: { day: string; downloads: number }[];
    };
    expect(d.downloadsByDay).toEqual([{ day: new Date().toISOString().slice(0, 10), downloads: 4 }]);
  });

  it('flushes on its own within a couple of seconds', async () => {
    await u.app.inject({ url: `/packages/${SDIST_NAME}` });
    // The project list reads only flushed counts.
    const listed = async () => ((await u.app.inject({ url: '/-/api/projects' })).json() as { projects: { name: string; downloads: number }[] }).projects.find((p) => p.name === 'files-demo')?.downloads;
    await waitFor(
      'the fifth download in the project list',
      async () => {
        expect(await listed()).toBe(5);
        return true;
      },
      3_000,
    );
  });
});
