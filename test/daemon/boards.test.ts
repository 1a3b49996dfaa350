/**
 * MicroPython boards, in process (app.inject): upip's JSON and tarballs, mip's package
 * JSON and files, how upip is told apart from the pip world on /pypi/, dependencies,
 * cycles, the board cache and its invalidation, access control, download counts, and the
 * warning for uploads that cannot run on a board. Raw-socket protocol tests with the real
 * clients' bytes are in test/e2e/boards.test.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actionOf } from '../../src/daemon/plugins/auth.js';
import { sdistBoardLayout, wheelBoardLayout } from '../../src/daemon/services/board-files.js';
import { boardRequirement } from '../../src/daemon/services/requirements.js';
import { ShortHashes } from '../../src/daemon/services/short-hashes.js';
import type { IndexEvent, ProjectDetail } from '../../src/shared/api.js';
import { formFieldsFor, makeApp, postFile, upload, type TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/wait.js';
import { buildWheel, wheelFilename, type DistSpec } from '../helpers/dists.js';
import { inflateLikeSmallBoard, readTarHeaders, upipExtract, type MipPackage } from '../helpers/micropython.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** What upip sends besides the path: a Host with the port, and nothing else (inject adds a User-Agent unless told not to). */
const UPIP_HEADERS = { host: 'board-index.lan:8645', 'user-agent': undefined };

interface UpipJson {
  info: { name: string; version: string };
  releases: Record<string, { url: string }[]>;
}

const TINY_10: DistSpec = { name: 'tinypkg', version: '1.0', modules: { 'tinypkg.py': 'def hello():\n    return "1.0"\n' } };
const TINY_11: DistSpec = { name: 'tinypkg', version: '1.1', modules: { 'tinypkg.py': 'def hello():\n    return "1.1"\n' } };
const WITHDEP: DistSpec = {
  name: 'With_Dep',
  version: '0.1',
  requiresDist: ['tinypkg==1.0', 'not-on-this-index>=1', 'typing_extensions; python_version < "3.10"', 'click; extra == "cli"'],
  modules: { 'withdep.py': 'import tinypkg\n' },
};
const NESTED: DistSpec = {
  name: 'nestpkg',
  version: '2.0',
  modules: {
    'src/nestpkg/__init__.py': 'from .sub import x\n',
    'src/nestpkg/sub.py': 'x = 1\n',
    'src/nestpkg/data/font.bin': 'FONT',
    'src/nestpkg/__pycache__/sub.cpython-311.pyc': 'junk',
    'src/nestpkg/py.typed': '',
    'tests/test_nest.py': 'def test(): pass\n',
    'docs/conf.py': 'project = "x"\n',
    'setup.py': 'from setuptools import setup\nsetup()\n',
    'LICENSE': 'MIT\n',
  },
};
const LONG_MODULE = `${'m'.repeat(84)}.py`;
/** An sdist with a path over 100 bytes: dists.ts writes a PAX header for it, as setuptools does for its members. */
const PAXPKG: DistSpec = { name: 'paxpkg', version: '1.0', modules: { 'paxpkg/__init__.py': '', [`paxpkg/${LONG_MODULE}`]: 'long = True\n' } };
const CYC_A: DistSpec = { name: 'cyc-a', version: '1.0', requiresDist: ['cyc-b'], modules: { 'cyc_a.py': 'import cyc_b\n' } };
const CYC_B: DistSpec = { name: 'cyc-b', version: '1.0', requiresDist: ['cyc-a', 'tinypkg'], modules: { 'cyc_b.py': 'import cyc_a\n' } };
/** 6000 characters without inner repeats (so that a repeat of them is a match more than 4 KB back). */
const NOISE = Array.from({ length: 100 }, (_, i) => sha256(Buffer.from(`noise ${i}`))).join('').slice(0, 6000);
/** A 16 KB module whose second half repeats its first from more than 4 KB back: a 32 KB-window gzip refers back there. */
const BIGPKG: DistSpec = { name: 'bigpkg', version: '1.0', modules: { 'bigpkg.py': `A = "${NOISE}"\n# ${'-'.repeat(3000)}\nB = "${NOISE}"\n` } };
/** A wheel with a compiled extension module and no Python module. */
const CEXT: DistSpec = { name: 'cext', version: '1.0', modules: { 'cext.cpython-311-x86_64-linux-gnu.so': '\u007fELF binary' } };
const CEXT_TAGS = 'cp311-cp311-linux_x86_64';

async function uploadCompiled(t: TestApp, spec: DistSpec): Promise<LightMyRequestResponse> {
  const bytes = buildWheel(spec);
  return postFile(t.app, bytes, wheelFilename(spec, CEXT_TAGS), formFieldsFor(spec, { bytes, filetype: 'bdist_wheel' }));
}

async function get(t: TestApp, url: string, headers: Record<string, string | undefined> = UPIP_HEADERS): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'GET', url, headers });
}

async function upipJson(t: TestApp, url: string): Promise<UpipJson> {
  const res = await get(t, url);
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toBe('application/json');
  expect(Number(res.headers['content-length'])).toBe(res.rawPayload.length);
  return res.json() as UpipJson;
}

async function mipJson(t: TestApp, url: string): Promise<MipPackage> {
  const res = await get(t, url, { host: 'board-index.lan', 'user-agent': undefined });
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toBe('application/json');
  return res.json() as MipPackage;
}

/** The tarball at a upip JSON URL, inflated with a 4 KB window and read header by header. */
async function upipTarball(t: TestApp, url: string) {
  const res = await get(t, url.startsWith('/') ? url : new URL(url).pathname);
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toBe('application/gzip');
  expect(res.headers['content-encoding']).toBeUndefined();
  const tar = inflateLikeSmallBoard(res.rawPayload);
  return { ...readTarHeaders(tar), ...upipExtract(tar), gz: res.rawPayload };
}

describe('boards: the upip and mip routes', () => {
  let t: TestApp;
  const events: IndexEvent[] = [];
  let unsubscribe: () => void;

  beforeAll(async () => {
    t = await makeApp();
    unsubscribe = t.app.events.subscribe((e) => events.push(e));
    for (const [spec, kind] of [
      [TINY_10, 'wheel'],
      [TINY_10, 'sdist'],
      [TINY_11, 'sdist'],
      [WITHDEP, 'wheel'],
      [NESTED, 'sdist'],
      [PAXPKG, 'sdist'],
      [CYC_A, 'wheel'],
      [CYC_B, 'wheel'],
      [BIGPKG, 'sdist'],
    ] as const) {
      const { res } = await upload(t.app, spec, kind);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.body).not.toMatch(/Warning/);
    }
  });
  afterAll(async () => {
    unsubscribe();
    await t.close();
  });

  describe('upip JSON', () => {
    it('answers at the root, under /pypi/ and with doubled slashes, with one absolute URL per release', async () => {
      for (const url of ['/tinypkg/json', '//tinypkg/json', '/pypi/tinypkg/json', '/pypi//tinypkg/json']) {
        const body = await upipJson(t, url);
        expect(body.info).toEqual({ name: 'tinypkg', version: '1.1' });
        expect(Object.keys(body.releases).sort()).toEqual(['1.0', '1.1']);
        // 1.0 has a wheel and an sdist: still exactly one entry (upip asserts it).
        expect(body.releases['1.0']).toEqual([{ url: 'http://board-index.lan:8645/upip/tinypkg/1.0.tar.gz' }]);
        expect(body.releases['1.1']).toEqual([{ url: 'http://board-index.lan:8645/upip/tinypkg/1.1.tar.gz' }]);
      }
    });

    it('takes names as typed, never redirecting', async () => {
      for (const url of ['/With_Dep/json', '/pypi/with.dep/json', '/WITH-DEP/json']) {
        const res = await get(t, url);
        expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
        expect((res.json() as UpipJson).info.version).toBe('0.1');
      }
    });

    it('answers 404 with a reason for an unknown project', async () => {
      for (const url of ['/nosuchpkg/json', '/pypi/nosuchpkg/json']) {
        const res = await get(t, url);
        expect(res.statusCode).toBe(404);
        expect(res.headers.location).toBeUndefined();
        expect(res.body).toMatch(/No project named 'nosuchpkg'/);
      }
    });

    it('adds the port the request came in on when the Host has none (upip would use 443)', async () => {
      const res = await get(t, '/tinypkg/json', { host: 'board-index.lan', 'user-agent': undefined });
      const url = (res.json() as UpipJson).releases['1.1']?.[0]?.url ?? '';
      expect(url).toMatch(/^http:\/\/board-index\.lan:\d+\/upip\/tinypkg\/1\.1\.tar\.gz$/);
    });

    it('keeps the PyPI JSON API for the pip world on /pypi/ (any User-Agent or Accept)', async () => {
      for (const headers of [{ host: 'x:1', 'user-agent': 'pip/24.0' }, { host: 'x:1', accept: 'application/json' }, { host: 'x:1', 'user-agent': 'curl/8' }]) {
        const res = await get(t, '/pypi/tinypkg/json', headers);
        expect(res.statusCode).toBe(200);
        const body = res.json() as { urls: unknown[]; info: { version: string }; releases: Record<string, unknown[]> };
        expect(body.urls.length).toBeGreaterThan(0);
        expect(body.releases['1.0']).toHaveLength(2);
      }
      // The pip world's redirect of non-normalized names stays too.
      const moved = await get(t, '/pypi/With_Dep/json', { host: 'x:1', 'user-agent': 'pip/24.0' });
      expect(moved.statusCode).toBe(301);
    });
  });

  describe('upip tarball', () => {
    it('is plain ustar under one top folder, gzipped with a 4 KB window, with the modules only', async () => {
      const { releases } = await upipJson(t, '/nestpkg/json');
      const tar = await upipTarball(t, releases['2.0']?.[0]?.url ?? '');
      for (const h of tar.headers) {
        expect(h.magic, h.name).toBe('ustar\0');
        expect(h.version, h.name).toBe('00');
        expect(h.prefix, h.name).toBe('');
        expect(['0', '5'], h.name).toContain(h.typeflag);
        expect(h.typeflag === '5', h.name).toBe(h.name.endsWith('/'));
        expect(Buffer.byteLength(h.name), h.name).toBeLessThanOrEqual(100);
        expect(h.checksumOk, h.name).toBe(true);
        expect(h.name.startsWith('nestpkg-2.0/'), h.name).toBe(true);
      }
      // src/ flattened; tests, docs, setup.py, LICENSE, caches and markers left out.
      expect([...tar.files.keys()].sort()).toEqual(['nestpkg/__init__.py', 'nestpkg/data/font.bin', 'nestpkg/sub.py']);
      expect(tar.files.get('nestpkg/sub.py')?.toString()).toBe('x = 1\n');
      expect(tar.deps).toEqual([]);
      // The gzip header says deflate; a 32 KB window gzip of the same tar is what a small board rejects (see below).
      expect(tar.gz.subarray(0, 3)).toEqual(Buffer.from([0x1f, 0x8b, 0x08]));
    });

    it('inflates with a 4 KB window even where a 32 KB one would refer further back', async () => {
      const tar = await upipTarball(t, '/upip/bigpkg/1.0.tar.gz');
      expect(tar.files.get('bigpkg.py')?.toString()).toBe(BIGPKG.modules?.['bigpkg.py']);
      // The check has teeth on this content: the same tar gzipped with the default window fails it.
      expect(() => inflateLikeSmallBoard(gzipSync(inflateLikeSmallBoard(tar.gz), { level: 9 }))).toThrow(/too far back/);
    });

    it('lists dependencies this index serves in requires.txt, pinned where the latest would not do', async () => {
      const { releases } = await upipJson(t, '/with-dep/json');
      const tar = await upipTarball(t, releases['0.1']?.[0]?.url ?? '');
      expect(tar.headers.map((h) => h.name)).toContain('with_dep-0.1/with_dep.egg-info/requires.txt');
      // tinypkg==1.0 kept and pinned (1.1 is the latest); markers, extras and projects elsewhere left out.
      expect(tar.deps).toEqual(['tinypkg==1.0']);
      expect([...tar.files.keys()]).toEqual(['withdep.py']);
    });

    it('repacks an sdist with PAX headers into plain ustar, shortening the top folder when a name needs it', async () => {
      const { releases } = await upipJson(t, '/paxpkg/json');
      const tar = await upipTarball(t, releases['1.0']?.[0]?.url ?? '');
      expect(tar.headers.every((h) => h.typeflag === '0' || h.typeflag === '5')).toBe(true);
      expect(tar.headers.map((h) => h.name)).toContain(`p/paxpkg/${LONG_MODULE}`);
      expect([...tar.files.keys()].sort()).toEqual(['paxpkg/__init__.py', `paxpkg/${LONG_MODULE}`]);
    });

    it('is built once and kept in the board cache', async () => {
      const first = await get(t, '/upip/tinypkg/1.0.tar.gz');
      const second = await get(t, '/upip/tinypkg/1.0.tar.gz');
      expect(second.rawPayload.equals(first.rawPayload)).toBe(true);
      const wheel = await t.app.index.catalog.file('tinypkg-1.0-py3-none-any.whl');
      const folder = join(t.dataDir, 'board-cache', 'v1', wheel?.sha256 ?? '');
      expect((await readdir(folder)).filter((n) => n.startsWith('upip-'))).toHaveLength(1);
      expect(existsSync(join(folder, 'manifest.json'))).toBe(true);
    });

    it('answers 404 for releases it does not have', async () => {
      for (const url of ['/upip/tinypkg/9.9.tar.gz', '/upip/nosuch/1.0.tar.gz', '/upip/tinypkg/1.0.zip']) {
        expect((await get(t, url)).statusCode, url).toBe(404);
      }
    });
  });

  describe('mip', () => {
    it('serves a package JSON whose every hash resolves to bytes with that sha256 prefix', async () => {
      for (const mpy of ['6', 'py']) {
        const pkg = await mipJson(t, `/mip/package/${mpy}/nestpkg/latest.json`);
        expect(pkg.v).toBe(1);
        expect(pkg.version).toBe('2.0');
        expect(pkg.deps).toEqual([]);
        expect(pkg.hashes?.map(([p]) => p)).toEqual(['nestpkg/__init__.py', 'nestpkg/data/font.bin', 'nestpkg/sub.py']);
        for (const [path, h] of pkg.hashes ?? []) {
          expect(h).toMatch(/^[0-9a-f]{8,}$/);
          const res = await get(t, `/mip/file/${h.slice(0, 2)}/${h}`, { host: 'board-index.lan', 'user-agent': undefined });
          expect(res.statusCode, path).toBe(200);
          expect(sha256(res.rawPayload).startsWith(h)).toBe(true);
        }
      }
    });

    it('pins versions, accepts names as typed and lists dependencies served here', async () => {
      expect((await mipJson(t, '/mip/package/6/tinypkg/1.0.json')).version).toBe('1.0');
      expect((await mipJson(t, '/mip/package/6/TinyPkg/1.0.0.json')).version).toBe('1.0');
      const withdep = await mipJson(t, '/mip/package/6/With_Dep/latest.json');
      expect(withdep).toEqual({ v: 1, hashes: [['withdep.py', expect.stringMatching(/^[0-9a-f]{8}$/)]], deps: [['tinypkg', '1.0']], version: '0.1' });
    });

    it('installs a dependency cycle as one group, so that mip never recurses', async () => {
      const a = await mipJson(t, '/mip/package/6/cyc-a/latest.json');
      const b = await mipJson(t, '/mip/package/6/cyc-b/latest.json');
      expect(a.hashes?.map(([p]) => p)).toEqual(['cyc_a.py', 'cyc_b.py']);
      expect(b.hashes?.map(([p]) => p)).toEqual(['cyc_b.py', 'cyc_a.py']);
      // The group's dependency outside it stays a dependency.
      expect(a.deps).toEqual([['tinypkg', 'latest']]);
      expect(b.deps).toEqual([['tinypkg', 'latest']]);
    });

    it('serves package.json for URL installs with absolute URLs', async () => {
      const res = await get(t, '/mip/with-dep/package.json', { host: 'board-index.lan', 'user-agent': undefined });
      expect(res.statusCode, res.body).toBe(200);
      const pkg = res.json() as MipPackage;
      const [[path, url]] = pkg.urls as [[string, string]];
      expect(path).toBe('withdep.py');
      expect(url).toMatch(/^http:\/\/board-index\.lan:\d+\/mip\/file\/[0-9a-f]{2}\/[0-9a-f]{8}$/);
      expect(pkg.deps).toEqual([[expect.stringMatching(/^http:\/\/board-index\.lan:\d+\/mip\/tinypkg@1\.0$/), null]]);
      expect(pkg.hashes).toBeUndefined();
      const pinned = await get(t, '/mip/tinypkg@1.0/package.json', { host: 'board-index.lan', 'user-agent': undefined });
      expect((pinned.json() as MipPackage).version).toBe('1.0');
    });

    it('answers 404 for what it does not have', async () => {
      for (const url of [
        '/mip/package/6/nosuch/latest.json',
        '/mip/package/6/tinypkg/3.0.json',
        '/mip/package/6/tinypkg/latest',
        '/mip/package/x86/tinypkg/latest.json',
        '/mip/file/00/00000000',
        '/mip/file/ab/zz',
        '/mip/nosuch/package.json',
      ]) {
        const res = await get(t, url, { host: 'board-index.lan', 'user-agent': undefined });
        expect(res.statusCode, url).toBe(404);
        expect(res.headers['content-length']).toBe(String(res.rawPayload.length));
      }
    });
  });

  describe('uploads boards cannot install', () => {
    it('are accepted with a warning in the response and the event, and not offered to boards', async () => {
      const res = await uploadCompiled(t, CEXT);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.body).toMatch(/^Warning: cext-1\.0-cp311-cp311-linux_x86_64\.whl has compiled extension modules only \(cext\.cpython-311-x86_64-linux-gnu\.so\)/m);
      const event = events.find((e) => e.type === 'upload' && e.filename.startsWith('cext-'));
      expect(event?.type === 'upload' && event.warnings?.[0]).toMatch(/MicroPython boards cannot install it/);
      const json = await get(t, '/cext/json');
      expect(json.statusCode).toBe(404);
      expect(json.body).toMatch(/no pure-Python wheel or sdist/);
      expect((await get(t, '/mip/package/6/cext/latest.json')).statusCode).toBe(404);
    });

    it('carry no warning when they hold Python modules too', async () => {
      const spec: DistSpec = { name: 'mixed', version: '1.0', modules: { 'mixed/__init__.py': '', 'mixed/_speed.cpython-311-x86_64-linux-gnu.so': 'ELF' } };
      const res = await uploadCompiled(t, spec);
      expect(res.statusCode).toBe(200);
      expect(res.body).not.toMatch(/Warning/);
    });
  });

  it('counts a upip tarball and a mip package JSON as downloads of the file they come from, by upip and mip', async () => {
    const before = await t.app.inject({ url: '/-/api/projects/tinypkg' });
    const count = (res: LightMyRequestResponse, filename: string) =>
      (res.json() as { releases: { files: { filename: string; downloads: number }[] }[] }).releases.flatMap((r) => r.files).find((f) => f.filename === filename)?.downloads ?? 0;
    await get(t, '/upip/tinypkg/1.1.tar.gz');
    await get(t, '/mip/package/6/tinypkg/1.1.json');
    await t.app.inject({ method: 'HEAD', url: '/upip/tinypkg/1.1.tar.gz', headers: UPIP_HEADERS });
    const after = await t.app.inject({ url: '/-/api/projects/tinypkg' });
    expect(count(after, 'tinypkg-1.1.tar.gz') - count(before, 'tinypkg-1.1.tar.gz')).toBe(2);
    const installers = (res: LightMyRequestResponse) =>
      Object.fromEntries((res.json() as ProjectDetail).downloadsByInstaller.map((c) => [c.installer, c.downloads]));
    const [was, now] = [installers(before), installers(after)];
    expect((now.upip ?? 0) - (was.upip ?? 0)).toBe(1);
    expect((now.mip ?? 0) - (was.mip ?? 0)).toBe(1);
  });
});

describe('boards: the cache follows the index', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp({ overwrite: true });
  });
  afterAll(async () => {
    await t.close();
  });

  it('moves on when a release is yanked, replaced, given a better file or deleted', async () => {
    for (const spec of [TINY_10, TINY_11]) expect((await upload(t.app, spec, 'sdist')).res.statusCode).toBe(200);
    expect((await upipJson(t, '/tinypkg/json')).info.version).toBe('1.1');
    const first = await mipJson(t, '/mip/package/6/tinypkg/latest.json');
    const [[, oldHash]] = first.hashes as [[string, string]];

    // Yanked: no longer the latest, still installable when pinned.
    await t.app.inject({ method: 'POST', url: '/-/api/projects/tinypkg/releases/1.1/yank', payload: {} });
    expect((await upipJson(t, '/tinypkg/json')).info.version).toBe('1.0');
    expect((await mipJson(t, '/mip/package/6/tinypkg/latest.json')).version).toBe('1.0');
    expect((await mipJson(t, '/mip/package/6/tinypkg/1.1.json')).version).toBe('1.1');
    await t.app.inject({ method: 'POST', url: '/-/api/projects/tinypkg/releases/1.1/unyank' });

    // Replaced (the daemon allows overwrites): the new content is served, the old file hash is gone.
    const changed: DistSpec = { ...TINY_11, modules: { 'tinypkg.py': 'def hello():\n    return "1.1, fixed"\n' } };
    expect((await upload(t.app, changed, 'sdist')).res.statusCode).toBe(200);
    await waitUntil(async () => (await get(t, `/mip/file/${oldHash.slice(0, 2)}/${oldHash}`)).statusCode === 404);
    const replaced = await mipJson(t, '/mip/package/6/tinypkg/latest.json');
    const [[, newHash]] = replaced.hashes as [[string, string]];
    const file = await get(t, `/mip/file/${newHash.slice(0, 2)}/${newHash}`);
    expect(file.body).toContain('1.1, fixed');
    const tar = await upipTarball(t, '/upip/tinypkg/1.1.tar.gz');
    expect(tar.files.get('tinypkg.py')?.toString()).toContain('1.1, fixed');

    // A pure-Python wheel added to the release becomes the source.
    expect((await upload(t.app, TINY_11, 'wheel')).res.statusCode).toBe(200);
    const fromWheel = await mipJson(t, '/mip/package/6/tinypkg/1.1.json');
    expect(fromWheel.hashes?.[0]?.[1]).not.toBe(newHash);

    // Deleted: gone for boards, and its cache folder with it.
    const cacheRoot = join(t.dataDir, 'board-cache', 'v1');
    const before = (await readdir(cacheRoot)).length;
    const del = await t.app.inject({ method: 'DELETE', url: '/-/api/projects/tinypkg/releases/1.1' });
    expect(del.statusCode, del.body).toBe(200);
    expect((await upipJson(t, '/tinypkg/json')).info.version).toBe('1.0');
    expect((await get(t, '/upip/tinypkg/1.1.tar.gz')).statusCode).toBe(404);
    await waitUntil(async () => (await readdir(cacheRoot)).length < before);
  });

  it('builds again what is lost when the cache folder is deleted under it', async () => {
    const before = await mipJson(t, '/mip/package/6/tinypkg/1.0.json');
    const [[, h]] = before.hashes as [[string, string]];
    const { rm } = await import('node:fs/promises');
    await rm(join(t.dataDir, 'board-cache'), { recursive: true, force: true });
    const tar = await upipTarball(t, '/upip/tinypkg/1.0.tar.gz');
    expect([...tar.files.keys()]).toEqual(['tinypkg.py']);
    await rm(join(t.dataDir, 'board-cache'), { recursive: true, force: true });
    // The first file request finds its copy gone; the package JSON after it derives the files again.
    expect((await get(t, `/mip/file/${h.slice(0, 2)}/${h}`)).statusCode).toBe(404);
    const again = await mipJson(t, '/mip/package/6/tinypkg/1.0.json');
    expect(again.hashes).toEqual(before.hashes);
    expect((await get(t, `/mip/file/${h.slice(0, 2)}/${h}`)).statusCode).toBe(200);
  });

  it('drops cache folders of files that left the index while it was stopped', async () => {
    const root = t.root;
    await t.close({ keepFiles: true });
    const { mkdir, writeFile } = await import('node:fs/promises');
    const stray = join(root, 'data', 'board-cache', 'v1', 'f'.repeat(64));
    await mkdir(stray, { recursive: true });
    await writeFile(join(stray, 'manifest.json'), JSON.stringify({ source: 'gone-1.0.tar.gz', sourceSha256: 'f'.repeat(64), files: [] }));
    const again = await makeApp({ dataDir: join(root, 'data'), packagesDir: join(root, 'packages') });
    try {
      await again.app.boards.load();
      expect(existsSync(stray)).toBe(false);
      expect((await get(again, '/mip/package/6/tinypkg/1.0.json', { host: 'x' })).statusCode).toBe(200);
    } finally {
      await again.close();
    }
  });
});

describe('boards: access control', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp();
    expect((await upload(t.app, TINY_10, 'sdist')).res.statusCode).toBe(200);
  });
  afterAll(async () => {
    await t.close();
  });

  it('maps JSON to list and files to download', () => {
    for (const url of ['/tinypkg/json', '//tinypkg/json', '/pypi/tinypkg/json', '/mip/package/6/tinypkg/latest.json', '/mip/tinypkg/package.json']) {
      expect(actionOf('GET', url), url).toBe('list');
    }
    for (const url of ['/upip/tinypkg/1.0.tar.gz', '/mip/file/ab/abcdef12']) expect(actionOf('GET', url), url).toBe('download');
  });

  it('asks boards for credentials when downloads need them (which boards cannot send)', async () => {
    const closed = await makeApp({ authenticate: ['download'] });
    try {
      expect((await upload(closed.app, TINY_10, 'sdist')).res.statusCode).toBe(200);
      expect((await get(closed, '/tinypkg/json')).statusCode).toBe(200);
      const pkg = (await mipJson(closed, '/mip/package/6/tinypkg/latest.json')).hashes?.[0]?.[1] ?? '';
      expect((await get(closed, `/mip/file/${pkg.slice(0, 2)}/${pkg}`)).statusCode).toBe(401);
      expect((await get(closed, '/upip/tinypkg/1.0.tar.gz')).statusCode).toBe(401);
    } finally {
      await closed.close();
    }
  });
});

describe('boards: the pieces', () => {
  it('short hashes are 8 digits, lengthened just enough on a collision, and resolve only when unique', () => {
    const h = new ShortHashes();
    const a = `abcdef12${'0'.repeat(56)}`;
    const b = `abcdef12${'1'.repeat(56)}`;
    const c = `99${'2'.repeat(62)}`;
    h.add(a);
    h.add(c);
    expect(h.short(a)).toBe('abcdef12');
    expect(h.resolve('abcdef12')).toBe(a);
    h.add(b);
    expect(h.short(a)).toBe('abcdef120');
    expect(h.short(b)).toBe('abcdef121');
    expect(h.resolve('abcdef12')).toBeUndefined();
    expect(h.resolve('abcdef121')).toBe(b);
    h.delete(b);
    expect(h.short(a)).toBe('abcdef12');
  });

  it('requirements: names and specifiers kept, markers and URLs left out', () => {
    expect(boardRequirement('Tiny_Pkg (>=1.0, <2)')).toEqual({ project: 'tiny-pkg', specifier: '>=1.0,<2' });
    expect(boardRequirement('foo[extra]==1.2')).toEqual({ project: 'foo', specifier: '==1.2' });
    expect(boardRequirement('foo')).toEqual({ project: 'foo', specifier: '' });
    expect(boardRequirement('foo; python_version < "3.8"')).toBeNull();
    expect(boardRequirement('foo @ https://example.org/foo.whl')).toBeNull();
  });

  it('board files: wheels as installed, sdists flattened from src/, compiled modules noticed', () => {
    expect(wheelBoardLayout(['pkg/__init__.py', 'pkg/a.py', 'pkg-1.0.dist-info/METADATA', 'pkg-1.0.data/purelib/extra.py', 'pkg-1.0.data/scripts/run']).files.map((f) => f.target)).toEqual([
      'extra.py',
      'pkg/__init__.py',
      'pkg/a.py',
    ]);
    const flat = sdistBoardLayout(['p-1/setup.py', 'p-1/p.py', 'p-1/pkg/__init__.py', 'p-1/notpkg/x.py', 'p-1/tests/__init__.py', 'p-1/p.egg-info/PKG-INFO']);
    expect(flat.files.map((f) => f.target)).toEqual(['p.py', 'pkg/__init__.py']);
    const compiled = sdistBoardLayout(['c-1/setup.py', 'c-1/src/c.c', 'c-1/PKG-INFO']);
    expect(compiled.modules).toBe(0);
    expect(compiled.compiled).toEqual(['src/c.c']);
  });

  it('a small board cannot inflate a 32 KB-window gzip, which is why tarballs use 4 KB', () => {
    const data = Buffer.from(`${NOISE}${'z'.repeat(3000)}${NOISE}`);
    expect(() => inflateLikeSmallBoard(gzipSync(data, { level: 9 }))).toThrow(/too far back/);
    expect(inflateLikeSmallBoard(gzipSync(data, { level: 9, windowBits: 12 })).equals(data)).toBe(true);
  });
});

async function waitUntil(check: () => Promise<boolean>, ms = 3000): Promise<void> {
  await waitFor('the board cache to catch up', check, ms, 25);
}
