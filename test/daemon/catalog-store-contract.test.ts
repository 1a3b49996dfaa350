/**
 * The contract of a CatalogStore (src/daemon/stores/catalog-store.ts), run against every
 * adapter: the embedded SQLite catalog and PostgreSQL (a throwaway cluster). Then what only a
 * shared catalog has: two daemons' stores on one database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FileRecord } from '../../src/daemon/services/catalog.js';
import { FileExistsError, type CatalogStore, type NewFile } from '../../src/daemon/stores/catalog-store.js';
import { LocalCatalog } from '../../src/daemon/stores/local-catalog.js';
import { PgCatalog } from '../../src/daemon/stores/pg-catalog.js';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

function fileOf(project: string, version: string, kind: 'whl' | 'sdist' = 'whl', extra: Partial<FileRecord> = {}): FileRecord {
  const filename = kind === 'whl' ? `${project}-${version}-py3-none-any.whl` : `${project}-${version}.tar.gz`;
  return {
    filename,
    relpath: filename,
    project,
    version,
    releaseKey: version,
    packagetype: kind === 'whl' ? 'bdist_wheel' : 'sdist',
    pythonVersion: kind === 'whl' ? 'py3' : 'source',
    size: 1234,
    mtimeMs: 1_700_000_000_000,
    sha256: `${'a'.repeat(63)}${version.length}`,
    md5: 'b'.repeat(32),
    blake2b256: 'c'.repeat(64),
    requiresPython: '>=3.8',
    metadataSha256: kind === 'whl' ? 'd'.repeat(64) : null,
    uploadTime: '2026-12-01T10:00:00.000Z',
    source: 'upload',
    uploadedBy: 'alice',
    uploadedFrom: '127.0.0.1',
    ...extra,
  };
}

const entry = (file: FileRecord, displayName = file.project): NewFile => ({ file, displayName, metadataBytes: Buffer.from(`Metadata-Version: 2.1\nName: ${displayName}\n`) });

interface Adapter {
  name: string;
  open(): Promise<CatalogStore>;
  cleanUp(): Promise<void>;
}

let cluster: PostgresCluster | undefined;
const dirs: string[] = [];

/** A fresh database for each case: the cluster is shared, the schema dropped between cases. */
async function freshPgDatabase(): Promise<string> {
  const c = cluster as PostgresCluster;
  await c.psql('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  return c.url;
}

const adapters: Adapter[] = [
  {
    name: 'embedded SQLite',
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'pyrepo-catalog-'));
      dirs.push(dir);
      return LocalCatalog.open(join(dir, 'catalog.sqlite'));
    },
    cleanUp: async () => {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  },
  {
    name: 'PostgreSQL',
    open: async () => PgCatalog.open({ url: await freshPgDatabase() }),
    cleanUp: async () => undefined,
  },
];

beforeAll(async () => {
  cluster = await startPostgres();
}, 60_000);
afterAll(async () => {
  await cluster?.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.each(adapters)('catalog store contract: $name', (adapter) => {
  let store: CatalogStore;
  beforeEach(async () => {
    store = await adapter.open();
    return async () => {
      await store.close();
      await adapter.cleanUp();
    };
  });

  it('starts empty', async () => {
    expect(await store.counts()).toEqual({ projects: 0, files: 0 });
    expect(await store.projects()).toEqual([]);
    expect(await store.file('nothing-1.0.tar.gz')).toBeUndefined();
    expect(await store.changesSince(0)).toEqual([]);
  });

  it('adds files with their project and metadata, and reads them back as they were', async () => {
    const whl = fileOf('demo', '1.0');
    const sdist = fileOf('demo', '1.0', 'sdist', { relpath: 'sub/demo-1.0.tar.gz', source: 'folder', uploadedBy: null, uploadedFrom: null });
    await store.addFiles([entry(whl, 'Demo'), entry(sdist, 'Demo')], { replace: false });
    expect(await store.file(whl.filename)).toEqual(whl);
    expect(await store.fileByPath('sub/demo-1.0.tar.gz')).toEqual(sdist);
    // The embedded catalog numbers its files as well (ServedFile.id).
    expect(await store.servedFile(sdist.filename)).toEqual(expect.objectContaining({ filename: sdist.filename, relpath: 'sub/demo-1.0.tar.gz', project: 'demo', sha256: sdist.sha256 }));
    expect(await store.servedFile('nothing-1.0.tar.gz')).toBeUndefined();
    expect((await store.filesOf('demo')).map((f) => f.filename).sort()).toEqual([whl.filename, sdist.filename].sort());
    expect(await store.project('demo')).toEqual({ name: 'demo', displayName: 'Demo' });
    expect(await store.counts()).toEqual({ projects: 1, files: 2 });
    expect((await store.metadataBytes(whl.filename))?.toString()).toBe('Metadata-Version: 2.1\nName: Demo\n');
    expect(await store.fileStamps()).toEqual(new Map([[whl.relpath, '1234:1700000000000'], ['sub/demo-1.0.tar.gz', '1234:1700000000000']]));
    expect(await store.filesUnder('sub')).toEqual([sdist.filename]);
    // Only uploads are journaled, not files found in the folder.
    expect((await store.activity({ limit: 10 })).map((a) => [a.action, a.filename, a.user])).toEqual([['upload', whl.filename, 'alice']]);
  });

  it('numbers every change and names the project of each, in order', async () => {
    const start = store.serial;
    await store.addFiles([entry(fileOf('one', '1.0'))], { replace: false });
    const afterOne = store.serial;
    expect(afterOne).toBeGreaterThan(start);
    await store.addFiles([entry(fileOf('two', '1.0'))], { replace: false });
    await store.setYanked('one', '1.0', true, 'broken', { action: 'yank', project: 'one', version: '1.0', filename: null, user: 'alice', address: '127.0.0.1', reason: 'broken' });
    await store.removeFile(fileOf('two', '1.0').filename, { user: 'bob', address: '10.0.0.2' });
    const changes = await store.changesSince(start);
    expect(changes.map((c) => c.project)).toEqual(['one', 'two', 'one', 'two']);
    const serials = changes.map((c) => c.serial);
    expect([...serials].sort((a, b) => a - b)).toEqual(serials);
    expect(new Set(serials).size).toBe(4);
    expect(serials.at(-1)).toBe(store.serial);
    expect((await store.changesSince(afterOne)).map((c) => c.project)).toEqual(['two', 'one', 'two']);
  });

  it('refuses a name already taken unless asked to replace, and writes nothing of a refused batch', async () => {
    const first = fileOf('demo', '1.0');
    await store.addFiles([entry(first)], { replace: false });
    const again = { ...first, sha256: 'f'.repeat(64) };
    const other = fileOf('demo', '2.0');
    const refused = await store.addFiles([entry(other), entry(again)], { replace: false }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(FileExistsError);
    expect((refused as FileExistsError).existingSha256).toBe(first.sha256);
    expect(await store.file(other.filename)).toBeUndefined();
    expect((await store.file(first.filename))?.sha256).toBe(first.sha256);
    await store.addFiles([entry(again)], { replace: true });
    expect((await store.file(first.filename))?.sha256).toBe('f'.repeat(64));
  });

  it('removes files, and the project with its last one, journaling who did it', async () => {
    const a = fileOf('demo', '1.0');
    const b = fileOf('demo', '1.0', 'sdist');
    await store.addFiles([entry(a), entry(b)], { replace: false });
    expect(await store.counts()).toEqual({ projects: 1, files: 2 });
    expect(await store.removeFile(a.filename, { user: 'bob', address: '10.0.0.2' })).toEqual(a);
    expect(await store.counts()).toEqual({ projects: 1, files: 1 });
    expect(await store.removeFile(a.filename)).toBeUndefined();
    expect(await store.project('demo')).toBeDefined();
    await store.removeFile(b.filename);
    expect(await store.project('demo')).toBeUndefined();
    expect(await store.counts()).toEqual({ projects: 0, files: 0 });
    const journal = await store.activity({ project: 'demo', limit: 10 });
    expect(journal[0]).toMatchObject({ action: 'delete', filename: a.filename, user: 'bob', address: '10.0.0.2' });
  });

  it('keeps yanks with their reason and who made them', async () => {
    await store.addFiles([entry(fileOf('demo', '1.0'))], { replace: false });
    await store.setYanked('demo', '1.0', true, 'security hole', { action: 'yank', project: 'demo', version: '1.0', filename: null, user: 'alice', address: '127.0.0.1', reason: 'security hole' });
    expect((await store.releaseStates('demo')).get('1.0')).toEqual({ yanked: true, reason: 'security hole', yankedBy: 'alice', yankedFrom: '127.0.0.1' });
    await store.setYanked('demo', '1.0', false, null);
    expect((await store.releaseStates('demo')).get('1.0')).toEqual({ yanked: false, reason: null, yankedBy: null, yankedFrom: null });
  });

  it('lists every release of the projects asked for once, a project’s together, with its first file’s version and its yank state', async () => {
    // Two spellings of one release: the version is the one its first file by name states.
    const wheel = fileOf('demo', '1.0', 'whl', { filename: 'demo-1.0-py3-none-any.whl', releaseKey: '1' });
    const sdist = fileOf('demo', '1.0.0', 'sdist', { filename: 'demo-1.0.0.tar.gz', relpath: 'demo-1.0.0.tar.gz', releaseKey: '1' });
    await store.addFiles([entry(sdist), entry(wheel), entry(fileOf('demo', '2.0')), entry(fileOf('alpha', '0.1')), entry(fileOf('zeta', '3.0b1'))], { replace: false });
    await store.setYanked('demo', '2.0', true, 'broken');
    const releases = await store.releaseVersionsOf(['alpha', 'demo', 'zeta', 'not-there']);
    expect(releases).toHaveLength(4);
    expect(new Set(releases.map((r) => `${r.project} ${r.releaseKey} ${r.version} ${r.yanked}`))).toEqual(
      new Set(['alpha 0.1 0.1 false', 'demo 1 1.0 false', 'demo 2.0 2.0 true', 'zeta 3.0b1 3.0b1 false']),
    );
    // A project's releases one after the other.
    const order = releases.map((r) => r.project).filter((p, i, all) => i === 0 || all[i - 1] !== p);
    expect(new Set(order).size).toBe(order.length);
    await store.removeFile(wheel.filename);
    expect((await store.releaseVersionsOf(['demo'])).find((r) => r.releaseKey === '1')?.version).toBe('1.0.0');
    expect((await store.releaseVersionsOf(['alpha'])).map((r) => r.project)).toEqual(['alpha']);
  });

  it('counts downloads in memory, shows them before and after they are written, and drops those of removed files', async () => {
    const a = fileOf('demo', '1.0');
    const b = fileOf('demo', '1.0', 'sdist');
    await store.addFiles([entry(a), entry(b)], { replace: false });
    const today = new Date();
    const day = today.toISOString().slice(0, 10);
    for (let i = 0; i < 3; i++) store.countDownload(a, 'pip', false, today);
    store.countDownload(a, 'uv', true, today);
    store.countDownload(b, 'pip', true, today);
    const check = async () => {
      expect(await store.downloadsOf('demo')).toEqual(new Map([[a.filename, 4], [b.filename, 1]]));
      expect(await store.downloadsByDay('demo')).toEqual([{ day, downloads: 5 }]);
      expect(await store.downloadsByInstaller('demo')).toEqual([
        { installer: 'pip', downloads: 4, ci: 1 },
        { installer: 'uv', downloads: 1, ci: 1 },
      ]);
      const [summary] = await store.projectSummaries(today);
      expect(summary).toMatchObject({ name: 'demo', files: 2, versions: 1, downloads: 5, lastUploadedBy: 'alice' });
      expect(summary?.downloads30d.at(-1)).toBe(5);
      expect(summary?.downloads30d).toHaveLength(30);
    };
    await check();
    await store.flushDownloads();
    await check();
    store.countDownload(b, 'pip', false, today);
    await store.removeFile(b.filename);
    await store.flushDownloads();
    expect(await store.downloadsOf('demo')).toEqual(new Map([[a.filename, 4]]));
  });

  it('keeps owners and maintainers, and values between runs', async () => {
    await store.addOwner('demo', 'alice', 'owner');
    await store.addOwner('demo', 'bob', 'maintainer');
    await store.addOwner('other', 'bob', 'owner');
    expect(await store.owners('demo')).toEqual([
      { user: 'alice', role: 'owner' },
      { user: 'bob', role: 'maintainer' },
    ]);
    expect(await store.ownershipsOf('bob')).toEqual([
      { project: 'demo', role: 'maintainer' },
      { project: 'other', role: 'owner' },
    ]);
    expect(await store.removeOwner('demo', 'bob')).toBe(true);
    expect(await store.removeOwner('demo', 'bob')).toBe(false);
    expect(await store.metaValue('last-event-id')).toBeUndefined();
    await store.setMetaValue('last-event-id', '41');
    await store.setMetaValue('last-event-id', '42');
    expect(await store.metaValue('last-event-id')).toBe('42');
  });
});

describe('a catalog shared by two daemons (PostgreSQL)', () => {
  let one: PgCatalog;
  let two: PgCatalog;
  const connection: string[] = [];
  beforeEach(async () => {
    const url = await freshPgDatabase();
    one = await PgCatalog.open({ url });
    two = await PgCatalog.open({ url, onConnection: (state) => connection.push(state) });
    connection.length = 0;
    return async () => {
      await Promise.all([one.close(), two.close()]);
    };
  });

  it('of two uploads of one file name, exactly one wins by the constraint', async () => {
    const mine = fileOf('race', '1.0');
    const theirs = { ...mine, sha256: 'e'.repeat(64) };
    const results = await Promise.allSettled([one.addFiles([entry(mine)], { replace: false }), two.addFiles([entry(theirs)], { replace: false })]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(loser.reason).toBeInstanceOf(FileExistsError);
    const winner = await one.file(mine.filename);
    expect((loser.reason as FileExistsError).existingSha256).toBe(winner?.sha256);
  });

  it("announces one daemon's change to the other, and not to itself", async () => {
    const heardByTwo: number[] = [];
    const heardByOne: number[] = [];
    two.onForeignChange((s) => heardByTwo.push(s));
    one.onForeignChange((s) => heardByOne.push(s));
    await one.addFiles([entry(fileOf('news', '1.0'))], { replace: false });
    await waitFor('the other daemon hears the change', () => heardByTwo.includes(one.serial));
    expect(two.serial).toBe(one.serial);
    expect(heardByOne).toEqual([]);
    expect((await two.changesSince(0)).map((c) => c.project)).toEqual(['news']);
  });

  it('after its connection is cut, a daemon reconnects and learns what it missed', async () => {
    const heard: number[] = [];
    two.onForeignChange((s) => heard.push(s));
    const admin = new pg.Client({ connectionString: (cluster as PostgresCluster).url });
    await admin.connect();
    try {
      // Cut every connection that LISTENs (the second daemon's; the first one's comes back too).
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()");
      await waitFor('the cut is noticed', () => connection.includes('lost'));
      await one.addFiles([entry(fileOf('missed', '1.0'))], { replace: false });
      await waitFor('the daemon is back and has caught up', () => connection.includes('back') && heard.includes(one.serial), 15_000);
      expect((await two.changesSince(0)).map((c) => c.project)).toContain('missed');
    } finally {
      await admin.end();
    }
  });
});

describe('one upload in one statement, one project in one query (PostgreSQL)', () => {
  let one: PgCatalog;
  let two: PgCatalog;
  beforeEach(async () => {
    const url = await freshPgDatabase();
    one = await PgCatalog.open({ url });
    two = await PgCatalog.open({ url });
    return async () => {
      await one.close();
      await two.close();
    };
  });

  it('publishes a file with its metadata, journal line, change and first owner, as addFiles would', async () => {
    const heard: number[] = [];
    two.onForeignChange((s) => heard.push(s));
    const file = fileOf('single', '1.0');
    const { serial, claimed } = await one.publishFile(entry(file, 'Single'), { replace: false, claim: 'alice' });
    expect(claimed).toBe(true);
    expect(serial).toBe(one.serial);
    expect(await one.file(file.filename)).toEqual(file);
    expect(await one.project('single')).toEqual({ name: 'single', displayName: 'Single' });
    expect((await one.metadataBytes(file.filename))?.toString()).toContain('Name: Single');
    expect(await one.owners('single')).toEqual([{ user: 'alice', role: 'owner' }]);
    expect((await one.activity({ project: 'single', limit: 5 })).map((a) => [a.action, a.filename, a.user])).toEqual([['upload', file.filename, 'alice']]);
    expect(await one.changesSince(serial - 1)).toEqual([{ serial, project: 'single' }]);
    await waitFor('the other daemon hears the change', () => heard.includes(serial));
  });

  it('claims a project only while it has no owner, and refuses a taken name with its content', async () => {
    await one.publishFile(entry(fileOf('claimed', '1.0')), { replace: false, claim: 'alice' });
    expect((await two.publishFile(entry(fileOf('claimed', '2.0')), { replace: false, claim: 'bob' })).claimed).toBe(false);
    expect(await one.owners('claimed')).toEqual([{ user: 'alice', role: 'owner' }]);
    const taken = fileOf('claimed', '1.0', 'whl', { sha256: 'e'.repeat(64) });
    const refused = await two.publishFile(entry(taken), { replace: false }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(FileExistsError);
    expect((refused as FileExistsError).existingSha256).toBe(fileOf('claimed', '1.0').sha256);
    // Asked to replace, it does, and the row is the new one.
    await two.publishFile(entry(taken), { replace: true });
    expect((await one.file(taken.filename))?.sha256).toBe('e'.repeat(64));
  });

  it('lets only one of two uploaders racing on two daemons claim a new project, for an upload and for an identical upload alike', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `race-${i}`);
    const outcomes = await Promise.all(
      names.flatMap((name) => [
        one.publishFile(entry(fileOf(name, '1.0')), { replace: false, claim: 'alice' }).then((r) => r.claimed),
        two.publishFile(entry(fileOf(name, '2.0')), { replace: false, claim: 'bob' }).then((r) => r.claimed),
      ]),
    );
    for (const [i, name] of names.entries()) {
      expect(outcomes.slice(2 * i, 2 * i + 2).filter(Boolean), name).toHaveLength(1);
      expect(await one.owners(name), name).toHaveLength(1);
    }
    const claims = await Promise.all(['carol', 'dave'].map((user, i) => [one, two][i]!.claimOwner('unowned', user)));
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await one.owners('unowned')).toHaveLength(1);
  });

  it('adds the one-claim rule in place to a catalog made before it', async () => {
    await one.close();
    await (cluster as PostgresCluster).psql('ALTER TABLE owners DROP COLUMN claimed;');
    one = await PgCatalog.open({ url: (cluster as PostgresCluster).url });
    const claims = await Promise.all(['carol', 'dave'].map((user, i) => [one, two][i]!.claimOwner('upgraded', user)));
    expect(claims.filter(Boolean)).toHaveLength(1);
  });

  it("gives a follower a project's files, states and owners, with the metadata only of what its copy lacks", async () => {
    const a = fileOf('state', '1.0');
    const b = fileOf('state', '2.0');
    await one.addFiles([entry(a, 'State'), entry(b, 'State')], { replace: false });
    await one.addOwner('state', 'carol', 'maintainer');
    await one.setYanked('state', '1.0', true, 'broken', { action: 'yank', project: 'state', version: '1.0', filename: null, user: 'carol', address: null, reason: 'broken' });
    const state = await two.projectState('state', new Map([[a.filename, a.sha256]]));
    expect(state.displayName).toBe('State');
    expect(state.files.map((f) => f.file).sort((x, y) => x.version.localeCompare(y.version))).toEqual([a, b]);
    expect(state.files.find((f) => f.file.filename === a.filename)?.metadata).toBeUndefined();
    expect(state.files.find((f) => f.file.filename === b.filename)?.metadata?.toString()).toContain('Name: State');
    expect(state.owners).toEqual([{ user: 'carol', role: 'maintainer' }]);
    expect(state.states.get('1.0')).toMatchObject({ yanked: true, reason: 'broken', yankedBy: 'carol' });
    // A copy whose file has other content gets that file's metadata too; a gone project is empty.
    expect((await two.projectState('state', new Map([[a.filename, 'f'.repeat(64)]]))).files.every((f) => f.metadata)).toBe(true);
    expect(await two.projectState('nothing-here', new Map())).toEqual({ displayName: undefined, files: [], states: new Map(), owners: [] });
  });
});
