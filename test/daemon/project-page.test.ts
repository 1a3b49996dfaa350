/**
 * The read-only project page, `/project/<name>/` and `/project/<name>/<version>/`, in-process.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileInfo, ProjectDetail } from '../../src/shared/api.js';
import { parseCoreMetadata } from '../../src/shared/metadata.js';
import { renderProjectPage } from '../../src/daemon/services/project-page.js';
import { basic, makeApp, upload, type TestApp } from '../helpers/app.js';
import { metadataText, wheelFilename, type DistSpec } from '../helpers/dists.js';
import { activeMarkup } from '../helpers/html.js';

const README = [
  '# Page Demo',
  '',
  'Does **things**. See [the docs](https://docs.example/).',
  '',
  '<script>alert("md")</script>',
  '<img src="x" onerror="alert(1)">',
  '[js](javascript:alert(1))',
  '<iframe src="https://evil.example/"></iframe>',
  '<style>body{display:none}</style>',
  '<a href="https://ok.example/" onclick="steal()">raw link</a>',
].join('\n');

const SPEC: DistSpec = {
  name: 'Page_Demo',
  version: '2.0',
  summary: 'A project to show on its page',
  requiresPython: '>=3.9',
  requiresDist: ['requests>=2.28', 'rich>=13; extra == "cli"', 'pytest; (python_version >= "3.10") and extra == "test"'],
  extraHeaders: [
    ['Description-Content-Type', 'text/markdown; charset=UTF-8'],
    ['Provides-Extra', 'cli'],
    ['Provides-Extra', 'test'],
    ['Provides-Extra', 'empty'],
    ['License-Expression', 'MIT'],
    ['Author', 'Ada Lovelace'],
    ['Project-URL', 'Source, https://src.example/page-demo'],
    ['Project-URL', 'Bad, javascript:alert(1)'],
    ['Classifier', 'Programming Language :: Python :: 3'],
  ],
  description: README,
};
const OLD: DistSpec = { ...SPEC, version: '1.0', summary: 'The old summary', description: 'Old *reStructuredText* text.', extraHeaders: [] };

let t: TestApp;
let wheelBytes: Buffer;

beforeAll(async () => {
  t = await makeApp();
  expect((await upload(t.app, OLD, 'wheel')).res.statusCode).toBe(200);
  const up = await upload(t.app, SPEC, 'wheel');
  expect(up.res.statusCode).toBe(200);
  wheelBytes = up.bytes;
  expect((await upload(t.app, SPEC, 'sdist')).res.statusCode).toBe(200);
  const yank = await t.app.inject({ method: 'POST', url: '/-/api/projects/page-demo/releases/1.0/yank', payload: { reason: 'broken on 3.12' } });
  expect(yank.statusCode, yank.body).toBe(200);
});
afterAll(async () => {
  await t.close();
});

function page(url: string, headers: Record<string, string> = {}) {
  return t.app.inject({ url, headers: { host: '127.0.0.1:8645', ...headers } });
}

describe('GET /project/<name>/', () => {
  it('shows the latest release: name, version, summary, and the description from Markdown', async () => {
    const res = await page('/project/page-demo/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toMatch(/<h1>Page_Demo <span class="version">2\.0<\/span>/);
    expect(res.body).toContain('<p class="summary">A project to show on its page</p>');
    expect(res.body).toContain('<h3>Page Demo</h3>');
    expect(res.body).toContain('Does <strong>things</strong>. See <a href="https://docs.example/" rel="nofollow noopener">the docs</a>.');
    expect(res.body).toContain('<a href="https://ok.example/" rel="nofollow noopener">raw link</a>');
  });

  it('lets nothing active through from the description or the metadata', async () => {
    const res = await page('/project/page-demo/');
    // Everything after the head (whose stylesheet and meta tags are the page's own); there is no script at all.
    const body = res.body.slice(res.body.indexOf('<body>'));
    expect(activeMarkup(body)).toEqual([]);
    expect(res.body).not.toContain('<script');
    expect(res.body).not.toContain('alert("md")');
    // As text it may stay (an HTML block in Markdown swallows the line after it); never as a link.
    expect(res.body).not.toMatch(/href\s*=\s*["']?\s*javascript:/i);
    expect(res.headers['content-security-policy']).toContain("script-src 'none'");
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
  });

  it('shows copy-paste install commands for pip, uv, poetry and pdm with the URL the reader used', async () => {
    const res = await page('/project/page-demo/');
    for (const command of [
      'pip install --index-url http://127.0.0.1:8645/simple/ page-demo',
      'uv pip install --index-url http://127.0.0.1:8645/simple/ page-demo',
      'uv add --index pyrepo=http://127.0.0.1:8645/simple/ page-demo',
      'poetry source add --priority=supplemental pyrepo http://127.0.0.1:8645/simple/',
      'poetry add --source pyrepo page-demo',
      'pdm config pypi.pyrepo.url http://127.0.0.1:8645/simple/',
      'pdm add page-demo',
    ]) {
      expect(res.body).toContain(command);
    }
  });

  it('shows the dependencies: Requires-Python, Requires-Dist and each extra', async () => {
    const res = await page('/project/page-demo/');
    expect(res.body).toContain('<dt>Requires Python</dt><dd><code>&gt;=3.9</code></dd>');
    expect(res.body).toContain('<dt>Requires</dt><dd><ul><li><code>requests&gt;=2.28</code></li></ul></dd>');
    expect(res.body).toContain('<dt>Extra <code>cli</code></dt><dd><ul><li><code>rich&gt;=13</code></li></ul></dd>');
    expect(res.body).toContain('<code>pytest; (python_version &gt;= &quot;3.10&quot;) and extra == &quot;test&quot;</code>');
    expect(res.body).toContain('<dt>Extra <code>empty</code></dt><dd><span class="muted">no more requirements</span></dd>');
    expect(res.body).toContain('<dt>License</dt><dd>MIT</dd>');
    expect(res.body).toContain('<a href="https://src.example/page-demo" rel="nofollow noopener">Source</a>');
    expect(res.body).not.toContain('>Bad<');
  });

  it('lists the releases with their yank state and reason', async () => {
    const res = await page('/project/page-demo/');
    expect(res.body).toMatch(/<a href="\.\/2\.0\/" aria-current="page">2\.0<\/a><\/th>.*<span class="tag latest">latest<\/span>/);
    expect(res.body).toMatch(/<a href="\.\/1\.0\/">1\.0<\/a><\/th>.*<span class="tag yanked">yanked<\/span> broken on 3\.12/);
  });

  it('lists the files of the release with size, sha256, upload time and downloads, linked to the files', async () => {
    const res = await page('/project/page-demo/');
    const name = wheelFilename(SPEC);
    expect(res.body).toContain(`<a href="../../packages/${name}">${name}</a>`);
    expect(res.body).toContain(createHash('sha256').update(wheelBytes).digest('hex'));
    expect(res.body).toMatch(/Wheel · [\d.]+ (KiB|bytes) · uploaded \d{4}-\d\d-\d\d \d\d:\d\d UTC · Python <code>&gt;=3\.9<\/code> · 0 downloads/);
    expect(res.body).toContain('page_demo-2.0.tar.gz');
    // Files of other releases are not in this list.
    expect(res.body).not.toContain(wheelFilename(OLD));
  });

  it('counts a download at once (a download drops the cached page), and keeps the page in memory otherwise', async () => {
    const before = await page('/project/page-demo/');
    expect((await page('/project/page-demo/', { 'if-none-match': before.headers.etag as string })).statusCode).toBe(304);
    expect((await t.app.inject({ url: `/packages/${wheelFilename(SPEC)}` })).statusCode).toBe(200);
    const after = await page('/project/page-demo/');
    expect(after.headers.etag).not.toBe(before.headers.etag);
    expect(after.body).toContain('· 1 download</div>');
    expect(after.body).toMatch(/1 in total · 1 in the last 30 days/);
  });

  it('uses publicUrl in the commands', async () => {
    const u = await makeApp({ publicUrl: 'https://pypi.example.com/team/' });
    try {
      expect((await upload(u.app, SPEC, 'wheel')).res.statusCode).toBe(200);
      const res = await u.app.inject({ url: '/project/page-demo/', headers: { host: 'internal:1234' } });
      expect(res.body).toContain('pip install --index-url https://pypi.example.com/team/simple/ page-demo');
      expect(res.body).not.toContain('internal:1234');
    } finally {
      await u.close();
    }
  });
});

describe('GET /project/<name>/<version>/', () => {
  it('shows that release, yanked with its reason, with pinned commands and a way to the latest', async () => {
    const res = await page('/project/page-demo/1.0/');
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/<h1>Page_Demo <span class="version">1\.0<\/span><\/h1>/);
    expect(res.body).toContain('<p class="summary">The old summary</p>');
    expect(res.body).toContain('<strong>This release is yanked</strong>: broken on 3.12.');
    expect(res.body).toContain('the latest is <a href="../">Page_Demo 2.0</a>');
    expect(res.body).toContain('pip install --index-url http://127.0.0.1:8645/simple/ page-demo==1.0');
    // No Description-Content-Type: reStructuredText, as PyPI reads it.
    expect(res.body).toContain('Old <em>reStructuredText</em> text.');
    expect(res.body).toContain(`<a href="../../../packages/${wheelFilename(OLD)}">`);
  });

  it('redirects an equivalent version to the release as written (1.0.0 → 1.0)', async () => {
    const res = await page('/project/page-demo/1.0.0/');
    expect(res.statusCode).toBe(301);
    expect(res.headers.location).toBe('/project/page-demo/1.0/');
  });
});

describe('URLs and answers around the page', () => {
  it.each([
    ['/project/Page_Demo/', '/project/page-demo/'],
    ['/project/page-demo', '/project/page-demo/'],
    ['/project/Page.Demo/2.0', '/project/page-demo/2.0/'],
    ['/project/PAGE-DEMO/2.0/', '/project/page-demo/2.0/'],
    ['/project/', '/'],
  ])('redirects %s to %s', async (url, location) => {
    const res = await page(url);
    expect(res.statusCode).toBe(301);
    expect(res.headers.location).toBe(location);
  });

  it.each([
    ['/project/no-such-project/', "There is no project named 'no-such-project' on this index."],
    ['/project/page-demo/9.9/', 'Page_Demo has no release 9.9 on this index.'],
  ])('answers %s with a 404 page', async (url, message) => {
    const res = await page(url);
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toContain('<h1>Not found</h1>');
    expect(res.body).toContain(message.replace(/'/g, '&#39;'));
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const get = await page('/project/page-demo/');
    const head = await t.app.inject({ method: 'HEAD', url: '/project/page-demo/', headers: { host: '127.0.0.1:8645' } });
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers.etag).toBe(get.headers.etag);
  });

  it('follows the access rule of the index pages (list)', async () => {
    const locked = await makeApp({ authenticate: ['list'] });
    try {
      // Uploads are open here; reading is not.
      expect((await upload(locked.app, SPEC, 'wheel')).res.statusCode).toBe(200);
      for (const url of ['/project/page-demo/', '/project/no-such-project/', '/']) {
        const res = await locked.app.inject({ url });
        expect(res.statusCode, url).toBe(401);
      }
      const ok = await locked.app.inject({ url: '/project/no-such-project/', headers: { authorization: basic('admin', 'test-admin-password') } });
      expect(ok.statusCode).toBe(404);
    } finally {
      await locked.close();
    }
  });
});

describe('renderProjectPage', () => {
  const file = (extra: Partial<FileInfo> = {}): FileInfo => ({
    filename: 'demo-1.0-py3-none-any.whl',
    packagetype: 'bdist_wheel',
    size: 2048,
    sha256: 'a'.repeat(64),
    uploadTime: '2026-01-02T03:04:05.000Z',
    requiresPython: null,
    downloads: 0,
    url: '/packages/demo-1.0-py3-none-any.whl',
    source: 'upload',
    uploadedBy: null,
    uploadedFrom: null,
    ...extra,
  });
  const render = (f: FileInfo) => {
    const release = { version: '1.0', yanked: false, yankedReason: null, yankedBy: null, yankedFrom: null, summary: null, downloads: 0, files: [f] };
    const detail: ProjectDetail = { name: 'demo', displayName: 'demo', latestVersion: '1.0', downloads: 0, downloadsByDay: [], downloadsByInstaller: [], releases: [release], lastEventId: '1' };
    const metadata = parseCoreMetadata(metadataText({ name: 'demo', version: '1.0' }));
    return renderProjectPage({ baseUrl: 'http://127.0.0.1:1', detail, release, pinned: false, metadata, descriptionHtml: '', today: '2026-01-02' });
  };

  it('shows who uploaded a file, and nothing for files nobody signed in to upload', () => {
    expect(render(file({ uploadedBy: 'alice' }))).toContain('uploaded 2026-01-02 03:04 UTC by alice');
    expect(render(file())).toMatch(/uploaded 2026-01-02 03:04 UTC · /);
    expect(render(file({ uploadedBy: '<b>x</b>' }))).toContain('by &lt;b&gt;x&lt;/b&gt;');
  });

  it('is one HTML5 document with a language, a title, one h1 and labelled landmarks', () => {
    const html = render(file());
    expect(html).toMatch(/^<!DOCTYPE html>\n<html lang="en">/);
    expect(html.match(/<h1[ >]/g)).toHaveLength(1);
    expect(html).toContain('<title>demo 1.0 · pyrepo</title>');
    expect(html).toContain('<nav class="crumbs" aria-label="Breadcrumb">');
    expect(html).toContain('<main id="main">');
    expect(html).toContain('<aside aria-label="About demo">');
    // No external asset.
    expect(html).not.toMatch(/<(link|img|iframe)\b|\ssrc=/);
  });
});

