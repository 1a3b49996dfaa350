/**
 * The upstream proxy with the real clients, against upstreams on loopback (never the internet):
 *
 * - a second pyrepo holds a small dependency graph (up-lib needs up-dep>=2) and an
 *   `acme-secret` 9.0: the dependency-confusion attack on the private `acme-secret` 1.0;
 * - a fake upstream (test/helpers/upstream.ts) serves a release too young for the cooldown,
 *   a file whose bytes do not match its hash, and files to fill a small cache.
 *
 * pip installs through pyrepo alone (`--index-url`), poetry and pdm lock through it, and
 * with the upstream stopped everything cached still installs.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWheel, wheelFilename, type DistSpec } from '../helpers/dists.js';
import { requireTools } from '../helpers/keyring-session.js';
import { currentPipPython } from '../helpers/python.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/upstream.js';
import {
  ensureBuilt,
  isolatedEnv,
  makeTempRoot,
  removeTemp,
  run,
  runCli,
  runningBaseUrl,
  startDaemon,
  uploadFile,
  waitFor,
  type RunningTestDaemon,
  type RunOptions,
  type RunResult,
} from '../helpers/daemon.js';

const PIP_PYTHON = currentPipPython();
const CLIENTS = requireTools('upstream e2e', [[PIP_PYTHON, ['-m', 'pip', '--version']], ['poetry'], ['pdm']]);
const TIMEOUT = 240_000;

let root: string;
let env: NodeJS.ProcessEnv;
/** The upstream pyrepo, and the pyrepo in front of it. */
let upstream: RunningTestDaemon;
let proxy: RunningTestDaemon;

function describeRun(r: RunResult): string {
  return `exit ${String(r.code)}${r.timedOut ? ' (timed out)' : ''}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

async function publish(baseUrl: string, spec: DistSpec): Promise<void> {
  const res = await uploadFile(baseUrl, { name: spec.name, version: spec.version, filetype: 'bdist_wheel' }, wheelFilename(spec), buildWheel(spec));
  expect(res.status, res.text).toBe(200);
}

/** pip (23.2 or later) installs into a fresh --target folder through `index` alone; the dist-info folders it installed. */
async function pipInstall(index: string, label: string, args: string[]): Promise<{ r: RunResult; dists: string[] }> {
  const target = join(root, 'targets', label);
  await mkdir(target, { recursive: true });
  const r = await run(PIP_PYTHON, ['-m', 'pip', 'install', '--no-cache-dir', '--index-url', `${index}/simple/`, '--target', target, ...args], { cwd: root, env, timeoutMs: TIMEOUT });
  const dists = existsSync(target) ? (await readdir(target)).filter((n) => n.endsWith('.dist-info')).sort() : [];
  return { r, dists };
}

async function controlJson(d: RunningTestDaemon, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${d.url}${path}`, { headers: { authorization: d.adminAuth }, signal: AbortSignal.timeout(10_000) });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  if (CLIENTS.length > 0) return;
  ensureBuilt();
  root = await makeTempRoot('pyrepo-upstream-');
  env = isolatedEnv(root);
  upstream = await startDaemon();
  for (const spec of [
    { name: 'up-dep', version: '1.0' },
    { name: 'up-dep', version: '2.0' },
    { name: 'up-lib', version: '1.0', requiresDist: ['up-dep>=2'] },
    { name: 'acme-secret', version: '9.0', summary: 'the attacker' },
  ]) {
    await publish(upstream.url, spec);
  }
  proxy = await startDaemon({ args: ['--upstream', `${upstream.url}/simple/`, '--upstream-ttl', '0'] });
  await publish(proxy.url, { name: 'acme-secret', version: '1.0', requiresDist: ['up-lib'] });
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await upstream?.stop();
  await removeTemp(proxy?.root);
  await removeTemp(upstream?.root);
  await removeTemp(root);
});

describe.skipIf(CLIENTS.length > 0)('a private package with public dependencies, through pyrepo alone', () => {
  it('pip installs the private package from pyrepo and its dependencies from upstream', async () => {
    const { r, dists } = await pipInstall(proxy.url, 'first', ['acme-secret']);
    expect(r.code, describeRun(r)).toBe(0);
    expect(dists).toEqual(['acme_secret-1.0.dist-info', 'up_dep-2.0.dist-info', 'up_lib-1.0.dist-info']);
    // Every request went to pyrepo; pyrepo asked upstream for the public names only.
    const asked = upstream.requests().map((q) => q.url);
    expect(asked.some((u) => u.startsWith('/simple/up-lib/'))).toBe(true);
    expect(asked.some((u) => u.startsWith('/packages/up_dep-2.0-py3-none-any.whl'))).toBe(true);
    expect(asked.filter((u) => u.includes('acme'))).toEqual([]);
    const status = await controlJson(proxy, '/-/api/upstream');
    expect(status).toMatchObject({ files: 2 });
    expect(status.downloads).toEqual([expect.objectContaining({ installer: 'pip', downloads: 2 })]);
  }, TIMEOUT);

  it('the private name is never served from upstream, though upstream has a higher version', async () => {
    const { r } = await pipInstall(proxy.url, 'confusion', ['acme-secret>=2']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/No matching distribution found for acme-secret>=2/);
    const page = await fetch(`${proxy.url}/simple/acme-secret/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
    expect(((await page.json()) as { versions: string[] }).versions).toEqual(['1.0']);
    expect(upstream.requests().filter((q) => q.url.includes('acme'))).toEqual([]);
  }, TIMEOUT);

  it('poetry locks and installs through it', async () => {
    const project = join(root, 'poetry-consumer');
    await mkdir(project, { recursive: true });
    await writeFile(
      join(project, 'pyproject.toml'),
      [
        '[tool.poetry]',
        'name = "poetry-consumer"',
        'version = "0.1.0"',
        'description = ""',
        'authors = ["Test <test@example.invalid>"]',
        '',
        '[tool.poetry.dependencies]',
        'python = "^3.8"',
        'acme-secret = "*"',
        '',
        '[[tool.poetry.source]]',
        'name = "pyrepo"',
        `url = "${proxy.url}/simple/"`,
        'default = true',
        '',
      ].join('\n'),
    );
    const lock = await run('poetry', ['lock', '--no-interaction'], { cwd: project, env, timeoutMs: TIMEOUT });
    expect(lock.code, describeRun(lock)).toBe(0);
    const text = await readFile(join(project, 'poetry.lock'), 'utf8');
    expect(text).toMatch(/name = "acme-secret"\nversion = "1\.0"/);
    expect(text).toMatch(/name = "up-dep"\nversion = "2\.0"/);
    expect(text).toMatch(/name = "up-lib"\nversion = "1\.0"/);
    expect(text).not.toMatch(/pypi\.org/);
    const install = await run('poetry', ['install', '--no-root', '--no-interaction'], { cwd: project, env, timeoutMs: TIMEOUT });
    expect(install.code, describeRun(install)).toBe(0);
  }, TIMEOUT * 2);

  it('pdm locks through it', async () => {
    const project = join(root, 'pdm-consumer');
    await mkdir(project, { recursive: true });
    await writeFile(
      join(project, 'pyproject.toml'),
      [
        '[project]',
        'name = "pdm-consumer"',
        'version = "0.1.0"',
        'requires-python = ">=3.8"',
        'dependencies = ["acme-secret"]',
        '',
        '[[tool.pdm.source]]',
        'name = "pypi"',
        `url = "${proxy.url}/simple/"`,
        'verify_ssl = false',
        '',
      ].join('\n'),
    );
    const lock = await run('pdm', ['lock'], { cwd: project, env, timeoutMs: TIMEOUT });
    expect(lock.code, describeRun(lock)).toBe(0);
    const text = await readFile(join(project, 'pdm.lock'), 'utf8');
    expect(text).toMatch(/name = "acme-secret"\nversion = "1\.0"/);
    expect(text).toMatch(/name = "up-dep"\nversion = "2\.0"/);
    expect(text).not.toMatch(/pypi\.org/);
  }, TIMEOUT);

  it('with the upstream stopped, everything cached still installs; pages say they are stale', async () => {
    await upstream.stop();
    const { r, dists } = await pipInstall(proxy.url, 'offline', ['acme-secret']);
    expect(r.code, describeRun(r)).toBe(0);
    expect(dists).toEqual(['acme_secret-1.0.dist-info', 'up_dep-2.0.dist-info', 'up_lib-1.0.dist-info']);
    const warned = await waitFor('a stale page with its warning', async () => {
      const res = await fetch(`${proxy.url}/simple/up-lib/`);
      return res.status === 200 ? res.headers.get('warning') ?? false : false;
    });
    expect(warned).toMatch(/^111 pyrepo "upstream failed \(.*did not answer/);
    // A project that was never cached says why it cannot be had.
    const { r: missing } = await pipInstall(proxy.url, 'never-cached', ['up-other']);
    expect(missing.code).not.toBe(0);
    const res = await fetch(`${proxy.url}/simple/up-other/`);
    expect(res.status).toBe(502);
    expect(await res.text()).toMatch(/could not be asked: .*did not answer: connection refused/);
  }, TIMEOUT);
});

describe.skipIf(CLIENTS.length > 0)('pyrepo start with a fake upstream: cooldown, hash checks and the cache cap', () => {
  let fake: FakeUpstream;
  let home: string;
  let opts: RunOptions;
  let base: string;
  /** Wheels of about 3 KiB (incompressible contents), four of which do not fit the 8 KiB cap. */
  const bulky = (name: string): DistSpec => ({ name, version: '1.0', modules: { [`${name.replace(/-/g, '_')}/__init__.py`]: `DATA = "${randomBytes(2400).toString('base64')}"\n` } });

  beforeAll(async () => {
    fake = await startFakeUpstream();
    fake.add({ name: 'cool', version: '1.0', uploadTime: '2020-01-01T00:00:00Z' });
    fake.add({ name: 'cool', version: '1.1', uploadTime: new Date().toISOString() });
    const tampered = fake.add({ name: 'tampered', version: '1.0' });
    fake.corrupt(tampered.filename);
    for (const n of ['fill-a', 'fill-b', 'fill-c', 'fill-d']) fake.add(bulky(n));
    home = await makeTempRoot('pyrepo-upstream-cli-');
    opts = { env: isolatedEnv(home), cwd: home, timeoutMs: 60_000 };
    const start = await runCli(['start', '--port', '0', '--authenticate', 'none', '--upstream', fake.url, '--upstream-min-age', '3d', '--upstream-cache-size', '8KB'], opts);
    expect(start.code, start.output).toBe(0);
    base = await runningBaseUrl(opts);
  }, 120_000);

  afterAll(async () => {
    if (opts) await runCli(['stop'], opts);
    await fake?.stop();
    await removeTemp(home);
  });

  it('the cooldown hides the release younger than upstream-min-age', async () => {
    const { r, dists } = await pipInstall(base, 'cool', ['cool']);
    expect(r.code, describeRun(r)).toBe(0);
    expect(dists).toEqual(['cool-1.0.dist-info']);
    const { r: pinned } = await pipInstall(base, 'cool-pinned', ['cool==1.1']);
    expect(pinned.code).not.toBe(0);
  }, TIMEOUT);

  it('a file whose bytes do not match upstream\'s hash is refused, and not cached', async () => {
    const { r } = await pipInstall(base, 'tampered', ['tampered']);
    expect(r.code).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/502/);
    const files = await readdir(join(home, 'pyrepo-home', 'data', 'upstream', 'files'));
    expect(files.filter((f) => f.startsWith('tampered'))).toEqual([]);
  }, TIMEOUT);

  it('configure makes pyrepo the only index of pip, uv and pdm; doctor flags a file that asks PyPI beside it', async () => {
    const configure = await runCli(['configure', '--pip', '--uv', '--pdm', '--no-keychain'], opts);
    expect(configure.code, configure.output).toBe(0);
    expect(configure.stdout).toContain("It serves PyPI's projects through its upstream, so it is the tools' only index");
    const xdg = join(home, 'xdg', 'config');
    expect(await readFile(join(xdg, 'pip', 'pip.conf'), 'utf8')).toMatch(new RegExp(`^index-url = ${base}/simple/$`, 'm'));
    expect(await readFile(join(xdg, 'uv', 'uv.toml'), 'utf8')).toContain('default = true');
    expect(await readFile(join(xdg, 'pdm', 'config.toml'), 'utf8')).toContain(`[pypi]\nurl = "${base}/simple/"`);
    // The pip pyrepo configured installs through it alone.
    const pip = await run(PIP_PYTHON, ['-m', 'pip', 'install', '--no-cache-dir', '--target', join(home, 'configured-target'), 'cool'], { ...opts, env: { ...opts.env, PIP_CONFIG_FILE: join(xdg, 'pip', 'pip.conf') }, timeoutMs: TIMEOUT });
    expect(pip.code, describeRun(pip)).toBe(0);
    const doctor = async () => JSON.parse((await runCli(['doctor', '--json'], { ...opts, timeoutMs: 120_000 })).stdout) as { checks: { check: string; verdict: string; detail: string }[] };
    expect((await doctor()).checks.filter((c) => c.check.endsWith(' index'))).toEqual([]);
    await writeFile(join(xdg, 'uv', 'uv.toml'), `extra-index-url = ["${base}/simple/"]\n`);
    const flagged = (await doctor()).checks.find((c) => c.check === 'uv index');
    expect(flagged).toMatchObject({ verdict: 'warn', detail: expect.stringContaining('asks PyPI beside pyrepo') });
  }, TIMEOUT);

  it('eviction keeps the cache under its cap; `pyrepo cache` and `status` report it', async () => {
    for (const n of ['fill-a', 'fill-b', 'fill-c', 'fill-d']) {
      const { r } = await pipInstall(base, n, [n]);
      expect(r.code, describeRun(r)).toBe(0);
    }
    const status = await runCli(['cache', 'status', '--json'], opts);
    expect(status.code, status.output).toBe(0);
    const s = JSON.parse(status.stdout) as { bytes: number; files: number; capBytes: number };
    expect(s.capBytes).toBe(8 * 1024);
    expect(s.bytes).toBeLessThanOrEqual(8 * 1024);
    expect(s.files).toBeLessThan(5);
    const text = await runCli(['status'], opts);
    expect(text.stdout).toMatch(new RegExp(`upstream: +${fake.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; cache .* in \\d+ files? \\(cap 8 KiB\\), hit rate \\d+%`));
    const purge = await runCli(['cache', 'purge', '--yes'], opts);
    expect(purge.code, purge.output).toBe(0);
    expect(purge.stdout).toMatch(/^Removed \d+ files? \(.*\) from the upstream cache\.$/m);
    expect(JSON.parse((await runCli(['cache', 'status', '--json'], opts)).stdout)).toMatchObject({ files: 0, bytes: 0 });
  }, TIMEOUT * 2);
});
