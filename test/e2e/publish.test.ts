/**
 * `pyrepo publish` through the built CLI against a daemon started with `pyrepo start`, in
 * a temporary PYREPO_HOME and HOME: a real wheel and sdist from `python -m build`, the
 * identical re-upload, a conflict, --repository-url, -r with a .pypirc, --json, a
 * non-distribution argument, --build, and the daemon not running.
 */
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PublishOutputSchema, type PublishOutput } from '../../src/cli/json-output.js';
import { ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, runCli, type RunOptions } from '../helpers/daemon.js';
import { buildWheel, wheelFilename, type DistSpec, writeDists } from '../helpers/dists.js';
import { buildPythonProject, writePythonProject } from '../helpers/python-project.js';

/** Debian's interpreter, which has python3-build, setuptools and wheel (see python-project.ts). */
const PYTHON = '/usr/bin/python3';

let root: string;
let opts: RunOptions;
/** `http://127.0.0.1:<port>` of the daemon `pyrepo start` started. */
let base: string;
let projectDir: string;
let built: { wheel: string; sdist: string };

const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

/** The files the index lists for a project (filename → sha256); empty when it has none. */
async function listed(project: string): Promise<Map<string, string>> {
  const res = await fetch(`${base}/simple/${project}/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
  if (res.status === 404) return new Map();
  expect(res.status).toBe(200);
  const json = (await res.json()) as { files: { filename: string; hashes: { sha256: string } }[] };
  return new Map(json.files.map((f) => [f.filename, f.hashes.sha256]));
}

/** The summary table's row for a file. */
function row(stdout: string, file: string): string {
  const line = stdout.split('\n').find((l) => l.startsWith(`${file} `));
  if (!line) throw new Error(`no row for ${file} in:\n${stdout}`);
  return line;
}

beforeAll(async () => {
  ensureBuilt();
  root = await makeTempRoot('pyrepo-publish-');
  opts = { env: isolatedEnv(root), cwd: root, timeoutMs: 60_000 };
  const start = await runCli(['start', '--port', '0'], opts);
  expect(start.code, start.output).toBe(0);
  const m = /running at (http:\/\/127\.0\.0\.1:\d+)\/simple\//.exec(start.stdout);
  if (!m?.[1]) throw new Error(`pyrepo start printed no URL:\n${start.output}`);
  base = m[1];
  // Uploads need credentials: a second user besides the admin identity the CLI uses by itself.
  const ann = await runCli(['user', 'add', 'ann', '--password-stdin'], { ...opts, input: 'hunter2-secret\n' });
  expect(ann.code, ann.output).toBe(0);
  projectDir = await writePythonProject(join(root, 'project'), { name: 'e2e-pub', version: '1.0.0', requiresPython: '>=3.8' });
  built = await buildPythonProject(projectDir, join(projectDir, 'dist'));
}, 240_000);

afterAll(async () => {
  if (opts) await runCli(['stop'], opts);
  await removeTemp(root);
});

describe('pyrepo publish', () => {
  it('uploads ./dist (a real sdist and wheel), sdist first, and the index lists both with their sha256', async () => {
    const r = await runCli(['publish'], { ...opts, cwd: projectDir });
    expect(r.code, r.output).toBe(0);
    const sdist = basename(built.sdist);
    const wheel = basename(built.wheel);
    expect(r.stdout).toMatch(/^file +size +result$/m);
    expect(row(r.stdout, sdist)).toMatch(/ uploaded$/);
    expect(row(r.stdout, wheel)).toMatch(/ uploaded$/);
    expect(r.stdout.indexOf(sdist)).toBeLessThan(r.stdout.indexOf(wheel));
    expect(r.stdout).toContain(`2 files uploaded to ${base}/legacy/`);
    expect(r.stderr).toContain(`Publishing 2 files to ${base}/legacy/`);
    // Not a terminal: one plain line per finished file on stderr.
    expect(r.stderr).toMatch(new RegExp(`^${sdist.replace(/\./g, '\\.')} .* uploaded$`, 'm'));

    const files = await listed('e2e-pub');
    expect(files).toEqual(
      new Map([
        [sdist, await sha256(built.sdist)],
        [wheel, await sha256(built.wheel)],
      ]),
    );
  });

  it('skips both on a second run, says so, and exits 0', async () => {
    const r = await runCli(['publish'], { ...opts, cwd: projectDir });
    expect(r.code, r.output).toBe(0);
    expect(row(r.stdout, basename(built.sdist))).toMatch(/identical, skipped/);
    expect(row(r.stdout, basename(built.wheel))).toMatch(/identical, skipped/);
    expect(r.stdout).toContain('Nothing new: all 2 files are already on');
    expect(r.stderr).not.toMatch(/Error/);
  });

  it('reports a different file under an existing name as a conflict and exits 1, keeping the original', async () => {
    const spec: DistSpec = { name: 'e2e-pub', version: '1.0.0', summary: 'Not the same bytes' };
    const dir = join(root, 'conflicting');
    await mkdir(dir, { recursive: true });
    const other = join(dir, wheelFilename(spec));
    expect(basename(other)).toBe(basename(built.wheel));
    await writeFile(other, buildWheel(spec));
    // A new file alongside is still uploaded: a conflict does not stop the others.
    const fresh = await writeDists(join(root, 'fresh'), { name: 'e2e-pub', version: '1.0.1' });

    const r = await runCli(['publish', other, fresh.wheel], opts);
    expect(r.code, r.output).toBe(1);
    expect(row(r.stdout, basename(other))).toMatch(/conflict: a different file of this name is on the index \[1\]$/);
    // The index's message once, under the table.
    expect(r.stdout.split("File already exists ('e2e_pub-1.0.0-py3-none-any.whl'")).toHaveLength(2);
    expect(r.stdout).toMatch(/^ {2}\[1\] 409: File already exists \('e2e_pub-1\.0\.0-py3-none-any\.whl', with sha256 hash '[0-9a-f]{64}'\): .* Upload a new version instead\.$/m);
    expect(row(r.stdout, basename(fresh.wheel))).toMatch(/ uploaded$/);
    expect(r.stderr).toMatch(/^Error: 1 file conflicts with a different file of the same name on the index \(e2e_pub-1\.0\.0-py3-none-any\.whl\)\.$/m);
    expect(r.stderr).toMatch(/raise the version/);
    expect(r.stderr).not.toMatch(/Unexpected error|bug in pyrepo/);
    const files = await listed('e2e-pub');
    expect(files.get(basename(built.wheel))).toBe(await sha256(built.wheel));
    expect(files.has(basename(fresh.wheel))).toBe(true);
  });

  it('uploads to --repository-url (the daemon /legacy/) with -u/-p, and never prints the password', async () => {
    const { wheel, sdist } = await writeDists(join(root, 'by-url'), { name: 'by-url', version: '0.1' });
    const r = await runCli(['publish', wheel, sdist, '--repository-url', `${base}/legacy/`, '-u', 'ann', '-p', 'hunter2-secret'], opts);
    expect(r.code, r.output).toBe(0);
    expect(row(r.stdout, basename(sdist))).toMatch(/ uploaded$/);
    expect(row(r.stdout, basename(wheel))).toMatch(/ uploaded$/);
    expect(r.stderr).toContain('as ann');
    expect(r.output).not.toContain('hunter2-secret');
    expect([...(await listed('by-url')).keys()].sort()).toEqual([basename(sdist), basename(wheel)].sort());
  });

  it('stops at once with the 401 when the password is wrong, naming the fix, and uploads nothing', async () => {
    // Megabytes still to send when the 401 comes back (the daemon answers before reading the body).
    const blob = `# ${randomBytes(6_000_000).toString('base64')}\n`;
    const { wheel, sdist } = await writeDists(join(root, 'wrong-pw'), { name: 'wrong-pw', version: '0.1', modules: { 'wrong_pw/blob.py': blob } });
    const started = Date.now();
    const r = await runCli(['publish', wheel, sdist, '--repository-url', `${base}/legacy/`, '-u', 'nobody', '-p', 'not-a-password'], { ...opts, timeoutMs: 30_000 });
    expect(r.timedOut, r.output).toBe(false);
    expect(r.code, r.output).toBe(1);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(r.stdout).toMatch(/ failed: needs credentials \(401\) \[1\]$/m);
    expect(r.stdout).toContain('  [1] 401: Invalid username or password.');
    expect(r.output).not.toContain('not-a-password');
    expect(await listed('wrong-pw')).toEqual(new Map());
  });

  it('uploads to -r NAME from ~/.pypirc (listed in index-servers), and refuses an unlisted name clearly', async () => {
    const pypirc = join(root, 'home', '.pypirc');
    await writeFile(
      pypirc,
      [
        '[distutils]',
        'index-servers =',
        '    pypi',
        '    local',
        '',
        '[local]',
        `repository = ${base}/legacy/`,
        'username = ann',
        'password = hunter2-secret',
        '',
        '[hidden]',
        `repository = ${base}/legacy/`,
        '',
      ].join('\n'),
    );
    const { wheel } = await writeDists(join(root, 'by-name'), { name: 'by-name', version: '0.1' });
    const r = await runCli(['publish', wheel, '-r', 'local'], opts);
    expect(r.code, r.output).toBe(0);
    expect(row(r.stdout, basename(wheel))).toMatch(/ uploaded$/);
    expect(r.output).not.toContain('hunter2-secret');
    expect([...(await listed('by-name')).keys()]).toEqual([basename(wheel)]);

    const { wheel: other } = await writeDists(join(root, 'by-hidden'), { name: 'by-hidden', version: '0.1' });
    const bad = await runCli(['publish', other, '-r', 'hidden'], opts);
    expect(bad.code, bad.output).toBe(1);
    expect(bad.stderr).toContain(`Error: ${pypirc} has a [hidden] section, but [distutils] index-servers does not list it`);
    expect(bad.stderr).toContain(`Add hidden to index-servers in ${pypirc}`);
    expect(bad.stdout).toBe('');
    expect(await listed('by-hidden')).toEqual(new Map());
  });

  it('prints a result array with --json that matches its schema', async () => {
    const { wheel, sdist } = await writeDists(join(root, 'json'), { name: 'json-out', version: '2.0' });
    const r = await runCli(['publish', join(root, 'json'), '--json'], opts);
    expect(r.code, r.output).toBe(0);
    const out: unknown = JSON.parse(r.stdout);
    expect(Value.Check(PublishOutputSchema, out), r.stdout).toBe(true);
    const results = out as PublishOutput;
    expect(results.map((x) => [x.file, x.result, x.filetype])).toEqual([
      [basename(sdist), 'uploaded', 'sdist'],
      [basename(wheel), 'uploaded', 'bdist_wheel'],
    ]);
    expect(results[1]).toMatchObject({ path: wheel, sha256: await sha256(wheel), project: 'json-out', version: '2.0', repositoryUrl: `${base}/legacy/`, httpStatus: 200 });

    const again = await runCli(['publish', wheel, '--json'], opts);
    expect(again.code, again.output).toBe(0);
    expect((JSON.parse(again.stdout) as PublishOutput).map((x) => x.result)).toEqual(['identical']);
  });

  it("says so when the index accepts a file but warns about it (a compiled-only wheel boards cannot install)", async () => {
    const spec: DistSpec = { name: 'compiled-only', version: '1.0', modules: { 'compiled_only.cpython-311-x86_64-linux-gnu.so': '\u007fELF' } };
    const dir = join(root, 'compiled');
    await mkdir(dir, { recursive: true });
    const wheel = join(dir, wheelFilename(spec, 'cp311-cp311-linux_x86_64'));
    await writeFile(wheel, buildWheel(spec));
    const r = await runCli(['publish', wheel], opts);
    expect(r.code, r.output).toBe(0);
    expect(row(r.stdout, basename(wheel))).toMatch(/ uploaded$/);
    expect(r.stderr).toMatch(new RegExp(`^Warning: ${basename(wheel).replace(/\./g, '\\.')}: .*MicroPython boards cannot install it`, 'm'));
    const again = await runCli(['publish', wheel, '--json'], opts);
    const [result] = JSON.parse(again.stdout) as PublishOutput;
    expect(result?.result).toBe('identical');
    expect(result?.warnings?.[0]).toMatch(/MicroPython boards cannot install it/);
  });

  it('refuses a file that is not a distribution before uploading anything', async () => {
    const { wheel } = await writeDists(join(root, 'mixed'), { name: 'never-sent', version: '1.0' });
    const readme = join(root, 'mixed', 'README.md');
    await writeFile(readme, '# not a distribution\n');
    const r = await runCli(['publish', wheel, readme], opts);
    expect(r.code, r.output).toBe(1);
    expect(r.stderr).toContain(`Error: ${readme} is not a wheel or an sdist (.whl, .tar.gz or .zip); nothing was uploaded.`);
    expect(r.stdout).toBe('');
    expect(await listed('never-sent')).toEqual(new Map());

    // A name that does not parse is refused the same way, naming the file.
    const odd = join(root, 'mixed', 'not-a-wheel.whl');
    await copyFile(wheel, odd);
    const r2 = await runCli(['publish', wheel, odd], opts);
    expect(r2.code, r2.output).toBe(1);
    expect(r2.stderr).toContain(`${odd} is not a wheel or sdist`);
    expect(r2.stderr).toContain('Nothing was uploaded.');
    expect(await listed('never-sent')).toEqual(new Map());
  });

  it('says there is nothing to publish in a folder without dist/, suggesting --build', async () => {
    const empty = join(root, 'no-dist-here');
    await mkdir(empty, { recursive: true });
    const r = await runCli(['publish'], { ...opts, cwd: empty });
    expect(r.code, r.output).toBe(1);
    expect(r.stderr).toContain(`Error: There is no dist folder in ${empty}, so there is nothing to publish.`);
    expect(r.stderr).toContain('pyrepo publish --build');
  });

  it('--build runs python -m build in the project and publishes what it built', async () => {
    const dir = await writePythonProject(join(root, 'to-build'), { name: 'e2e-built', version: '0.2.0' });
    const r = await runCli(['publish', '--build', '--python', PYTHON, '--no-isolation'], { ...opts, cwd: dir, timeoutMs: 240_000 });
    expect(r.code, r.output).toBe(0);
    // build's own output is shown on stderr; stdout has only the summary.
    // (Older setuptools name the sdist e2e-built-…, newer ones e2e_built-…: take what it wrote.)
    const written = (await readdir(join(dir, 'dist'))).sort();
    expect(written).toHaveLength(2);
    const sdist = written.find((f) => f.endsWith('.tar.gz')) as string;
    const wheel = written.find((f) => f.endsWith('.whl')) as string;
    expect(sdist).toMatch(/^e2e[-_]built-0\.2\.0\.tar\.gz$/);
    expect(wheel).toBe('e2e_built-0.2.0-py3-none-any.whl');
    expect(r.stderr).toContain(`Successfully built ${sdist} and ${wheel}`);
    expect(r.stdout).not.toMatch(/Successfully built/);
    expect(row(r.stdout, sdist)).toMatch(/ uploaded$/);
    expect(row(r.stdout, wheel)).toMatch(/ uploaded$/);
    expect(await listed('e2e-built')).toEqual(
      new Map([
        [sdist, await sha256(join(dir, 'dist', sdist))],
        [wheel, await sha256(join(dir, 'dist', wheel))],
      ]),
    );
  }, 240_000);

  it('--build with an interpreter that is not there says so and suggests --python', async () => {
    const r = await runCli(['publish', '--build', '--python', 'python3-that-does-not-exist'], { ...opts, cwd: projectDir });
    expect(r.code, r.output).toBe(1);
    expect(r.stderr).toContain('Error: python3-that-does-not-exist not found, so the project cannot be built.');
    expect(r.stderr).toContain('--python');
  });

  it('exits 3 with a next step when the daemon is not running', async () => {
    const stop = await runCli(['stop'], opts);
    expect(stop.code, stop.output).toBe(0);
    const r = await runCli(['publish'], { ...opts, cwd: projectDir });
    expect(r.code, r.output).toBe(3);
    expect(r.stderr).toContain('Error: The pyrepo daemon is not running.');
    expect(r.stderr).toContain('pyrepo start');
  });
});
