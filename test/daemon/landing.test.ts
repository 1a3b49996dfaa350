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
    expect(res.body).toContain('<a href="/simple/landing-demo/">Landing_Demo</a> <small>1.10</small>');
    expect(res.body).toContain('<a href="/simple/zeta/">zeta</a> <small>0.1</small>');
  });

  it('shows pip, uv, twine and poetry commands with the URL the client used', async () => {
    const res = await landing('127.0.0.1:8645');
    const body = res.body;
    expect(body).toContain('pip install --index-url http://127.0.0.1:8645/simple/ PACKAGE');
    expect(body).toContain('uv pip install --index-url http://127.0.0.1:8645/simple/ PACKAGE');
    expect(body).toContain('twine upload --repository-url http://127.0.0.1:8645/legacy/ dist/*');
    expect(body).toContain('<h3>poetry 1.5 and later</h3>\n    <pre>poetry source add --priority=supplemental pyrepo http://127.0.0.1:8645/simple/');
    // poetry 1.3 (Debian 12) has no --priority: its own form, labelled.
    expect(body).toContain('<h3>poetry before 1.5</h3>\n    <pre>poetry source add --secondary pyrepo http://127.0.0.1:8645/simple/');
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
    expect(res.body).not.toContain('<script');
    expect(res.body).not.toContain('<img');
    expect(res.body).not.toContain('<b>x');
    expect(res.body).not.toContain('evil');
    // The page still has usable commands.
    expect(res.body).toMatch(/pip install --index-url http:\/\/[^ ]+\/simple\//);
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
