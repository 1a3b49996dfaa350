/**
 * The whole story a user goes through, with the built CLI and real tools in a temporary
 * HOME: `pyrepo init --yes` (sets up, starts, configures pip and .pypirc), `status`,
 * `publish` of a wheel and an sdist built from a real project, a plain `pip install` that
 * finds the package through pip.conf alone, `twine upload -r pyrepo` through .pypirc
 * alone, then `unconfigure` and `stop`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatusOutputSchema, type StatusOutput } from '../../src/cli/json-output.js';
import { ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, run, runCli, type RunOptions } from '../helpers/daemon.js';
import { buildPythonProject, writePythonProject } from '../helpers/python-project.js';
import { currentPipPython, DEBIAN_PYTHON } from '../helpers/python.js';

let root: string;
let opts: RunOptions;
/** The tools' view: no PIP_CONFIG_FILE, so pip reads the user pip.conf that configure wrote. */
let toolEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  ensureBuilt();
  root = await makeTempRoot('pyrepo-flow-');
  const env = isolatedEnv(root);
  delete env.PIP_CONFIG_FILE;
  toolEnv = env;
  opts = { env, cwd: root, timeoutMs: 120_000 };
});

afterAll(async () => {
  await runCli(['stop'], opts);
  await removeTemp(root);
});

describe('init → publish → pip install → unconfigure → stop', () => {
  it('works end to end with the real tools', async () => {
    const init = await runCli(['init', '--yes', '--port', '0'], opts);
    expect(init.code, init.output).toBe(0);
    expect(init.stdout).toMatch(/Configured pypirc, pip/);

    const status = await runCli(['status', '--json'], opts);
    const s: unknown = JSON.parse(status.stdout);
    expect(Value.Check(StatusOutputSchema, s)).toBe(true);
    const { url, uploadUrl } = s as StatusOutput;
    const pipConf = join(root, 'xdg', 'config', 'pip', 'pip.conf');
    expect(readFileSync(pipConf, 'utf8')).toContain(`extra-index-url = ${url}`);

    const project = await writePythonProject(join(root, 'flow-project'), { name: 'flow-pkg', version: '1.0.0' });
    const built = await buildPythonProject(project, join(project, 'dist'));
    const publish = await runCli(['publish'], { ...opts, cwd: project });
    expect(publish.code, publish.output).toBe(0);
    expect(publish.stdout).toMatch(/flow[-_]pkg-1\.0\.0\.tar\.gz\s.*uploaded/);
    expect(publish.stdout).toMatch(/flow_pkg-1\.0\.0-py3-none-any\.whl\s.*uploaded/);

    // pip finds it through pip.conf's extra-index-url alone. The primary index (PyPI by
    // default) is pointed at a closed local port, so nothing leaves this machine.
    const target = join(root, 'installed');
    const pipEnv = { ...toolEnv, PIP_INDEX_URL: 'http://127.0.0.1:9/simple/' };
    const pip = await run(currentPipPython(), ['-m', 'pip', 'install', '--no-cache-dir', '--retries', '0', '--timeout', '5', '--target', target, 'flow-pkg==1.0.0'], { ...opts, env: pipEnv });
    expect(pip.code, pip.output).toBe(0);
    expect(existsSync(join(target, 'flow_pkg', '__init__.py'))).toBe(true);

    // twine uploads with only `-r pyrepo`: URL, user and password come from .pypirc.
    const project2 = await writePythonProject(join(root, 'flow-project-2'), { name: 'flow-pkg', version: '1.1.0' });
    const built2 = await buildPythonProject(project2, join(project2, 'dist'));
    const twine = await run(DEBIAN_PYTHON, ['-m', 'twine', 'upload', '--non-interactive', '-r', 'pyrepo', built2.wheel], { ...opts, env: toolEnv });
    expect(twine.code, twine.output).toBe(0);
    const info = await runCli(['info', 'flow-pkg', '--json'], opts);
    expect((JSON.parse(info.stdout) as { releases: { version: string }[] }).releases.map((r) => r.version)).toEqual(['1.1.0', '1.0.0']);
    expect(uploadUrl).toBeDefined();
    expect(built.wheel).toBeDefined();

    const un = await runCli(['unconfigure'], opts);
    expect(un.code, un.output).toBe(0);
    expect(existsSync(pipConf)).toBe(false);
    expect(existsSync(join(root, 'home', '.pypirc'))).toBe(false);

    const stop = await runCli(['stop'], opts);
    expect(stop.code, stop.output).toBe(0);
    expect(stop.stdout).toContain('Stopped pyrepo');
  }, 240_000);
});
