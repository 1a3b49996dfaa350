/**
 * The rule that keeps private names private (name-policy.ts), and the catalog's memory of
 * every name that was on the index, which the rule relies on.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../../src/daemon/services/catalog.js';
import { decideUpstream, matchesPattern, type LocalNames, type NamePolicy } from '../../../src/daemon/services/upstream/name-policy.js';
import { makeApp, upload, type TestApp } from '../../helpers/app.js';

const FIXTURES = resolve(fileURLToPath(new URL('../../fixtures', import.meta.url)));
const nothingLocal: LocalNames = { isLocal: () => false, wasLocal: () => false };
const open: NamePolicy = { private: [], allow: [], deny: [] };

describe('name patterns', () => {
  it('match normalized names whole, * standing for any run of characters', () => {
    expect(matchesPattern('acme-tools', 'acme-*')).toBe(true);
    expect(matchesPattern('acme', 'acme-*')).toBe(false);
    expect(matchesPattern('not-acme-tools', 'acme-*')).toBe(false);
    expect(matchesPattern('acme-tools', 'Acme_*')).toBe(true);
    expect(matchesPattern('internal-x-svc', '*-svc')).toBe(true);
    expect(matchesPattern('requests', 'requests')).toBe(true);
    expect(matchesPattern('requests2', 'requests')).toBe(false);
    // Regular-expression characters in a pattern are plain text.
    expect(matchesPattern('a-b', 'a.b')).toBe(true);
    expect(matchesPattern('axb', 'a.b')).toBe(false);
  });
});

describe('decideUpstream', () => {
  it('a name on the index, or that was on it, is local only, whatever allow says', () => {
    const here: LocalNames = { isLocal: (n) => n === 'acme-core', wasLocal: (n) => n === 'acme-core' || n === 'acme-old' };
    const policy = { ...open, allow: ['*'] };
    expect(decideUpstream('Acme_Core', policy, here)).toEqual({ kind: 'local', reason: "'acme-core' is on this index" });
    expect(decideUpstream('acme.old', policy, here)).toMatchObject({ kind: 'local', reason: expect.stringContaining('was on this index') });
    expect(decideUpstream('requests', policy, here)).toEqual({ kind: 'upstream' });
  });

  it('a private pattern wins over allow and deny', () => {
    const policy = { private: ['acme-*'], allow: ['acme-*'], deny: ['acme-*'] };
    expect(decideUpstream('acme-billing', policy, nothingLocal)).toEqual({ kind: 'local', reason: "'acme-billing' matches the private pattern 'acme-*'" });
  });

  it('deny refuses, allow (when given) admits only its names, each with the reason', () => {
    expect(decideUpstream('evil-pkg', { ...open, deny: ['evil-*'] }, nothingLocal)).toEqual({
      kind: 'refused',
      reason: "The upstream project 'evil-pkg' is refused: it matches the upstream-deny pattern 'evil-*'.",
    });
    const allowList = { ...open, allow: ['requests', 'urllib3'] };
    expect(decideUpstream('urllib3', allowList, nothingLocal)).toEqual({ kind: 'upstream' });
    expect(decideUpstream('left-pad', allowList, nothingLocal)).toEqual({
      kind: 'refused',
      reason: "The upstream project 'left-pad' is refused: it matches no upstream-allow pattern (requests, urllib3).",
    });
    expect(decideUpstream('anything', open, nothingLocal)).toEqual({ kind: 'upstream' });
  });
});

describe('the catalog remembers every name that was on the index', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('after its last file is deleted, and after a restart', async () => {
    t = await makeApp();
    const { filename } = await upload(t.app, { name: 'Acme_Core', version: '1.0' });
    const catalog = t.app.index.catalog.catalog;
    expect(catalog.wasEverLocal('acme-core')).toBe(true);
    expect(catalog.wasEverLocal('requests')).toBe(false);
    await t.app.publisher.removeFile('acme-core', filename, { user: 'admin', address: null });
    expect(catalog.project('acme-core')).toBeUndefined();
    expect(catalog.wasEverLocal('acme-core')).toBe(true);

    // A new daemon on the same data folder still knows it.
    const { dataDir, packagesDir, root } = t;
    await t.close({ keepFiles: true });
    t = await makeApp({ dataDir, packagesDir });
    try {
      expect(t.app.index.catalog.catalog.wasEverLocal('acme-core')).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('a catalog made before it remembered names learns them from its projects and its journal', () => {
    const root = mkdtempSync(join(tmpdir(), 'pyrepo-names-'));
    try {
      const file = join(root, 'catalog.sqlite');
      cpSync(join(FIXTURES, 'catalog-schema2', 'catalog.sqlite'), file);
      const catalog = new Catalog(file);
      expect(catalog.projects().map((p) => p.name)).toContain('two-pkg');
      expect(catalog.wasEverLocal('two-pkg')).toBe(true);
      expect(catalog.wasEverLocal('never-here')).toBe(false);
      catalog.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
