import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeApp, upload, type TestApp } from '../helpers/app.js';

let t: TestApp;

beforeAll(async () => {
  t = await makeApp();
});
afterAll(async () => {
  await t.close();
});

function landing(host?: string) {
  return t.app.inject({ url: '/', headers: host === undefined ? {} : { host } });
}

describe('GET /', () => {
  it('says there are no projects yet on an empty index', async () => {
    const res = await landing('127.0.0.1:8645');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toContain('Projects (0)');
    expect(res.body).toMatch(/None yet/);
  });

  it('lists the projects with their latest versions', async () => {
    expect((await upload(t.app, { name: 'Landing_Demo', version: '1.2' }, 'wheel')).res.statusCode).toBe(200);
    expect((await upload(t.app, { name: 'Landing_Demo', version: '1.10' }, 'wheel')).res.statusCode).toBe(200);
    expect((await upload(t.app, { name: 'zeta', version: '0.1' }, 'sdist')).res.statusCode).toBe(200);
    const res = await landing('127.0.0.1:8645');
    expect(res.body).toContain('Projects (2)');
    expect(res.body).toContain('<a href="project/landing-demo/">Landing_Demo</a> <span class="muted">1.10</span>');
    expect(res.body).toContain('<a href="project/zeta/">zeta</a> <span class="muted">0.1</span>');
  });

  it('shows pip, uv, twine and poetry commands with the URL the client used', async () => {
    const res = await landing('127.0.0.1:8645');
    const body = res.body;
    expect(body).toContain('pip install --index-url http://127.0.0.1:8645/simple/ PACKAGE');
    expect(body).toContain('uv pip install --index-url http://127.0.0.1:8645/simple/ PACKAGE');
    expect(body).toContain('twine upload --repository-url http://127.0.0.1:8645/legacy/ dist/*');
    expect(body).toContain('<dt>poetry 1.5 and later</dt><dd><pre><code>poetry source add --priority=supplemental pyrepo http://127.0.0.1:8645/simple/');
    // poetry 1.3 (Debian 12) has no --priority: its own form, labelled.
    expect(body).toContain('<dt>poetry before 1.5</dt><dd><pre><code>poetry source add --secondary pyrepo http://127.0.0.1:8645/simple/');
    expect(body).toContain('poetry config repositories.pyrepo http://127.0.0.1:8645/legacy/');
    // Loopback: pip needs no --trusted-host.
    expect(body).not.toContain('--trusted-host');
  });

  it('adds --trusted-host for a LAN host over plain HTTP', async () => {
    const res = await landing('pkgs.lan:8080');
    expect(res.body).toContain('pip install --index-url http://pkgs.lan:8080/simple/ --trusted-host pkgs.lan PACKAGE');
    expect(res.body).toContain('twine upload --repository-url http://pkgs.lan:8080/legacy/ dist/*');
  });

  it('works with an IPv6 Host', async () => {
    const res = await landing('[::1]:8645');
    expect(res.body).toContain('pip install --index-url http://[::1]:8645/simple/ PACKAGE');
    expect(res.body).not.toContain('--trusted-host');
  });

  it.each([
    'evil"><script>alert(1)</script>',
    "evil.com'><img src=x onerror=alert(1)>",
    'evil.com/"><b>x</b>',
    'evil.com <script>',
    'evil.com\tfoo',
    'a@evil.com',
  ])('does not inject a hostile Host header (%j) into the page', async (host) => {
    const res = await landing(host);
    expect(res.statusCode).toBe(200);
    // The only script is the page's own filter.
    expect(res.body.split('<script').length - 1).toBeLessThanOrEqual(1);
    expect(res.body).not.toMatch(/<script>(?!\(\(\)=>\{const i=document\.getElementById\('q'\))/);
    expect(res.body).not.toContain('<img');
    expect(res.body).not.toContain('<b>x');
    expect(res.body).not.toContain('evil');
    // The page still has usable commands.
    expect(res.body).toMatch(/pip install --index-url http:\/\/[^ ]+\/simple\//);
  });

  it('links each project to its page, which exists', async () => {
    const res = await landing('127.0.0.1:8645');
    const href = /<a href="(project\/landing-demo\/)">/.exec(res.body)?.[1];
    expect(href).toBe('project/landing-demo/');
    expect((await t.app.inject({ url: `/${href as string}` })).statusCode).toBe(200);
  });

  it('answers HEAD', async () => {
    const res = await t.app.inject({ method: 'HEAD', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
  });
});

describe('publicUrl', () => {
  it('replaces the Host in commands and absolute URLs', async () => {
    const u = await makeApp({ publicUrl: 'https://pypi.example.com/team/' });
    try {
      expect((await upload(u.app, { name: 'pub', version: '1.0' }, 'wheel')).res.statusCode).toBe(200);
      const res = await u.app.inject({ url: '/', headers: { host: 'internal:1234' } });
      expect(res.body).toContain('pip install --index-url https://pypi.example.com/team/simple/');
      expect(res.body).not.toContain('internal:1234');
      const json = (await u.app.inject({ url: '/pypi/pub/json', headers: { host: 'internal:1234' } })).json() as {
        urls: { url: string }[];
      };
      expect(json.urls[0]?.url).toBe('https://pypi.example.com/team/packages/pub-1.0-py3-none-any.whl');
    } finally {
      await u.close();
    }
  });
});

describe('the project filter', () => {
  let f: TestApp;
  beforeAll(async () => {
    f = await makeApp();
    for (const name of ['alpha_tools', 'Alpha.Web', 'beta', 'gamma-alpha']) {
      expect((await upload(f.app, { name, version: '1.0' }, 'wheel')).res.statusCode).toBe(200);
    }
  });
  afterAll(async () => {
    await f.close();
  });

  /** The projects a page shows (its list items without `hidden`). */
  function shown(body: string): string[] {
    return [...body.matchAll(/<li data-name="[^"]*"( hidden)?><a href="project\/([^/]+)\/">/g)].filter((m) => !m[1]).map((m) => m[2] as string);
  }

  it('without a query shows every project and offers the filter form', async () => {
    const res = await f.app.inject({ url: '/' });
    expect(shown(res.body)).toEqual(['alpha-tools', 'alpha-web', 'beta', 'gamma-alpha']);
    expect(res.body).toMatch(/<form class="filter" role="search" method="get" action="\.\/">/);
    expect(res.body).toContain('<label for="q">Filter projects</label>');
    expect(res.body).toContain('<input id="q" name="q" type="search" value=""');
  });

  it('filters on the server with ?q= (no JavaScript needed), by either form of the name', async () => {
    const res = await f.app.inject({ url: '/?q=alpha' });
    expect(shown(res.body)).toEqual(['alpha-tools', 'alpha-web', 'gamma-alpha']);
    expect(res.body).toContain('<span id="shown">3</span> of 4 shown');
    expect(res.body).toContain('value="alpha"');
    expect(shown((await f.app.inject({ url: '/?q=Alpha_Web' })).body)).toEqual(['alpha-web']);
    expect(shown((await f.app.inject({ url: '/?q=%20BETA%20' })).body)).toEqual(['beta']);
    expect(shown((await f.app.inject({ url: '/?q=alpha_' })).body)).toEqual(['alpha-tools', 'alpha-web', 'gamma-alpha']);
  });

  it('keeps the hidden projects in the page, so that typing can bring them back', async () => {
    const res = await f.app.inject({ url: '/?q=beta' });
    expect(res.body).toMatch(/<li data-name="alpha-tools alpha-tools" hidden>/);
  });

  it('says so when nothing matches', async () => {
    const res = await f.app.inject({ url: '/?q=nothing-like-this' });
    expect(shown(res.body)).toEqual([]);
    expect(res.body).toContain('<p id="none">No project matches this filter.</p>');
  });

  it('escapes the query', async () => {
    const res = await f.app.inject({ url: `/?q=${encodeURIComponent('"><script>alert(1)</script>')}` });
    expect(res.body).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(res.body.split('<script').length - 1).toBe(1);
  });

  it('filters as you type with an inline script that the Content-Security-Policy allows by its hash', async () => {
    const res = await f.app.inject({ url: '/' });
    const script = /<script>([\s\S]*?)<\/script>/.exec(res.body)?.[1] as string;
    expect(script).toContain("addEventListener('input'");
    const hash = createHash('sha256').update(script, 'utf8').digest('base64');
    expect(res.headers['content-security-policy']).toContain(`script-src 'sha256-${hash}'`);
    const style = /<style>([\s\S]*?)<\/style>/.exec(res.body)?.[1] as string;
    expect(res.headers['content-security-policy']).toContain(`style-src 'sha256-${createHash('sha256').update(style, 'utf8').digest('base64')}'`);
    // No external asset: nothing is loaded from anywhere but the page itself.
    expect(res.body).not.toMatch(/<(link|img|iframe)\b|src="http/);
  });

  it('is kept with an ETag until the catalog changes', async () => {
    const first = await f.app.inject({ url: '/' });
    expect((await f.app.inject({ url: '/', headers: { 'if-none-match': first.headers.etag as string } })).statusCode).toBe(304);
    expect((await upload(f.app, { name: 'delta', version: '1.0' }, 'wheel')).res.statusCode).toBe(200);
    const after = await f.app.inject({ url: '/', headers: { 'if-none-match': first.headers.etag as string } });
    expect(after.statusCode).toBe(200);
    expect(shown(after.body)).toContain('delta');
  });
});

describe('the latest versions of many projects at once', () => {
  let m: TestApp;
  beforeAll(async () => {
    m = await makeApp();
  });
  afterAll(async () => {
    await m.close();
  });

  it('are the ones each project’s own view gives, yanks, pre-releases and spellings of one release included', async () => {
    const releases: [string, string, 'wheel' | 'sdist'][] = [];
    for (let i = 0; i < 40; i++) {
      const name = `many-${String(i).padStart(2, '0')}`;
      switch (i % 5) {
        case 0: // the newest release is yanked below
          releases.push([name, '1.0', 'wheel'], [name, '1.10', 'wheel']);
          break;
        case 1: // only pre-releases
          releases.push([name, '2.0b1', 'wheel'], [name, '2.0a3', 'sdist']);
          break;
        case 2: // a final release is preferred to a newer pre-release
          releases.push([name, '3.0', 'wheel'], [name, '3.1rc1', 'wheel']);
          break;
        case 3: // one release spelled two ways: the first file by name says which
          releases.push([name, '4.0', 'sdist'], [name, '4.0.0', 'wheel']);
          break;
        default: // its only release is yanked below
          releases.push([name, '0.1', 'wheel']);
      }
    }
    for (const [name, version, kind] of releases) expect((await upload(m.app, { name, version }, kind)).res.statusCode).toBe(200);
    for (let i = 0; i < 40; i += 5) {
      for (const [n, v] of [[i, '1.10'], [i + 4, '0.1']] as const) {
        const res = await m.app.inject({ method: 'POST', url: `/-/api/projects/many-${String(n).padStart(2, '0')}/releases/${v}/yank`, payload: {} });
        expect(res.statusCode, res.body).toBe(200);
      }
    }
    // Forty projects not known yet: read from every release at once.
    const summaries = await m.app.reader.projectSummaries();
    const atOnce = new Map(summaries.map((p) => [p.name, p.latestVersion]));
    expect(atOnce.get('many-00')).toBe('1.0');
    expect(atOnce.get('many-01')).toBe('2.0b1');
    expect(atOnce.get('many-02')).toBe('3.0');
    expect(atOnce.get('many-04')).toBe('0.1');
    // Each from its own view, the way one changed project is read.
    for (const p of summaries) {
      m.app.reader.changed(p.name);
      expect(await m.app.reader.latestVersion(p.name), p.name).toBe(atOnce.get(p.name));
    }
  });
});

describe('GET / written in parts', () => {
  let w: TestApp;
  beforeAll(async () => {
    w = await makeApp();
    for (let i = 0; i < 300; i++) expect((await upload(w.app, { name: `part-${String(i).padStart(3, '0')}`, version: '1.0' }, 'sdist')).res.statusCode).toBe(200);
  });
  afterAll(async () => {
    await w.close();
  });

  it('lists every project once, in order, one per line, past a part', async () => {
    const body = (await w.app.inject({ url: '/' })).body;
    const rows = body.slice(body.indexOf('<ul class="projects" id="projects">\n') + 36, body.indexOf('\n</ul>')).split('\n');
    expect(rows).toHaveLength(300);
    rows.forEach((row, i) => expect(row).toContain(`<a href="project/part-${String(i).padStart(3, '0')}/">`));
    expect(body).not.toContain('<!--rows-->');
  });

  it('keeps the list in its place whatever the filter says', async () => {
    const body = (await w.app.inject({ url: `/?q=${encodeURIComponent('<!--rows-->')}` })).body;
    expect(body).toContain('value="&lt;!--rows--&gt;"');
    expect(body.match(/<li data-name=/g)).toHaveLength(300);
    expect(body.indexOf('<li data-name=')).toBeGreaterThan(body.indexOf('<ul class="projects" id="projects">'));
  });
});
