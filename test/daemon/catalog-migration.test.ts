/**
 * Catalogs of older schemas open and are upgraded in place: nothing they held is lost,
 * what they never recorded says so, and new changes record it from then on.
 *
 * - test/fixtures/catalog-schema1, made by the daemon before it recorded uploaders: two
 *   releases, an sdist, a yank with its reason, an owner, three downloads ("not recorded").
 * - test/fixtures/catalog-schema2, made by the daemon before it counted downloads by
 *   installer: two-pkg 1.0 (wheel, sdist) and 2.0 (wheel, yanked "bad wheel"), all uploaded
 *   by admin; 11 downloads, 6 on 2026-03-01 and 5 on 2026-03-02 (their installers unknown).
 *   Upgrading it goes through schema 3 to 4, which keeps downloads in key order.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProjectDetail, ProjectList } from '../../src/shared/api.js';
import { Catalog } from '../../src/daemon/services/catalog.js';
import { uploaderText } from '../../src/cli/commands/info.js';
import { makeApp, upload, type TestApp } from '../helpers/app.js';

const FIXTURES = resolve(fileURLToPath(new URL('../fixtures', import.meta.url)));

let root: string | undefined;
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close({ keepFiles: true });
  t = undefined;
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

function copyFixture(schema = 1): { dataDir: string; packagesDir: string; catalogFile: string } {
  const fixture = join(FIXTURES, `catalog-schema${schema}`);
  root = mkdtempSync(join(tmpdir(), 'pyrepo-migration-'));
  const dataDir = join(root, 'data');
  const packagesDir = join(root, 'packages');
  cpSync(join(fixture, 'catalog.sqlite'), join(dataDir, 'catalog.sqlite'));
  cpSync(join(fixture, 'packages'), packagesDir, { recursive: true });
  return { dataDir, packagesDir, catalogFile: join(dataDir, 'catalog.sqlite') };
}

function schemaOf(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string }).value;
  } finally {
    db.close();
  }
}

describe('a catalog of schema 1', () => {
  it('opens, is upgraded in place, keeps files, yanks, owners and downloads, and records uploaders from then on', async () => {
    const { dataDir, packagesDir, catalogFile } = copyFixture();
    expect(schemaOf(catalogFile)).toBe('1');
    t = await makeApp({ dataDir, packagesDir, authenticate: ['upload'] });
    expect(t.app.index.catalog.catalog.schemaVersion).toBe(4);

    const before = (await t.app.inject({ url: '/-/api/projects/old-pkg' })).json() as ProjectDetail;
    expect(before.releases.map((r) => [r.version, r.yanked, r.yankedReason, r.yankedBy, r.files.length])).toEqual([
      ['2.0', true, 'broken build', null, 1],
      ['1.0', false, null, null, 2],
    ]);
    expect(before.downloads).toBe(3);
    for (const f of before.releases.flatMap((r) => r.files)) {
      expect(f).toMatchObject({ source: null, uploadedBy: null, uploadedFrom: null });
      expect(uploaderText(f)).toBe('not recorded');
    }
    expect((await t.app.inject({ url: '/-/api/projects/old-pkg/owners' })).json()).toEqual({ project: 'old-pkg', owners: [{ user: 'admin', role: 'owner' }] });
    const simple = await t.app.inject({ url: '/simple/old-pkg/', headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
    expect(simple.statusCode).toBe(200);
    expect((simple.json() as { files: unknown[] }).files).toHaveLength(3);

    const { res } = await upload(t.app, { name: 'Old-Pkg', version: '3.0' }, 'wheel', {}, '/legacy/');
    expect(res.statusCode).toBe(401);
    const next = await t.app.inject({ url: '/-/api/projects/old-pkg/releases/1.0/yank', method: 'POST', payload: {} });
    expect(next.statusCode).toBe(200);
    const after = (await t.app.inject({ url: '/-/api/projects/old-pkg' })).json() as ProjectDetail;
    expect(after.releases.find((r) => r.version === '1.0')).toMatchObject({ yanked: true, yankedBy: 'admin' });
    await t.close({ keepFiles: true });
    t = undefined;

    // Upgraded once: opening it again changes nothing.
    expect(schemaOf(catalogFile)).toBe('4');
    const again = new Catalog(catalogFile);
    try {
      expect(again.schemaVersion).toBe(4);
      expect(again.releaseState('old-pkg', '1').yankedBy).toBe('admin');
    } finally {
      again.close();
    }
  });

  it('is refused when it comes from a newer pyrepo, and left as it was', () => {
    const { catalogFile } = copyFixture();
    const db = new Database(catalogFile);
    db.prepare("UPDATE meta SET value = '99' WHERE key = 'schema'").run();
    db.close();
    expect(() => new Catalog(catalogFile)).toThrow(/written by a newer pyrepo \(schema 99\)/);
    expect(schemaOf(catalogFile)).toBe('99');
  });
});

describe('a catalog of schema 2', () => {
  it('keeps its downloads by file and day (in no installer), and counts new ones by installer and CI', async () => {
    const { dataDir, packagesDir, catalogFile } = copyFixture(2);
    expect(schemaOf(catalogFile)).toBe('2');
    t = await makeApp({ dataDir, packagesDir, authenticate: ['upload'] });
    expect(t.app.index.catalog.catalog.schemaVersion).toBe(4);

    const before = (await t.app.inject({ url: '/-/api/projects/two-pkg' })).json() as ProjectDetail;
    expect(before.downloads).toBe(11);
    expect(before.downloadsByDay).toEqual([
      { day: '2026-03-01', downloads: 6 },
      { day: '2026-03-02', downloads: 5 },
    ]);
    expect(before.downloadsByInstaller).toEqual([]);
    expect(before.releases.map((r) => [r.version, r.yanked, r.yankedReason, r.yankedBy, r.downloads])).toEqual([
      ['2.0', true, 'bad wheel', 'admin', 3],
      ['1.0', false, null, null, 8],
    ]);
    expect(before.releases.flatMap((r) => r.files.map((f) => [f.filename, f.downloads, f.uploadedBy]))).toEqual([
      ['two_pkg-2.0-py3-none-any.whl', 3, 'admin'],
      ['two_pkg-1.0-py3-none-any.whl', 7, 'admin'],
      ['two_pkg-1.0.tar.gz', 1, 'admin'],
    ]);
    const list = (await t.app.inject({ url: '/-/api/projects' })).json() as ProjectList;
    expect(list.projects).toMatchObject([{ name: 'two-pkg', downloads: 11, lastUploadedBy: 'admin', files: 3, versions: 2 }]);

    const pip = 'pip/23.2.1 {"ci":true,"installer":{"name":"pip","version":"23.2.1"},"python":"3.11.7"}';
    for (const ua of [pip, pip, 'pdm/2.2.1 CPython/3.11.2']) {
      const res = await t.app.inject({ url: '/packages/two_pkg-1.0.tar.gz', headers: { 'user-agent': ua } });
      expect(res.statusCode).toBe(200);
    }
    t.app.index.catalog.flushDownloads();
    const after = (await t.app.inject({ url: '/-/api/projects/two-pkg' })).json() as ProjectDetail;
    expect(after.downloads).toBe(14);
    expect(after.downloadsByInstaller).toEqual([
      { installer: 'pip', downloads: 2, ci: 2 },
      { installer: 'pdm', downloads: 1, ci: 0 },
    ]);
    await t.close({ keepFiles: true });
    t = undefined;

    expect(schemaOf(catalogFile)).toBe('4');
    const db = new Database(catalogFile, { readonly: true });
    try {
      expect(db.prepare('SELECT installer, ci, SUM(count) AS n FROM downloads GROUP BY installer, ci ORDER BY installer').all()).toEqual([
        { installer: 'pdm', ci: 0, n: 1 },
        { installer: 'pip', ci: 1, n: 2 },
        { installer: 'unrecorded', ci: 0, n: 11 },
      ]);
      // Schema 4 keeps them in key order, and the index by day came back with the table.
      const sql = (name: string) => (db.prepare('SELECT sql FROM sqlite_schema WHERE name = ?').get(name) as { sql: string } | undefined)?.sql;
      expect(sql('downloads')).toMatch(/\) WITHOUT ROWID$/);
      expect(sql('downloads_by_day')).toBe('CREATE INDEX downloads_by_day ON downloads (day)');
      expect(sql('downloads_v3')).toBeUndefined();
    } finally {
      db.close();
    }
  });
});
