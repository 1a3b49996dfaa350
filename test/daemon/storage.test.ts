/**
 * The packages folder's durability: a commit resolves only after a folder fsync that
 * began after its rename, and commits made at once share fsyncs (group commit).
 */
import { mkdtempSync, rmSync } from 'node:fs';
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
