import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listTree, makeApp, upload, type TestApp } from '../helpers/app.js';
import { buildSdist, buildWheel, corrupt, sdistFilename, wheelFilename, type DistSpec } from '../helpers/dists.js';
import { settlesWithin, waitFor } from '../helpers/wait.js';

const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';

let root: string;
let packagesDir: string;
let dataDir: string;
const open: TestApp[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'pyrepo-reconcile-'));
  packagesDir = join(root, 'packages');
  dataDir = join(root, 'data');
  await mkdir(packagesDir, { recursive: true });
});
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
  await rm(root, { recursive: true, force: true });
});

async function start(watch = false): Promise<TestApp> {
  const t = await makeApp({ packagesDir, dataDir, watch });
  open.push(t);
  return t;
}

async function stop(t: TestApp): Promise<void> {
  await t.close();
  open.splice(open.indexOf(t), 1);
}

async function simpleFiles(t: TestApp, project: string): Promise<string[]> {
  const res = await t.app.inject({ url: `/simple/${project}/`, headers: { accept: JSON_TYPE } });
  if (res.statusCode === 404) return [];
  expect(res.statusCode).toBe(200);
  return (res.json() as { files: { filename: string }[] }).files.map((f) => f.filename).sort();
}

describe('files already in the packages folder', () => {
  it('are served after the first reconcile, from subfolders too; junk and corrupt files are ignored', async () => {
    const a: DistSpec = { name: 'Folder_A', version: '1.0', requiresPython: '>=3.7' };
    const b: DistSpec = { name: 'folder-b', version: '2.0' };
    const c: DistSpec = { name: 'deep', version: '0.1' };
    await writeFile(join(packagesDir, wheelFilename(a)), buildWheel(a));
    await writeFile(join(packagesDir, sdistFilename(a)), buildSdist(a));
    await mkdir(join(packagesDir, 'folder-b'), { recursive: true });
    await writeFile(join(packagesDir, 'folder-b', sdistFilename(b, '.zip')), buildSdist(b, { format: 'zip' }));
    await mkdir(join(packagesDir, 'x', 'y'), { recursive: true });
    await writeFile(join(packagesDir, 'x', 'y', wheelFilename(c)), buildWheel(c));
    // Not distributions, or broken ones: ignored without crashing.
    await writeFile(join(packagesDir, 'README.txt'), 'hello');
    await writeFile(join(packagesDir, 'notes-1.0.tar.bz2'), 'nope');
    const broken: DistSpec = { name: 'broken', version: '1.0' };
    await writeFile(join(packagesDir, wheelFilename(broken)), corrupt(buildWheel(broken), 'truncate'));
    await writeFile(join(packagesDir, 'not-a-version.tar.gz'), buildSdist({ name: 'x', version: '1' }));
    await writeFile(join(packagesDir, 'liar-1.0-py3-none-any.whl'), buildWheel({ name: 'truth', version: '1.0' }, { distInfoName: 'liar-1.0' }));
    await writeFile(join(packagesDir, '.hidden-1.0.tar.gz'), buildSdist({ name: 'hidden', version: '1.0' }));

    const t = await start();
    expect(await simpleFiles(t, 'folder-a')).toEqual([sdistFilename(a), wheelFilename(a)].sort());
    expect(await simpleFiles(t, 'folder-b')).toEqual([sdistFilename(b, '.zip')]);
    expect(await simpleFiles(t, 'deep')).toEqual([wheelFilename(c)]);
    expect(await simpleFiles(t, 'broken')).toEqual([]);
    expect(await simpleFiles(t, 'truth')).toEqual([]);
    expect(await simpleFiles(t, 'liar')).toEqual([]);
    expect(await simpleFiles(t, 'hidden')).toEqual([]);

    const root = (await t.app.inject({ url: '/simple/', headers: { accept: JSON_TYPE } })).json() as { projects: { name: string }[] };
    expect(root.projects.map((p) => p.name).sort()).toEqual(['Folder_A', 'deep', 'folder-b']);

    const sub = await t.app.inject({ url: `/packages/${wheelFilename(c)}` });
    expect(sub.statusCode).toBe(200);
    expect(sub.rawPayload.equals(buildWheel(c))).toBe(true);
    const subPath = await t.app.inject({ url: `/packages/x/y/${wheelFilename(c)}` });
    expect(subPath.statusCode).toBe(200);
    const meta = await t.app.inject({ url: `/packages/${wheelFilename(c)}.metadata` });
    expect(meta.statusCode).toBe(200);
    expect(meta.body).toContain('Name: deep');

    const html = (await t.app.inject({ url: '/simple/folder-a/' })).body;
    expect(html).toContain('data-requires-python="&gt;=3.7"');
    const health = (await t.app.inject({ url: '/-/health' })).json() as { projects: number; files: number; indexing: boolean };
    expect(health).toMatchObject({ projects: 3, files: 4, indexing: false });
    // Nothing was deleted or moved.
    expect(await listTree(packagesDir)).toContain('README.txt');
    expect(await listTree(packagesDir)).toContain(wheelFilename(broken));
  });

  it('are hashed in parts when larger than what is read whole (4 MB)', async () => {
    // Random text: compressed in the wheel, it stays larger than 4 MB.
    const big: DistSpec = { name: 'big-one', version: '1.0', modules: { 'big_one/__init__.py': '', 'big_one/data.py': `DATA = '${randomBytes(4_500_000).toString('base64')}'\n` } };
    const bytes = buildWheel(big);
    expect(bytes.length).toBeGreaterThan(4 * 1024 * 1024);
    await writeFile(join(packagesDir, wheelFilename(big)), bytes);
    const t = await start();
    const res = await t.app.inject({ url: '/simple/big-one/', headers: { accept: JSON_TYPE } });
    const files = (res.json() as { files: { filename: string; hashes: { sha256: string }; size: number }[] }).files;
    expect(files).toEqual([expect.objectContaining({ filename: wheelFilename(big), hashes: { sha256: createHash('sha256').update(bytes).digest('hex') }, size: bytes.length })]);
  });

  it('use the file time as upload time', async () => {
    const a: DistSpec = { name: 'timed', version: '1.0' };
    const path = join(packagesDir, wheelFilename(a));
    await writeFile(path, buildWheel(a));
    const when = new Date('2021-03-04T05:06:07Z');
    await utimes(path, when, when);
    const t = await start();
    const json = (await t.app.inject({ url: '/simple/timed/', headers: { accept: JSON_TYPE } })).json() as {
      files: { 'upload-time': string }[];
    };
    expect(json.files[0]?.['upload-time']).toBe('2021-03-04T05:06:07.000Z');
  });
});

describe('changes while the daemon was down', () => {
  it('drops catalog rows whose file was removed', async () => {
    let t = await start();
    const keep: DistSpec = { name: 'keeper', version: '1.0' };
    const gone: DistSpec = { name: 'goner', version: '1.0' };
    expect((await upload(t.app, keep, 'wheel')).res.statusCode).toBe(200);
    expect((await upload(t.app, gone, 'wheel')).res.statusCode).toBe(200);
    expect((await upload(t.app, keep, 'sdist')).res.statusCode).toBe(200);
    await stop(t);

    await rm(join(packagesDir, wheelFilename(gone)));
    await rm(join(packagesDir, sdistFilename(keep)));
    t = await start();
    expect(await simpleFiles(t, 'goner')).toEqual([]);
    expect((await t.app.inject({ url: '/-/api/projects/goner' })).statusCode).toBe(404);
    expect(await simpleFiles(t, 'keeper')).toEqual([wheelFilename(keep)]);
    const list = (await t.app.inject({ url: '/-/api/projects' })).json() as { projects: { name: string; files: number }[] };
    expect(list.projects).toEqual([expect.objectContaining({ name: 'keeper', files: 1 })]);
    expect((await t.app.inject({ url: `/packages/${wheelFilename(gone)}` })).statusCode).toBe(404);
  });

  it('keeps yank state and upload time of files still there', async () => {
    let t = await start();
    const spec: DistSpec = { name: 'stay', version: '1.0' };
    expect((await upload(t.app, spec, 'wheel')).res.statusCode).toBe(200);
    await t.app.inject({ method: 'POST', url: '/-/api/projects/stay/releases/1.0/yank', payload: { reason: 'kept' } });
    const before = (await t.app.inject({ url: '/simple/stay/', headers: { accept: JSON_TYPE } })).json() as {
      files: { 'upload-time': string; yanked: unknown }[];
    };
    await stop(t);
    t = await start();
    const after = (await t.app.inject({ url: '/simple/stay/', headers: { accept: JSON_TYPE } })).json() as {
      files: { 'upload-time': string; yanked: unknown }[];
    };
    expect(after.files[0]?.yanked).toBe('kept');
    expect(after.files[0]?.['upload-time']).toBe(before.files[0]?.['upload-time']);
  });

  it('re-reads a file whose content changed', async () => {
    let t = await start();
    const spec: DistSpec = { name: 'changer', version: '1.0', summary: 'old' };
    expect((await upload(t.app, spec, 'wheel')).res.statusCode).toBe(200);
    await stop(t);
    const fresh = buildWheel({ ...spec, summary: 'new and longer summary' });
    await writeFile(join(packagesDir, wheelFilename(spec)), fresh);
    t = await start();
    const res = await t.app.inject({ url: `/packages/${wheelFilename(spec)}.metadata` });
    expect(res.body).toContain('Summary: new and longer summary');
    const json = (await t.app.inject({ url: '/simple/changer/', headers: { accept: JSON_TYPE } })).json() as {
      files: { size: number }[];
    };
    expect(json.files[0]?.size).toBe(fresh.length);
  });

  it('removes leftover temporary upload files at start', async () => {
    await writeFile(join(packagesDir, '.pyrepo-upload-1234-deadbeefdeadbeef.part'), 'half an upload');
    await writeFile(join(packagesDir, '.pyrepo-upload-99-0011223344556677.part'), '');
    const spec: DistSpec = { name: 'survivor', version: '1.0' };
    await writeFile(join(packagesDir, wheelFilename(spec)), buildWheel(spec));
    await writeFile(join(packagesDir, '.other-hidden-file'), 'not ours');
    const t = await start();
    expect(await listTree(packagesDir)).toEqual(['.other-hidden-file', wheelFilename(spec)].sort());
    expect(await simpleFiles(t, 'survivor')).toEqual([wheelFilename(spec)]);
    expect(await readFile(join(packagesDir, '.other-hidden-file'), 'utf8')).toBe('not ours');
  });
});

describe('changes while the daemon runs', () => {
  async function eventually(check: () => Promise<boolean>, ms = 8000): Promise<boolean> {
    return waitFor('the catalog to follow the packages folder', check, ms);
  }

  it('without the watcher, a file that vanished is forgotten when it is requested', async () => {
    const t = await start();
    const spec: DistSpec = { name: 'vanish', version: '1.0' };
    expect((await upload(t.app, spec, 'wheel')).res.statusCode).toBe(200);
    await rm(join(packagesDir, wheelFilename(spec)));
    expect((await t.app.inject({ url: `/packages/${wheelFilename(spec)}` })).statusCode).toBe(404);
    expect(await simpleFiles(t, 'vanish')).toEqual([]);
  });

  it('with the watcher, files copied in appear and files deleted disappear', async () => {
    const t = await start(true);
    // The folder watcher starts before the first reconcile, which settles this.
    await settlesWithin('the first reconcile with the packages folder', t.app.initialIndexing);
    const events: { type: string; filename?: string; source?: string }[] = [];
    const unsubscribe = t.app.events.subscribe((e) => events.push(e));
    try {
      const spec: DistSpec = { name: 'watched', version: '1.0' };
      await mkdir(join(packagesDir, 'sub'), { recursive: true });
      await writeFile(join(packagesDir, 'sub', wheelFilename(spec)), buildWheel(spec));
      expect(await eventually(async () => (await simpleFiles(t, 'watched')).length === 1)).toBe(true);
      expect(await simpleFiles(t, 'watched')).toEqual([wheelFilename(spec)]);
      expect(events).toContainEqual(expect.objectContaining({ type: 'upload', filename: wheelFilename(spec), source: 'folder' }));

      await writeFile(join(packagesDir, 'junk.txt'), 'ignored');
      await writeFile(join(packagesDir, wheelFilename({ name: 'bad', version: '1.0' })), 'not a zip');

      await rm(join(packagesDir, 'sub', wheelFilename(spec)));
      expect(await eventually(async () => (await simpleFiles(t, 'watched')).length === 0)).toBe(true);
      expect(events).toContainEqual(expect.objectContaining({ type: 'delete', filename: wheelFilename(spec) }));
      expect((await t.app.inject({ url: '/-/health' })).statusCode).toBe(200);
      expect(await simpleFiles(t, 'bad')).toEqual([]);
    } finally {
      unsubscribe();
    }
  });

  it('with the watcher, a file copied in right after the first reconcile is not missed', async () => {
    const t = await start(true);
    const spec: DistSpec = { name: 'early', version: '1.0' };
    await writeFile(join(packagesDir, wheelFilename(spec)), buildWheel(spec));
    expect(await eventually(async () => (await simpleFiles(t, 'early')).length === 1, 5000)).toBe(true);
  });
});
