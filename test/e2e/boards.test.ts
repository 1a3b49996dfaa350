/**
 * MicroPython boards against the real daemon (the built CLI's `serve` on a free loopback
 * port), over raw TCP with the exact bytes upip, mip (three firmware generations) and
 * mpremote send, as recorded from the real clients: status line with a reason, CRLF,
 * canonical header names, Content-Length equal to the body, no chunking, no content
 * encoding, the connection closed by the server. Then upip's and mip's install loops,
 * re-implemented in test/helpers/micropython.ts, install packages with a dependency, and
 * `pyrepo board` prints the lines to type.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoardOutputSchema, type BoardOutput } from '../../src/cli/json-output.js';
import { isolatedEnv, makeTempRoot, removeTemp, runCli, startDaemon, uploadFile, type RunningTestDaemon } from '../helpers/daemon.js';
import { buildSdist, buildWheel, sdistFilename, wheelFilename, type DistSpec } from '../helpers/dists.js';
import {
  inflateLikeSmallBoard,
  mipInstall,
  mipRequest10,
  mipRequest11,
  mipRequest120,
  mpremoteRequest,
  rawExchange,
  readTarHeaders,
  upipInstall,
  upipRequest,
  type Fetch,
  type MipPackage,
  type RawResponse,
} from '../helpers/micropython.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const TINY_10: DistSpec = { name: 'tinypkg', version: '1.0', modules: { 'tinypkg.py': 'def hello():\n    return "1.0"\n' } };
const TINY_11: DistSpec = { name: 'tinypkg', version: '1.1', modules: { 'tinypkg.py': 'def hello():\n    return "1.1"\n' } };
const WITHDEP: DistSpec = { name: 'withdep', version: '0.1', requiresDist: ['tinypkg==1.0'], modules: { 'withdep.py': 'import tinypkg\n' } };
const NESTPKG: DistSpec = {
  name: 'nestpkg',
  version: '1.0',
  requiresDist: ['withdep'],
  modules: { 'src/nestpkg/__init__.py': 'from . import sub\n', 'src/nestpkg/sub.py': 'VALUE = 42\n', 'tests/test_sub.py': 'def test(): pass\n', 'LICENSE': 'MIT\n' },
};
/** A 16 KB module repeating itself from more than 4 KB back, like the reference's "bigpkg": boards with 64 KB of heap need a 4 KB window. */
const NOISE = Array.from({ length: 100 }, (_, i) => sha256(Buffer.from(`noise ${i}`))).join('').slice(0, 6000);
const BIGPKG: DistSpec = { name: 'bigpkg', version: '1.0', modules: { 'bigpkg.py': `A = "${NOISE}"\n# ${'-'.repeat(3000)}\nB = "${NOISE}"\n` } };
const CEXT: DistSpec = { name: 'cext', version: '1.0', modules: { 'cext.cpython-311-x86_64-linux-gnu.so': 'ELF' } };

let root: string;
let daemon: RunningTestDaemon;
let port: number;

async function put(spec: DistSpec, kind: 'wheel' | 'sdist', tags?: string): Promise<string> {
  const filename = kind === 'wheel' ? wheelFilename(spec, tags) : sdistFilename(spec);
  const bytes = kind === 'wheel' ? buildWheel(spec) : buildSdist(spec);
  const res = await uploadFile(daemon.url, { name: spec.name, version: spec.version, filetype: kind === 'wheel' ? 'bdist_wheel' : 'sdist', sha256: sha256(bytes) }, filename, bytes);
  expect(res.status, res.text).toBe(200);
  return res.text;
}

beforeAll(async () => {
  root = await makeTempRoot('pyrepo-boards-');
  // The daemon's data folder is the one `pyrepo board` finds through PYREPO_HOME.
  daemon = await startDaemon({ dataDir: join(root, 'pyrepo-home', 'data') });
  port = daemon.port;
  await put(TINY_10, 'wheel');
  await put(TINY_10, 'sdist');
  await put(TINY_11, 'sdist');
  await put(WITHDEP, 'wheel');
  await put(WITHDEP, 'sdist');
  await put(NESTPKG, 'sdist');
  await put(BIGPKG, 'sdist');
});

afterAll(async () => {
  await daemon?.stop();
  await removeTemp(daemon?.root);
  await removeTemp(root);
});

const CANONICAL = new Set(['Content-Type', 'Content-Length', 'Cache-Control', 'Date', 'Connection']);

/** Everything a small board's HTTP client needs from a response. */
function expectBoardHygiene(res: RawResponse, status = 200): void {
  const head = res.raw.subarray(0, res.raw.indexOf('\r\n\r\n') + 4).toString('latin1');
  expect(head.replace(/\r\n/g, ''), 'no bare LF or CR in the head').not.toMatch(/[\r\n]/);
  expect(res.statusLine).toBe(`HTTP/1.1 ${status} ${status === 200 ? 'OK' : 'Not Found'}`);
  // upip splits the status line into three fields.
  expect(res.statusLine.split(' ').length).toBeGreaterThanOrEqual(3);
  for (const line of res.headerLines) {
    const name = line.slice(0, line.indexOf(':'));
    expect(CANONICAL.has(name), `header '${line}' in canonical case`).toBe(true);
    // mip takes the value after exactly one space.
    expect(line.slice(name.length, name.length + 2)).toBe(': ');
  }
  expect(res.headers.get('content-length')).toBe(String(res.body.length));
  expect(res.headers.has('transfer-encoding')).toBe(false);
  expect(res.headers.has('content-encoding')).toBe(false);
  expect(res.headers.has('location')).toBe(false);
  expect(res.headers.get('connection')).toBe('close');
  expect(res.closedByServer, 'the server closes the connection after the response').toBe(true);
}

/** upip's transport: each URL fetched with upip's exact request bytes; the Host is the URL's host:port. */
const upipFetch: Fetch = async (url) => {
  const u = new URL(url);
  expect(u.hostname).toBe('127.0.0.1');
  const res = await rawExchange(Number(u.port), upipRequest(u.pathname, `${u.hostname}:${u.port}`));
  expectBoardHygiene(res, res.status);
  return { status: res.status, body: res.body };
};

/** mip's transport: the given firmware's request bytes, the Host without the port. */
function mipFetch(make: (path: string, host: string) => string): Fetch {
  return async (url) => {
    const u = new URL(url);
    const res = await rawExchange(Number(u.port), make(u.pathname, u.hostname));
    expectBoardHygiene(res, res.status);
    return { status: res.status, body: res.body };
  };
}

describe('upip (HTTP/1.0, Host with the port, nothing else)', () => {
  it('gets its JSON on /pypi/<name>/json with exactly one absolute URL per release', async () => {
    const started = Date.now();
    const res = await rawExchange(port, upipRequest('/pypi/withdep/json', `127.0.0.1:${port}`));
    // Closed at once: upip reads the JSON until EOF, so keep-alive would hang it.
    expect(Date.now() - started).toBeLessThan(2000);
    expectBoardHygiene(res);
    expect(res.headers.get('content-type')).toBe('application/json');
    const json = JSON.parse(res.body.toString('utf8')) as { info: { version: string }; releases: Record<string, { url: string }[]> };
    expect(json).toEqual({
      info: { name: 'withdep', version: '0.1' },
      // withdep 0.1 has a wheel and an sdist: one entry all the same.
      releases: { '0.1': [{ url: `http://127.0.0.1:${port}/upip/withdep/0.1.tar.gz` }] },
    });
    // Replies written past fastify still get their access-log line.
    await expect.poll(() => daemon.requests().find((r) => r.url === '/pypi/withdep/json')).toEqual({ method: 'GET', url: '/pypi/withdep/json', status: 200, type: 'application/json' });
  });

  it('gets a plain ustar tarball that a 4 KB window inflates', async () => {
    const res = await rawExchange(port, upipRequest('/upip/nestpkg/1.0.tar.gz', `127.0.0.1:${port}`));
    expectBoardHygiene(res);
    expect(res.headers.get('content-type')).toBe('application/gzip');
    const { headers, data } = readTarHeaders(inflateLikeSmallBoard(res.body));
    expect(headers.map((h) => `${h.typeflag} ${h.name}`)).toEqual([
      '5 nestpkg-1.0/',
      '5 nestpkg-1.0/nestpkg.egg-info/',
      '5 nestpkg-1.0/nestpkg/',
      '0 nestpkg-1.0/nestpkg/__init__.py',
      '0 nestpkg-1.0/nestpkg/sub.py',
      '0 nestpkg-1.0/nestpkg.egg-info/requires.txt',
    ]);
    expect(headers.every((h) => h.magic === 'ustar\0' && h.prefix === '' && h.checksumOk)).toBe(true);
    expect(data.get('nestpkg-1.0/nestpkg.egg-info/requires.txt')?.toString()).toBe('withdep\n');
  });

  it('gets a 404 with a reason phrase for an unknown package, and no redirect for an odd spelling', async () => {
    const missing = await rawExchange(port, upipRequest('/pypi/nosuchpkg/json', `127.0.0.1:${port}`));
    expectBoardHygiene(missing, 404);
    const odd = await rawExchange(port, upipRequest('/pypi/WithDep/json', `127.0.0.1:${port}`));
    expectBoardHygiene(odd);
  });

  it('leaves the PyPI JSON API to the pip world on the same path', async () => {
    const res = await rawExchange(port, `GET /pypi/tinypkg/json HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: pip/24.0\r\nAccept: application/json\r\nConnection: close\r\n\r\n`);
    expect(res.status).toBe(200);
    const json = JSON.parse(res.body.toString('utf8')) as { urls: unknown[]; releases: Record<string, unknown[]> };
    expect(json.releases['1.0']).toHaveLength(2);
    expect(json.urls.length).toBeGreaterThan(0);
  });

  it('installs a package and its dependencies, with the root or /pypi as index, with or without a trailing slash', async () => {
    // A trailing slash makes upip ask for `//<name>/json`.
    for (const index of [`http://127.0.0.1:${port}`, `http://127.0.0.1:${port}/`, `http://127.0.0.1:${port}/pypi`, `http://127.0.0.1:${port}/pypi/`]) {
      const { files, log } = await upipInstall(index, 'nestpkg', upipFetch);
      expect([...files.keys()].sort(), index).toEqual(['nestpkg/__init__.py', 'nestpkg/sub.py', 'tinypkg.py', 'withdep.py']);
      // withdep pins tinypkg==1.0 although 1.1 is the latest.
      expect(files.get('tinypkg.py')?.toString()).toContain('"1.0"');
      expect(log).toHaveLength(3);
    }
    // upipInstall inflates like a board with 64 KB of heap (a 4 KB window).
    const big = await upipInstall(`http://127.0.0.1:${port}`, 'bigpkg', upipFetch);
    expect(big.files.get('bigpkg.py')?.toString()).toBe(BIGPKG.modules?.['bigpkg.py']);
    const pinned = await upipInstall(`http://127.0.0.1:${port}`, 'tinypkg==1.1', upipFetch);
    expect(pinned.files.get('tinypkg.py')?.toString()).toContain('"1.1"');
  });
});

describe('mip (Host without the port)', () => {
  const generations: [string, (path: string, host: string) => string][] = [
    ['firmware 1.25–1.28, HTTP/1.0 + Connection: close', mipRequest10],
    ['firmware 1.20, HTTP/1.0 + Connection: close', mipRequest120],
    ['master, HTTP/1.1 + Connection: close', mipRequest11],
  ];

  for (const [label, make] of generations) {
    it(`${label}: package JSON and files, byte for byte`, async () => {
      const res = await rawExchange(port, make('/mip/package/6/withdep/latest.json', '127.0.0.1'));
      expectBoardHygiene(res);
      const pkg = JSON.parse(res.body.toString('utf8')) as MipPackage;
      expect(pkg).toEqual({ v: 1, hashes: [['withdep.py', expect.stringMatching(/^[0-9a-f]{8}$/)]], deps: [['tinypkg', '1.0']], version: '0.1' });
      for (const [, h] of pkg.hashes ?? []) {
        const file = await rawExchange(port, make(`/mip/file/${h.slice(0, 2)}/${h}`, '127.0.0.1'));
        expectBoardHygiene(file);
        expect(sha256(file.body).startsWith(h)).toBe(true);
      }
      expectBoardHygiene(await rawExchange(port, make('/mip/package/6/nosuchpkg/latest.json', '127.0.0.1')), 404);
    });

    it(`${label}: installs a package with its dependencies`, async () => {
      const { files } = await mipInstall(`http://127.0.0.1:${port}/mip`, 'nestpkg', mipFetch(make));
      expect([...files.keys()].sort()).toEqual(['nestpkg/__init__.py', 'nestpkg/sub.py', 'tinypkg.py', 'withdep.py']);
      expect(files.get('tinypkg.py')?.toString()).toContain('"1.0"');
      const py = await mipInstall(`http://127.0.0.1:${port}/mip`, 'tinypkg', mipFetch(make), { mpy: 'py', version: '1.1' });
      expect(py.files.get('tinypkg.py')?.toString()).toContain('"1.1"');
    });
  }

  it('mpremote (urllib, HTTP/1.1, Host with the port) gets the same', async () => {
    const res = await rawExchange(port, mpremoteRequest('/mip/package/6/withdep/latest.json', `127.0.0.1:${port}`));
    expectBoardHygiene(res);
    const viaMpremote = await mipInstall(`http://127.0.0.1:${port}/mip`, 'withdep', async (url) => {
      const u = new URL(url);
      const r = await rawExchange(port, mpremoteRequest(u.pathname, `127.0.0.1:${port}`));
      expectBoardHygiene(r, r.status);
      return { status: r.status, body: r.body };
    });
    expect([...viaMpremote.files.keys()].sort()).toEqual(['tinypkg.py', 'withdep.py']);
  });
});

describe('uploads and the board command', () => {
  it('an upload boards cannot run is accepted with a warning', async () => {
    const text = await put(CEXT, 'wheel', 'cp311-cp311-linux_x86_64');
    expect(text).toMatch(/^Warning: .*compiled extension modules only.*MicroPython boards cannot install it/m);
    expectBoardHygiene(await rawExchange(port, upipRequest('/pypi/cext/json', `127.0.0.1:${port}`)), 404);
  });

  it('`pyrepo board` prints the lines for boards and warns that a loopback daemon is out of their reach', async () => {
    const opts = { env: isolatedEnv(root), cwd: root, timeoutMs: 30_000 };
    const json = await runCli(['board', 'withdep', '--json'], opts);
    expect(json.code, json.output).toBe(0);
    const guide: unknown = JSON.parse(json.stdout);
    expect(Value.Check(BoardOutputSchema, guide), json.stdout).toBe(true);
    const g = guide as BoardOutput;
    expect(g.port).toBe(port);
    expect(g.reachable).toBe(false);
    expect(g.warnings.join('\n')).toMatch(/listens on 127\.0\.0\.1 only.*pyrepo restart --lan/);
    expect(g.mpremote).toBe(`mpremote mip install --index http://127.0.0.1:${port}/mip withdep`);
    for (const a of g.addresses) {
      expect(a.mip).toEqual(['import mip', `mip.install("withdep", index="http://${a.address}:${port}/mip")`]);
      expect(a.upip).toEqual(['import upip', `upip.index_urls = ["http://${a.address}:${port}"]`, 'upip.install("withdep")']);
    }

    const text = await runCli(['board'], opts);
    expect(text.code, text.output).toBe(0);
    expect(text.stdout).toContain('pyrepo restart --lan');
    expect(text.stdout).toContain(`mpremote mip install --index http://127.0.0.1:${port}/mip PACKAGE`);

    const help = await runCli(['board', '--help'], opts);
    expect(help.stdout).toMatch(/Examples:[\s\S]*board my-sensor-lib/);
  });

  it('`pyrepo board` without a daemon says how to start one for boards (exit 3)', async () => {
    const other = await makeTempRoot('pyrepo-boards-none-');
    try {
      const r = await runCli(['board'], { env: isolatedEnv(other), cwd: other, timeoutMs: 30_000 });
      expect(r.code, r.output).toBe(3);
      expect(r.stderr).toContain('pyrepo start --lan');
    } finally {
      await removeTemp(other);
    }
  });
});
