/**
 * Copying a whole index between stores: the packages folder and SQLite into S3 (s3rver) and
 * PostgreSQL (a throwaway cluster), and back, with everything the catalog knows kept.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileRecord } from '../../src/daemon/services/catalog.js';
import { copyIndex, CopyConflictError, type IndexStores } from '../../src/daemon/stores/copy-index.js';
import { FolderBlobs } from '../../src/daemon/stores/folder-blobs.js';
import { LocalCatalog } from '../../src/daemon/stores/local-catalog.js';
import { PgCatalog } from '../../src/daemon/stores/pg-catalog.js';
import { parseS3Url, S3Blobs } from '../../src/daemon/stores/s3-blobs.js';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { startS3, type S3Server } from '../helpers/s3.js';

let cluster: PostgresCluster;
let s3: S3Server;
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'pyrepo-copy-'));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  [cluster, s3] = await Promise.all([startPostgres(), startS3()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([cluster?.destroy(), s3?.close()]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function localStores(): IndexStores {
  const dir = tempDir();
  return { catalog: LocalCatalog.open(join(dir, 'catalog.sqlite')), blobs: FolderBlobs.at(join(dir, 'packages')) };
}

async function sharedStores(prefix: string): Promise<IndexStores> {
  return { catalog: await PgCatalog.open({ url: cluster.url }), blobs: new S3Blobs(parseS3Url(`s3://${s3.bucket}/${prefix}`), tempDir(), { ...s3.env }) };
}

/** Puts a file with real bytes into stores. */
async function put(stores: IndexStores, project: string, version: string, content: Buffer, extra: Partial<FileRecord> = {}): Promise<FileRecord> {
  const filename = `${project}-${version}.tar.gz`;
  const sha256 = createHash('sha256').update(content).digest('hex');
  const temp = stores.blobs.writeTemp(content);
  await stores.blobs.seal(temp);
  const relpath = await stores.blobs.commit(temp, filename, sha256);
  const file: FileRecord = {
    filename, relpath, project, version, releaseKey: version, packagetype: 'sdist', pythonVersion: 'source', size: content.length, mtimeMs: 1_700_000_000_000,
    sha256, md5: 'b'.repeat(32), blake2b256: 'c'.repeat(64), requiresPython: null, metadataSha256: null, uploadTime: `2026-11-0${version.at(-1)}T10:00:00.000Z`,
    source: 'upload', uploadedBy: 'alice', uploadedFrom: '127.0.0.1', ...extra,
  };
  await stores.catalog.addFiles([{ file, displayName: project === 'demo' ? 'Demo' : project, metadataBytes: Buffer.from(`Name: ${project}\nVersion: ${version}\n`) }], { replace: false });
  return file;
}

/** Everything a reader of the catalog sees, without the storage keys (they differ by store). */
async function everything(stores: IndexStores) {
  const projects = await stores.catalog.projects();
  const perProject = await Promise.all(
    projects.map(async (p) => ({
      project: p,
      files: (await stores.catalog.filesOf(p.name)).map(({ relpath: _relpath, ...rest }) => rest).sort((a, b) => (a.filename < b.filename ? -1 : 1)),
      metadata: await Promise.all((await stores.catalog.filesOf(p.name)).map(async (f) => (await stores.catalog.metadataBytes(f.filename))?.toString())),
      releases: [...(await stores.catalog.releaseStates(p.name))],
      owners: await stores.catalog.owners(p.name),
      downloads: [...(await stores.catalog.downloadsOf(p.name))],
      byInstaller: await stores.catalog.downloadsByInstaller(p.name),
    })),
  );
  return { counts: await stores.catalog.counts(), perProject, activity: await stores.catalog.activity({ limit: 100 }) };
}

describe('copying an index between stores', () => {
  it('copies a local index into PostgreSQL and S3 and back, keeping everything, and resumes without doubling', async () => {
    const local = localStores();
    await local.blobs.prepare();
    const a = await put(local, 'demo', '1.1', Buffer.from('first release bytes'));
    await put(local, 'demo', '1.2', Buffer.alloc(200_000, 7));
    await put(local, 'other', '1.1', Buffer.from('other bytes'), { source: 'folder', uploadedBy: null, uploadedFrom: null });
    await local.catalog.setYanked('demo', '1.1', true, 'broken build', { action: 'yank', project: 'demo', version: '1.1', filename: null, user: 'bob', address: '10.0.0.2', reason: 'broken build' });
    await local.catalog.addOwner('demo', 'alice', 'owner');
    await local.catalog.addOwner('demo', 'carol', 'maintainer');
    for (let i = 0; i < 5; i++) local.catalog.countDownload(a, 'pip', i === 0);
    local.catalog.countDownload(a, 'uv', false);
    await local.catalog.flushDownloads();
    const before = await everything(local);

    const shared = await sharedStores('copy-1');
    await shared.blobs.prepare();
    const seen: string[] = [];
    const report = await copyIndex(local, shared, (_done, _total, filename) => seen.push(filename));
    expect(report).toMatchObject({ projects: 2, files: 3, copied: 3, bytes: 200_000 + 30, activity: 3, downloadRows: 3 });
    expect(seen).toHaveLength(3);
    expect(await everything(shared)).toEqual(before);

    // Again: nothing copied twice, the journal and counts not doubled.
    const again = await copyIndex(local, shared);
    expect(again).toMatchObject({ copied: 0, activity: 0, downloadRows: 0 });
    expect(await everything(shared)).toEqual(before);

    // And back into a fresh local index.
    const back = localStores();
    await back.blobs.prepare();
    await copyIndex(shared, back);
    expect(await everything(back)).toEqual(before);
    for (const s of [local, shared, back]) {
      await s.catalog.close();
      await s.blobs.close();
    }
  });

  it('stops at a file name the target holds with other content, and at damaged source bytes', async () => {
    const local = localStores();
    await local.blobs.prepare();
    await put(local, 'clash', '1.1', Buffer.from('ours'));
    const target = localStores();
    await target.blobs.prepare();
    await put(target, 'clash', '1.1', Buffer.from('theirs'));
    await expect(copyIndex(local, target)).rejects.toThrow(CopyConflictError);
    await expect(copyIndex(local, target)).rejects.toThrow(/already holds 'clash-1.1.tar.gz' with other content/);

    const damaged = localStores();
    await damaged.blobs.prepare();
    const f = await put(damaged, 'bad', '1.1', Buffer.from('good bytes'));
    // The catalog says one sha256, the stored bytes another.
    await damaged.catalog.addFiles([{ file: { ...f, sha256: 'f'.repeat(64) }, displayName: 'bad', metadataBytes: Buffer.from('') }], { replace: true });
    const fresh = localStores();
    await fresh.blobs.prepare();
    await expect(copyIndex(damaged, fresh)).rejects.toThrow(/do not match its sha256/);
    expect(await fresh.catalog.counts()).toEqual({ projects: 0, files: 0 });
    for (const s of [local, target, damaged, fresh]) {
      await s.catalog.close();
      await s.blobs.close();
    }
  });
});
