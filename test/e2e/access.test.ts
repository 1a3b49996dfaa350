/**
 * Access control end to end: the built CLI and the real clients against a daemon whose
 * reads and uploads both need credentials.
 *
 * 1. No keychain: `pyrepo init --authenticate list,download,upload --htpasswd FILE` adopts
 *    a file made by Debian's `htpasswd` (-B, -m, -s entries); `pyrepo user add` adds another
 *    user. Anonymous requests get the same 401 for every path; twine uploads as a user, and
 *    with a token scoped to one project (another project: 403); the first uploader owns a
 *    project and `pyrepo owner add` lets someone else in; a revoked token stops working;
 *    pip installs with credentials in the URL and with a read-only token, and fails
 *    without; poetry publishes with `http-basic`; the control API refuses non-admins;
 *    repeated failures are throttled (429); malformed headers and paths get clear 4xx over
 *    a raw socket and the daemon keeps serving; no password reaches the log. Who uploaded
 *    (twine as a user, with a token), yanked and removed (the CLI, remove_pkg) what is
 *    shown by `pyrepo info`, carried in the events, journaled and logged; anonymous callers
 *    of /-/health learn only that the index is up, and `pyrepo status` still works.
 * 2. A real Secret Service: after `pyrepo configure`, Debian's pip installs from the
 *    protected index with the read-only token in pip.conf (the keychain holds twine's).
 * 3. Binding beyond loopback with anonymous uploads is refused before anything listens.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexEvent, ProjectDetail } from '../../src/shared/api.js';
import { DaemonClient } from '../../src/shared/client.js';
import { adminAuthOf, CLI_PATH, ensureBuilt, runningBaseUrl, isolatedEnv, makeTempRoot, removeTemp, run, runCli, waitFor, type RunOptions, type RunResult } from '../helpers/daemon.js';
import { writeDists } from '../helpers/dists.js';
import { DEBIAN_PYTHON as PY, keyringSession, requireTools, sessionEnv, SESSION_TOOL_PROBES } from '../helpers/keyring-session.js';
import { buildPythonProject, writePoetryProject, writePythonProject } from '../helpers/python-project.js';
import { currentPipPython } from '../helpers/python.js';

const CLIENTS = requireTools('access e2e', [['sh', ['-c', 'command -v htpasswd']], [PY, ['-m', 'twine', '--version']], [PY, ['-m', 'pip', '--version']], ['poetry'], ['pdm'], [PY, ['-c', 'import build, setuptools, wheel']]]);
const SESSION_TOOLS = requireTools('access e2e', SESSION_TOOL_PROBES);
const ANN_PASSWORD = 'ann-secret-password';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function describeRun(r: RunResult): string {
  return `exit ${String(r.code)}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** Sends raw bytes and returns everything the daemon answers until it closes (or 5 s pass). */
function rawRequest(port: number, bytes: Buffer | string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve(Buffer.concat(chunks).toString('latin1')) : reject(err)));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write(bytes);
  });
}

function statusOf(response: string): number {
  return Number(/^HTTP\/1\.[01] (\d{3}) /.exec(response)?.[1] ?? 0);
}

// Skips only on a developer's machine without the tools: in CI (CI=true) requireTools throws instead.
describe.skipIf(CLIENTS.length > 0)('access control with the real clients', () => {
  let root: string;
  let opts: RunOptions;
  let base: string;
  let port: number;
  let adopted: string;
  let built: { wheel: string; sdist: string };

  const tool = (cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) => run(cmd, args, { ...opts, env: { ...opts.env, ...extraEnv }, timeoutMs: 180_000 });
  const twine = (files: string[], user: string, password: string) =>
    tool(PY, ['-m', 'twine', 'upload', '--non-interactive', '--disable-progress-bar', '--repository-url', `${base}/legacy/`, '-u', user, '-p', password, ...files]);
  const status = async (path: string, authorization?: string) =>
    (await fetch(`${base}${path}`, { headers: authorization ? { authorization } : {}, redirect: 'manual', signal: AbortSignal.timeout(10_000) })).status;
  const ann = () => basic('ann', ANN_PASSWORD);

  beforeAll(async () => {
    ensureBuilt();
    root = await makeTempRoot('pyrepo-access-');
    opts = { env: isolatedEnv(root), cwd: root, timeoutMs: 120_000 };
    // A team's existing file, made by Debian's htpasswd: bcrypt, Apache MD5 and SHA-1 entries.
    adopted = join(root, 'team.htpasswd');
    execFileSync('htpasswd', ['-c', '-b', '-B', adopted, 'carl', 'carl-password']);
    execFileSync('htpasswd', ['-b', '-m', adopted, 'dora', 'dora-password']);
    execFileSync('htpasswd', ['-b', '-s', adopted, 'eve', 'eve-password']);
    const init = await runCli(['init', '--yes', '--no-configure', '--port', '0', '--authenticate', 'list,download,upload', '--htpasswd', adopted], opts);
    expect(init.code, init.output).toBe(0);
    expect(init.stdout).toContain('access:     nothing is open without credentials; credentials needed for index pages, downloads, uploads, the control API');
    base = await runningBaseUrl(opts);
    port = Number(new URL(base).port);
    const add = await runCli(['user', 'add', 'ann', '--password-stdin'], { ...opts, input: `${ANN_PASSWORD}\n` });
    expect(add.code, add.output).toBe(0);
    const project = await writePythonProject(join(root, 'acc-alpha'), { name: 'acc-alpha', version: '1.0.0' });
    built = await buildPythonProject(project, join(project, 'dist'));
  }, 240_000);

  afterAll(async () => {
    if (opts) await runCli(['stop'], opts);
    await removeTemp(root);
  });

  it('answers anonymous requests with the same 401 and a Basic challenge on every path, existing or not', async () => {
    for (const path of ['/simple/', '/simple/acc-alpha/', '/simple/no-such-project/', '/pypi/no-such-project/json', '/packages/x-1.0-py3-none-any.whl', '/']) {
      const res = await fetch(`${base}${path}`, { redirect: 'manual' });
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate'), path).toBe('Basic realm="pyrepo", charset="UTF-8"');
    }
    // With credentials, an unknown project is simply not there.
    expect(await status('/simple/no-such-project/', ann())).toBe(404);
    expect(await status('/simple/', ann())).toBe(200);
  });

  it("logs in the adopted file's users (htpasswd -B, -m, -s), lists them, and refuses wrong passwords", async () => {
    for (const [user, password] of [['carl', 'carl-password'], ['dora', 'dora-password'], ['eve', 'eve-password']] as const) {
      expect(await status('/simple/', basic(user, password)), user).toBe(200);
      expect(await status('/simple/', basic(user, `${password}-wrong`)), user).toBe(401);
    }
    const list = await runCli(['user', 'list', '--json'], opts);
    expect(list.code, list.output).toBe(0);
    const users = (JSON.parse(list.stdout) as { users: { name: string; role: string; source: string; scheme: string }[] }).users;
    expect(users.map((u) => [u.name, u.role, u.source, u.scheme])).toEqual([
      ['admin', 'admin', 'pyrepo', 'bcrypt'],
      ['ann', 'uploader', 'pyrepo', 'bcrypt'],
      ['carl', 'uploader', adopted, 'bcrypt'],
      ['dora', 'uploader', adopted, 'apr1'],
      ['eve', 'uploader', adopted, 'sha1'],
    ]);
  });

  it('twine uploads as a user, who then owns the project; another uploader gets 403 until `pyrepo owner add`', async () => {
    const up = await twine([built.wheel, built.sdist], 'ann', ANN_PASSWORD);
    expect(up.code, describeRun(up)).toBe(0);
    const owners = await runCli(['owner', 'list', 'acc-alpha', '--json'], opts);
    expect(JSON.parse(owners.stdout)).toEqual({ project: 'acc-alpha', owners: [{ user: 'ann', role: 'owner' }] });

    const next = await writeDists(join(root, 'carl-next'), { name: 'acc-alpha', version: '1.1.0' });
    const refused = await twine([next.wheel], 'carl', 'carl-password');
    expect(refused.code, describeRun(refused)).not.toBe(0);
    expect(refused.output).toContain('403');
    expect(refused.output).toContain("The user 'carl' isn't allowed to upload to project 'acc-alpha'.");

    const add = await runCli(['owner', 'add', 'acc-alpha', 'carl'], opts);
    expect(add.code, add.output).toBe(0);
    expect(add.stdout).toContain("'carl' is now a maintainer of acc-alpha.");
    const allowed = await twine([next.wheel], 'carl', 'carl-password');
    expect(allowed.code, describeRun(allowed)).toBe(0);
  });

  it('twine with a token scoped to one project: that project works, another gets 403; revoked, it stops working', async () => {
    const made = await runCli(['token', 'create', '--user', 'ann', '--project', 'Tok_OK', '--name', 'ci', '--json'], opts);
    expect(made.code, made.output).toBe(0);
    const { token, id } = JSON.parse(made.stdout) as { token: string; id: string };
    expect(token).toMatch(/^pyrepo_[a-z0-9]{8}_/);
    // Only a digest is kept.
    expect(readFileSync(join(root, 'pyrepo-home', 'data', 'access.json'), 'utf8')).not.toContain(token.slice('pyrepo_12345678_'.length));

    const ok = await writeDists(join(root, 'tok-ok'), { name: 'tok-ok', version: '1.0' });
    const up = await twine([ok.wheel, ok.sdist], '__token__', token);
    expect(up.code, describeRun(up)).toBe(0);
    const other = await writeDists(join(root, 'tok-other'), { name: 'tok-other', version: '1.0' });
    const refused = await twine([other.wheel], '__token__', token);
    expect(refused.code, describeRun(refused)).not.toBe(0);
    expect(refused.output).toContain('403');
    expect(refused.output).toContain("The given token isn't allowed to upload to project 'tok-other'.");

    const revoke = await runCli(['token', 'revoke', id], opts);
    expect(revoke.code, revoke.output).toBe(0);
    await waitFor('the revoked token to be refused', async () => (await status('/simple/', basic('__token__', token))) === 401, 10_000);
    const again = await writeDists(join(root, 'tok-ok-2'), { name: 'tok-ok', version: '1.1' });
    const late = await twine([again.wheel], '__token__', token);
    expect(late.code, describeRun(late)).not.toBe(0);
    expect(late.output).toContain('401');
  });

  it('records who uploaded, yanked and removed what (twine as a user and with a token, pyrepo yank and remove, remove_pkg): info, events, the journal and the log say so', async () => {
    const events: IndexEvent[] = [];
    const controller = new AbortController();
    const streaming = new DaemonClient(base, { authorization: adminAuthOf(root) }).events({ onEvent: (e) => events.push(e), signal: controller.signal });
    try {
      const made = await runCli(['token', 'create', '--user', 'ann', '--project', 'acc-audit', '--name', 'audit ci', '--json'], opts);
      expect(made.code, made.output).toBe(0);
      const { token, id } = JSON.parse(made.stdout) as { token: string; id: string };
      const byToken = `ann (token ${id} "audit ci")`;
      const v1 = await writeDists(join(root, 'audit-1'), { name: 'acc-audit', version: '1.0' });
      const v2 = await writeDists(join(root, 'audit-2'), { name: 'acc-audit', version: '2.0' });
      const asAnn = await twine([v1.wheel], 'ann', ANN_PASSWORD);
      expect(asAnn.code, describeRun(asAnn)).toBe(0);
      const asToken = await twine([v2.wheel, v2.sdist], '__token__', token);
      expect(asToken.code, describeRun(asToken)).toBe(0);

      const info = await runCli(['info', 'acc-audit', '--json'], opts);
      expect(info.code, info.output).toBe(0);
      const files = (JSON.parse(info.stdout) as ProjectDetail).releases.flatMap((r) => r.files.map((f) => [f.filename, f.source, f.uploadedBy, f.uploadedFrom]));
      expect(files).toEqual([
        ['acc_audit-2.0-py3-none-any.whl', 'upload', byToken, '127.0.0.1'],
        ['acc_audit-2.0.tar.gz', 'upload', byToken, '127.0.0.1'],
        ['acc_audit-1.0-py3-none-any.whl', 'upload', 'ann', '127.0.0.1'],
      ]);
      const text = await runCli(['info', 'acc-audit'], opts);
      expect(text.stdout).toContain('uploaded by');
      expect(text.stdout).toContain('ann from 127.0.0.1');
      expect(text.stdout).toContain(`${byToken} from 127.0.0.1`);

      const yank = await runCli(['yank', 'acc-audit==2.0', '--reason', 'bad build'], opts);
      expect(yank.code, yank.output).toBe(0);
      expect((await runCli(['info', 'acc-audit'], opts)).stdout).toContain('yanked by admin: bad build');
      const remove = await runCli(['remove', 'acc-audit==2.0', '--yes'], opts);
      expect(remove.code, remove.output).toBe(0);
      // pypiserver's remove_pkg, as the project's owner.
      const removePkg = await fetch(`${base}/legacy/`, {
        method: 'POST',
        headers: { authorization: ann(), 'content-type': 'application/x-www-form-urlencoded' },
        body: ':action=remove_pkg&name=acc-audit&version=1.0',
      });
      expect(removePkg.status, await removePkg.text()).toBe(200);

      const who = (e: IndexEvent) => [e.type, 'filename' in e ? e.filename : 'version' in e ? e.version : undefined, 'user' in e ? e.user : undefined, 'address' in e ? e.address : undefined];
      const expected = [
        ['upload', 'acc_audit-1.0-py3-none-any.whl', 'ann', '127.0.0.1'],
        ['upload', 'acc_audit-2.0-py3-none-any.whl', byToken, '127.0.0.1'],
        ['upload', 'acc_audit-2.0.tar.gz', byToken, '127.0.0.1'],
        ['yank', '2.0', 'admin', '127.0.0.1'],
        ['delete', 'acc_audit-2.0-py3-none-any.whl', 'admin', '127.0.0.1'],
        ['delete', 'acc_audit-2.0.tar.gz', 'admin', '127.0.0.1'],
        ['delete', 'acc_audit-1.0-py3-none-any.whl', 'ann', '127.0.0.1'],
      ];
      const mine = () => events.filter((e) => 'project' in e && e.project === 'acc-audit').map(who);
      await waitFor('the events of acc-audit', () => mine().length >= expected.length, 10_000);
      expect(mine()).toEqual(expected);

      const journal = await fetch(`${base}/-/api/activity?project=acc-audit`, { headers: { authorization: adminAuthOf(root) } });
      const entries = ((await journal.json()) as { entries: { action: string; filename: string | null; user: string | null }[] }).entries;
      expect(entries.map((e) => [e.action, e.filename ?? '2.0', e.user]).reverse()).toEqual(expected.map(([type, what, user]) => [type, what, user]));

      // The access log line of each change says who and what; no secret reaches the log.
      const logText = readFileSync(join(root, 'pyrepo-home', 'logs', 'daemon.log'), 'utf8');
      const changes = logText
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.msg === 'request' && l.project === 'acc-audit' && l.status === 200);
      expect(changes.map((l) => [l.action, l.user, l.version ?? null, l.file ?? l.files ?? null])).toEqual([
        ['upload', 'ann', '1.0', 'acc_audit-1.0-py3-none-any.whl'],
        ['upload', byToken, '2.0', 'acc_audit-2.0-py3-none-any.whl'],
        ['upload', byToken, '2.0', 'acc_audit-2.0.tar.gz'],
        ['yank', 'admin', '2.0', null],
        ['delete', 'admin', '2.0', ['acc_audit-2.0-py3-none-any.whl', 'acc_audit-2.0.tar.gz']],
        ['delete', 'ann', '1.0', 'acc_audit-1.0-py3-none-any.whl'],
      ]);
      expect(logText).not.toContain(token.slice('pyrepo_12345678_'.length));
      expect(logText).not.toContain(ANN_PASSWORD);
    } finally {
      controller.abort();
      await streaming.catch(() => undefined);
    }
  });

  it('tells an anonymous caller of /-/health only that the index is up, while pyrepo status still knows its daemon', async () => {
    const res = await fetch(`${base}/-/health`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"status":"ok"}');
    const full = (await (await fetch(`${base}/-/health`, { headers: { authorization: adminAuthOf(root) } })).json()) as { pid: number; dataDir: string };
    expect(full.dataDir).toBe(join(root, 'pyrepo-home', 'data'));
    const st = await runCli(['status', '--json'], opts);
    expect(st.code, st.output).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ running: true, responding: true, pid: full.pid });
    expect((JSON.parse(st.stdout) as { projects: number }).projects).toBeGreaterThan(0);
  });

  it('pip installs with credentials in the URL and with a read-only token, and fails without them', async () => {
    const hostPort = new URL(base).host;
    const pip = (indexUrl: string, target: string) =>
      tool(currentPipPython(), ['-m', 'pip', 'install', '--no-deps', '--no-cache-dir', '--retries', '0', '--timeout', '10', '--index-url', indexUrl, '--target', join(root, target), 'acc-alpha==1.0.0']);

    const withUrl = await pip(`http://ann:${ANN_PASSWORD}@${hostPort}/simple/`, 'site-url');
    expect(withUrl.code, describeRun(withUrl)).toBe(0);
    expect(existsSync(join(root, 'site-url', 'acc_alpha', '__init__.py'))).toBe(true);

    const made = await runCli(['token', 'create', '--user', 'ann', '--read-only', '--expires', '1d', '--json'], opts);
    const { token } = JSON.parse(made.stdout) as { token: string };
    const withToken = await pip(`http://__token__:${token}@${hostPort}/simple/`, 'site-token');
    expect(withToken.code, describeRun(withToken)).toBe(0);
    // Read-only: twine may not upload with it.
    const extra = await writeDists(join(root, 'ro'), { name: 'acc-alpha', version: '9.9' });
    const upload = await twine([extra.wheel], '__token__', token);
    expect(upload.output).toContain('403');

    const without = await pip(`http://${hostPort}/simple/`, 'site-none');
    expect(without.code, describeRun(without)).not.toBe(0);
    // pip (without a keyring or a prompt) reports no versions; the daemon refused it with 401.
    expect(without.output).toMatch(/No matching distribution found for acc-alpha==1\.0\.0/);
    const refused = readFileSync(join(root, 'pyrepo-home', 'logs', 'daemon.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"url":"/simple/acc-alpha/"') && l.includes('"status":401'));
    expect(refused.length).toBeGreaterThan(0);
    expect(existsSync(join(root, 'site-none', 'acc_alpha'))).toBe(false);
  });

  it('configure without a keychain gives pip the credentials in its own pip.conf (mode 0600), and pip installs through it alone', async () => {
    const r = await runCli(['configure', '--pip'], opts);
    expect(r.code, r.output).toBe(0);
    const pipConf = join(root, 'xdg', 'config', 'pip', 'pip.conf');
    // The read-only token configure made, never the admin password.
    expect(readFileSync(pipConf, 'utf8')).toMatch(new RegExp(`^extra-index-url = http://__token__:pyrepo_[a-z0-9]{8}_[^@\\s]+@${new URL(base).host}/simple/$`, 'm'));
    expect(statSync(pipConf).mode & 0o777).toBe(0o600);
    // PyPI stays the primary index; here it is a closed port, so nothing leaves the machine.
    const env: NodeJS.ProcessEnv = { ...opts.env, PIP_INDEX_URL: 'http://127.0.0.1:9/simple/' };
    delete env.PIP_CONFIG_FILE;
    const pip = await run(currentPipPython(), ['-m', 'pip', 'install', '--no-deps', '--no-cache-dir', '--retries', '0', '--timeout', '10', '--target', join(root, 'site-conf'), 'acc-alpha==1.0.0'], { ...opts, env });
    expect(pip.code, describeRun(pip)).toBe(0);
    expect(existsSync(join(root, 'site-conf', 'acc_alpha', '__init__.py'))).toBe(true);
    const un = await runCli(['unconfigure'], opts);
    expect(un.code, un.output).toBe(0);
    expect(existsSync(pipConf)).toBe(false);
  });

  it('poetry publishes with http-basic credentials from its own config', async () => {
    const dir = writePoetryProject(join(root, 'acc-poet'), 'acc-poet', '0.1.0');
    const poetry = (args: string[]) => run('poetry', args, { ...opts, cwd: dir, timeoutMs: 180_000 });
    for (const args of [['config', 'repositories.team', `${base}/legacy/`], ['config', 'http-basic.team', 'ann', ANN_PASSWORD], ['build']]) {
      const r = await poetry(args);
      expect(r.code, describeRun(r)).toBe(0);
    }
    const r = await poetry(['publish', '-r', 'team']);
    expect(r.code, describeRun(r)).toBe(0);
    expect(await status('/simple/acc-poet/', ann())).toBe(200);
  });

  it('poetry (pypi-token) and pdm (__token__) publish with an API token', async () => {
    const made = await runCli(['token', 'create', '--user', 'ann', '--project', 'acc-tok-poet', '--project', 'acc-tok-pdm', '--json'], opts);
    expect(made.code, made.output).toBe(0);
    const { token } = JSON.parse(made.stdout) as { token: string };

    const dir = writePoetryProject(join(root, 'acc-tok-poet'), 'acc-tok-poet', '0.1.0');
    const poetry = (args: string[]) => run('poetry', args, { ...opts, cwd: dir, timeoutMs: 180_000 });
    for (const args of [['config', 'repositories.tok', `${base}/legacy/`], ['config', 'pypi-token.tok', token], ['build'], ['publish', '-r', 'tok']]) {
      const r = await poetry(args);
      expect(r.code, `poetry ${args.join(' ')}\n${describeRun(r)}`).toBe(0);
    }
    expect(await status('/simple/acc-tok-poet/', ann())).toBe(200);

    const pdmDir = join(root, 'acc-tok-pdm');
    await writeDists(join(pdmDir, 'dist'), { name: 'acc-tok-pdm', version: '0.1.0' });
    const pdm = await run('pdm', ['publish', '--no-build', '-r', `${base}/legacy/`, '-u', '__token__', '-P', token], { ...opts, cwd: pdmDir, timeoutMs: 180_000 });
    expect(pdm.code, describeRun(pdm)).toBe(0);
    expect(await status('/simple/acc-tok-pdm/', ann())).toBe(200);
  });

  it('refuses the control API to anyone but an admin, while the CLI uses the admin identity', async () => {
    expect(await status('/-/api/projects')).toBe(401);
    expect(await status('/-/api/projects', ann())).toBe(403);
    const del = await fetch(`${base}/-/api/projects/acc-alpha/releases/1.0.0`, { method: 'DELETE', headers: { authorization: ann() } });
    expect(del.status).toBe(403);
    expect(((await del.json()) as { message: string }).message).toBe("The user 'ann' is not an admin.");
    const list = await runCli(['list'], opts);
    expect(list.code, list.output).toBe(0);
    expect(list.stdout).toContain('acc-alpha');
    expect(await status('/-/health')).toBe(200);
  });

  it('answers malformed credentials, huge headers and hostile paths with clear 4xx over a raw socket, and keeps serving', async () => {
    const req = (path: string, headers: string[] = []) => [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close', ...headers, '', ''].join('\r\n');
    const cases: [string, string | Buffer, number[]][] = [
      ['empty Authorization', req('/simple/', ['Authorization: ']), [401]],
      ['Basic without credentials', req('/simple/', ['Authorization: Basic']), [401]],
      ['malformed base64', req('/simple/', ['Authorization: Basic !!!notbase64']), [401]],
      ['no colon', req('/simple/', [`Authorization: Basic ${Buffer.from('annonly').toString('base64')}`]), [401]],
      ['Bearer', req('/simple/', ['Authorization: Bearer abc.def.ghi']), [401]],
      ['Unicode user', req('/simple/', [`Authorization: Basic ${Buffer.from('ännä:pässwörd').toString('base64')}`]), [401]],
      ['raw UTF-8 bytes in the header', Buffer.concat([Buffer.from(req('/simple/', []).slice(0, -2)), Buffer.from('Authorization: Basic ä\u00ff\r\n\r\n', 'utf8')]), [400, 401]],
      ['NUL in credentials', req('/simple/', [`Authorization: Basic ${Buffer.from('ann\u0000:x\u0000').toString('base64')}`]), [401]],
      ['huge Authorization', req('/simple/', [`Authorization: Basic ${'QUFB'.repeat(20_000)}`]), [431]],
      ['path traversal', req('/packages/..%2f..%2f..%2fetc%2fpasswd', [`Authorization: ${ann()}`]), [400, 404]],
      ['encoded NUL in a path', req('/simple/acc%00alpha/', [`Authorization: ${ann()}`]), [400, 404]],
      ['very long path', req(`/simple/${'a'.repeat(12_000)}/`, [`Authorization: ${ann()}`]), [400, 404, 414, 431]],
      ['not HTTP at all', '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u01fc\u0003\u0003garbage\r\n\r\n', [400]],
    ];
    for (const [label, bytes, expected] of cases) {
      const answer = await rawRequest(port, bytes);
      expect(expected, `${label}: ${answer.slice(0, 200)}`).toContain(statusOf(answer));
      expect(answer, label).not.toContain(ANN_PASSWORD);
    }
    expect(await status('/-/health')).toBe(200);
    expect(await status('/simple/acc-alpha/', ann())).toBe(200);
  });

  it('throttles repeated failed logins with 429 and Retry-After, even for the right password', async () => {
    const add = await runCli(['user', 'add', 'victim', '--password-stdin'], { ...opts, input: 'victim-password\n' });
    expect(add.code, add.output).toBe(0);
    await waitFor('the new user', async () => (await status('/simple/', basic('victim', 'victim-password'))) === 200, 10_000);
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) codes.push(await status('/simple/', basic('victim', `guess-${i}`)));
    expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(codes).toContain(429);
    const res = await fetch(`${base}/simple/`, { headers: { authorization: basic('victim', 'victim-password') } });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    // Other users are not locked out.
    expect(await status('/simple/', ann())).toBe(200);
  });

  it('user passwd on the admin identity changes the stored password too, so that the CLI keeps working', async () => {
    const secretsFile = join(root, 'pyrepo-home', 'config', 'secrets.json');
    const adminSecret = () => (JSON.parse(readFileSync(secretsFile, 'utf8')) as { entries: { service: string; secret: string }[] }).entries.find((e) => e.service === 'pyrepo-admin')?.secret ?? '';
    const before = adminSecret();
    expect(await status('/-/api/projects', basic('admin', before))).toBe(200);
    const r = await runCli(['user', 'passwd', 'admin', '--generate'], opts);
    expect(r.code, r.output).toBe(0);
    const after = adminSecret();
    expect(after).not.toBe(before);
    expect(r.output).not.toContain(after);
    // A password checked a moment ago is remembered for up to a second after the change.
    await waitFor('the old admin password to be refused', async () => (await status('/-/api/projects', basic('admin', before))) === 401, 5000);
    expect(await status('/-/api/projects', basic('admin', after))).toBe(200);
    const list = await runCli(['list'], opts);
    expect(list.code, list.output).toBe(0);
    // Other users' passwords change only in the htpasswd file.
    const ann2 = await runCli(['user', 'passwd', 'ann', '--password-stdin'], { ...opts, input: 'ann-second-password\n' });
    expect(ann2.code, ann2.output).toBe(0);
    expect(await status('/simple/', basic('ann', 'ann-second-password'))).toBe(200);
    await waitFor("ann's old password to be refused", async () => (await status('/simple/', ann())) === 401, 5000);
  });

  it('never writes a password or an Authorization header to the daemon log', async () => {
    const log = readFileSync(join(root, 'pyrepo-home', 'logs', 'daemon.log'), 'utf8');
    expect(log).toContain('"status":401');
    for (const secret of [ANN_PASSWORD, 'ann-second-password', 'carl-password', 'victim-password', 'guess-1', Buffer.from(`ann:${ANN_PASSWORD}`).toString('base64')]) expect(log).not.toContain(secret);
    expect(log.toLowerCase()).not.toContain('authorization');
  });
});

// As above: without the clients or a Secret Service, skipped on a developer's machine, an error in CI.
describe.skipIf(CLIENTS.length > 0 || SESSION_TOOLS.length > 0)('pip authenticates from a real Secret Service to a protected index', () => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  const inSession = keyringSession(() => root, () => env);

  beforeAll(async () => {
    ensureBuilt();
    root = await makeTempRoot('pyrepo-access-keychain-');
    env = sessionEnv(isolatedEnv(root), root, CLI_PATH);
    // pip reads the pip.conf configure writes.
    delete env.PIP_CONFIG_FILE;
  }, 60_000);

  afterAll(async () => {
    if (env) await runCli(['stop'], { env, cwd: root });
    await removeTemp(root);
  });

  it('after `pyrepo configure`, pip installs with the read-only token in pip.conf (pip in a venv could not reach the keychain)', async () => {
    const project = await writePythonProject(join(root, 'kc-only'), { name: 'kc-only', version: '1.0.0' });
    await buildPythonProject(project, join(project, 'dist'));
    const r = await inSession(
      `pyrepo init --yes --no-configure --port 0 --authenticate list,download,upload; mark init $?
pyrepo configure --pip --pypirc; mark configure $?
cd "${project}" && pyrepo publish; mark publish $?
url=$(pyrepo status --json | ${PY} -c 'import json, sys; print(json.load(sys.stdin)["url"])')
mark anonymous "$(${PY} -c 'import sys, urllib.request, urllib.error
try: urllib.request.urlopen(sys.argv[1]); print(200)
except urllib.error.HTTPError as e: print(e.code)' "$url")"
PIP_INDEX_URL=http://127.0.0.1:9/simple/ ${PY} -m pip install --no-deps --no-cache-dir --retries 0 --timeout 10 --target "${join(root, 'site')}" kc-only==1.0.0; mark pip $?
`,
    );
    expect(r.marks.init, r.output).toBe('0');
    expect(r.marks.configure, r.output).toBe('0');
    expect(r.stdout).toContain('Tokens: for twine in the Secret Service keyring; for pip in its own file (mode 0600), the only place it reads one.');
    expect(r.marks.publish, r.output).toBe('0');
    expect(r.marks.anonymous, r.output).toBe('401');
    expect(r.marks.pip, r.output).toBe('0');
    expect(existsSync(join(root, 'site', 'kc_only', '__init__.py'))).toBe(true);
    const pipConf = readFileSync(join(root, 'xdg', 'config', 'pip', 'pip.conf'), 'utf8');
    expect(pipConf).toMatch(/\/\/__token__:pyrepo_[a-z0-9]{8}_[^/\s]*@[^/\s]+\/simple\//);
  });
});

describe('binding beyond loopback', () => {
  let root: string;
  let opts: RunOptions;
  beforeAll(async () => {
    ensureBuilt();
    root = await makeTempRoot('pyrepo-lan-');
    opts = { env: isolatedEnv(root), cwd: root, timeoutMs: 60_000 };
  });
  afterAll(async () => removeTemp(root));

  // An address this machine does not have: if the refusal ever failed, nothing could listen on it either.
  const NOT_HERE = '192.0.2.1';

  it('refuses to serve uploads to anyone beyond loopback, explaining the risk and the flag, before listening', async () => {
    const r = await runCli(['serve', '--host', NOT_HERE, '--port', '0', '--authenticate', 'none'], opts);
    expect(r.code, r.output).toBe(2);
    expect(r.stderr).toContain(`Refusing to listen on ${NOT_HERE} with uploads open to anyone: every machine that can reach it could publish or replace packages.`);
    expect(r.stderr).toContain('--allow-anonymous-lan-uploads');
    // With the risk accepted, it goes on to listen (and fails only because the address is not this machine's).
    const accepted = await runCli(['serve', '--host', NOT_HERE, '--port', '0', '--authenticate', 'none', '--allow-anonymous-lan-uploads'], opts);
    expect(accepted.code, accepted.output).toBe(2);
    expect(accepted.stderr).toContain(`${NOT_HERE} is not an address of this machine`);
  });

  it('--lan cannot open uploads', async () => {
    const r = await runCli(['start', '--lan', '--authenticate', 'none'], opts);
    expect(r.code, r.output).toBe(64);
    expect(r.stderr).toContain('--lan keeps uploads authenticated; --authenticate must include upload with it.');
  });
});
