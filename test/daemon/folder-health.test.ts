/** The daemon notices its folders going away or becoming unusable, and /-/health says so. */
import { mkdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthSchema } from '../../src/shared/api.js';
import { Value } from '@sinclair/typebox/value';
import { makeApp, type TestApp } from '../helpers/app.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function health(app: TestApp['app']) {
  const res = await app.inject('/-/health');
  const body: unknown = res.json();
  expect(Value.Check(HealthSchema, body), JSON.stringify(body)).toBe(true);
  return body as { problems: string[] };
}

describe('folder health', () => {
  it('reports nothing while all is well', async () => {
    t = await makeApp();
    expect((await health(t.app)).problems).toEqual([]);
  });

  it('reports a deleted data folder through its lost catalog, and a deleted packages folder', async () => {
    t = await makeApp();
    // The daemon may still be writing into it (its first indexing): rmSync tries again on ENOTEMPTY.
    rmSync(t.dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
    rmSync(t.packagesDir, { recursive: true, force: true });
    const { problems } = await health(t.app);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^The data folder .* was deleted; restart pyrepo to create it again\.$/),
        expect.stringMatching(/^The packages folder .* was deleted/),
        expect.stringMatching(/^The catalog .*catalog\.sqlite was deleted; restart pyrepo to rebuild it from the packages folder\.$/),
      ]),
    );
    // The daemon keeps serving meanwhile.
    expect((await t.app.inject('/simple/')).statusCode).toBe(200);
  });

  it('reports a packages folder replaced by a file', async () => {
    t = await makeApp();
    rmdirSync(t.packagesDir);
    writeFileSync(t.packagesDir, 'not a folder');
    expect((await health(t.app)).problems).toEqual([`The packages folder ${t.packagesDir} is not a folder.`]);
    rmSync(t.packagesDir);
  });

  it('reports the folders as they are now: a restored folder clears its problem', async () => {
    t = await makeApp();
    const pkgs = t.packagesDir;
    rmdirSync(pkgs);
    expect((await health(t.app)).problems).toHaveLength(1);
    mkdirSync(pkgs);
    expect((await health(t.app)).problems).toEqual([]);
  });
});
