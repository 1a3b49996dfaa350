/**
 * Questions on a terminal: the built CLI on a pseudo-terminal (Python's pty module answers
 * as a person would), so that the questions, their defaults and the offers (`init`: start
 * the index, configure the tools; `board`: LAN mode) are what a user really meets.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH, ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, run, runCli, REPO_ROOT, type RunOptions } from '../helpers/daemon.js';
import { DEBIAN_PYTHON } from '../helpers/python.js';

const DRIVER = join(REPO_ROOT, 'test', 'helpers', 'pty-drive.py');

// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');

/** Runs `pyrepo <args>` on a terminal, typing `answer` when `prompt` appears, in order. */
async function onTerminal(args: string[], steps: [string, string][], opts: RunOptions): Promise<{ output: string; exit: number; answered: number }> {
  const r = await run(DEBIAN_PYTHON, [DRIVER, JSON.stringify(steps), '--', process.execPath, CLI_PATH, ...args], { ...opts, timeoutMs: 90_000 });
  const m = /@@exit=(-?\d+) steps=(\d+)/.exec(r.stdout);
  if (!m) throw new Error(`the terminal driver failed:\n${r.output}`);
  return { output: plain(r.stdout), exit: Number(m[1]), answered: Number(m[2]) };
}

describe('questions on a terminal', () => {
  let root: string;
  let opts: RunOptions;
  beforeAll(async () => {
    ensureBuilt();
    root = await makeTempRoot('pyrepo-init-tty-');
    opts = { env: isolatedEnv(root), cwd: root };
  });
  afterAll(async () => {
    if (opts) await runCli(['stop'], opts);
    await removeTemp(root);
  });

  it('asks for the port and the packages folder with defaults, offers to start and to configure, and does what was answered', async () => {
    const folder = join(root, 'my-packages');
    const r = await onTerminal(
      ['init'],
      [
        ['Port for the index', '0\r'],
        ['Packages folder', `\u0015${folder}\r`],
        ['Serve public projects', '\r'],
        ['Start the index now?', '\r'],
        ['Point your Python tools', 'n\r'],
      ],
      opts,
    );
    expect(r.answered, r.output).toBe(5);
    expect(r.exit, r.output).toBe(0);
    expect(r.output).toContain('Port for the index (8645)');
    expect(r.output).toMatch(/Packages folder \(an existing pypiserver folder works\)\s*\(.*data\/packages\)/);
    expect(r.output).toContain(`packages folder: ${folder}`);
    // The upstream proxy is offered, off unless asked for; Enter keeps it off.
    expect(r.output).toMatch(/Serve public projects[\s\S]*\(y\/N\)/);
    expect(r.output).toMatch(/pyrepo \S+ is running at http:\/\/127\.0\.0\.1:\d+\/simple\//);
    const settings = JSON.parse(readFileSync(join(root, 'pyrepo-home', 'config', 'settings.json'), 'utf8')) as { port: number; packagesDir: string };
    expect(settings).toMatchObject({ port: 0, packagesDir: folder });
    expect(settings).not.toHaveProperty('upstream');
    // "No" to configuring: no client file was written.
    expect(existsSync(join(root, 'home', '.pypirc'))).toBe(false);
    expect(r.output).toContain('Point pip, twine, poetry, pdm and uv at it with `pyrepo configure`');
    const status = await runCli(['status'], opts);
    expect(status.code, status.output).toBe(0);
  });

  it('board offers LAN mode when boards cannot reach the index, and a "no" changes nothing', async () => {
    const before = JSON.parse((await runCli(['status', '--json'], opts)).stdout) as { pid: number; url: string };
    const r = await onTerminal(['board', 'my-lib'], [['Restart pyrepo in LAN mode now', 'n\r']], opts);
    expect(r.answered, r.output).toBe(1);
    expect(r.exit, r.output).toBe(0);
    expect(r.output).toContain('boards on your network cannot reach it');
    expect(r.output).toContain('mip.install("my-lib"');
    expect(r.output).toMatch(/Restart pyrepo in LAN mode now \(every address;[\s\S]*\(y\/N\)/);
    expect(r.output).toMatch(/uploads still need credentials\)\? No\s/);
    const after = JSON.parse((await runCli(['status', '--json'], opts)).stdout) as { pid: number; url: string };
    expect(after).toMatchObject({ pid: before.pid, url: before.url });
  });
});
