/**
 * pypiserver's URLs: `/<project>/` and `/<project>` redirect to the simple page, `/packages/`
 * lists every file, and none of it takes over a URL that already meant something.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, makeApp, upload, type TestApp } from '../helpers/app.js';
import { wheelFilename } from '../helpers/dists.js';

let t: TestApp;
const SPEC = { name: 'Root_Demo', version: '1.0' };

beforeAll(async () => {
  t = await makeApp();
  expect((await upload(t.app, SPEC, 'wheel')).res.statusCode).toBe(200);
});
afterAll(async () => {
  await t.close();
});

describe('/<project>/ (pypiserver: the index at the root)', () => {
  it.each([
    ['/root-demo/', '/simple/root-demo/'],
    ['/root-demo', '/simple/root-demo/'],
    ['/Root_Demo/', '/simple/root-demo/'],
    ['/root.demo', '/simple/root-demo/'],
    ['/not-here-yet/', '/simple/not-here-yet/'],
    ['/root-demo/?format=application/vnd.pypi.simple.v1%2Bjson', '/simple/root-demo/?format=application/vnd.pypi.simple.v1%2Bjson'],
  ])('redirects %s to %s', async (url, location) => {
    const res = await t.app.inject({ url, headers: { 'user-agent': 'pip/23.2' } });
    expect(res.statusCode).toBe(301);
    expect(res.headers.location).toBe(location);
  });

  it('lands on the project page pip reads', async () => {
    const first = await t.app.inject({ url: '/Root_Demo/', headers: { 'user-agent': 'pip/23.2' } });
    const page = await t.app.inject({ url: first.headers.location as string, headers: { 'user-agent': 'pip/23.2' } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(wheelFilename(SPEC));
  });

  it.each(['/favicon.ico', '/robots.txt', '/-/', '/pypi/', '/pypi', '/legacy', '/legacy/', '/mip/', '/upip/', '/-', '/%20/'])(
    'does not take %s for a project (404)',
    async (url) => {
      const res = await t.app.inject({ url, headers: { 'user-agent': 'curl/8' } });
      expect(res.statusCode, res.body).toBe(404);
      expect(res.headers.location).toBeUndefined();
    },
  );

  it('leaves every root URL that worked before as it was', async () => {
    const ua = { 'user-agent': 'curl/8' };
    expect((await t.app.inject({ url: '/', headers: ua })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/simple/', headers: ua })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/simple', headers: ua })).headers.location).toBe('/simple/');
    expect((await t.app.inject({ url: '/simple/root-demo/', headers: ua })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/packages/', headers: ua })).statusCode).toBe(200);
    expect((await t.app.inject({ url: `/packages/${wheelFilename(SPEC)}`, headers: ua })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/pypi/root-demo/json', headers: ua })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/-/health', headers: ua })).statusCode).toBe(200);
    // upip asks at the root with neither User-Agent nor Accept, and gets its JSON, not a redirect.
    const upip = await t.app.inject({ url: '/root-demo/json', headers: { 'user-agent': undefined } as unknown as Record<string, string> });
    expect(upip.headers.location).toBeUndefined();
    expect([200, 404]).toContain(upip.statusCode);
    // Uploads still go to POST /.
    const post = await upload(t.app, { name: 'posted_at_root', version: '1.0' }, 'wheel', {}, '/');
    expect(post.res.statusCode, post.res.body).toBe(200);
  });
});

describe('access: /packages/ and /<project>/ are index pages (list), files are downloads', () => {
  let locked: TestApp;
  beforeAll(async () => {
    locked = await makeApp({ authenticate: ['download'] });
  });
  afterAll(async () => {
    await locked.close();
  });

  it('with only downloads protected, /packages/ and /<project>/ are open and files are not', async () => {
    expect((await upload(locked.app, SPEC, 'wheel')).res.statusCode).toBe(200);
    expect((await locked.app.inject({ url: '/packages/' })).statusCode).toBe(200);
    expect((await locked.app.inject({ url: '/root-demo/' })).statusCode).toBe(301);
    expect((await locked.app.inject({ url: `/packages/${wheelFilename(SPEC)}` })).statusCode).toBe(401);
  });

  it('with the index protected, /packages/ and /<project>/ need credentials, the same for every name', async () => {
    const listLocked = await makeApp({ authenticate: ['list'] });
    try {
      for (const url of ['/packages/', '/packages', '/root-demo/', '/no-such-project/']) {
        const res = await listLocked.app.inject({ url });
        expect(res.statusCode, url).toBe(401);
        expect(res.headers['www-authenticate']).toMatch(/^Basic/);
      }
      const ok = await listLocked.app.inject({ url: '/packages/', headers: { authorization: basic('admin', 'test-admin-password') } });
      expect(ok.statusCode).toBe(200);
    } finally {
      await listLocked.close();
    }
  });
});
