/**
 * Hostile distributions copied into the packages folder (not uploaded): each is logged
 * once, with the member that makes it so, and never served, while good files next to it are.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/daemon/app.js';
import { testSettings } from '../helpers/app.js';
import { buildWheel, wheelFilename, type DistSpec } from '../helpers/dists.js';
import { hostileSdistTar, hostileSdistZip, hostileTarCases, hostileWheel } from '../helpers/hostile-dists.js';

let root: string;
let app: FastifyInstance;
const warnings: string[] = [];
/** Filename → the member that must be named in its log line. */
const hostile = new Map<string, string>();
const GOOD: DistSpec = { name: 'good', version: '1.0' };

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pyrepo-hostile-'));
  const settings = testSettings(root, { logLevel: 'warn' });
  await mkdir(settings.packagesDir, { recursive: true });
  await mkdir(settings.dataDir, { recursive: true });
  await writeFile(join(settings.packagesDir, wheelFilename(GOOD)), buildWheel(GOOD));
  // One project per case, so that each file has its own name.
  for (const [i, [, entry]] of hostileTarCases('case_0-1.0').entries()) {
    const spec = { name: `case_${i}`, version: '1.0' };
    const member = entry.name.replace('case_0-1.0', `case_${i}-1.0`);
    const bytes = await hostileSdistTar(spec, [{ ...entry, name: member }]);
    hostile.set(`case_${i}-1.0.tar.gz`, member);
    await writeFile(join(settings.packagesDir, `case_${i}-1.0.tar.gz`), bytes);
  }
  const zipSpec = { name: 'zipcase', version: '1.0' };
  await writeFile(join(settings.packagesDir, 'zipcase-1.0.zip'), hostileSdistZip(zipSpec, [{ name: 'zipcase-1.0/link', data: '/etc', mode: 0o120777 }]));
  hostile.set('zipcase-1.0.zip', 'zipcase-1.0/link');
  const wheelSpec = { name: 'wheelcase', version: '1.0' };
  await writeFile(join(settings.packagesDir, wheelFilename(wheelSpec)), hostileWheel(wheelSpec, [{ name: '../../evil.py', data: 'x' }]));
  hostile.set(wheelFilename(wheelSpec), '../../evil.py');

  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        const entry = JSON.parse(line) as { level: number; msg: string };
        if (entry.level === 40) warnings.push(entry.msg);
      }
      done();
    },
  });
  app = await buildApp({ settings, logStream });
  await app.ready();
  await app.initialIndexing;
});

afterAll(async () => {
  await app?.close();
  await rm(root, { recursive: true, force: true });
});

describe('hostile files in the packages folder', () => {
  it('are not served, nor listed, while a good file next to them is', async () => {
    const root = (await app.inject({ url: '/simple/', headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json() as {
      projects: { name: string }[];
    };
    expect(root.projects.map((p) => p.name)).toEqual(['good']);
    for (const filename of hostile.keys()) {
      expect((await app.inject({ url: `/packages/${filename}` })).statusCode, filename).toBe(404);
    }
    expect((await app.inject({ url: `/packages/${wheelFilename(GOOD)}` })).statusCode).toBe(200);
  });

  it('are each logged once, naming the member', async () => {
    // A second look at the folder finds the same files and says nothing new.
    await app.index.reconcile();
    for (const [filename, member] of hostile) {
      const lines = warnings.filter((w) => w.includes(`'${filename}'`));
      expect(lines, `${filename}: ${warnings.join('\n')}`).toHaveLength(1);
      expect(lines[0]).toContain(member);
    }
  });
});
