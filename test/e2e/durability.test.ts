/**
 * Files are the truth: the built daemon against crashes mid-upload, files copied into or
 * deleted from its packages folder (while running and while stopped), existing pypiserver
 * folders, and a clean stop on SIGTERM.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildSdist, buildWheel, sdistFilename, wheelFilename, type DistSpec } from '../helpers/dists.js';
import {
  ensureBuilt,
  makeTempRoot,
  removeTemp,
  startDaemon,
  stopAllDaemons,
  uploadBody,
  uploadFile,
  waitFor,
  type RunningTestDaemon,
} from '../helpers/daemon.js';

const SIMPLE_JSON = 'application/vnd.pypi.simple.v1+json';
const TEMP_PREFIX = '.pyrepo-upload-';

interface SimpleFile {
  filename: string;
  url: string;
  hashes: { sha256?: string };
}
interface SimpleProjectPage {
  name: string;
  files: SimpleFile[];
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function getJson<T>(url: string, accept = 'application/json', authorization?: string): Promise<{ status: number; body: T | undefined }> {
  const res = await fetch(url, { headers: { accept, ...(authorization ? { authorization } : {}) }, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, body: res.status === 200 ? (JSON.parse(text) as T) : undefined };
}

/** `/simple/<project>/` as JSON: the page, or undefined on 404. */
async function simpleProject(d: RunningTestDaemon, project: string): Promise<SimpleProjectPage | undefined> {
  const r = await getJson<SimpleProjectPage>(`${d.url}/simple/${project}/`, SIMPLE_JSON);
  if (r.status === 404) return undefined;
  expect(r.status).toBe(200);
  return r.body;
}

async function simpleFilenames(d: RunningTestDaemon, project: string): Promise<string[]> {
  return ((await simpleProject(d, project))?.files ?? []).map((f) => f.filename).sort();
}

/** Normalized names listed by `/simple/` (JSON). */
async function simpleRootProjects(d: RunningTestDaemon): Promise<string[]> {
  const r = await getJson<{ projects: { name: string }[] }>(`${d.url}/simple/`, SIMPLE_JSON);
  expect(r.status).toBe(200);
  return (r.body?.projects ?? []).map((p) => p.name.replace(/[-_.]+/g, '-').toLowerCase()).sort();
}

/** `/-/api/projects`: normalized name → file count. */
async function apiProjects(d: RunningTestDaemon): Promise<Record<string, number>> {
  const r = await getJson<{ projects: { name: string; files: number }[] }>(`${d.url}/-/api/projects`, 'application/json', d.adminAuth);
  expect(r.status).toBe(200);
  return Object.fromEntries((r.body?.projects ?? []).map((p) => [p.name, p.files]));
}

/** Distribution files in a folder and its subfolders (hidden entries skipped), as relative paths. */
async function folderDists(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (sub: string) => {
    for (const e of await readdir(join(dir, sub), { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const rel = sub ? `${sub}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(rel);
      else if (/\.(whl|zip|tar\.gz)$/.test(e.name)) out.push(rel);
    }
  };
  await walk('');
  return out.sort();
}

async function download(url: string): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

async function tempFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith(TEMP_PREFIX));
}

function wheelOf(spec: DistSpec): { filename: string; data: Buffer } {
  return { filename: wheelFilename(spec), data: buildWheel(spec) };
}

const roots: string[] = [];

beforeAll(() => {
  ensureBuilt();
});

afterEach(async () => {
  await stopAllDaemons();
});

afterAll(async () => {
  await stopAllDaemons();
  for (const r of roots) await removeTemp(r);
});

/** A daemon whose temporary root is removed after the file's tests. */
async function daemon(opts: Parameters<typeof startDaemon>[0] = {}): Promise<RunningTestDaemon> {
  const d = await startDaemon(opts);
  roots.push(d.root);
  return d;
}

/** Sends the request head and the first `sentBytes` of the body; the socket stays open. */
async function startRawUpload(d: RunningTestDaemon, body: Buffer, contentType: string, sentBytes: number): Promise<{ socket: Socket; response: Promise<string> }> {
  const socket = connect(d.port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  let received = '';
  const response = new Promise<string>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    socket.on('error', () => resolve(received));
    socket.on('close', () => resolve(received));
  });
  const head =
    `POST /legacy/ HTTP/1.1\r\nHost: 127.0.0.1:${d.port}\r\nUser-Agent: pyrepo-e2e\r\n` +
    `Authorization: Basic ${Buffer.from('x:y').toString('base64')}\r\n` +
    `Content-Type: ${contentType}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  socket.write(head);
  await new Promise<void>((resolve, reject) => socket.write(body.subarray(0, sentBytes), (err) => (err ? reject(err) : resolve())));
  return { socket, response };
}

describe('crash in the middle of an upload (kill -9)', () => {
  it('leaves no temporary file and no half file; the same upload then succeeds', async () => {
    const d1 = await daemon();
    // A project uploaded before the crash must survive it.
    const steady = wheelOf({ name: 'steady', version: '1.0' });
    expect((await uploadFile(d1.url, { name: 'steady', version: '1.0', filetype: 'bdist_wheel' }, steady.filename, steady.data)).status).toBe(200);

    // ~20 MB of incompressible content.
    const bigSpec: DistSpec = {
      name: 'big-blob',
      version: '1.0',
      modules: { 'big_blob/__init__.py': '__version__ = "1.0"\n', 'big_blob/blob.txt': randomBytes(20 * 1024 * 1024).toString('base64') },
    };
    const big = wheelOf(bigSpec);
    expect(big.data.length).toBeGreaterThan(18 * 1024 * 1024);
    const form = { name: 'big-blob', version: '1.0', filetype: 'bdist_wheel' as const, sha256: sha256(big.data) };
    const { body, contentType } = uploadBody(form, big.filename, big.data);

    const { socket, response } = await startRawUpload(d1, body, contentType, Math.floor(body.length / 2));
    try {
      const temps = await waitFor('a temporary upload file in the packages folder', async () => {
        const t = await tempFiles(d1.packagesDir);
        return t.length > 0 ? t : undefined;
      }, 15_000);
      expect(temps.length).toBe(1);
      await d1.kill9();
      await response;
    } finally {
      socket.destroy();
    }
    // The crash left the half-written temporary file behind; the next start must clean it.
    expect(await tempFiles(d1.packagesDir)).toHaveLength(1);
    expect(existsSync(join(d1.packagesDir, big.filename))).toBe(false);

    const d2 = await daemon({ dataDir: d1.dataDir, packagesDir: d1.packagesDir });
    expect(await tempFiles(d2.packagesDir)).toEqual([]);
    expect((await download(`${d2.url}/packages/${big.filename}`)).status).toBe(404);
    expect(await simpleProject(d2, 'big-blob')).toBeUndefined();

    // Index, control API and folder agree.
    const folder = await folderDists(d2.packagesDir);
    expect(folder).toEqual([steady.filename]);
    expect(await simpleRootProjects(d2)).toEqual(['steady']);
    expect(await apiProjects(d2)).toEqual({ steady: 1 });
    expect(await simpleFilenames(d2, 'steady')).toEqual([steady.filename]);
    const health = await getJson<{ projects: number; files: number }>(`${d2.url}/-/health`);
    expect(health.body).toMatchObject({ projects: 1, files: 1 });

    // The same upload, complete this time.
    const done = await uploadFile(d2.url, form, big.filename, big.data);
    expect(done.status, done.text).toBe(200);
    const served = await download(`${d2.url}/packages/${big.filename}`);
    expect(served.status).toBe(200);
    expect(sha256(served.body)).toBe(form.sha256);
    expect(await simpleFilenames(d2, 'big-blob')).toEqual([big.filename]);
    const page = await simpleProject(d2, 'big-blob');
    expect(page?.files[0]?.hashes.sha256).toBe(form.sha256);
    expect(await tempFiles(d2.packagesDir)).toEqual([]);
  }, 120_000);

  it('SIGTERM during an upload lets it finish, then exits 0', async () => {
    const d = await daemon();
    const spec: DistSpec = {
      name: 'late-finisher',
      version: '1.0',
      // Big enough that its first half alone passes the 4 MiB that the daemon holds in memory,
      // so the upload is visibly on its way to disk (a temporary file) when SIGTERM arrives.
      modules: { 'late_finisher/__init__.py': '', 'late_finisher/blob.txt': randomBytes(12 * 1024 * 1024).toString('base64') },
    };
    const w = wheelOf(spec);
    const form = { name: 'late-finisher', version: '1.0', filetype: 'bdist_wheel' as const, sha256: sha256(w.data) };
    const { body, contentType } = uploadBody(form, w.filename, w.data);
    const half = Math.floor(body.length / 2);
    const { socket, response } = await startRawUpload(d, body, contentType, half);
    try {
      await waitFor('the upload to reach the packages folder', async () => ((await tempFiles(d.packagesDir)).length > 0 ? true : undefined), 15_000);
      const stopped = d.stop('SIGTERM');
      await waitFor('the daemon to take the SIGTERM', () => d.logLines().some((l) => l.startsWith('Received SIGTERM')), 10_000, 20);
      socket.write(body.subarray(half));
      const answer = await Promise.race([response, new Promise<string>((r) => setTimeout(() => r('(no answer within 20 s)'), 20_000))]);
      expect(answer.split('\r\n')[0]).toMatch(/^HTTP\/1\.1 200/);
      expect(await stopped).toBe(0);
    } finally {
      socket.destroy();
    }
    expect(await folderDists(d.packagesDir)).toEqual([w.filename]);
    expect(sha256(await readFile(join(d.packagesDir, w.filename)))).toBe(form.sha256);
    expect(await tempFiles(d.packagesDir)).toEqual([]);
  }, 90_000);
});

describe('download counts through a crash (kill -9)', () => {
  it('keeps every download journaled before the crash, and counts none twice', async () => {
    const d1 = await daemon();
    const wheel = wheelOf({ name: 'counted', version: '1.0' });
    expect((await uploadFile(d1.url, { name: 'counted', version: '1.0', filetype: 'bdist_wheel' }, wheel.filename, wheel.data)).status).toBe(200);
    const downloads = async (d: RunningTestDaemon) => {
      const r = await getJson<{ projects: { name: string; downloads: number }[] }>(`${d.url}/-/api/projects`, 'application/json', d.adminAuth);
      return r.body?.projects.find((p) => p.name === 'counted')?.downloads;
    };
    for (let i = 0; i < 25; i++) expect((await download(`${d1.url}/packages/${wheel.filename}`)).status).toBe(200);
    expect(await downloads(d1)).toBe(25);
    // Journaled within a second (the catalog itself is written about once a minute).
    const journal = join(d1.dataDir, 'catalog.sqlite.downloads');
    await waitFor('the downloads to be journaled', () => existsSync(journal) && readFileSync(journal, 'utf8').includes(wheel.filename));
    await d1.kill9();

    const d2 = await daemon({ dataDir: d1.dataDir, packagesDir: d1.packagesDir });
    expect(await downloads(d2)).toBe(25);
    expect(d2.logLines().some((l) => l.includes('Folded the download counts the last run journaled'))).toBe(true);
    // Folded into the catalog when it opened: the journal is empty, and a clean stop keeps the count.
    expect(readFileSync(journal, 'utf8')).toBe('');
    for (let i = 0; i < 5; i++) expect((await download(`${d2.url}/packages/${wheel.filename}`)).status).toBe(200);
    expect(await d2.stop()).toBe(0);
    const d3 = await daemon({ dataDir: d1.dataDir, packagesDir: d1.packagesDir });
    expect(await downloads(d3)).toBe(30);
  }, 60_000);
});

describe('the packages folder is the truth', () => {
  it('files copied in while running appear within 10 s, and deleted ones disappear', async () => {
    const d = await daemon();
    const staging = await makeTempRoot('pyrepo-staging-');
    roots.push(staging);
    const a = wheelOf({ name: 'dropped-in', version: '1.0' });
    const sdistSpec: DistSpec = { name: 'dropped-in', version: '1.1' };
    const s = { filename: sdistFilename(sdistSpec), data: buildSdist(sdistSpec) };
    for (const f of [a, s]) await writeFile(join(staging, f.filename), f.data);

    expect(await simpleProject(d, 'dropped-in')).toBeUndefined();
    await copyFile(join(staging, a.filename), join(d.packagesDir, a.filename));
    await waitFor('the copied wheel on /simple/dropped-in/', async () => (await simpleFilenames(d, 'dropped-in')).includes(a.filename), 10_000, 200);
    const page = await simpleProject(d, 'dropped-in');
    expect(page?.files.find((f) => f.filename === a.filename)?.hashes.sha256).toBe(sha256(a.data));
    const got = await download(new URL(page?.files[0]?.url ?? '', `${d.url}/simple/dropped-in/`).href);
    expect(got.status).toBe(200);
    expect(got.body.equals(a.data)).toBe(true);

    // A file in a subfolder created while running (pypiserver layout).
    await mkdir(join(d.packagesDir, 'dropped-in'));
    await copyFile(join(staging, s.filename), join(d.packagesDir, 'dropped-in', s.filename));
    await waitFor('the sdist copied into a new subfolder', async () => (await simpleFilenames(d, 'dropped-in')).includes(s.filename), 10_000, 200);
    expect((await download(`${d.url}/packages/${s.filename}`)).body.equals(s.data)).toBe(true);
    expect(await apiProjects(d)).toEqual({ 'dropped-in': 2 });

    await rm(join(d.packagesDir, a.filename));
    await waitFor('the deleted wheel to leave /simple/dropped-in/', async () => !(await simpleFilenames(d, 'dropped-in')).includes(a.filename), 10_000, 200);
    expect(await simpleFilenames(d, 'dropped-in')).toEqual([s.filename]);
    expect((await download(`${d.url}/packages/${a.filename}`)).status).toBe(404);

    await rm(join(d.packagesDir, 'dropped-in', s.filename));
    await waitFor('the project to leave the index', async () => (await simpleProject(d, 'dropped-in')) === undefined, 10_000, 200);
    expect(await simpleRootProjects(d)).toEqual([]);
    expect(await apiProjects(d)).toEqual({});
  }, 90_000);

  it('serves a pypiserver-style folder (subfolders, legacy names) given at start', async () => {
    const root = await makeTempRoot('pyrepo-pypiserver-');
    roots.push(root);
    const packagesDir = join(root, 'packages');
    const alpha10: DistSpec = { name: 'alpha', version: '1.0' };
    const alpha11: DistSpec = { name: 'alpha', version: '1.1' };
    const fooBar: DistSpec = { name: 'Foo_Bar', version: '1.0' };
    const fooBar2: DistSpec = { name: 'Foo_Bar', version: '2.0' };
    const files: { rel: string; data: Buffer }[] = [
      { rel: 'alpha/alpha-1.0.tar.gz', data: buildSdist(alpha10) },
      { rel: `alpha/${wheelFilename(alpha11)}`, data: buildWheel(alpha11) },
      // Legacy (pre-PEP 625) sdist names keep the project's own spelling.
      { rel: 'Foo_Bar-1.0.tar.gz', data: buildSdist(fooBar, { topDir: 'Foo_Bar-1.0' }) },
      { rel: 'foo-bar/Foo_Bar-2.0.zip', data: buildSdist(fooBar2, { format: 'zip', topDir: 'Foo_Bar-2.0' }) },
    ];
    for (const f of files) {
      await mkdir(join(packagesDir, f.rel, '..'), { recursive: true });
      await writeFile(join(packagesDir, f.rel), f.data);
    }
    await writeFile(join(packagesDir, 'README.txt'), 'not a distribution\n');

    const d = await daemon({ packagesDir });
    expect(await simpleRootProjects(d)).toEqual(['alpha', 'foo-bar']);
    expect(await simpleFilenames(d, 'alpha')).toEqual(['alpha-1.0.tar.gz', wheelFilename(alpha11)].sort());
    expect(await simpleFilenames(d, 'foo-bar')).toEqual(['Foo_Bar-1.0.tar.gz', 'Foo_Bar-2.0.zip']);
    expect(await apiProjects(d)).toEqual({ alpha: 2, 'foo-bar': 2 });

    // Non-normalized project URLs redirect to the normalized page.
    const redirect = await fetch(`${d.url}/simple/Foo_Bar/`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/simple/foo-bar/');

    // Every link of the pages downloads the right bytes with the advertised hash.
    for (const project of ['alpha', 'foo-bar']) {
      const pageUrl = `${d.url}/simple/${project}/`;
      const page = await simpleProject(d, project);
      for (const f of page?.files ?? []) {
        const expected = files.find((x) => x.rel.endsWith(`/${f.filename}`) || x.rel === f.filename);
        const got = await download(new URL(f.url, pageUrl).href);
        expect(got.status, f.filename).toBe(200);
        expect(got.body.equals(expected?.data ?? Buffer.alloc(0)), f.filename).toBe(true);
        expect(f.hashes.sha256).toBe(sha256(got.body));
      }
    }
    // pypiserver's own subfolder paths work too.
    expect((await download(`${d.url}/packages/alpha/alpha-1.0.tar.gz`)).status).toBe(200);
    // The PEP 503 HTML page lists the same files.
    const html = await (await fetch(`${d.url}/simple/foo-bar/`, { headers: { accept: 'text/html' } })).text();
    expect(html).toContain('>Foo_Bar-1.0.tar.gz</a>');
    expect(html).toContain('>Foo_Bar-2.0.zip</a>');
    // The folder was served as it is: nothing moved or added.
    expect(await folderDists(packagesDir)).toEqual(files.map((f) => f.rel).sort());
  }, 90_000);

  it('a daemon restarted after files were added and removed while it was down reconciles', async () => {
    const d1 = await daemon();
    const keep = wheelOf({ name: 'kept', version: '1.0' });
    const gone = wheelOf({ name: 'vanishing', version: '1.0' });
    for (const w of [keep, gone]) {
      const r = await uploadFile(d1.url, { name: w.filename.split('-')[0] as string, version: '1.0', filetype: 'bdist_wheel' }, w.filename, w.data);
      expect(r.status, r.text).toBe(200);
    }
    expect(await simpleRootProjects(d1)).toEqual(['kept', 'vanishing']);
    expect(await d1.stop()).toBe(0);

    // While it is down: one file deleted, one added at the top, one in a subfolder.
    const added = wheelOf({ name: 'added-later', version: '3.0' });
    const addedSpec: DistSpec = { name: 'added-later', version: '3.1' };
    const addedSdist = { filename: sdistFilename(addedSpec), data: buildSdist(addedSpec) };
    await rm(join(d1.packagesDir, gone.filename));
    await writeFile(join(d1.packagesDir, added.filename), added.data);
    await mkdir(join(d1.packagesDir, 'sub'));
    await writeFile(join(d1.packagesDir, 'sub', addedSdist.filename), addedSdist.data);

    const d2 = await daemon({ dataDir: d1.dataDir, packagesDir: d1.packagesDir });
    expect(await simpleRootProjects(d2)).toEqual(['added-later', 'kept']);
    expect(await simpleFilenames(d2, 'added-later')).toEqual([added.filename, addedSdist.filename].sort());
    expect(await simpleProject(d2, 'vanishing')).toBeUndefined();
    expect((await download(`${d2.url}/packages/${gone.filename}`)).status).toBe(404);
    expect((await download(`${d2.url}/packages/${addedSdist.filename}`)).body.equals(addedSdist.data)).toBe(true);
    expect(await apiProjects(d2)).toEqual({ 'added-later': 2, kept: 1 });
    const page = await simpleProject(d2, 'added-later');
    expect(page?.files.find((f) => f.filename === added.filename)?.hashes.sha256).toBe(sha256(added.data));
  }, 90_000);
});

describe('stopping', () => {
  it('SIGTERM exits 0 and removes <data>/daemon.json', async () => {
    const d = await daemon();
    const stateFile = join(d.dataDir, 'daemon.json');
    const state = JSON.parse(await readFile(stateFile, 'utf8')) as { pid: number; port: number; url: string };
    expect(state.pid).toBe(d.pid);
    expect(state.port).toBe(d.port);
    expect(state.url).toBe(d.url);
    expect(await d.stop('SIGTERM')).toBe(0);
    expect(existsSync(stateFile)).toBe(false);
    expect(d.logLines().join('\n')).toMatch(/SIGTERM/);
  }, 60_000);

  it('SIGTERM exits 0 promptly with an event stream and an idle keep-alive connection open', async () => {
    const d = await daemon();
    const events = new AbortController();
    const sse = await fetch(`${d.url}/-/events`, { signal: events.signal, headers: { authorization: d.adminAuth } });
    expect(sse.status).toBe(200);
    // An idle HTTP/1.1 keep-alive connection, as pip and browsers leave them.
    const idle = connect(d.port, '127.0.0.1');
    idle.on('error', () => undefined);
    idle.write(`GET /simple/ HTTP/1.1\r\nHost: 127.0.0.1:${d.port}\r\n\r\n`);
    await new Promise((r) => idle.once('data', r));
    try {
      const started = Date.now();
      expect(await d.stop('SIGTERM')).toBe(0);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(existsSync(join(d.dataDir, 'daemon.json'))).toBe(false);
    } finally {
      events.abort();
      idle.destroy();
    }
  }, 60_000);
});
