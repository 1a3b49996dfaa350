/**
 * HTTPS with a given certificate and key: `pyrepo init --tls-cert --tls-key` starts the
 * daemon on HTTPS, the CLI reaches its own daemon (status, publish, list) by trusting that
 * certificate, pip installs and twine uploads with `--cert`, and plain HTTP on the port is
 * refused. The certificate is self-signed, made by openssl for this test.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, isolatedEnv, runningBaseUrl, makeTempRoot, removeTemp, run, runCli, type RunOptions } from '../helpers/daemon.js';
import { DEBIAN_PYTHON as PY, requireTools } from '../helpers/keyring-session.js';
import { buildPythonProject, writePythonProject } from '../helpers/python-project.js';

const TOOLS = requireTools('tls e2e', [['openssl', ['version']], [PY, ['-m', 'twine', '--version']], [PY, ['-m', 'pip', '--version']], [PY, ['-c', 'import build, setuptools, wheel']]]);

/** GET over HTTPS trusting `ca`; the status code. */
function httpsStatus(url: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { ca, timeout: 10_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

describe.skipIf(TOOLS.length > 0)('HTTPS', () => {
  let root: string;
  let opts: RunOptions;
  let cert: string;
  let base: string;
  let built: { wheel: string; sdist: string };

  beforeAll(async () => {
    ensureBuilt();
    root = await makeTempRoot('pyrepo-tls-');
    opts = { env: isolatedEnv(root), cwd: root, timeoutMs: 120_000 };
    cert = join(root, 'cert.pem');
    const key = join(root, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=pyrepo.test', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'pipe' });
    const init = await runCli(['init', '--yes', '--no-configure', '--port', '0', '--tls-cert', cert, '--tls-key', key], opts);
    expect(init.code, init.output).toBe(0);
    base = await runningBaseUrl(opts);
    const project = await writePythonProject(join(root, 'tls-pkg'), { name: 'tls-pkg', version: '1.0.0' });
    built = await buildPythonProject(project, join(project, 'dist'));
  }, 240_000);

  afterAll(async () => {
    if (opts) await runCli(['stop'], opts);
    await removeTemp(root);
  });

  it('serves HTTPS with the certificate, and the CLI reaches its own daemon through it', async () => {
    expect(base).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await httpsStatus(`${base}/simple/`, readFileSync(cert, 'utf8'))).toBe(200);
    // Without trusting the certificate, a client refuses it.
    await expect(httpsStatus(`${base}/simple/`, '')).rejects.toThrow(/self[- ]signed|certificate/i);
    const publish = await runCli(['publish', built.wheel], opts);
    expect(publish.code, publish.output).toBe(0);
    expect(publish.stdout).toContain(`1 file uploaded to ${base}/legacy/`);
    const list = await runCli(['list'], opts);
    expect(list.code, list.output).toBe(0);
    expect(list.stdout).toContain('tls-pkg');
  });

  it('twine uploads and pip installs with --cert', async () => {
    const secrets = JSON.parse(readFileSync(join(root, 'pyrepo-home', 'config', 'secrets.json'), 'utf8')) as { entries: { service: string; secret: string }[] };
    const admin = secrets.entries.find((e) => e.service === 'pyrepo-admin')?.secret ?? '';
    const twine = await run(PY, ['-m', 'twine', 'upload', '--non-interactive', '--disable-progress-bar', '--cert', cert, '--repository-url', `${base}/legacy/`, '-u', 'admin', '-p', admin, built.sdist], opts);
    expect(twine.code, twine.output).toBe(0);
    // Debian's pip: pip 24.2 and later (truststore) cannot check a certificate for an IP address (pypa/pip#12906).
    const pip = await run(
      PY,
      ['-m', 'pip', 'install', '--no-deps', '--no-cache-dir', '--retries', '0', '--timeout', '10', '--cert', cert, '--index-url', `${base}/simple/`, '--target', join(root, 'site'), 'tls-pkg==1.0.0'],
      opts,
    );
    expect(pip.code, pip.output).toBe(0);
    expect(existsSync(join(root, 'site', 'tls_pkg', '__init__.py'))).toBe(true);
  });

  it('pyrepo board tells over HTTPS whether boards would be asked for credentials', async () => {
    const restart = await runCli(['restart', '--authenticate', 'list,download,upload'], opts);
    expect(restart.code, restart.output).toBe(0);
    base = await runningBaseUrl(opts);
    const board = await runCli(['board', '--json'], opts);
    expect(board.code, board.output).toBe(0);
    const guide = JSON.parse(board.stdout) as { reachable: boolean; warnings: string[] };
    expect(guide.reachable).toBe(false);
    expect(guide.warnings.join('\n')).toContain('The index and downloads need credentials, and upip and mip cannot send any');
  });

  it('answers nothing useful to plain HTTP on the HTTPS port', async () => {
    const plain = base.replace(/^https:/, 'http:');
    const outcome = await fetch(`${plain}/simple/`, { signal: AbortSignal.timeout(5000) }).then(
      (res) => res.status,
      () => 'refused',
    );
    expect(outcome).not.toBe(200);
  });
});
