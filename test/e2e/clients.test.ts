/**
 * The real Python clients against the built daemon: twine, pip (a current one, 23.2 or later,
 * and Debian's 23.0), poetry 1.3, flit 3.8 and pdm 2.2, with packages built by the real
 * `python -m build`.
 *
 * Every tool runs with HOME, XDG folders and its own config/cache folders in a temporary
 * root, and only ever talks to the daemon on 127.0.0.1 (PyPI is never a source).
 * The tests of the first group share one daemon and run in order: the uploads come first,
 * then installs, then the yank and what it changes.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPythonProject, writePythonProject } from '../helpers/python-project.js';
import { currentPipPython, DEBIAN_PYTHON, isCurrentPip } from '../helpers/python.js';
import {
  ensureBuilt,
  isolatedEnv,
  makeTempRoot,
  removeTemp,
  run,
  startDaemon,
  waitFor,
  type RunningTestDaemon,
  type RunResult,
} from '../helpers/daemon.js';

/** A venv of Debian's Python with a current pip (23.2 or later: it reads PEP 714's core-metadata). */
const CURRENT_PIP_PYTHON = currentPipPython();
const SIMPLE_JSON = 'application/vnd.pypi.simple.v1+json';
const CLIENT_TIMEOUT = 240_000;

interface Built {
  wheel: string;
  sdist: string;
}
interface SimpleFile {
  filename: string;
  url: string;
  hashes: { sha256: string };
  yanked: boolean | string;
  'core-metadata'?: unknown;
}

let root: string;
let env: NodeJS.ProcessEnv;
let d: RunningTestDaemon;
const built = {} as Record<'alpha1' | 'alpha2' | 'beta1' | 'alpha1Other' | 'pdm', Built>;

const sha256File = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

/** Runs a tool in the isolated environment; failures carry the whole output in the assertion message. */
function tool(cmd: string, args: string[], cwd: string, extraEnv: NodeJS.ProcessEnv = {}, timeoutMs = 200_000): Promise<RunResult> {
  return run(cmd, args, { cwd, env: { ...env, ...extraEnv }, timeoutMs });
}

function describeRun(r: RunResult): string {
  return `exit ${String(r.code)}${r.timedOut ? ' (timed out)' : ''}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

async function simpleFiles(project: string): Promise<SimpleFile[]> {
  const res = await fetch(`${d.url}/simple/${project}/`, { headers: { accept: SIMPLE_JSON }, signal: AbortSignal.timeout(10_000) });
  if (res.status === 404) return [];
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe(SIMPLE_JSON);
  return ((await res.json()) as { files: SimpleFile[] }).files;
}

async function simpleFilenames(project: string): Promise<string[]> {
  return (await simpleFiles(project)).map((f) => f.filename).sort();
}

/** `<name>-<version>.dist-info` folders in a pip --target folder or site-packages. */
async function installedDists(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir)).filter((n) => n.endsWith('.dist-info')).sort();
}

/** The current pip into a fresh --target folder; the dist-info folders it installed. */
async function currentPipInstall(label: string, args: string[]): Promise<{ r: RunResult; dists: string[] }> {
  const target = join(root, 'targets', label);
  await mkdir(target, { recursive: true });
  const r = await tool(CURRENT_PIP_PYTHON, ['-m', 'pip', 'install', '--no-cache-dir', '--index-url', `${d.url}/simple/`, '--target', target, ...args], root);
  return { r, dists: await installedDists(target) };
}

async function writeFlitProject(dir: string, name: string, version: string): Promise<void> {
  const mod = name.replace(/-/g, '_');
  await mkdir(join(dir, mod), { recursive: true });
  await writeFile(
    join(dir, 'pyproject.toml'),
    [
      '[build-system]',
      'requires = ["flit_core >=3.2,<4"]',
      'build-backend = "flit_core.buildapi"',
      '',
      '[project]',
      `name = "${name}"`,
      `version = "${version}"`,
      `description = "Test project ${name} built by flit"`,
      'authors = [{ name = "Test", email = "test@example.invalid" }]',
      '',
      '[tool.flit.module]',
      `name = "${mod}"`,
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, mod, '__init__.py'), `"""${name}."""\n__version__ = "${version}"\n`);
}

async function writePoetryProject(dir: string, name: string, version: string, extra: string[] = [], withPackage = true): Promise<void> {
  const mod = name.replace(/-/g, '_');
  await mkdir(dir, { recursive: true });
  const lines = [
    '[tool.poetry]',
    `name = "${name}"`,
    `version = "${version}"`,
    `description = "Test project ${name}"`,
    'authors = ["Test <test@example.invalid>"]',
    ...(withPackage ? [`packages = [{ include = "${mod}" }]`] : []),
    '',
    '[tool.poetry.dependencies]',
    'python = "^3.8"',
    ...extra,
    '',
    '[build-system]',
    'requires = ["poetry-core>=1.0.0"]',
    'build-backend = "poetry.core.masonry.api"',
    '',
  ];
  await writeFile(join(dir, 'pyproject.toml'), lines.join('\n'));
  if (withPackage) {
    await mkdir(join(dir, mod), { recursive: true });
    await writeFile(join(dir, mod, '__init__.py'), `__version__ = "${version}"\n`);
  }
}

beforeAll(async () => {
  ensureBuilt();
  root = await makeTempRoot('pyrepo-clients-');
  env = isolatedEnv(root);
  const projects = join(root, 'projects');
  const build = async (dir: string, spec: Parameters<typeof writePythonProject>[1], tweak?: (projectDir: string) => Promise<void>) => {
    const projectDir = await writePythonProject(join(projects, dir), spec);
    if (tweak) await tweak(projectDir);
    return buildPythonProject(projectDir, join(projectDir, 'dist'));
  };
  built.alpha1 = await build('alpha-1.0', { name: 'e2e-alpha', version: '1.0' });
  built.alpha2 = await build('alpha-2.0', { name: 'e2e-alpha', version: '2.0' });
  built.beta1 = await build('beta-1.0', { name: 'e2e-beta', version: '1.0', dependencies: ['e2e-alpha'] });
  // Same name and version as alpha 1.0, different content.
  built.alpha1Other = await build('alpha-1.0-other', { name: 'e2e-alpha', version: '1.0' }, async (dir) => {
    await writeFile(join(dir, 'e2e_alpha', '__init__.py'), '__version__ = "1.0"\nOTHER = True\n');
  });
  built.pdm = await build('pdm-1.0', { name: 'e2e-pdm', version: '1.0' });
  d = await startDaemon();
}, 600_000);

afterAll(async () => {
  await d?.stop();
  await removeTemp(d?.root);
  await removeTemp(root);
});

describe('twine and pip', () => {
  it('twine uploads wheels and sdists; an identical re-upload succeeds; different content under the same name is refused', async () => {
    const files = [built.alpha1, built.alpha2, built.beta1].flatMap((b) => [b.wheel, b.sdist]);
    const twine = (paths: string[]) =>
      tool('twine', ['upload', '--repository-url', `${d.url}/legacy/`, '-u', 'x', '-p', 'y', '--disable-progress-bar', '--non-interactive', ...paths], root);

    const first = await twine(files);
    expect(first.code, describeRun(first)).toBe(0);
    for (const [project, b] of [
      ['e2e-alpha', built.alpha1],
      ['e2e-alpha', built.alpha2],
      ['e2e-beta', built.beta1],
    ] as const) {
      const listed = await simpleFiles(project);
      for (const path of [b.wheel, b.sdist]) {
        const f = listed.find((x) => x.filename === basename(path));
        expect(f, `${basename(path)} on /simple/${project}/`).toBeDefined();
        expect(f?.hashes.sha256).toBe(await sha256File(path));
      }
    }

    const again = await twine([built.alpha1.wheel, built.alpha1.sdist]);
    expect(again.code, describeRun(again)).toBe(0);

    expect(basename(built.alpha1Other.wheel)).toBe(basename(built.alpha1.wheel));
    expect(await sha256File(built.alpha1Other.wheel)).not.toBe(await sha256File(built.alpha1.wheel));
    const conflict = await twine([built.alpha1Other.wheel]);
    expect(conflict.code, describeRun(conflict)).not.toBe(0);
    expect(conflict.output).toContain('File already exists');
    // The original file is still the one served.
    const served = (await simpleFiles('e2e-alpha')).find((f) => f.filename === basename(built.alpha1.wheel));
    expect(served?.hashes.sha256).toBe(await sha256File(built.alpha1.wheel));
  }, CLIENT_TIMEOUT);

  /**
   * The access log since `from` shows the project page served as JSON, then the wheel;
   * and the wheel's `.metadata` fetched once when `metadata` (pip ≥ 23.2 reads PEP 714's
   * `core-metadata`; older pips only the `dist-info-metadata` key, which crashes pip
   * 22.3–23.1 in JSON and is therefore never served).
   */
  async function expectJsonAndMetadata(wheel: string, from: number, metadata: boolean): Promise<void> {
    const requests = await waitFor(
      'the access log lines of the install',
      () => {
        const all = d.requests().slice(from);
        return all.some((q) => q.url === `/packages/${wheel}`) ? all : undefined;
      },
      10_000,
    );
    const page = requests.filter((q) => q.method === 'GET' && q.url === '/simple/e2e-alpha/');
    expect(page.length, JSON.stringify(requests, null, 1)).toBeGreaterThan(0);
    expect(page.every((q) => q.status === 200 && q.type === SIMPLE_JSON), JSON.stringify(page)).toBe(true);
    const fetched = requests.filter((q) => q.method === 'GET' && q.url === `/packages/${wheel}.metadata`);
    expect(fetched.map((q) => q.status), JSON.stringify(requests, null, 1)).toEqual(metadata ? [200] : []);
  }

  it('a current pip (23.2 or later) installs from the index, negotiating JSON and fetching PEP 658 metadata', async () => {
    // The pip this test is about, not whichever python3 comes first on PATH.
    const version = await tool(CURRENT_PIP_PYTHON, ['-m', 'pip', '--version'], root);
    expect(isCurrentPip(version.stdout), describeRun(version)).toBe(true);
    const from = d.requests().length;
    const { r, dists } = await currentPipInstall('current-latest', ['e2e-alpha']);
    expect(r.code, describeRun(r)).toBe(0);
    expect(dists).toEqual(['e2e_alpha-2.0.dist-info']);
    await expectJsonAndMetadata(basename(built.alpha2.wheel), from, true);
  }, CLIENT_TIMEOUT);

  it("Debian's pip (23.0, in a venv) installs from the index, negotiating JSON", async () => {
    const venv = join(root, 'venvs', 'debian');
    const mk = await tool(DEBIAN_PYTHON, ['-m', 'venv', venv], root);
    expect(mk.code, describeRun(mk)).toBe(0);
    const version = await tool(join(venv, 'bin', 'python'), ['-m', 'pip', '--version'], root);
    expect(version.stdout).toMatch(/^pip 23\.0/);
    const from = d.requests().length;
    const r = await tool(join(venv, 'bin', 'python'), ['-m', 'pip', 'install', '--no-cache-dir', '--index-url', `${d.url}/simple/`, 'e2e-alpha==1.0'], root);
    expect(r.code, describeRun(r)).toBe(0);
    await expectJsonAndMetadata(basename(built.alpha1.wheel), from, false);
    const site = join(venv, 'lib', (await readdir(join(venv, 'lib')))[0] as string, 'site-packages');
    expect((await installedDists(site)).filter((n) => n.startsWith('e2e'))).toEqual(['e2e_alpha-1.0.dist-info']);
    const imported = await tool(join(venv, 'bin', 'python'), ['-c', 'import e2e_alpha; print(e2e_alpha.__version__)'], root);
    expect(imported.stdout.trim(), describeRun(imported)).toBe('1.0');
  }, CLIENT_TIMEOUT);

  it('pip --require-hashes installs with the sha256 from the JSON page, and refuses a wrong one', async () => {
    const files = (await simpleFiles('e2e-alpha')).filter((f) => [built.alpha1.wheel, built.alpha1.sdist].map((x) => basename(x)).includes(f.filename));
    expect(files).toHaveLength(2);
    const hashes = files.map((f) => `--hash=sha256:${f.hashes.sha256}`).join(' ');
    const reqs = join(root, 'requirements-hashes.txt');
    await writeFile(reqs, `e2e-alpha==1.0 ${hashes}\n`);
    const ok = await currentPipInstall('hashes-current', ['--require-hashes', '-r', reqs]);
    expect(ok.r.code, describeRun(ok.r)).toBe(0);
    expect(ok.dists).toEqual(['e2e_alpha-1.0.dist-info']);

    const venv = join(root, 'venvs', 'debian-hashes');
    const mk = await tool(DEBIAN_PYTHON, ['-m', 'venv', venv], root);
    expect(mk.code, describeRun(mk)).toBe(0);
    const target = join(root, 'targets', 'hashes-debian');
    const deb = await tool(
      join(venv, 'bin', 'python'),
      ['-m', 'pip', 'install', '--no-cache-dir', '--index-url', `${d.url}/simple/`, '--target', target, '--require-hashes', '-r', reqs],
      root,
    );
    expect(deb.code, describeRun(deb)).toBe(0);
    expect(await installedDists(target)).toEqual(['e2e_alpha-1.0.dist-info']);

    const wrong = join(root, 'requirements-wrong.txt');
    await writeFile(wrong, `e2e-alpha==1.0 --hash=sha256:${'0'.repeat(64)}\n`);
    const bad = await currentPipInstall('hashes-wrong', ['--require-hashes', '-r', wrong]);
    expect(bad.r.code, describeRun(bad.r)).not.toBe(0);
    expect(bad.r.output).toMatch(/DO NOT MATCH THE HASHES/);
    expect(bad.dists).toEqual([]);
  }, CLIENT_TIMEOUT);

  it('a release yanked through the control API is skipped by pip unless pinned exactly', async () => {
    const res = await fetch(`${d.url}/-/api/projects/e2e-alpha/releases/2.0/yank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: d.adminAuth },
      body: JSON.stringify({ reason: 'broken' }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ project: 'e2e-alpha', version: '2.0', yanked: true, yankedReason: 'broken' });
    const files = await simpleFiles('e2e-alpha');
    const yankedFiles = [built.alpha2.wheel, built.alpha2.sdist].map((x) => basename(x));
    expect(files).toHaveLength(4);
    for (const f of files) expect(f.yanked, f.filename).toBe(yankedFiles.includes(f.filename) ? 'broken' : false);

    const latest = await currentPipInstall('yank-latest', ['e2e-alpha']);
    expect(latest.r.code, describeRun(latest.r)).toBe(0);
    expect(latest.dists).toEqual(['e2e_alpha-1.0.dist-info']);

    const pinned = await currentPipInstall('yank-pinned', ['e2e-alpha==2.0']);
    expect(pinned.r.code, describeRun(pinned.r)).toBe(0);
    expect(pinned.dists).toEqual(['e2e_alpha-2.0.dist-info']);
    // pip tells why the release was yanked.
    expect(pinned.r.output).toMatch(/yanked/i);
    expect(pinned.r.output).toContain('broken');
  }, CLIENT_TIMEOUT);

  it('pip resolves dependencies from the index: e2e-beta pulls e2e-alpha', async () => {
    const { r, dists } = await currentPipInstall('deps', ['e2e-beta']);
    expect(r.code, describeRun(r)).toBe(0);
    // 2.0 is yanked, so the dependency resolves to 1.0.
    expect(dists).toEqual(['e2e_alpha-1.0.dist-info', 'e2e_beta-1.0.dist-info']);
  }, CLIENT_TIMEOUT);
});

describe('poetry 1.3', () => {
  it('publishes with `poetry publish -r pyrepo`', async () => {
    const project = join(root, 'projects', 'poetry-pkg');
    await writePoetryProject(project, 'e2e-poetry', '1.0');
    const b = await tool('poetry', ['build', '--no-interaction'], project);
    expect(b.code, describeRun(b)).toBe(0);
    const dist = (await readdir(join(project, 'dist'))).sort();
    expect(dist).toEqual(['e2e_poetry-1.0-py3-none-any.whl', 'e2e_poetry-1.0.tar.gz']);

    for (const args of [
      ['config', 'repositories.pyrepo', `${d.url}/legacy/`],
      ['config', 'http-basic.pyrepo', 'x', 'y'],
    ]) {
      const c = await tool('poetry', args, project);
      expect(c.code, describeRun(c)).toBe(0);
    }
    const p = await tool('poetry', ['publish', '-r', 'pyrepo', '--no-interaction'], project);
    expect(p.code, describeRun(p)).toBe(0);
    expect(await simpleFilenames('e2e-poetry')).toEqual(dist);
    for (const f of await simpleFiles('e2e-poetry')) expect(f.hashes.sha256).toBe(await sha256File(join(project, 'dist', f.filename)));
  }, CLIENT_TIMEOUT);

  it('locks and installs from pyrepo as its default source (PyPI never asked)', async () => {
    const project = join(root, 'projects', 'poetry-consumer');
    await writePoetryProject(project, 'e2e-consumer', '0.1.0', ['e2e-poetry = "*"', 'e2e-beta = "*"'], false);
    await writeFile(
      join(project, 'pyproject.toml'),
      `${await readFile(join(project, 'pyproject.toml'), 'utf8')}\n[[tool.poetry.source]]\nname = "pyrepo"\nurl = "${d.url}/simple/"\ndefault = true\n`,
    );
    const lock = await tool('poetry', ['lock', '--no-interaction', '-vv'], project, {}, 220_000);
    expect(lock.code, describeRun(lock)).toBe(0);
    const lockText = await readFile(join(project, 'poetry.lock'), 'utf8');
    for (const name of ['e2e-poetry', 'e2e-beta', 'e2e-alpha']) expect(lockText).toContain(`name = "${name}"`);
    expect(lockText).toContain(d.url);
    expect(lockText).not.toMatch(/pypi\.org/);

    const install = await tool('poetry', ['install', '--no-root', '--no-interaction'], project, {}, 220_000);
    expect(install.code, describeRun(install)).toBe(0);
    const lib = join(project, '.venv', 'lib');
    const site = join(lib, (await readdir(lib))[0] as string, 'site-packages');
    const installed = (await installedDists(site)).filter((n) => n.startsWith('e2e'));
    expect(installed.map((n) => n.replace(/-[^-]+\.dist-info$/, ''))).toEqual(['e2e_alpha', 'e2e_beta', 'e2e_poetry']);
    // Every request of the lock and the install went to pyrepo and was answered.
    expect(d.requests().filter((q) => q.url.startsWith('/simple/e2e-poetry/')).length).toBeGreaterThan(0);
  }, CLIENT_TIMEOUT + 200_000);
});

describe('flit 3.8', () => {
  it('publishes to the repository named in ~/.pypirc', async () => {
    const project = join(root, 'projects', 'flit-pkg');
    await writeFlitProject(project, 'e2e-flit', '1.0');
    await writeFile(
      join(env.HOME as string, '.pypirc'),
      `[distutils]\nindex-servers =\n    pyrepo\n\n[pyrepo]\nrepository = ${d.url}/legacy/\nusername = x\npassword = y\n`,
    );
    const r = await tool('flit', ['publish', '--repository', 'pyrepo'], project);
    expect(r.code, describeRun(r)).toBe(0);
    const dist = (await readdir(join(project, 'dist'))).sort();
    // flit 3.8 names its sdist e2e-flit-1.0.tar.gz (pre-PEP 625).
    expect(dist).toHaveLength(2);
    expect(dist.filter((f) => f.endsWith('.whl'))).toEqual(['e2e_flit-1.0-py2.py3-none-any.whl']);
    expect(dist.filter((f) => f.endsWith('.tar.gz'))).toHaveLength(1);
    expect(await simpleFilenames('e2e-flit')).toEqual(dist);
    for (const f of await simpleFiles('e2e-flit')) expect(f.hashes.sha256).toBe(await sha256File(join(project, 'dist', f.filename)));
  }, CLIENT_TIMEOUT);
});

describe('pdm 2.2', () => {
  it('publishes the files in dist/ with `pdm publish --no-build`', async () => {
    const project = join(root, 'projects', 'pdm-1.0');
    const dist = (await readdir(join(project, 'dist'))).sort();
    expect(dist).toEqual([basename(built.pdm.wheel), basename(built.pdm.sdist)].sort());
    const r = await tool('pdm', ['publish', '--no-build', '-r', `${d.url}/legacy/`, '-u', 'x', '-P', 'y'], project);
    expect(r.code, describeRun(r)).toBe(0);
    expect(await simpleFilenames('e2e-pdm')).toEqual(dist);
    for (const f of await simpleFiles('e2e-pdm')) expect(f.hashes.sha256).toBe(await sha256File(join(project, 'dist', f.filename)));
  }, CLIENT_TIMEOUT);
});
