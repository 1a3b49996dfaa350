/**
 * A catalog of schema 1, made by the daemon before it recorded uploaders
 * (test/fixtures/catalog-schema1: two releases, an sdist, a yank with its reason, an owner,
 * three downloads), opens and is upgraded in place: nothing it held is lost, what it never
 * recorded says so (source null: "not recorded"), and new changes record who made them.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProjectDetail } from '../../src/shared/api.js';
import { Catalog } from '../../src/daemon/services/catalog.js';
import { uploaderText } from '../../src/cli/commands/info.js';
import { makeApp, upload, type TestApp } from '../helpers/app.js';

const FIXTURE = resolve(fileURLToPath(new URL('../fixtures/catalog-schema1', import.meta.url)));

let root: string | undefined;
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close({ keepFiles: true });
  t = undefined;
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

function copyFixture(): { dataDir: string; packagesDir: string; catalogFile: string } {
  root = mkdtempSync(join(tmpdir(), 'pyrepo-migration-'));
  const dataDir = join(root, 'data');
  const packagesDir = join(root, 'packages');
  cpSync(join(FIXTURE, 'catalog.sqlite'), join(dataDir, 'catalog.sqlite'));
  cpSync(join(FIXTURE, 'packages'), packagesDir, { recursive: true });
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
    expect(t.app.index.catalog.schemaVersion).toBe(2);

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
    expect(schemaOf(catalogFile)).toBe('2');
    const again = new Catalog(catalogFile);
    try {
      expect(again.schemaVersion).toBe(2);
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
