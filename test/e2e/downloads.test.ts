/**
 * Downloads by installer with the real clients: pip 23.2 (pyenv's), pip 23.0 (Debian's)
 * in a CI environment, pdm 2.2 and poetry 1.3 (which sends python-requests' User-Agent)
 * download from the built daemon; `pyrepo info` and `pyrepo info --json` split the
 * downloads by installer with the share from CI.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProjectDetail } from '../../src/shared/api.js';
import { ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, run, runCli, runningBaseUrl } from '../helpers/daemon.js';
import { writeDists } from '../helpers/dists.js';
import { DEBIAN_PYTHON, requireTools } from '../helpers/keyring-session.js';

const MISSING = requireTools('downloads by installer', [
  [DEBIAN_PYTHON, ['-m', 'twine', '--version']],
  ['python3', ['-m', 'pip', '--version']],
  ['pdm', ['--version']],
  ['poetry', ['--version']],
]);

let root: string;
let env: NodeJS.ProcessEnv;
let url: string;

beforeAll(async () => {
  ensureBuilt();
  root = await makeTempRoot('pyrepo-downloads-');
  // The test command runs with CI=true: the clients get no CI variable unless a step sets one.
  env = isolatedEnv(root);
  for (const k of Object.keys(env)) if (/^(CI|CONTINUOUS_INTEGRATION|BUILD_BUILDID|BUILD_ID|TRAVIS|GITHUB_ACTIONS|GITLAB_CI)$/.test(k)) delete env[k];
  const r = await runCli(['start', '--port', '0', '--authenticate', 'none'], { cwd: root, env });
  expect(r.code, r.output).toBe(0);
  url = await runningBaseUrl({ cwd: root, env });
});

afterAll(async () => {
  if (root) await runCli(['stop'], { cwd: root, env });
  await removeTemp(root);
});

async function ok(cmd: string, args: string[], cwd: string, extra: NodeJS.ProcessEnv = {}): Promise<void> {
  const r = await run(cmd, args, { cwd, env: { ...env, ...extra }, timeoutMs: 180_000 });
  expect(r.code, r.output).toBe(0);
}

describe.skipIf(MISSING.length > 0)('downloads by installer', () => {
  it('counts pip, pip in CI, pdm and poetry 1.3 (as other) apart, and pyrepo info says so', async () => {
    const dists = await writeDists(join(root, 'dists'), { name: 'counted-pkg', version: '1.0' });
    await ok(DEBIAN_PYTHON, ['-m', 'twine', 'upload', '--non-interactive', '--disable-progress-bar', '--repository-url', `${url}/legacy/`, '-u', 'x', '-p', 'y', dists.wheel], root);
    const simple = `${url}/simple/`;
    await ok('python3', ['-m', 'pip', 'download', '--no-cache-dir', '--no-deps', '-d', join(root, 'dl-1'), '-i', simple, 'counted-pkg'], root);
    await ok('python3', ['-m', 'pip', 'download', '--no-cache-dir', '--no-deps', '-d', join(root, 'dl-2'), '-i', simple, 'counted-pkg'], root);
    await ok(DEBIAN_PYTHON, ['-m', 'pip', 'download', '--no-cache-dir', '--no-deps', '-d', join(root, 'dl-3'), '-i', simple, 'counted-pkg'], root, { CI: 'true' });

    const pdmProject = join(root, 'pdm-project');
    await mkdir(pdmProject, { recursive: true });
    await writeFile(join(pdmProject, 'pyproject.toml'), '[project]\nname = "uses-counted"\nversion = "0.1"\nrequires-python = ">=3.8"\ndependencies = []\n');
    // Installed, not only locked: pdm resolves from the PEP 658 metadata files, which are no downloads.
    await ok('pdm', ['add', '--no-self', 'counted-pkg'], pdmProject, { PDM_PYPI_URL: simple });

    const poetryProject = join(root, 'poetry-project');
    await mkdir(poetryProject, { recursive: true });
    await writeFile(
      join(poetryProject, 'pyproject.toml'),
      `[tool.poetry]\nname = "uses-counted"\nversion = "0.1.0"\ndescription = ""\nauthors = ["x <x@example.com>"]\npackages = []\n\n[tool.poetry.dependencies]\npython = "^3.8"\n\n` +
        `[[tool.poetry.source]]\nname = "pyrepo"\nurl = "${simple}"\ndefault = true\n\n[build-system]\nrequires = ["poetry-core"]\nbuild-backend = "poetry.core.masonry.api"\n`,
    );
    await ok('poetry', ['add', 'counted-pkg'], poetryProject);

    const json = await runCli(['info', 'counted-pkg', '--json'], { cwd: root, env });
    expect(json.code, json.output).toBe(0);
    const detail = JSON.parse(json.stdout) as ProjectDetail;
    const by = Object.fromEntries(detail.downloadsByInstaller.map((c) => [c.installer, [c.downloads, c.ci]]));
    expect(detail.downloadsByInstaller.length, JSON.stringify(detail.downloadsByInstaller)).toBe(3);
    expect(by.pip).toEqual([3, 1]);
    // pdm and poetry may fetch the wheel more than once (to read its metadata, then to lock or install it).
    expect(by.pdm?.[0]).toBeGreaterThanOrEqual(1);
    expect(by.pdm?.[1]).toBe(0);
    expect(by.other?.[0]).toBeGreaterThanOrEqual(1);
    expect(Object.keys(by).sort()).toEqual(['other', 'pdm', 'pip']);
    expect(detail.downloads).toBe(detail.downloadsByInstaller.reduce((a, c) => a + c.downloads, 0));

    const text = await runCli(['info', 'counted-pkg'], { cwd: root, env });
    expect(text.code, text.output).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`by installer: pip 3 \\(1 from CI\\), (pdm ${by.pdm?.[0]}, other ${by.other?.[0]}|other ${by.other?.[0]}, pdm ${by.pdm?.[0]})`));
  });
});
