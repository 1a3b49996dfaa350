/**
 * The packages folder's durability: a commit resolves only after a folder fsync that
 * began after its rename, and commits made at once share fsyncs (group commit); the first
 * scan removes what an earlier run left unfinished, never an upload of this run.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { PackageStorage } from '../../src/daemon/services/storage.js';

let root: string | undefined;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

describe('PackageStorage.commit', () => {
  it('shares folder fsyncs between commits made at once, each covered by one that began after its rename', async () => {
    root = mkdtempSync(join(tmpdir(), 'pyrepo-storage-'));
    const storage = new PackageStorage(root);
    await storage.prepare();
    // A folder handle whose fsync takes a while and records when it began and ended.
    const syncs: { began: number; ended?: number }[] = [];
    let clock = 0;
    const handle = {
      sync: async () => {
        const s: { began: number; ended?: number } = { began: ++clock };
        syncs.push(s);
        await new Promise((resolve) => setTimeout(resolve, 20));
        s.ended = ++clock;
      },
      close: async () => undefined,
    } as unknown as FileHandle;
    (storage as unknown as { dirHandle: Promise<FileHandle> }).dirHandle = Promise.resolve(handle);

    const commits = Array.from({ length: 8 }, async (_, i) => {
      const temp = storage.writeTemp(Buffer.from(`file ${i}`));
      await storage.seal(temp);
      const renamedAt = ++clock;
      await storage.commit(temp, `demo-${i}.0.tar.gz`);
      // Resolved only once an fsync that began after the rename has ended.
      expect(syncs.some((s) => s.began > renamedAt && s.ended !== undefined && s.ended <= clock)).toBe(true);
    });
    await Promise.all(commits);
    expect(syncs.length).toBeGreaterThanOrEqual(1);
    expect(syncs.length).toBeLessThanOrEqual(3);
    // One after another, each commit gets its own.
    const temp = storage.writeTemp(Buffer.from('last'));
    await storage.seal(temp);
    const before = syncs.length;
    await storage.commit(temp, 'demo-9.0.tar.gz');
    expect(syncs.length).toBe(before + 1);
    await storage.close();
  });
});

describe('PackageStorage.scan', () => {
  it("lists distributions in subfolders too, and removes an earlier run's unfinished uploads but not this run's", async () => {
    root = mkdtempSync(join(tmpdir(), 'pyrepo-storage-'));
    const storage = new PackageStorage(root);
    await storage.create();
    mkdirSync(join(root, 'sub'));
    writeFileSync(join(root, 'demo-1.0.tar.gz'), 'sdist');
    writeFileSync(join(root, 'sub', 'demo-1.0-py3-none-any.whl'), 'wheel');
    writeFileSync(join(root, 'notes.txt'), 'not a distribution');
    writeFileSync(join(root, '.pyrepo-upload-1234-deadbeefdeadbeef-1.part'), 'half an upload of an earlier run');
    const inFlight = storage.writeTemp(Buffer.from('an upload of this run, not sealed yet'));
    const seen: string[] = [];
    const { files, leftovers } = await storage.scan({ beforeReading: (dir) => seen.push(dir) });
    expect(files.map((f) => [f.relpath, f.filename, f.size]).sort()).toEqual([
      ['demo-1.0.tar.gz', 'demo-1.0.tar.gz', 5],
      ['sub/demo-1.0-py3-none-any.whl', 'demo-1.0-py3-none-any.whl', 5],
    ]);
    expect(leftovers).toEqual(['.pyrepo-upload-1234-deadbeefdeadbeef-1.part']);
    expect(seen).toEqual([root, join(root, 'sub')]);
    expect(existsSync(inFlight.path)).toBe(true);
    expect(readdirSync(root).filter((n) => n.startsWith('.pyrepo-upload-'))).toHaveLength(1);
    await storage.discard(inFlight);
  });
});

describe('PackageStorage.pathOf', () => {
  it('names the same path as path.join for every relpath, a top-level one without it', () => {
    const relpaths = ['demo-1.0.tar.gz', 'sub/demo-1.0.tar.gz', 'a/b/demo-1.0-py3-none-any.whl', '.', '..', '', 'x/../demo.whl', './demo.whl', 'odd name.whl'];
    for (const dir of ['/srv/packages', '/srv/packages/', '/', 'relative/dir', '.']) {
      const storage = new PackageStorage(dir);
      for (const relpath of relpaths) expect([dir, relpath, storage.pathOf(relpath)]).toEqual([dir, relpath, join(dir, ...relpath.split('/'))]);
    }
  });
});
