/**
 * Auto-publish in-process: watched build folders through `/-/api/watches`, published by
 * the same publisher as HTTP uploads (checks, ownership, catalog entry, events). Files
 * are written here by hand the way builders write them (in place, by rename, half and
 * then the rest); test/e2e/watch.test.ts drives the real builders and the built CLI.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/daemon/app.js';
import {
  ActivityListSchema,
  HealthSchema,
  IndexEventSchema,
  WatchListSchema,
  WatchRegistrationSchema,
  type IndexEvent,
  type ProjectDetail,
  type WatchInfo,
  type WatchRegistration,
} from '../../src/shared/api.js';
import { accessFiles, readAccessFile, writeAccessFile } from '../../src/shared/access-file.js';
import { hashPassword } from '../../src/shared/htpasswd.js';
import { makeApp, makeDist, testSettings, type TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/daemon.js';
import type { DistSpec } from '../helpers/dists.js';

let t: TestApp | undefined;
const temps: string[] = [];
afterEach(async () => {
  await t?.close();
  t = undefined;
  for (const d of temps.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pyrepo-watch-'));
  temps.push(d);
  return d;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function register(app: FastifyInstance, body: Record<string, unknown>): Promise<WatchRegistration> {
  const res = await app.inject({ method: 'POST', url: '/-/api/watches', payload: body });
  expect(res.statusCode, res.body).toBe(200);
  const json = res.json() as WatchRegistration;
  expect(Value.Check(WatchRegistrationSchema, json)).toBe(true);
  return json;
}

async function watches(app: FastifyInstance): Promise<WatchInfo[]> {
  const res = await app.inject({ url: '/-/api/watches' });
  expect(res.statusCode, res.body).toBe(200);
  const json = res.json() as { watches: WatchInfo[] };
  expect(Value.Check(WatchListSchema, json)).toBe(true);
  return json.watches;
}

async function watchOf(app: FastifyInstance, dir: string): Promise<WatchInfo> {
  const w = (await watches(app)).find((x) => x.dir === dir);
  if (!w) throw new Error(`${dir} is not watched`);
  return w;
}

/** filename → sha256 of a project's files on the index (empty when it has none). */
async function onIndex(app: FastifyInstance, project: string): Promise<Map<string, string>> {
  const res = await app.inject({ url: `/simple/${project}/`, headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
  if (res.statusCode === 404) return new Map();
  const json = res.json() as { files: { filename: string; hashes: { sha256: string } }[] };
  return new Map(json.files.map((f) => [f.filename, f.hashes.sha256]));
}

function recordEvents(app: FastifyInstance): IndexEvent[] {
  const events: IndexEvent[] = [];
  app.events.subscribe((e) => {
    expect(Value.Check(IndexEventSchema, e), JSON.stringify(e)).toBe(true);
    events.push(e);
  });
  return events;
}

async function addUser(app: TestApp, user: string, role: 'uploader' | 'admin' | 'reader'): Promise<void> {
  const files = accessFiles(app.dataDir);
  writeFileSync(files.htpasswd, `${readFileSync(files.htpasswd, 'utf8')}${user}:${await hashPassword(`${user}-pw`, 4)}\n`);
  const access = readAccessFile(files.access);
  writeAccessFile(files.access, { ...access, roles: { ...access.roles, [user]: role } });
}

/** Writes a file the way hatchling does on one filesystem: elsewhere first, then a rename into the folder. */
async function putByRename(dir: string, filename: string, bytes: Buffer): Promise<void> {
  const temp = join(dir, `.tmp-${filename}`);
  await writeFile(temp, bytes);
  await rename(temp, join(dir, filename));
}

describe('watched build folders', () => {
  it('publishes what is already there and each new build, as the registering admin, with the folder named in the catalog, the journal and the events', async () => {
    t = await makeApp();
    const app = t.app;
    const events = recordEvents(app);
    const dist = join(await tempDir(), 'dist');
    await mkdir(dist);
    const v1: DistSpec = { name: 'Watched-Pkg', version: '1.0' };
    const wheel1 = makeDist(v1, 'wheel');
    const sdist1 = makeDist(v1, 'sdist');
    await writeFile(join(dist, wheel1.filename), wheel1.bytes);
    await writeFile(join(dist, sdist1.filename), sdist1.bytes);

    const reg = await register(app, { dir: dist, project: 'watched-pkg' });
    expect(reg.created).toBe(true);
    expect(reg.existing).toEqual([sdist1.filename, wheel1.filename].sort());
    expect(reg.watch).toMatchObject({ dir: dist, user: 'admin', state: 'watching', mode: 'events', replace: false, project: 'watched-pkg' });
    await waitFor('the existing files on the index', async () => (await onIndex(app, 'watched-pkg')).size === 2);
    expect((await onIndex(app, 'watched-pkg')).get(wheel1.filename)).toBe(sha256(wheel1.bytes));

    // A new build, renamed into place.
    const wheel2 = makeDist({ ...v1, version: '1.1' }, 'wheel');
    await putByRename(dist, wheel2.filename, wheel2.bytes);
    await waitFor('the new build on the index', async () => (await onIndex(app, 'watched-pkg')).has(wheel2.filename));

    const detail = (await app.inject({ url: '/-/api/projects/watched-pkg' })).json() as ProjectDetail;
    const file = detail.releases.flatMap((r) => r.files).find((f) => f.filename === wheel2.filename);
    expect(file).toMatchObject({ source: 'watch', uploadedBy: 'admin', uploadedFrom: dist });
    const journal = (await app.inject({ url: '/-/api/activity?project=watched-pkg' })).json() as { entries: unknown[] };
    expect(Value.Check(ActivityListSchema, journal)).toBe(true);
    expect(journal.entries[0]).toMatchObject({ action: 'upload', filename: wheel2.filename, user: 'admin', address: dist });
    const uploads = events.filter((e) => e.type === 'upload');
    expect(uploads.map((e) => e.type === 'upload' && e.filename).sort()).toEqual([sdist1.filename, wheel1.filename, wheel2.filename].sort());
    for (const e of uploads) expect(e).toMatchObject({ source: 'watch', watch: dist, user: 'admin', address: null });

    const w = await watchOf(app, dist);
    expect(w.lastPublish).toMatchObject({ filename: wheel2.filename, version: '1.1', project: 'watched-pkg', status: 'created' });
    expect(w.refusals).toEqual([]);
    expect(w.pending).toEqual([]);
    // Health names the folder (the dashboard's header shows it).
    const health = (await app.inject({ url: '/-/health' })).json() as unknown;
    expect(Value.Check(HealthSchema, health)).toBe(true);
    expect((health as { watchedFolders: string[] }).watchedFolders).toEqual([dist]);
    // The list is kept in the data folder.
    const saved = JSON.parse(readFileSync(join(t.dataDir, 'watches.json'), 'utf8')) as { watches: { dir: string }[] };
    expect(saved.watches.map((x) => x.dir)).toEqual([dist]);
  });

  it('publishes a build larger than what is read whole (4 MB) byte for byte', async () => {
    t = await makeApp();
    const dist = join(await tempDir(), 'dist');
    await mkdir(dist);
    // Random text: compressed in the wheel, it stays larger than 4 MB.
    const big = makeDist({ name: 'big-build', version: '1.0', modules: { 'big_build/__init__.py': '', 'big_build/data.py': `DATA = '${randomBytes(4_500_000).toString('base64')}'\n` } }, 'wheel');
    expect(big.bytes.length).toBeGreaterThan(4 * 1024 * 1024);
    await writeFile(join(dist, big.filename), big.bytes);
    await register(t.app, { dir: dist, project: 'big-build' });
    await waitFor('the build on the index', async () => (await onIndex(t?.app as FastifyInstance, 'big-build')).get(big.filename) === sha256(big.bytes));
    const download = await t.app.inject({ url: `/packages/${big.filename}` });
    expect(download.rawPayload.equals(big.bytes)).toBe(true);
  });

  it('skips an identical file quietly, refuses a rebuild of the same version with the fix, and lets --replace replace it (recorded as such)', async () => {
    t = await makeApp();
    const app = t.app;
    const events = recordEvents(app);
    const dist = await tempDir();
    const spec: DistSpec = { name: 'rebuilt', version: '2.0' };
    const first = makeDist(spec, 'wheel');
    await writeFile(join(dist, first.filename), first.bytes);
    await register(app, { dir: dist });
    await waitFor('the first build', async () => (await onIndex(app, 'rebuilt')).has(first.filename));

    // The same bytes again (a clean build of identical sources): nothing to say.
    await rm(join(dist, first.filename));
    await writeFile(join(dist, first.filename), first.bytes);
    const other = makeDist({ name: 'rebuilt', version: '2.1' }, 'wheel');
    await writeFile(join(dist, other.filename), other.bytes);
    await waitFor('the next build', async () => (await onIndex(app, 'rebuilt')).has(other.filename));
    expect((await watchOf(app, dist)).refusals).toEqual([]);
    expect(events.filter((e) => e.type === 'refused')).toEqual([]);

    // Rebuilt without a version bump: other bytes under the same name.
    const rebuilt = makeDist({ ...spec, summary: 'changed' }, 'wheel');
    expect(rebuilt.filename).toBe(first.filename);
    await writeFile(join(dist, first.filename), rebuilt.bytes);
    const refusal = await waitFor('the refusal', async () => (await watchOf(app, dist)).refusals.find((r) => r.filename === first.filename));
    expect(refusal.reason).toMatch(/already on the index with other content.*rebuilt without a new version/);
    expect(refusal.fix).toMatch(/Bump the version/);
    expect(refusal.fix).toContain('--replace');
    expect((await onIndex(app, 'rebuilt')).get(first.filename)).toBe(sha256(first.bytes));
    const refusedEvent = events.find((e) => e.type === 'refused');
    expect(refusedEvent).toMatchObject({ type: 'refused', project: 'rebuilt', version: '2.0', filename: first.filename, watch: dist, reason: refusal.reason, fix: refusal.fix });

    // --replace: a development loop may rebuild the same version.
    const again = await register(app, { dir: dist, replace: true });
    expect(again.created).toBe(false);
    await waitFor('the rebuild replacing the file', async () => (await onIndex(app, 'rebuilt')).get(first.filename) === sha256(rebuilt.bytes));
    const w = await watchOf(app, dist);
    expect(w).toMatchObject({ replace: true, refusals: [], lastPublish: { filename: first.filename, status: 'replaced' } });
    expect(events.find((e) => e.type === 'upload' && e.filename === first.filename && e.replaced)).toBeTruthy();
    const journal = (await app.inject({ url: '/-/api/activity?project=rebuilt' })).json() as { entries: { filename: string; reason: string | null }[] };
    expect(journal.entries[0]).toMatchObject({ filename: first.filename });
    expect(journal.entries[0]?.reason).toMatch(/replaced a file of the same name/);
  });

  it('publishes a file written slowly in place only once it is complete, never half of it', async () => {
    t = await makeApp();
    const app = t.app;
    const dist = await tempDir();
    await register(app, { dir: dist });
    const wheel = makeDist({ name: 'slow-writer', version: '1.0', modules: { 'slow_writer/data.py': `x = ${JSON.stringify('y'.repeat(200_000))}\n` } }, 'wheel');
    const sdist = makeDist({ name: 'slow-writer', version: '1.0', modules: { 'slow_writer/data.py': `x = ${JSON.stringify('z'.repeat(200_000))}\n` } }, 'sdist');
    for (const file of [wheel, sdist]) {
      const handle = await open(join(dist, file.filename), 'w');
      const half = Math.floor(file.bytes.length / 2);
      await handle.write(file.bytes, 0, half);
      // Paused mid-file for longer than the settle interval: it holds still, but is not complete.
      const w = await waitFor('the half file to be looked at', async () => {
        const info = await watchOf(app, dist);
        return info.pending.includes(file.filename) && (await app.watches.busy(info.id)) === false ? info : undefined;
      });
      expect(w.refusals).toEqual([]);
      expect((await onIndex(app, 'slow-writer')).has(file.filename)).toBe(false);
      await handle.write(file.bytes, half, file.bytes.length - half, half);
      await handle.close();
      await waitFor(`${file.filename} on the index`, async () => (await onIndex(app, 'slow-writer')).get(file.filename) === sha256(file.bytes));
    }
    expect((await watchOf(app, dist)).pending).toEqual([]);
  });

  it('ignores subfolders, dotfiles and other files, and never removes what a clean build deletes', async () => {
    t = await makeApp();
    const app = t.app;
    const dist = await tempDir();
    await mkdir(join(dist, 'build-tmp'));
    const inSub = makeDist({ name: 'sub-pkg', version: '1.0' }, 'wheel');
    await writeFile(join(dist, 'build-tmp', inSub.filename), inSub.bytes);
    const hidden = makeDist({ name: 'hidden-pkg', version: '1.0' }, 'wheel');
    await writeFile(join(dist, `.${hidden.filename}`), hidden.bytes);
    await writeFile(join(dist, '.gitignore'), '*\n');
    await writeFile(join(dist, 'notes.txt'), 'not a distribution\n');
    const real = makeDist({ name: 'real-pkg', version: '1.0' }, 'wheel');
    await writeFile(join(dist, real.filename), real.bytes);
    await register(app, { dir: dist });
    await waitFor('the real file', async () => (await onIndex(app, 'real-pkg')).size === 1);
    const later = makeDist({ name: 'sub-pkg', version: '2.0' }, 'wheel');
    await writeFile(join(dist, 'build-tmp', later.filename), later.bytes);
    await waitFor('quiet', async () => !app.watches.busy((await watchOf(app, dist)).id));
    const projects = ((await app.inject({ url: '/-/api/projects' })).json() as { projects: { name: string }[] }).projects.map((p) => p.name);
    expect(projects).toEqual(['real-pkg']);
    expect((await watchOf(app, dist)).pending).toEqual([]);

    // A clean build empties dist/: the index keeps what it has.
    await rm(join(dist, real.filename));
    await waitFor('the deletion noticed', async () => !app.watches.busy((await watchOf(app, dist)).id));
    expect((await onIndex(app, 'real-pkg')).size).toBe(1);
  });

  it('with --new-only leaves the files already there and publishes the next build', async () => {
    t = await makeApp();
    const app = t.app;
    const dist = await tempDir();
    const old = makeDist({ name: 'new-only', version: '0.9' }, 'wheel');
    await writeFile(join(dist, old.filename), old.bytes);
    const reg = await register(app, { dir: dist, newOnly: true });
    expect(reg.existing).toEqual([]);
    const next = makeDist({ name: 'new-only', version: '1.0' }, 'wheel');
    await writeFile(join(dist, next.filename), next.bytes);
    await waitFor('the new build', async () => (await onIndex(app, 'new-only')).has(next.filename));
    expect([...(await onIndex(app, 'new-only')).keys()]).toEqual([next.filename]);
  });

  it('follows the build report: the listed files go at once when their sha256 matches, never when it does not', async () => {
    // A settle interval far beyond the test's waits: only the report can start a publish here.
    const root = await tempDir();
    const settings = testSettings(root);
    await mkdir(settings.dataDir, { recursive: true });
    const files = accessFiles(settings.dataDir);
    writeFileSync(files.htpasswd, `admin:${await hashPassword('pw', 4)}\n`);
    writeAccessFile(files.access, { version: 1, roles: { admin: 'admin' }, tokens: [] });
    const app = await buildApp({ settings, watchSettleMs: 120_000 });
    await app.ready();
    const auth = { authorization: `Basic ${Buffer.from('admin:pw').toString('base64')}` };
    try {
      const dist = join(root, 'dist');
      await mkdir(dist);
      const res = await app.inject({ method: 'POST', url: '/-/api/watches', payload: { dir: dist }, headers: auth });
      expect(res.statusCode, res.body).toBe(200);
      const good = makeDist({ name: 'reported', version: '1.0' }, 'wheel');
      const bad = makeDist({ name: 'reported', version: '1.0' }, 'sdist');
      await writeFile(join(dist, good.filename), good.bytes);
      await writeFile(join(dist, bad.filename), bad.bytes);
      // Written the way build >= 1.5.1 writes it: mkstemp in the report's folder, then os.replace.
      const report = {
        version: '1.0',
        artifacts: [
          { name: good.filename, path: join(dist, good.filename), kind: 'wheel', size: good.bytes.length, hashes: { sha256: sha256(good.bytes) } },
          { name: bad.filename, path: join(dist, bad.filename), kind: 'sdist', size: bad.bytes.length, hashes: { sha256: '0'.repeat(64) } },
        ],
      };
      await writeFile(join(dist, 'tmpa1b2c3'), JSON.stringify(report));
      await rename(join(dist, 'tmpa1b2c3'), join(dist, 'build-report.json'));
      await waitFor('the reported wheel', async () => (await onIndex(app, 'reported')).has(good.filename), 10_000);
      const list = (await app.inject({ url: '/-/api/watches', headers: auth })).json() as { watches: WatchInfo[] };
      expect(list.watches[0]?.report).toBe(join(dist, 'build-report.json'));
      expect((await onIndex(app, 'reported')).has(bad.filename)).toBe(false);
      expect(list.watches[0]?.pending).toEqual([bad.filename]);
    } finally {
      await app.close();
    }
  });

  it('refuses the packages folder, folders inside it or the data folder, files, relative paths, unknown users and readers', async () => {
    t = await makeApp();
    const app = t.app;
    const refuse = async (body: Record<string, unknown>, status: number, message: RegExp) => {
      const res = await app.inject({ method: 'POST', url: '/-/api/watches', payload: body });
      expect(res.statusCode, res.body).toBe(status);
      expect((res.json() as { message: string }).message).toMatch(message);
    };
    await refuse({ dir: t.packagesDir }, 400, /is the packages folder/);
    await refuse({ dir: join(t.packagesDir, 'sub') }, 400, /inside the packages folder/);
    await refuse({ dir: join(t.dataDir, 'x') }, 400, /inside pyrepo's data folder/);
    const file = join(await tempDir(), 'a-file');
    await writeFile(file, 'x');
    await refuse({ dir: file }, 400, /is not a folder/);
    await refuse({ dir: join(file, 'dist') }, 400, /a part of its path is a file/);
    await refuse({ dir: 'dist' }, 400, /absolute path/);
    const dist = await tempDir();
    await refuse({ dir: dist, as: 'nobody' }, 404, /no user 'nobody'/);
    await addUser(t, 'rita', 'reader');
    await refuse({ dir: dist, as: 'rita' }, 403, /may only read/);
    expect(await watches(app)).toEqual([]);
    expect(existsSync(join(t.dataDir, 'watches.json'))).toBe(false);
    // Without the admin: the control API's 401.
    const anon = await app.inject({ method: 'POST', url: '/-/api/watches', payload: { dir: dist }, headers: { authorization: '' } });
    expect(anon.statusCode).toBe(401);
  });

  it("applies the ownership rules of the user it publishes as, exactly as to that user's upload", async () => {
    t = await makeApp({ authenticate: ['upload'] });
    const app = t.app;
    await addUser(t, 'ann', 'uploader');
    await addUser(t, 'bob', 'uploader');
    app.index.catalog.addOwner('owned', 'ann', 'owner');
    const bobs = await tempDir();
    const wheel = makeDist({ name: 'owned', version: '1.0' }, 'wheel');
    await writeFile(join(bobs, wheel.filename), wheel.bytes);
    await register(app, { dir: bobs, as: 'bob' });
    const refusal = await waitFor('the refusal', async () => (await watchOf(app, bobs)).refusals[0]);
    expect(refusal.reason).toMatch(/The user 'bob' isn't allowed to upload to project 'owned'.*publishes as 'bob'/);
    expect(refusal.fix).toContain('pyrepo owner add owned bob');
    expect((await onIndex(app, 'owned')).size).toBe(0);

    // As the owner: published, ann recorded as the uploader; a new project is claimed as an upload would claim it.
    const anns = await tempDir();
    await writeFile(join(anns, wheel.filename), wheel.bytes);
    const fresh = makeDist({ name: 'fresh-claim', version: '1.0' }, 'wheel');
    await writeFile(join(anns, fresh.filename), fresh.bytes);
    await register(app, { dir: anns, as: 'ann' });
    await waitFor('both published', async () => (await onIndex(app, 'owned')).size === 1 && (await onIndex(app, 'fresh-claim')).size === 1);
    const detail = (await app.inject({ url: '/-/api/projects/owned' })).json() as ProjectDetail;
    expect(detail.releases[0]?.files[0]).toMatchObject({ uploadedBy: 'ann', source: 'watch' });
    expect(await app.index.catalog.owners('fresh-claim')).toEqual([{ user: 'ann', role: 'owner' }]);
  });

  it('shows a folder that disappears as missing and resumes when it comes back; a removed watch stops', async () => {
    t = await makeApp();
    const app = t.app;
    const events = recordEvents(app);
    const project = await tempDir();
    const dist = join(project, 'dist');
    const reg = await register(app, { dir: dist });
    expect(reg.watch.state).toBe('missing');
    expect(reg.watch.stateDetail).toMatch(/does not exist/);
    await mkdir(dist);
    const one = makeDist({ name: 'comes-back', version: '1.0' }, 'wheel');
    await writeFile(join(dist, one.filename), one.bytes);
    await waitFor('the first build', async () => (await onIndex(app, 'comes-back')).size === 1);
    expect((await watchOf(app, dist)).state).toBe('watching');

    await rm(dist, { recursive: true });
    await waitFor('missing', async () => (await watchOf(app, dist)).state === 'missing');
    await mkdir(dist);
    const two = makeDist({ name: 'comes-back', version: '2.0' }, 'wheel');
    await writeFile(join(dist, two.filename), two.bytes);
    await waitFor('the build after it came back', async () => (await onIndex(app, 'comes-back')).has(two.filename));
    expect(events.filter((e) => e.type === 'watch').map((e) => e.type === 'watch' && e.state)).toEqual(['watching', 'missing', 'watching']);

    const removed = await app.inject({ method: 'DELETE', url: `/-/api/watches/${reg.watch.id}` });
    expect(removed.statusCode, removed.body).toBe(200);
    expect(await watches(app)).toEqual([]);
    const three = makeDist({ name: 'comes-back', version: '3.0' }, 'wheel');
    await writeFile(join(dist, three.filename), three.bytes);
    // Another watch, registered after the write, publishes its own file: by then the removed one would have acted.
    const other = await tempDir();
    const marker = makeDist({ name: 'marker', version: '1.0' }, 'wheel');
    await writeFile(join(other, marker.filename), marker.bytes);
    await register(app, { dir: other });
    await waitFor('the marker', async () => (await onIndex(app, 'marker')).size === 1);
    expect((await onIndex(app, 'comes-back')).has(three.filename)).toBe(false);
    const again = await app.inject({ method: 'DELETE', url: `/-/api/watches/${reg.watch.id}` });
    expect(again.statusCode).toBe(404);
  });

  it('keeps the list in the data folder: after a restart the files built meanwhile are published, the ones handled are not redone', async () => {
    t = await makeApp();
    const dist = await tempDir();
    const first = makeDist({ name: 'restarted', version: '1.0' }, 'wheel');
    await writeFile(join(dist, first.filename), first.bytes);
    await register(t.app, { dir: dist, replace: true });
    await waitFor('the first build', async () => (await onIndex(t!.app, 'restarted')).size === 1);
    const { root } = t;
    await t.app.close();
    // While the daemon is down: a new build arrives.
    const second = makeDist({ name: 'restarted', version: '2.0' }, 'wheel');
    await writeFile(join(dist, second.filename), second.bytes);
    const app = await buildApp({ settings: testSettings(root) });
    await app.ready();
    try {
      const events = recordEvents(app);
      const auth = { authorization: t.adminAuth };
      await waitFor('the build made while it was down', async () => (await onIndex(app, 'restarted')).has(second.filename));
      const list = (await app.inject({ url: '/-/api/watches', headers: auth })).json() as { watches: WatchInfo[] };
      expect(list.watches).toHaveLength(1);
      expect(list.watches[0]).toMatchObject({ dir: dist, replace: true, user: 'admin', lastPublish: { filename: second.filename } });
      expect(events.filter((e) => e.type === 'upload').map((e) => e.type === 'upload' && e.filename)).toEqual([second.filename]);
    } finally {
      await app.close();
      await rm(root, { recursive: true, force: true });
      t = undefined;
    }
  });
});
