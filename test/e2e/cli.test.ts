/**
 * The built `pyrepo` command line: help, argument errors and start failures, each with
 * its exit status and a message a person can act on.
 */
import { createServer, type Server } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, runCli, type RunOptions } from '../helpers/daemon.js';

let root: string;
let opts: RunOptions;

beforeAll(async () => {
  ensureBuilt();
  root = await makeTempRoot('pyrepo-cli-');
  opts = { env: isolatedEnv(root), cwd: root, timeoutMs: 30_000 };
});

afterAll(async () => {
  await removeTemp(root);
});

describe('pyrepo CLI', () => {
  it('--help lists the serve command and exits 0', async () => {
    const r = await runCli(['--help'], opts);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain('pyrepo');
    expect(r.stdout).toMatch(/\bserve\b/);
    expect(r.stdout).toContain('--help');
  });

  it('serve --help describes the options, including --packages-dir, and exits 0', async () => {
    const r = await runCli(['serve', '--help'], opts);
    expect(r.code, r.output).toBe(0);
    for (const flag of ['--packages-dir', '--data-dir', '--port', '--host']) expect(r.stdout).toContain(flag);
  });

  // A usage mistake is the user's, not a pyrepo bug: src/cli/index.ts prints it as
  // `Error: …` plus a pointer to --help and exits 64 (EX_USAGE).
  it('an unknown command fails with a usage message and exit code 64', async () => {
    const r = await runCli(['frobnicate'], opts);
    expect(r.code, r.output).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr).toContain("Error: There is no command 'frobnicate'.");
    expect(r.stderr).not.toMatch(/unexpected error|bug in pyrepo/i);
    expect(r.stderr).toContain('pyrepo --help');
    expect(r.code).toBe(64);
  });

  it('no command at all fails with a usage message and exit code 64', async () => {
    const r = await runCli([], opts);
    expect(r.code, r.output).not.toBe(0);
    expect(r.stderr).toMatch(/which command/i);
    expect(r.stderr).not.toMatch(/unexpected error|bug in pyrepo/i);
    expect(r.code).toBe(64);
  });

  it('a missing argument or a malformed one is a plain usage error with exit 64, never yargs\' words', async () => {
    const info = await runCli(['info'], opts);
    expect(info.code, info.output).toBe(64);
    expect(info.stderr).toBe('Error: `pyrepo info` needs <project>.\nUsage: pyrepo info <project>  (`pyrepo info --help` shows the options and examples)\n');
    const yank = await runCli(['yank', 'alpha'], opts);
    expect(yank.code, yank.output).toBe(64);
    expect(yank.stderr).toContain('Say which release: alpha==<version>.');
    const port = await runCli(['start', '--port', 'abc'], opts);
    expect(port.code, port.output).toBe(64);
    expect(port.stderr).toContain("--port must be a whole number from 0 to 65535, not 'abc'.");
    const build = await runCli(['publish', '--build', 'x.whl'], opts);
    expect(build.code, build.output).toBe(64);
    for (const r of [info, yank, port, build]) expect(r.stderr).not.toMatch(/non-option|Unexpected error|bug in pyrepo/);
  });

  it('serve --port 99999 fails clearly without starting', async () => {
    const dataDir = join(root, 'bad-port-data');
    const r = await runCli(['serve', '--port', '99999', '--data-dir', dataDir, '--packages-dir', join(root, 'bad-port-packages')], opts);
    expect(r.code, r.output).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr).toContain('--port');
    expect(r.stderr).toContain('99999');
    expect(r.stderr).toMatch(/0 to 65535/);
    expect(r.stdout).not.toMatch(/serving/);
    expect(existsSync(join(dataDir, 'daemon.json'))).toBe(false);
  });

  it('serve on a port already in use exits 2 and names the port', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve, reject) => {
      blocker.once('error', reject);
      blocker.listen(0, '127.0.0.1', () => resolve());
    });
    const address = blocker.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const port = address.port;
    try {
      const dataDir = join(root, 'busy-data');
      const r = await runCli(['serve', '--port', String(port), '--data-dir', dataDir, '--packages-dir', join(root, 'busy-packages')], opts);
      expect(r.timedOut, r.output).toBe(false);
      expect(r.code, r.output).toBe(2);
      expect(r.stderr).toContain(String(port));
      expect(r.stderr).toMatch(/in use/i);
      expect(r.stdout).not.toMatch(/serving/);
      expect(existsSync(join(dataDir, 'daemon.json'))).toBe(false);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('errors are one message and a next step; --debug adds the stack trace', async () => {
    const plain = await runCli(['info', 'x'], opts);
    expect(plain.code).toBe(3);
    expect(plain.stderr).toBe('Error: The pyrepo daemon is not running.\nStart it with `pyrepo start`.\n');
    const debug = await runCli(['info', 'x', '--debug'], opts);
    expect(debug.code).toBe(3);
    expect(debug.stderr).toMatch(/^Error: The pyrepo daemon is not running\.\nStart it with `pyrepo start`\.\nAbortError: The pyrepo daemon is not running\.\n\s+at /);
  });

  it('colours only when asked: FORCE_COLOR gives colour, NO_COLOR takes it away again', async () => {
    const env = { ...opts.env };
    delete env.NO_COLOR;
    const forced = await runCli(['info', 'x'], { ...opts, env: { ...env, FORCE_COLOR: '1' } });
    expect(forced.stderr).toContain('\u001b[31mError:\u001b[39m');
    const off = await runCli(['info', 'x'], { ...opts, env: { ...env, FORCE_COLOR: '1', NO_COLOR: '1' } });
    expect(off.stderr).not.toContain('\u001b[');
    // Not a terminal and nothing forced: plain.
    const piped = await runCli(['info', 'x'], { ...opts, env });
    expect(piped.stderr).not.toContain('\u001b[');
  });

  it('prints a shell completion script', async () => {
    const r = await runCli(['completion'], opts);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain('###-begin-pyrepo-completions-###');
    expect(r.stdout).toMatch(/complete .*pyrepo/);
  });
});
