/**
 * Auto-publish end to end: a daemon started with `pyrepo start` in a temporary
 * PYREPO_HOME, folders registered with the built `pyrepo watch`, and the real builders
 * writing into them (`python -m build` with setuptools and with Debian's hatchling,
 * `poetry build`, `flit build`, `pdm build`); then `pip install` of each new version. Also:
 * a writer that stops mid-file for seconds, twenty projects building at once, `kill -9` of
 * the daemon in the middle of a build, a rebuild of the same version refused and then
 * replaced with `--replace`, a build report written as build >= 1.5.1 writes it, a removed
 * watch, and `--follow`.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WatchListSchema, type WatchInfo } from '../../src/shared/api.js';
import { CLI_PATH, ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, run, runCli, waitFor, type RunOptions, type RunResult } from '../helpers/daemon.js';
import { writePoetryProject, writePythonProject } from '../helpers/python-project.js';

/** Debian's interpreter: python3-build, setuptools, wheel, hatchling, flit_core and pdm-pep517 live here. */
const PYTHON = '/usr/bin/python3';

let root: string;
let opts: RunOptions;
let base: string;

const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');
const show = (r: RunResult) => `exit ${String(r.code)}\n${r.output}`;

/** filename → sha256 of a project's files on the index. */
async function listed(project: string): Promise<Map<string, string>> {
  const res = await fetch(`${base}/simple/${project}/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
  if (res.status === 404) return new Map();
  const json = (await res.json()) as { files: { filename: string; hashes: { sha256: string } }[] };
  return new Map(json.files.map((f) => [f.filename, f.hashes.sha256]));
}

/** The distribution files of a folder with their sha256. */
async function distFiles(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of await readdir(dir)) if (/\.(whl|tar\.gz|zip)$/.test(name) && !name.startsWith('.')) out.set(name, await sha256(join(dir, name)));
  return out;
}

/** Waits until every distribution file of `dir` is on the index with its exact bytes. */
async function waitPublished(project: string, dir: string, timeoutMs = 30_000): Promise<Map<string, string>> {
  const want = await distFiles(dir);
  expect(want.size).toBeGreaterThan(0);
  await waitFor(
    `${[...want.keys()].join(', ')} on the index`,
    async () => {
      const have = await listed(project);
      return [...want].every(([f, h]) => have.get(f) === h);
    },
    timeoutMs,
  );
  return want;
}

async function watchList(): Promise<WatchInfo[]> {
  const r = await runCli(['watch', 'list', '--json'], opts);
  expect(r.code, show(r)).toBe(0);
  const json = JSON.parse(r.stdout) as unknown;
  expect(Value.Check(WatchListSchema, json)).toBe(true);
  return (json as { watches: WatchInfo[] }).watches;
}

async function watch(args: string[]): Promise<RunResult> {
  const r = await runCli(['watch', ...args], opts);
  expect(r.code, show(r)).toBe(0);
  return r;
}

async function build(cmd: string, args: string[], cwd: string, timeoutMs = 180_000, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const r = await run(cmd, args, { ...opts, cwd, timeoutMs, env: { ...opts.env, SOURCE_DATE_EPOCH: '1577836800', ...env } });
  expect(r.code, `${cmd} ${args.join(' ')}\n${show(r)}`).toBe(0);
}

const pyBuild = (project: string, extra: string[] = []) => build(PYTHON, ['-m', 'build', '--no-isolation', ...extra, project], project);

async function writeFlitProject(dir: string, name: string, version: string): Promise<void> {
  const mod = name.replace(/-/g, '_');
  await mkdir(join(dir, mod), { recursive: true });
  await writeFile(
    join(dir, 'pyproject.toml'),
    `[build-system]\nrequires = ["flit_core >=3.2,<4"]\nbuild-backend = "flit_core.buildapi"\n\n[project]\nname = "${name}"\nversion = "${version}"\ndescription = "Built by flit"\n\n[tool.flit.module]\nname = "${mod}"\n`,
  );
  await writeFile(join(dir, mod, '__init__.py'), `"""${name}."""\n__version__ = "${version}"\n`);
}

async function writeHatchProject(dir: string, name: string, version: string): Promise<void> {
  const mod = name.replace(/-/g, '_');
  await mkdir(join(dir, mod), { recursive: true });
  await writeFile(join(dir, 'pyproject.toml'), `[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n[project]\nname = "${name}"\nversion = "${version}"\n`);
  await writeFile(join(dir, mod, '__init__.py'), `__version__ = "${version}"\n`);
}

/**
 * A pdm project whose build runs offline: pdm 2.2 installs the backend's requirements
 * from PyPI even with --no-isolation, so none are listed (Debian ships pdm-pep517), and it
 * is told to build with Debian's interpreter itself (a pyenv one may come first on PATH;
 * a virtual environment would not see Debian's backend).
 */
async function writePdmProject(dir: string, name: string, version: string): Promise<void> {
  const mod = name.replace(/-/g, '_');
  await mkdir(join(dir, mod), { recursive: true });
  await writeFile(
    join(dir, 'pyproject.toml'),
    `[build-system]\nrequires = []\nbuild-backend = "pdm.pep517.api"\n\n[project]\nname = "${name}"\nversion = "${version}"\nrequires-python = ">=3.7"\n`,
  );
  await writeFile(join(dir, '.pdm.toml'), `[python]\npath = "${PYTHON}"\nuse_venv = false\n`);
  await writeFile(join(dir, mod, '__init__.py'), `__version__ = "${version}"\n`);
}

/** The daemon's pid, from `pyrepo status --json`. */
async function daemonPid(): Promise<number> {
  const r = await runCli(['status', '--json'], opts);
  expect(r.code, show(r)).toBe(0);
  return (JSON.parse(r.stdout) as { pid: number }).pid;
}

async function start(): Promise<void> {
  const r = await runCli(['start', '--port', '0'], opts);
  expect(r.code, show(r)).toBe(0);
  const m = /running at (http:\/\/127\.0\.0\.1:\d+)\/simple\//.exec(r.stdout);
  if (!m?.[1]) throw new Error(`pyrepo start printed no URL:\n${r.output}`);
  base = m[1];
}

/**
 * A Python process that copies `src` to `dest` in place the way setuptools writes (open,
 * write), stopping after half of it for `pauseSeconds`; it prints `paused` then, and `done`.
 */
function slowWriter(src: string, dest: string, pauseSeconds: number) {
  const script = [
    'import sys, time',
    'data = open(sys.argv[1], "rb").read()',
    'half = len(data) // 2',
    'with open(sys.argv[2], "wb") as f:',
    '    f.write(data[:half]); f.flush()',
    '    print("paused", flush=True)',
    `    time.sleep(${pauseSeconds})`,
    '    f.write(data[half:])',
    'print("done", flush=True)',
  ].join('\n');
  return run(PYTHON, ['-c', script, src, dest], { ...opts, timeoutMs: 60_000 });
}

beforeAll(async () => {
  ensureBuilt();
  root = await makeTempRoot('pyrepo-watch-');
  opts = { env: isolatedEnv(root), cwd: root, timeoutMs: 60_000 };
  await start();
}, 60_000);

afterAll(async () => {
  if (opts) await runCli(['stop'], opts);
  await removeTemp(root);
});

describe('pyrepo watch with the real builders', () => {
  it('publishes what python -m build (setuptools, hatchling), poetry, flit and pdm write into watched dist/ folders, and pip installs each new version', async () => {
    const projects = join(root, 'builders');
    const specs = [
      { name: 'w-setuptools', dir: join(projects, 'setuptools'), write: (d: string) => writePythonProject(d, { name: 'w-setuptools', version: '1.0' }), build: (d: string) => pyBuild(d) },
      { name: 'w-hatch', dir: join(projects, 'hatch'), write: (d: string) => writeHatchProject(d, 'w-hatch', '1.0'), build: (d: string) => pyBuild(d, ['--skip-dependency-check']) },
      { name: 'w-poetry', dir: join(projects, 'poetry'), write: (d: string) => writePoetryProject(d, 'w-poetry', '1.0'), build: (d: string) => build('poetry', ['build', '--no-interaction'], d) },
      { name: 'w-flit', dir: join(projects, 'flit'), write: (d: string) => writeFlitProject(d, 'w-flit', '1.0'), build: (d: string) => build('flit', ['build'], d) },
      { name: 'w-pdm', dir: join(projects, 'pdm'), write: (d: string) => writePdmProject(d, 'w-pdm', '1.0'), build: (d: string) => build('pdm', ['build', '--no-isolation'], d, 180_000, { PDM_IGNORE_SAVED_PYTHON: '' }) },
    ];
    for (const s of specs) {
      await mkdir(s.dir, { recursive: true });
      await s.write(s.dir);
      // Registered before the first build: dist/ does not exist yet, and is watched for.
      const r = await watch([s.dir]);
      expect(r.stdout).toContain(`Watching ${join(s.dir, 'dist')}`);
      expect(r.stdout).toContain(`project ${s.name}`);
      expect(r.stdout).toMatch(/does not exist \(not built yet/);
    }
    for (const s of specs) {
      await s.build(s.dir);
      const files = await waitPublished(s.name, join(s.dir, 'dist'));
      expect([...files.keys()].some((f) => f.endsWith('.whl'))).toBe(true);
    }
    const list = await watchList();
    for (const s of specs) {
      const w = list.find((x) => x.dir === join(s.dir, 'dist'));
      expect(w, s.name).toMatchObject({ state: 'watching', user: 'admin', refusals: [], pending: [] });
      expect(w?.lastPublish?.project).toBe(s.name);
    }
    const target = join(root, 'site-builders');
    const pip = await run('python3', ['-m', 'pip', 'install', '--no-deps', '--no-cache-dir', '--retries', '0', '--timeout', '10', '--index-url', `${base}/simple/`, '--target', target, ...specs.map((s) => `${s.name}==1.0`)], { ...opts, timeoutMs: 120_000 });
    expect(pip.code, show(pip)).toBe(0);
    for (const s of specs) expect(existsSync(join(target, s.name.replace(/-/g, '_'), '__init__.py')), s.name).toBe(true);
  }, 600_000);

  it('publishes a file from a writer that stops mid-file for seconds only once it is complete, never half of it', async () => {
    const project = await writePythonProject(join(root, 'slow'), { name: 'w-slow', version: '1.0' });
    const out = join(root, 'slow-out');
    await build(PYTHON, ['-m', 'build', '--no-isolation', '--wheel', '--outdir', out, project], project);
    const [wheel] = (await readdir(out)).filter((f) => f.endsWith('.whl'));
    const dist = join(project, 'dist');
    await mkdir(dist);
    await watch([dist]);
    const seen = new Set<string>();
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const h = (await listed('w-slow')).get(wheel as string);
        if (h) seen.add(h);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const writer = slowWriter(join(out, wheel as string), join(dist, wheel as string), 4);
    // While it is paused, the daemon has looked at the half file and holds it back.
    await waitFor('the half file held back', async () => (await watchList()).find((w) => w.dir === dist)?.pending.includes(wheel as string), 4_000);
    expect(seen.size).toBe(0);
    const w = await writer;
    expect(w.stdout, show(w)).toContain('done');
    await waitPublished('w-slow', dist);
    polling = false;
    await poller;
    // The poller may have stopped between its last look and the publish: one more look.
    const last = (await listed('w-slow')).get(wheel as string);
    if (last) seen.add(last);
    expect([...seen]).toEqual([await sha256(join(out, wheel as string))]);
    expect((await watchList()).find((x) => x.dir === dist)?.refusals).toEqual([]);
  }, 120_000);

  it('follows a build report written as build >= 1.5.1 writes it (mkstemp in dist/, then os.replace), and ignores its temporary file', async () => {
    const project = await writePythonProject(join(root, 'reported'), { name: 'w-reported', version: '1.0' });
    const dist = join(project, 'dist');
    const out = join(root, 'reported-out');
    await build(PYTHON, ['-m', 'build', '--no-isolation', '--outdir', out, project], project);
    await mkdir(dist);
    await watch([project, '--new-only']);
    const script = [
      'import hashlib, json, os, shutil, sys, tempfile',
      'out, dist = sys.argv[1], sys.argv[2]',
      'artifacts = []',
      'for name in sorted(os.listdir(out)):',
      '    shutil.copy2(os.path.join(out, name), os.path.join(dist, name))',
      '    path = os.path.join(dist, name)',
      '    data = open(path, "rb").read()',
      '    kind = "wheel" if name.endswith(".whl") else "sdist"',
      '    artifacts.append({"name": name, "path": path, "kind": kind, "size": len(data), "hashes": {"sha256": hashlib.sha256(data).hexdigest()}})',
      'fd, tmp = tempfile.mkstemp(dir=dist)',
      'with os.fdopen(fd, "w") as f:',
      '    json.dump({"version": "1.0", "artifacts": artifacts}, f)',
      'os.replace(tmp, os.path.join(dist, "build-report.json"))',
    ].join('\n');
    const r = await run(PYTHON, ['-c', script, out, dist], opts);
    expect(r.code, show(r)).toBe(0);
    await waitPublished('w-reported', dist);
    const w = (await watchList()).find((x) => x.dir === dist);
    expect(w).toMatchObject({ report: join(dist, 'build-report.json'), refusals: [], pending: [] });
  }, 120_000);

  it('refuses a rebuild of the same version with its reason and the fix, and replaces it with --replace', async () => {
    const project = await writePythonProject(join(root, 'rebuild'), { name: 'w-rebuild', version: '1.0' });
    const dist = join(project, 'dist');
    await watch([project]);
    await pyBuild(project);
    const first = await waitPublished('w-rebuild', dist);
    // Changed sources, same version.
    await writeFile(join(project, 'w_rebuild', '__init__.py'), '__version__ = "1.0"\nCHANGED = True\n');
    await pyBuild(project);
    const rebuilt = await distFiles(dist);
    const wheel = [...rebuilt.keys()].find((f) => f.endsWith('.whl')) as string;
    expect(rebuilt.get(wheel)).not.toBe(first.get(wheel));
    const refusal = await waitFor('the refusal', async () => (await watchList()).find((w) => w.dir === dist)?.refusals.find((r) => r.filename === wheel), 30_000);
    expect(refusal.reason).toMatch(/already on the index with other content/);
    expect(refusal.fix).toMatch(/Bump the version/);
    expect((await listed('w-rebuild')).get(wheel)).toBe(first.get(wheel));
    const text = await watch(['list']);
    expect(text.stdout).toContain(`refused ${wheel}`);
    expect(text.stdout).toContain('Bump the version');

    const replaced = await watch([project, '--replace']);
    expect(replaced.stdout).toContain('rebuilds may replace the same version');
    await waitFor('the rebuild on the index', async () => (await listed('w-rebuild')).get(wheel) === rebuilt.get(wheel), 30_000);
    const w = (await watchList()).find((x) => x.dir === dist);
    expect(w).toMatchObject({ replace: true, refusals: [] });
    const info = await runCli(['info', 'w-rebuild', '--json'], opts);
    const file = (JSON.parse(info.stdout) as { releases: { files: { filename: string; source: string; uploadedBy: string; uploadedFrom: string }[] }[] }).releases[0]?.files.find((f) => f.filename === wheel);
    expect(file).toMatchObject({ source: 'watch', uploadedBy: 'admin', uploadedFrom: dist });
  }, 300_000);

  it('publishes twenty projects building at once', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `w-many-${i}`);
    const dirs = await Promise.all(names.map((n) => writePythonProject(join(root, 'many', n), { name: n, version: '1.0' })));
    for (const d of dirs) await watch([d]);
    await Promise.all(dirs.map((d) => pyBuild(d, ['--wheel'])));
    for (const [i, d] of dirs.entries()) await waitPublished(names[i] as string, join(d, 'dist'), 60_000);
    const list = await watchList();
    for (const d of dirs) expect(list.find((w) => w.dir === join(d, 'dist'))?.refusals).toEqual([]);
  }, 600_000);

  it('after kill -9 of the daemon in the middle of a build, the restarted daemon publishes the pending files', async () => {
    const project = await writePythonProject(join(root, 'killed'), { name: 'w-killed', version: '1.0' });
    const out = join(root, 'killed-out');
    await build(PYTHON, ['-m', 'build', '--no-isolation', '--wheel', '--outdir', out, project], project);
    const [wheel] = (await readdir(out)).filter((f) => f.endsWith('.whl'));
    const dist = join(project, 'dist');
    await mkdir(dist);
    await watch([project]);
    const writer = slowWriter(join(out, wheel as string), join(dist, wheel as string), 5);
    await waitFor('the half file held back', async () => (await watchList()).find((w) => w.dir === dist)?.pending.includes(wheel as string), 5_000);
    process.kill(await daemonPid(), 'SIGKILL');
    // The build goes on while the daemon is down: the wheel is finished, and an sdist appears.
    expect((await writer).stdout).toContain('done');
    await build(PYTHON, ['-m', 'build', '--no-isolation', '--sdist', project], project);
    expect((await listed('w-killed').catch(() => new Map())).size).toBe(0);
    await start();
    await waitPublished('w-killed', dist, 30_000);
    expect((await watchList()).find((w) => w.dir === dist)).toMatchObject({ state: 'watching', refusals: [], pending: [] });
  }, 300_000);

  it('stops publishing a folder once its watch is removed; --follow prints the publishes and leaves the watches when stopped', async () => {
    const gone = await writePythonProject(join(root, 'removed'), { name: 'w-removed', version: '1.0' });
    await watch([gone]);
    await pyBuild(gone, ['--wheel']);
    await waitPublished('w-removed', join(gone, 'dist'));
    const removed = await watch(['remove', gone]);
    expect(removed.stdout).toContain(`No longer watching ${join(gone, 'dist')}`);
    expect((await watchList()).some((w) => w.dir === join(gone, 'dist'))).toBe(false);
    await writeFile(join(gone, 'pyproject.toml'), (await readFile(join(gone, 'pyproject.toml'), 'utf8')).replace('version = "1.0"', 'version = "2.0"'));
    await pyBuild(gone, ['--wheel']);

    // Follow (from a folder that is no project: it only follows), while another watched folder publishes.
    const followed = join(root, 'followed');
    await writePythonProject(followed, { name: 'w-followed', version: '1.0' });
    await watch([followed]);
    const lines: string[] = [];
    const child = spawn(process.execPath, [CLI_PATH, 'watch', '--follow'], { cwd: root, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (b: Buffer) => lines.push(...b.toString('utf8').split('\n')));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await waitFor('the follower to connect', () => child.stderr.readableLength > 0 || lines.length > 0, 10_000).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 500));
      await pyBuild(followed, ['--wheel']);
      await waitFor('the published line', () => lines.some((l) => l.includes('published w_followed-1.0-py3-none-any.whl (w-followed 1.0)')), 30_000);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect((await watchList()).some((w) => w.dir === join(followed, 'dist'))).toBe(true);
    // By now the removed watch would have published its 2.0 long ago.
    expect([...(await listed('w-removed')).keys()]).toEqual(['w_removed-1.0-py3-none-any.whl']);
  }, 300_000);
});
