/**
 * `pyrepo doctor` as a user meets it: on a pseudo-terminal a live line names the checks
 * still running and is cleared before the verdicts; piped, stdout holds the verdicts and
 * nothing else. The tools' versions are the ones the tools report themselves.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorOutput } from '../../src/cli/json-output.js';
import { CLI_PATH, ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, run, runCli, REPO_ROOT, type RunOptions } from '../helpers/daemon.js';
import { requireTools } from '../helpers/keyring-session.js';

const DRIVER = join(REPO_ROOT, 'test', 'helpers', 'pty-drive.py');
const TOOLS = requireTools('doctor e2e', [['poetry'], ['pdm'], ['twine'], ['flit']]);

// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');

describe.skipIf(TOOLS.length > 0)('pyrepo doctor', () => {
  let root: string;
  let opts: RunOptions;

  beforeAll(async () => {
    ensureBuilt();
    root = await makeTempRoot('pyrepo-doctor-');
    opts = { env: isolatedEnv(root), cwd: root, timeoutMs: 60_000 };
    const init = await runCli(['init', '--yes', '--port', '0'], opts);
    expect(init.code, init.output).toBe(0);
  });

  afterAll(async () => {
    if (opts) await runCli(['stop'], opts);
    await removeTemp(root);
  });

  it('on a terminal, shows a live line of the checks still running, cleared before the verdicts', async () => {
    const r = await run('python3', [DRIVER, '[]', '--', process.execPath, CLI_PATH, 'doctor'], opts);
    expect(r.stdout, r.output).toMatch(/@@exit=\d+/);
    expect(r.stdout).toContain('checking: ');
    // The last live line is erased before the first verdict, so no "checking:" is left on screen above it.
    const beforeVerdicts = r.stdout.slice(0, r.stdout.indexOf('settings'));
    expect(beforeVerdicts.slice(beforeVerdicts.lastIndexOf('checking: '))).toContain('\r\u001b[2K');
    expect(plain(r.stdout)).toMatch(/ok {4}daemon\s+running at http:\/\/127\.0\.0\.1:\d+\/simple\//);
  });

  it('piped, prints the verdicts and nothing else', async () => {
    const r = await runCli(['doctor'], opts);
    expect(r.stdout).not.toContain('checking');
    for (const line of r.stdout.trimEnd().split('\n')) expect(line).toMatch(/^(ok {2}|warn|FAIL|info) {2}\S|^ {6,}\s*fix: /);
  });

  it("reads each tool's version as the tool itself reports it", async () => {
    const r = await runCli(['doctor', '--json'], opts);
    const checks = (JSON.parse(r.stdout) as DoctorOutput).checks;
    for (const [tool, args] of [['poetry', ['--version']], ['pdm', ['--version']], ['twine', ['--version']], ['flit', ['--version']]] as const) {
      const own = await run(tool, [...args], { ...opts, env: { ...opts.env, PDM_CHECK_UPDATE: 'false' } });
      // The last check of that name: the tool itself (an earlier one is about its config file).
      const reported = checks.findLast((c) => c.check === tool);
      expect(reported?.verdict, r.stdout).toBe('ok');
      expect(own.output, tool).toContain(reported?.detail as string);
    }
  });
});
