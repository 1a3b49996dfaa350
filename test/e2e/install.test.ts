/**
 * The README's first command, as a new user runs it: after it, `pyrepo` is a command on
 * PATH. Run in a throwaway copy of the built package with a temporary npm prefix (never
 * this machine's global one) and offline: the steps that install the command are the
 * README's own, read from it; `npm install` and `npm run build` are the test run's.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, REPO_ROOT, run, type RunOptions } from '../helpers/daemon.js';

let root: string;

beforeAll(async () => {
  ensureBuilt();
  root = await makeTempRoot('pyrepo-install-');
});

afterAll(async () => {
  if (root) await run(join(root, 'prefix', 'bin', 'pyrepo'), ['stop'], { env: isolatedEnv(root), cwd: root, timeoutMs: 30_000 });
  await removeTemp(root);
});

/** The steps of the README's first command line (the first line of its first sh block), comment removed. */
function readmeFirstCommand(): string[] {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const block = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const first = (block.split('\n')[0] ?? '').replace(/\s+#.*$/, '');
  return first.split('&&').map((s) => s.trim());
}

describe("the README's first command", () => {
  it('installs the pyrepo command, which then sets pyrepo up; npm test is the second command', () => {
    const steps = readmeFirstCommand();
    expect(steps.slice(0, 2)).toEqual(['npm install', 'npm run build']);
    expect(steps[steps.length - 1]).toBe('pyrepo init --yes');
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    expect(/```sh\n[^\n]*\n([^\n]*)/.exec(readme)?.[1]).toMatch(/^npm test\b/);
  });

  it('puts pyrepo on PATH (a temporary npm prefix), and `pyrepo init --yes` then works from anywhere', async () => {
    const steps = readmeFirstCommand();
    const install = steps.slice(2, -1);
    expect(install.length, 'a step between the build and `pyrepo init` installs the command').toBeGreaterThan(0);

    // A copy of what the build leaves: package.json, dist/ and the dependencies (linked, read only).
    const copy = join(root, 'pyrepo');
    mkdirSync(copy);
    cpSync(join(REPO_ROOT, 'package.json'), join(copy, 'package.json'));
    cpSync(join(REPO_ROOT, 'dist'), join(copy, 'dist'), { recursive: true });
    const modules = realpathSync(join(REPO_ROOT, 'node_modules'));
    symlinkSync(modules, join(copy, 'node_modules'));
    const lockMtime = existsSync(join(modules, '.package-lock.json')) ? statSync(join(modules, '.package-lock.json')).mtimeMs : undefined;

    const prefix = join(root, 'prefix');
    // Nothing of the npm that runs these tests (`npm test` exports its own npm_config_*).
    const inherited = Object.fromEntries(Object.entries(isolatedEnv(root)).filter(([k]) => !/^npm_/i.test(k)));
    const env = {
      ...inherited,
      npm_config_prefix: prefix,
      npm_config_cache: join(root, 'npm-cache'),
      npm_config_offline: 'true',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
      PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}`,
    };
    const opts: RunOptions = { env, cwd: copy, timeoutMs: 120_000 };
    for (const step of install) {
      const r = await run('sh', ['-c', step], opts);
      expect(r.code, `${step}\n${r.output}`).toBe(0);
    }
    // The shared dependencies were only read.
    if (lockMtime !== undefined) expect(statSync(join(modules, '.package-lock.json')).mtimeMs).toBe(lockMtime);

    const which = await run('sh', ['-c', 'command -v pyrepo'], { ...opts, cwd: root });
    expect(which.stdout.trim()).toBe(join(prefix, 'bin', 'pyrepo'));
    const version = await run('pyrepo', ['--version'], { ...opts, cwd: root });
    expect(version.code, version.output).toBe(0);
    expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version);

    // The README's last step, on a free port so that it never meets another index on this machine.
    const [command, ...args] = (steps[steps.length - 1] as string).split(/\s+/);
    const init = await run(command as string, [...args, '--port', '0'], { ...opts, cwd: root, timeoutMs: 60_000 });
    expect(init.code, init.output).toBe(0);
    expect(init.stdout).toMatch(/is running at http:\/\/127\.0\.0\.1:\d+\/simple\//);
  });
});
