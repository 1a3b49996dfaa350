/**
 * The backup and restore services with the daemon stopped, on a catalog made by today's
 * daemon (test/fixtures/catalog-schema1): what a backup holds and says; files replaced or
 * removed since the catalog saw them are reported, not skipped; damaged and unfinished
 * backups are refused with the reason and change nothing; a restore that fails while
 * moving files into place is undone, and one killed there is rolled back by the next, the
 * daemon refusing to start in between.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newToken, writeAccessFile } from '../../src/shared/access-file.js';
import { CatalogFile } from '../../src/shared/catalog-file.js';
import { CountBatch } from '../../src/daemon/stores/pending-downloads.js';
import { hashPassword } from '../../src/shared/htpasswd.js';
import type { PyrepoPaths } from '../../src/shared/paths.js';
import { testSettings } from '../helpers/app.js';
import { AbortError } from '../../src/cli/errors.js';
import { backupTo } from '../../src/cli/services/backup.js';
import { readManifest } from '../../src/cli/services/backup-format.js';
import { restoreFrom } from '../../src/cli/services/restore.js';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const FIXTURE = join(REPO, 'test', 'fixtures', 'catalog-schema1');

let root: string;
let paths: PyrepoPaths;
let packagesDir: string;

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'pyrepo-backup-'));
  paths = { dataDir: join(root, 'home', 'data'), configDir: join(root, 'home', 'config'), logDir: join(root, 'home', 'logs') };
  packagesDir = join(paths.dataDir, 'packages');
  mkdirSync(paths.dataDir, { recursive: true });
  cpSync(join(FIXTURE, 'catalog.sqlite'), join(paths.dataDir, 'catalog.sqlite'));
  cpSync(join(FIXTURE, 'packages'), packagesDir, { recursive: true });
  writeFileSync(join(paths.dataDir, 'users.htpasswd'), `admin:${await hashPassword('admin-pw', 4)}\nann:${await hashPassword('ann-pw', 4)}\n`, { mode: 0o600 });
  writeAccessFile(join(paths.dataDir, 'access.json'), { version: 1, roles: { admin: 'admin' }, tokens: [newToken({ user: 'ann', name: 'ci', readOnly: false }).record] });
  mkdirSync(paths.configDir, { recursive: true });
  writeFileSync(join(paths.configDir, 'settings.json'), `${JSON.stringify({ port: 8645, adminUser: 'admin' }, null, 2)}\n`);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Every file under `dir` (hidden ones too) with its sha256, by relative path. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (sub: string) => {
    if (!existsSync(join(dir, sub))) return;
    for (const e of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${e.name}` : e.name;
      if (e.isDirectory()) walk(rel);
      else out[rel] = createHash('sha256').update(readFileSync(join(dir, rel))).digest('hex');
    }
  };
  walk('');
  return out;
}

async function abortOf(p: Promise<unknown>): Promise<AbortError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AbortError);
  return err as AbortError;
}

describe('backup with the daemon stopped', () => {
  it('copies the catalog, users, access and settings files and every distribution file, with a manifest that describes them', async () => {
    const { dir, manifest } = await backupTo(paths, join(root, 'bk'));
    expect(manifest).toMatchObject({
      format: 'pyrepo-backup',
      formatVersion: 1,
      takenFrom: 'stopped daemon',
      catalogSchema: 1,
      counts: { projects: 1, files: 3, owners: 1, yankedReleases: 1, downloads: 3, activity: 0, users: 2, tokens: 1 },
      missing: [],
    });
    expect(Object.keys(manifest.files).sort()).toEqual([
      'access.json',
      'catalog.sqlite',
      'packages/old_pkg-1.0-py3-none-any.whl',
      'packages/old_pkg-1.0.tar.gz',
      'packages/old_pkg-2.0-py3-none-any.whl',
      'settings.json',
      'users.htpasswd',
    ]);
    const files = tree(dir);
    for (const [name, d] of Object.entries(manifest.files)) expect(files[name], name).toBe(d.sha256);
    expect(readManifest(join(dir, 'manifest.json'))).toEqual(manifest);
    // The snapshot stands alone (no write-ahead log beside it) and is intact.
    expect(readdirSync(dir).filter((n) => n.startsWith('catalog.sqlite'))).toEqual(['catalog.sqlite']);
    const catalog = await CatalogFile.open(join(dir, 'catalog.sqlite'));
    expect(catalog.check()).toBe('ok');
    catalog.close();
    expect(statSync(join(dir, 'users.htpasswd')).mode & 0o777).toBe(0o600);
  });

  it('folds into the snapshot the download counts a killed daemon journaled, and leaves its journal for the next start', async () => {
    const counts = new CountBatch(['old_pkg-1.0.tar.gz', 'gone-1.0.tar.gz'], ['', ''], ['2026-12-07', '2026-12-07'], ['pip', 'pip'], Uint8Array.of(0, 0), Float64Array.of(4, 2));
    const journal = join(paths.dataDir, 'catalog.sqlite.downloads');
    writeFileSync(journal, `1 c ${counts.encode()}\n`);
    const { dir, manifest } = await backupTo(paths, join(root, 'bk'));
    // The file the catalog does not list is not counted.
    expect(manifest.counts.downloads).toBe(7);
    expect(readdirSync(dir).filter((n) => n.startsWith('catalog.sqlite'))).toEqual(['catalog.sqlite']);
    expect(readFileSync(journal, 'utf8')).toBe(`1 c ${counts.encode()}\n`);
    const live = await CatalogFile.open(join(paths.dataDir, 'catalog.sqlite'));
    expect(live.counts().downloads).toBe(3);
    live.close();
  });

  it('reports files replaced or removed since the catalog saw them, and names them in the manifest', async () => {
    writeFileSync(join(packagesDir, 'old_pkg-1.0.tar.gz'), 'not the file the catalog knows');
    rmSync(join(packagesDir, 'old_pkg-2.0-py3-none-any.whl'));
    const { dir, manifest } = await backupTo(paths, join(root, 'bk'));
    expect(manifest.missing).toEqual([
      { relpath: 'old_pkg-1.0.tar.gz', reason: 'replaced in the packages folder after the snapshot (its sha256 differs)' },
      { relpath: 'old_pkg-2.0-py3-none-any.whl', reason: 'removed from the packages folder after the snapshot' },
    ]);
    expect(readdirSync(join(dir, 'packages'))).toEqual(['old_pkg-1.0-py3-none-any.whl']);
    // Still a backup restore accepts: what is missing is said, not hidden.
    rmSync(paths.dataDir, { recursive: true });
    const r = await restoreFrom(paths, dir, { force: false });
    expect(r.manifest.missing).toHaveLength(2);
    expect(readdirSync(packagesDir)).toEqual(['old_pkg-1.0-py3-none-any.whl']);
  });

  it('refuses a folder that is not empty, or inside the data or packages folder, and leaves nothing behind', async () => {
    mkdirSync(join(root, 'full'));
    writeFileSync(join(root, 'full', 'x'), 'x');
    expect((await abortOf(backupTo(paths, join(root, 'full')))).message).toContain('is not empty');
    expect((await abortOf(backupTo(paths, join(packagesDir, 'bk')))).message).toContain("inside pyrepo's packages folder");
    expect((await abortOf(backupTo(paths, join(paths.dataDir, 'bk')))).message).toContain("inside pyrepo's data folder");
    expect(existsSync(join(packagesDir, 'bk'))).toBe(false);
    rmSync(join(paths.dataDir, 'catalog.sqlite'));
    expect((await abortOf(backupTo(paths, join(root, 'none')))).message).toContain('nothing to back up');
    expect(existsSync(join(root, 'none'))).toBe(false);
  });
});

describe('restore', () => {
  let bk: string;
  let before: Record<string, string>;
  beforeEach(async () => {
    bk = (await backupTo(paths, join(root, 'bk'))).dir;
    before = { ...tree(paths.dataDir), ...tree(paths.configDir) };
  });

  it('brings the index back into an empty data folder, byte for byte, with the times the catalog knows', async () => {
    const original = tree(paths.dataDir);
    rmSync(paths.dataDir, { recursive: true });
    const r = await restoreFrom(paths, bk, { force: false });
    expect(r).toMatchObject({ replaced: false, rolledBack: false, dataDir: paths.dataDir, packagesDir });
    expect(tree(paths.dataDir)).toEqual(
      Object.fromEntries(Object.entries(original).map(([k, v]) => [k, k === 'catalog.sqlite' ? (tree(paths.dataDir)['catalog.sqlite'] as string) : v])),
    );
    const catalog = await CatalogFile.open(join(paths.dataDir, 'catalog.sqlite'));
    expect(catalog.counts()).toMatchObject({ projects: 1, files: 3, owners: 1, yankedReleases: 1, downloads: 3 });
    // The files get the mtimes the catalog knows, so the daemon finds nothing to re-read.
    for (const f of catalog.files()) expect(Math.trunc(statSync(join(packagesDir, f.relpath)).mtimeMs), f.relpath).toBe(f.mtimeMs);
    catalog.close();
  });

  it('refuses an index already there unless --force, keeps a settings file that differed, and replaces everything with --force', async () => {
    writeFileSync(join(packagesDir, 'extra-1.0.tar.gz'), 'a file the backup does not have');
    writeFileSync(join(paths.configDir, 'settings.json'), '{"port": 9999}\n');
    // Counts the replaced catalog journaled are not the restored one's.
    writeFileSync(join(paths.dataDir, 'catalog.sqlite.downloads'), '1 r "old_pkg-1.0.tar.gz"\n');
    const refused = await abortOf(restoreFrom(paths, bk, { force: false }));
    expect(refused.message).toContain('An index is already there');
    expect(refused.message).toContain('catalog.sqlite, users.htpasswd, access.json');
    expect(refused.nextStep).toContain('--force');
    const r = await restoreFrom(paths, bk, { force: true });
    expect(r.replaced).toBe(true);
    expect(existsSync(join(packagesDir, 'extra-1.0.tar.gz'))).toBe(false);
    expect(existsSync(join(paths.dataDir, 'catalog.sqlite.downloads'))).toBe(false);
    expect(r.previousSettings).toBe(join(paths.configDir, 'settings.json.before-restore'));
    expect(readFileSync(r.previousSettings as string, 'utf8')).toBe('{"port": 9999}\n');
    expect(JSON.parse(readFileSync(join(paths.configDir, 'settings.json'), 'utf8'))).toEqual({ port: 8645, adminUser: 'admin' });
    // No staging folder or journal is left.
    expect(readdirSync(paths.dataDir).filter((n) => n.startsWith('.'))).toEqual([]);
    expect(readdirSync(packagesDir).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('refuses damaged and unfinished backups with the reason, before writing anything', async () => {
    const copy = (name: string) => {
      const d = join(root, name);
      cpSync(bk, d, { recursive: true });
      return d;
    };
    const cases: [string, (d: string) => void, RegExp][] = [
      ['no manifest', (d) => rmSync(join(d, 'manifest.json')), /manifest\.json does not exist: this is not a pyrepo backup, or one that did not finish/],
      ['a changed byte', (d) => writeFileSync(join(d, 'packages', 'old_pkg-1.0.tar.gz'), Buffer.from(readFileSync(join(d, 'packages', 'old_pkg-1.0.tar.gz')).map((b, i) => (i === 10 ? b ^ 1 : b)))), /packages\/old_pkg-1\.0\.tar\.gz: its sha256 differs from the manifest's/],
      ['a missing file', (d) => rmSync(join(d, 'packages', 'old_pkg-2.0-py3-none-any.whl')), /packages\/old_pkg-2\.0-py3-none-any\.whl: missing/],
      ['a cut-off catalog', (d) => writeFileSync(join(d, 'catalog.sqlite'), readFileSync(join(d, 'catalog.sqlite')).subarray(0, 4096)), /catalog\.sqlite: \d+ bytes, the manifest says \d+/],
      ['a manifest that is not JSON', (d) => writeFileSync(join(d, 'manifest.json'), '{"format": "pyrepo-backup", '), /not valid JSON: the backup is damaged/],
      ['a newer format', (d) => writeFileSync(join(d, 'manifest.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')), formatVersion: 2 })), /backup format 2, made by a newer pyrepo/],
      [
        'a manifest that leaves a file of its catalog out',
        (d) => {
          const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as { files: Record<string, unknown> };
          delete m.files['packages/old_pkg-1.0.tar.gz'];
          writeFileSync(join(d, 'manifest.json'), JSON.stringify(m));
        },
        /packages\/old_pkg-1\.0\.tar\.gz: in the catalog, not in the backup/,
      ],
      [
        'a path outside the backup',
        (d) => {
          const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as { files: Record<string, unknown> };
          m.files['packages/../../escape'] = { sha256: 'a'.repeat(64), size: 1 };
          writeFileSync(join(d, 'manifest.json'), JSON.stringify(m));
        },
        /packages\/\.\.\/\.\.\/escape: not a path inside the backup/,
      ],
    ];
    // A backup moved into the folders it would replace.
    const inside = join(packagesDir, 'bk-copy');
    cpSync(bk, inside, { recursive: true });
    expect((await abortOf(restoreFrom(paths, inside, { force: true }))).message).toMatch(/overlap/);
    expect(existsSync(join(inside, 'manifest.json'))).toBe(true);
    rmSync(paths.dataDir, { recursive: true });
    for (const [label, damage, message] of cases) {
      const d = copy(label.replace(/\W+/g, '-'));
      damage(d);
      const err = await abortOf(restoreFrom(paths, d, { force: true }));
      expect(err.message, label).toMatch(message);
      expect(existsSync(paths.dataDir), label).toBe(false);
    }
  });

  it('undoes every rename when one fails while moving files into place', async () => {
    for (const at of [0, 3, 7]) {
      const err = await abortOf(
        restoreFrom(paths, bk, {
          force: true,
          beforeStep: (i) => {
            if (i === at) throw new Error('disk on fire');
          },
        }),
      );
      expect(err.message).toContain('failed while moving files into place, and was undone: disk on fire');
      expect({ ...tree(paths.dataDir), ...tree(paths.configDir) }, `failing at step ${at}`).toEqual(before);
    }
  });

  it('rolls back a restore killed while moving files into place; the daemon refuses to start until then', async () => {
    const script = join(root, 'crash.mts');
    writeFileSync(
      script,
      `import { restoreFrom } from ${JSON.stringify(join(REPO, 'src/cli/services/restore.ts'))};
await restoreFrom(${JSON.stringify(paths)}, ${JSON.stringify(bk)}, { force: true, beforeStep: (i) => { if (i === 5) process.kill(process.pid, 'SIGKILL'); } });`,
    );
    writeFileSync(join(packagesDir, 'extra-1.0.tar.gz'), 'a file the backup does not have');
    const beforeCrash = tree(paths.dataDir);
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    expect(child.signal, child.stderr).toBe('SIGKILL');
    expect(existsSync(join(paths.dataDir, '.restore-journal.json'))).toBe(true);
    expect(tree(paths.dataDir)).not.toEqual(beforeCrash);

    const { runDaemon } = await import('../../src/daemon/main.js');
    await expect(runDaemon(testSettings(root, { dataDir: paths.dataDir, packagesDir }))).rejects.toThrow(/A restore into .* was interrupted while it moved files into place/);

    const r = await restoreFrom(paths, bk, { force: true });
    expect(r.rolledBack).toBe(true);
    expect(existsSync(join(paths.dataDir, '.restore-journal.json'))).toBe(false);
    expect(existsSync(join(packagesDir, 'extra-1.0.tar.gz'))).toBe(false);
    expect(readdirSync(packagesDir).sort()).toEqual(['old_pkg-1.0-py3-none-any.whl', 'old_pkg-1.0.tar.gz', 'old_pkg-2.0-py3-none-any.whl']);
    expect(readdirSync(paths.dataDir).filter((n) => n.startsWith('.'))).toEqual([]);
  });
});
