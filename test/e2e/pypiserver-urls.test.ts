/**
 * Those coming from pypiserver keep their URLs, with the real daemon and real pip:
 * `--index-url http://host:port/` (the root, which pypiserver redirects to /simple/<p>/)
 * and `--find-links http://host:port/packages/` (pypiserver's list of every file).
 * Also a suffix range longer than the file over a real connection.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDists } from '../helpers/dists.js';
import { ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, run, startDaemon, type RunningTestDaemon, type RunResult } from '../helpers/daemon.js';

/** pyenv's interpreter (first python3 on PATH; pip 23.2). */
const PYTHON = 'python3';
const SPEC = { name: 'Root_Install', version: '1.2', summary: 'Installed through the root URL' };

let root: string;
let d: RunningTestDaemon;
let wheelPath: string;

beforeAll(async () => {
  ensureBuilt();
  root = await makeTempRoot();
  // Files already in the folder, as a pypiserver user's are; the daemon indexes them at start.
  const packagesDir = join(root, 'packages');
  wheelPath = (await writeDists(packagesDir, SPEC)).wheel;
  d = await startDaemon({ packagesDir });
}, 60_000);

afterAll(async () => {
  await d?.stop();
  await removeTemp(root);
});

function pip(args: string[], target: string): Promise<RunResult> {
  return run(PYTHON, ['-m', 'pip', 'install', '--no-cache-dir', '--target', target, ...args], { cwd: root, env: isolatedEnv(root), timeoutMs: 200_000 });
}

async function installed(target: string): Promise<string[]> {
  return existsSync(target) ? (await readdir(target)).filter((n) => n.endsWith('.dist-info')) : [];
}

describe('pip with pypiserver-style URLs', () => {
  it('installs with --index-url http://127.0.0.1:PORT/ (the root), following the redirect to /simple/<project>/', async () => {
    const target = join(root, 'via-root');
    await mkdir(target, { recursive: true });
    const r = await pip(['--index-url', `${d.url}/`, 'root-install==1.2'], target);
    expect(r.code, r.output).toBe(0);
    expect(await installed(target)).toEqual(['root_install-1.2.dist-info']);
    const requests = d.requests().map((q) => `${q.method} ${q.url} ${q.status}`);
    expect(requests).toContain('GET /root-install/ 301');
    expect(requests).toContain('GET /simple/root-install/ 200');
  });

  it('installs with --no-index --find-links http://127.0.0.1:PORT/packages/', async () => {
    const target = join(root, 'via-find-links');
    await mkdir(target, { recursive: true });
    const r = await pip(['--no-index', '--find-links', `${d.url}/packages/`, 'root-install'], target);
    expect(r.code, r.output).toBe(0);
    expect(await installed(target)).toEqual(['root_install-1.2.dist-info']);
  });
});

describe('ranges over a real connection', () => {
  it('answers a suffix range longer than the file with the whole file (206)', async () => {
    const bytes = await readFile(wheelPath);
    const res = await fetch(`${d.url}/packages/${wheelPath.split('/').pop() as string}`, { headers: { range: 'bytes=-100000' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 0-${bytes.length - 1}/${bytes.length}`);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  });
});
