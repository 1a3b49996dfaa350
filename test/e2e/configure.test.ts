/**
 * `pyrepo configure` and `pyrepo unconfigure` end to end: the built CLI in a temporary
 * HOME that already holds a user's ~/.pypirc, pip.conf and poetry config, and the real
 * clients of this machine reading what it wrote: pip (pyenv's and Debian's), twine,
 * poetry 1.3 and pdm 2.2. The tools get an API token for uploads, never the admin password.
 *
 * 1. No keychain (no D-Bus session): --dry-run diffs with the token masked and no byte
 *    changed; configure (no file holds the admin password; the token cannot open the
 *    control API); `pip config list`, `pip install` of a package only pyrepo has,
 *    `twine upload -r pyrepo`, `poetry publish -r pyrepo`, `pdm publish -r pyrepo`, each
 *    with nothing on the command line; a second configure reuses the token and changes
 *    nothing; doctor fails a pdm file without a password exactly when pdm cannot publish;
 *    a revoked token is reported by doctor and replaced by configure; unconfigure gives
 *    every file back byte for byte (and removes what pyrepo created) and revokes the
 *    token; a hand edit made after configure survives unconfigure.
 * 2. A real Secret Service: each step runs in `dbus-run-session` with gnome-keyring
 *    unlocked, its keyrings in the temporary XDG_DATA_HOME. Python's keyring finds twine's
 *    and poetry's copy of the token under the name each looks up, and they really send it:
 *    the tools talk to the daemon through a small recording proxy in this process
 *    (`configure --url`), which sees their Authorization; pdm publishes with the token in
 *    its file, without a terminal. unconfigure deletes the items and revokes the token.
 *    `configure --no-keychain` writes the token into the files (0600), says why, and
 *    deletes the copies the keychain held.
 * 3. Malformed files: configure exits 1 naming the file and the line, and no file changes.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorOutput, StatusOutput } from '../../src/cli/json-output.js';
import { CLI_PATH, ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, run, runCli, type RunOptions } from '../helpers/daemon.js';
import { buildPythonProject, writePoetryProject, writePythonProject } from '../helpers/python-project.js';
import { DEBIAN_PYTHON, keyringSession, requireTools, sessionEnv, SESSION_TOOL_PROBES } from '../helpers/keyring-session.js';
import { currentPipPython } from '../helpers/python.js';

const PY = DEBIAN_PYTHON;
/** The second pip that reads what configure wrote: a current one (Debian's is 23.0). */
const CURRENT_PIP_PYTHON = currentPipPython();

const CLIENTS = requireTools('configure e2e', [[CURRENT_PIP_PYTHON, ['-m', 'pip', '--version']], [PY, ['-m', 'pip', '--version']], [PY, ['-m', 'twine', '--version']], ['poetry'], ['pdm'], [PY, ['-c', 'import build, setuptools, wheel']]]);
const SESSION_TOOLS = requireTools('configure e2e', SESSION_TOOL_PROBES);

// ---------------------------------------------------------------------------------------
// Files and folders, byte for byte

interface Entry {
  kind: 'file' | 'dir';
  mode: number;
  data?: Buffer;
}

/** Every file and folder under `dirs` (paths relative to `root`), with modes and contents. */
function snapshot(root: string, dirs: string[]): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (path: string) => {
    const st = lstatSync(path);
    const rel = relative(root, path);
    if (st.isDirectory()) {
      out.set(rel, { kind: 'dir', mode: st.mode & 0o777 });
      for (const name of readdirSync(path)) walk(join(path, name));
    } else {
      out.set(rel, { kind: 'file', mode: st.mode & 0o777, data: readFileSync(path) });
    }
  };
  for (const d of dirs) if (existsSync(join(root, d))) walk(join(root, d));
  return out;
}

/** A readable list of the differences between two snapshots (empty when equal). */
function differences(before: Map<string, Entry>, after: Map<string, Entry>): string[] {
  const diffs: string[] = [];
  for (const [path, a] of before) {
    const b = after.get(path);
    if (!b) diffs.push(`${path}: gone`);
    else if (a.kind !== b.kind) diffs.push(`${path}: was a ${a.kind}, now a ${b.kind}`);
    else if (a.mode !== b.mode) diffs.push(`${path}: mode ${a.mode.toString(8)} → ${b.mode.toString(8)}`);
    else if (a.data && b.data && !a.data.equals(b.data)) diffs.push(`${path}: content changed:\n${JSON.stringify(a.data.toString())}\n→\n${JSON.stringify(b.data.toString())}`);
  }
  for (const path of after.keys()) if (!before.has(path)) diffs.push(`${path}: new`);
  return diffs;
}

/** The token in a .pypirc's [pyrepo] section. */
function tokenIn(pypirc: string): string {
  const m = /^password = (pyrepo_[a-z0-9]{8}_\S+)$/m.exec(pypirc);
  if (!m) throw new Error(`no token in:\n${pypirc}`);
  return m[1] as string;
}

/** The files under `dir` whose bytes contain `secret`. */
function filesHolding(dir: string, secret: string): string[] {
  return [...snapshot(dir, ['.']).entries()].filter(([, e]) => e.data?.includes(secret)).map(([p]) => p);
}

/** The config locations configure may touch (not all of HOME: the tools leave their own things there, such as ~/.rustup). */
const CONFIG_DIRS = ['home/.pypirc', 'xdg/config', 'poetry/config'];

// The user's own files, as people write them.
const USER_PYPIRC = `# ~/.pypirc: twine and flit read this
[distutils]
index-servers =
    pypi
    corp

[pypi]
username = __token__
password = pypi-AgEIcHlwaS5vcmcCJDAwMDAwMDAw

; the company's artifactory
[corp]
repository = https://corp.example.com/artifactory/api/pypi/pypi-local
username = ci-bot
`;

/** The corporate extra index is a closed loopback port, so that nothing leaves the machine. */
const USER_PIP_CONF = `# pip configuration (see pip config debug)
[global]
timeout = 30
extra-index-url =
    # the corporate mirror
    http://127.0.0.1:9/corp/simple/

[install]
no-compile = yes
`;

const USER_POETRY_CONFIG = `[virtualenvs]
in-project = true
prefer-active-python = false

[installer]
max-workers = 4
`;

function writeUserFiles(root: string): void {
  writeFileSync(join(root, 'home', '.pypirc'), USER_PYPIRC, { mode: 0o644 });
  mkdirSync(join(root, 'xdg', 'config', 'pip'), { recursive: true });
  writeFileSync(join(root, 'xdg', 'config', 'pip', 'pip.conf'), USER_PIP_CONF, { mode: 0o644 });
  writeFileSync(join(root, 'poetry', 'config', 'config.toml'), USER_POETRY_CONFIG, { mode: 0o644 });
}

function modeOf(path: string): number {
  return lstatSync(path).mode & 0o777;
}

/** The running daemon's index and upload URLs, from `pyrepo status --json`. */
async function statusOf(opts: RunOptions): Promise<{ url: string; uploadUrl: string }> {
  const r = await runCli(['status', '--json'], opts);
  expect(r.code, r.output).toBe(0);
  const { url, uploadUrl } = JSON.parse(r.stdout) as StatusOutput;
  if (!url || !uploadUrl) throw new Error(`pyrepo is not running:\n${r.output}`);
  return { url, uploadUrl };
}

/** The versions the index has of `project`, newest first, from its PyPI JSON API (no admin identity needed). */
async function versionsOf(indexUrl: string, project: string): Promise<string[]> {
  const res = await fetch(`${indexUrl.replace(/\/simple\/$/, '')}/pypi/${project}/json`, { signal: AbortSignal.timeout(10_000) });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { releases: Record<string, unknown> };
  return Object.keys(body.releases).sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
}

// ---------------------------------------------------------------------------------------
// 1. No keychain

// Skips only on a developer's machine without the tools: in CI (CI=true) requireTools throws instead.
describe.skipIf(CLIENTS.length > 0)('configure without a keychain, with the real clients', () => {
  let root: string;
  let opts: RunOptions;
  let url: string;
  let uploadUrl: string;
  let admin: string;
  let token: string;
  let original: Map<string, Entry>;
  const paths = () => ({
    pypirc: join(root, 'home', '.pypirc'),
    pip: join(root, 'xdg', 'config', 'pip', 'pip.conf'),
    poetryConfig: join(root, 'poetry', 'config', 'config.toml'),
    poetryAuth: join(root, 'poetry', 'config', 'auth.toml'),
    pdm: join(root, 'xdg', 'config', 'pdm', 'config.toml'),
  });

  beforeAll(async () => {
    ensureBuilt();
    root = await makeTempRoot('pyrepo-configure-');
    const env = isolatedEnv(root);
    // The tools read the user's pip.conf; and no D-Bus session: a headless machine.
    delete env.PIP_CONFIG_FILE;
    delete env.DBUS_SESSION_BUS_ADDRESS;
    opts = { env, cwd: root, timeoutMs: 120_000 };
    const init = await runCli(['init', '--yes', '--no-configure', '--port', '0'], opts);
    expect(init.code, init.output).toBe(0);
    ({ url, uploadUrl } = await statusOf(opts));
    const secrets = JSON.parse(readFileSync(join(root, 'pyrepo-home', 'config', 'secrets.json'), 'utf8')) as { entries: { service: string; secret: string }[] };
    admin = secrets.entries.find((e) => e.service === 'pyrepo-admin')?.secret as string;
    expect(admin).toMatch(/^\S{20,}$/);
    writeUserFiles(root);
    original = snapshot(root, CONFIG_DIRS);
  }, 60_000);

  afterAll(async () => {
    if (opts) await runCli(['stop'], opts);
    await removeTemp(root);
  });

  it('--dry-run prints unified diffs with the password masked, and changes nothing', async () => {
    const r = await runCli(['configure', '--dry-run'], opts);
    expect(r.code, r.output).toBe(0);
    const p = paths();
    expect(r.stdout).toContain(`+++ ${p.pypirc}`);
    expect(r.stdout).toContain(`+    ${url}`);
    expect(r.stdout).toContain(`+repository = ${uploadUrl}`);
    expect(r.stdout).toContain('+password = ********');
    expect(r.stdout).toContain(`+url = "${uploadUrl}"`);
    expect(r.stdout).toMatch(new RegExp(`--- /dev/null\\s+\\+\\+\\+ ${p.poetryAuth}`));
    expect(r.output).not.toContain(admin);
    expect(differences(original, snapshot(root, CONFIG_DIRS))).toEqual([]);
  });

  it('configure writes every file with an upload token, never the admin password (mode 0600, no keychain), and says so', async () => {
    const r = await runCli(['configure'], opts);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toMatch(/Configured pypirc, pip, poetry, pdm/);
    expect(r.stderr).toMatch(/Tokens: written into the tools' own files \(mode 0600\), since no OS keychain is usable \(no Secret Service/);
    const made = /Made API token ([a-z0-9]{8}) \('configure: uploads'\) for the tools/.exec(r.stdout);
    expect(made, r.stdout).not.toBeNull();
    token = tokenIn(readFileSync(paths().pypirc, 'utf8'));
    expect(token.startsWith(`pyrepo_${made?.[1]}_`)).toBe(true);
    const p = paths();
    expect(r.stdout).toMatch(new RegExp(`${p.pypirc}: updated \\(backup: `));
    expect(r.stdout).toContain(`${p.pdm}: created`);
    expect(readFileSync(p.pypirc, 'utf8')).toContain(`[pyrepo]\nrepository = ${uploadUrl}\nusername = __token__\npassword = ${token}\n`);
    expect(readFileSync(p.poetryAuth, 'utf8')).toContain(`username = "__token__"\npassword = "${token}"`);
    expect(readFileSync(p.pdm, 'utf8')).toContain(`username = "__token__"\npassword = "${token}"`);
    for (const file of [p.pypirc, p.poetryAuth, p.pdm]) expect(modeOf(file), file).toBe(0o600);
    // Reads are open: pip.conf holds no credential and keeps its mode.
    expect(modeOf(p.pip)).toBe(0o644);
    expect(filesHolding(join(root, 'home'), admin)).toEqual([]);
    expect(filesHolding(join(root, 'xdg'), admin)).toEqual([]);
    expect(filesHolding(join(root, 'poetry'), admin)).toEqual([]);
    // pip beside PyPI: the risk, in one sentence, with the way out.
    expect(r.stderr).toContain('(dependency confusion); `pyrepo configure --pip --primary` makes pyrepo pip\'s only index.');
    const list = await runCli(['token', 'list'], opts);
    expect(list.stdout).toMatch(new RegExp(`^${made?.[1]}\\s+admin\\s+configure: uploads\\s`, 'm'));
  });

  it('the upload token cannot use the control API (it is not the admin password)', async () => {
    const res = await fetch(`${url.replace(/\/simple\/$/, '')}/-/api/projects`, { headers: { authorization: `Basic ${Buffer.from(`__token__:${token}`).toString('base64')}` } });
    expect(res.status).toBe(403);
  });

  it('pip config list shows the index among the extra-index-urls, for both pips', async () => {
    for (const python of [CURRENT_PIP_PYTHON, PY]) {
      const r = await run(python, ['-m', 'pip', 'config', 'list'], opts);
      expect(r.code, r.output).toBe(0);
      const line = /^global\.extra-index-url='([^']*)'$/m.exec(r.stdout.replace(/\\n/g, ' '));
      expect(line?.[1]?.trim().split(/\s+/), r.stdout).toEqual(['http://127.0.0.1:9/corp/simple/', url]);
    }
  });

  it('pip installs a package only the pyrepo index has, through pip.conf alone', async () => {
    const project = await writePythonProject(join(root, 'only-here'), { name: 'only-here', version: '1.0.0' });
    await buildPythonProject(project, join(project, 'dist'));
    const publish = await runCli(['publish'], { ...opts, cwd: project });
    expect(publish.code, publish.output).toBe(0);
    // PyPI stays the primary index; here it is a closed port, so nothing leaves the machine.
    const env = { ...opts.env, PIP_INDEX_URL: 'http://127.0.0.1:9/simple/' };
    for (const [python, target] of [[CURRENT_PIP_PYTHON, 'site-a'], [PY, 'site-b']] as const) {
      const pip = await run(python, ['-m', 'pip', 'install', '--no-deps', '--no-cache-dir', '--retries', '0', '--timeout', '5', '--target', join(root, target), 'only-here==1.0.0'], { ...opts, env });
      expect(pip.code, pip.output).toBe(0);
      expect(existsSync(join(root, target, 'only_here', '__init__.py'))).toBe(true);
    }
  });

  it('twine uploads with `-r pyrepo` and no user name or password on the command line', async () => {
    const project = await writePythonProject(join(root, 'only-here-2'), { name: 'only-here', version: '1.1.0' });
    const built = await buildPythonProject(project, join(project, 'dist'));
    const twine = await run(PY, ['-m', 'twine', 'upload', '--non-interactive', '-r', 'pyrepo', built.wheel, built.sdist], opts);
    expect(twine.code, twine.output).toBe(0);
    expect(twine.output).toContain(`Uploading distributions to ${uploadUrl}`);
    expect(await versionsOf(url, 'only-here')).toEqual(['1.1.0', '1.0.0']);
  });

  it('poetry sees the repository and publishes to it with `poetry publish -r pyrepo`', async () => {
    const list = await run('poetry', ['config', '--list'], opts);
    expect(list.code, list.output).toBe(0);
    expect(list.stdout).toContain(`repositories.pyrepo.url = "${uploadUrl}"`);
    // The user's own settings are still read.
    expect(list.stdout).toContain('installer.max-workers = 4');
    const project = writePoetryProject(join(root, 'poet'), 'poet-pkg', '0.1.0');
    const build = await run('poetry', ['build'], { ...opts, cwd: project });
    expect(build.code, build.output).toBe(0);
    const publish = await run('poetry', ['publish', '-r', 'pyrepo'], { ...opts, cwd: project });
    expect(publish.code, publish.output).toBe(0);
    expect(publish.stdout).toContain('Publishing poet-pkg (0.1.0) to pyrepo');
    expect(await versionsOf(url, 'poet-pkg')).toEqual(['0.1.0']);
  });

  it('pdm publishes with `pdm publish -r pyrepo --no-build`', async () => {
    const project = await writePythonProject(join(root, 'pdm-project'), { name: 'pdm-pkg', version: '0.2.0' });
    await buildPythonProject(project, join(project, 'dist'));
    const publish = await run('pdm', ['publish', '-r', 'pyrepo', '--no-build'], { ...opts, cwd: project });
    expect(publish.code, publish.output).toBe(0);
    expect(await versionsOf(url, 'pdm-pkg')).toEqual(['0.2.0']);
  });

  it('doctor sees pip.conf, ~/.pypirc and each other configured tool pointing at the index', async () => {
    const r = await runCli(['doctor', '--json'], opts);
    const checks = (JSON.parse(r.stdout) as DoctorOutput).checks;
    const verdict = (name: string) => checks.find((c) => c.check === name);
    expect(verdict('pip.conf')?.verdict, r.stdout).toBe('ok');
    expect(verdict('~/.pypirc')?.verdict, r.stdout).toBe('ok');
    for (const tool of ['poetry', 'pdm']) expect(verdict(tool), r.stdout).toMatchObject({ verdict: 'ok', detail: expect.stringContaining(' points at http://127.0.0.1:') });
  });

  it('a second configure reuses the token, reports "already set" and changes no byte', async () => {
    const before = snapshot(root, CONFIG_DIRS);
    const r = await runCli(['configure'], opts);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain(`Reused API token ${token.split('_')[1]} ('configure: uploads').`);
    expect((await runCli(['token', 'list', '--json'], opts)).stdout.match(/configure: uploads/g)).toHaveLength(1);
    const fileLines = r.stdout.split('\n').filter((l) => /^\s{2}\S+\s+\//.test(l));
    expect(fileLines.length).toBeGreaterThanOrEqual(5);
    for (const l of fileLines) expect(l).toMatch(/: already set$/);
    expect(differences(before, snapshot(root, CONFIG_DIRS))).toEqual([]);
    // A dry run whose diff holds the token it would reuse shows ******** (configure and unconfigure alike).
    for (const args of [['configure', '--dry-run', '--name', 'other'], ['unconfigure', '--dry-run']]) {
      const dry = await runCli(args, opts);
      expect(dry.code, dry.output).toBe(0);
      expect(dry.stdout).toContain('********');
      expect(dry.output).not.toContain(token);
    }
    expect((await runCli(['configure', '--dry-run', '--name', 'other'], opts)).stdout).toContain(`token: would reuse ${token.split('_')[1]} ('configure: uploads')`);
    expect(differences(before, snapshot(root, CONFIG_DIRS))).toEqual([]);
  });

  it('doctor fails pdm when its file holds no password, as `pdm publish` then really fails without a terminal', async () => {
    const p = paths();
    const good = readFileSync(p.pdm, 'utf8');
    try {
      // What configure wrote before (the password left to a keychain pdm does not read).
      writeFileSync(p.pdm, good.replace(`password = "${token}"\n`, ''));
      const project = await writePythonProject(join(root, 'pdm-nopw'), { name: 'pdm-nopw', version: '0.1.0' });
      await buildPythonProject(project, join(project, 'dist'));
      const publish = await run('pdm', ['publish', '-r', 'pyrepo', '--no-build'], { ...opts, cwd: project });
      expect(publish.code, publish.output).not.toBe(0);
      expect(publish.output).toContain('Username and password are required');
      const r = await runCli(['doctor', '--json'], opts);
      const pdm = (JSON.parse(r.stdout) as DoctorOutput).checks.find((c) => c.check === 'pdm' && c.verdict !== 'ok' && c.verdict !== 'info');
      expect(pdm, r.stdout).toMatchObject({ verdict: 'fail', detail: expect.stringContaining('`pdm publish -r pyrepo` fails without a terminal') });
    } finally {
      writeFileSync(p.pdm, good);
    }
  });

  it('a token revoked meanwhile: doctor says so, and configure replaces it', async () => {
    const id = token.split('_')[1] as string;
    expect((await runCli(['token', 'revoke', id], opts)).code).toBe(0);
    const doctor = await runCli(['doctor', '--json'], opts);
    expect((JSON.parse(doctor.stdout) as DoctorOutput).checks.find((c) => c.check === 'tool tokens'), doctor.stdout).toMatchObject({ verdict: 'fail' });
    const r = await runCli(['configure'], opts);
    expect(r.code, r.output).toBe(0);
    const fresh = tokenIn(readFileSync(paths().pypirc, 'utf8'));
    expect(fresh).not.toBe(token);
    expect(r.stdout).toContain(`Made API token ${fresh.split('_')[1]}`);
    expect(readFileSync(paths().pdm, 'utf8')).toContain(fresh);
    token = fresh;
  });

  it('unconfigure gives every file back byte for byte, removes the files and folders pyrepo created, and revokes the token', async () => {
    const r = await runCli(['unconfigure'], opts);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain(`Revoked the API tokens configure had made: ${token.split('_')[1]}.`);
    expect((await runCli(['token', 'list'], opts)).stdout).not.toContain('configure: uploads');
    expect(r.stdout).toContain(`${paths().pypirc}: restored as it was`);
    expect(r.stdout).toContain(`${paths().pdm}: removed (pyrepo had created it)`);
    expect(differences(original, snapshot(root, CONFIG_DIRS))).toEqual([]);
    expect(existsSync(join(root, 'xdg', 'config', 'pdm'))).toBe(false);
  });

  it("keeps a hand edit of pip.conf made after configure, and takes out only pyrepo's entries", async () => {
    const configure = await runCli(['configure'], opts);
    expect(configure.code, configure.output).toBe(0);
    const p = paths();
    const configured = readFileSync(p.pip, 'utf8');
    expect(configured).toContain(url);
    writeFileSync(p.pip, configured.replace('timeout = 30\n', 'timeout = 30\nretries = 3\n'));
    const r = await runCli(['unconfigure'], opts);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain(`${p.pip}: pyrepo's entries removed (the file had changed since, so the rest was kept)`);
    const expected = new Map(original);
    expected.set(relative(root, p.pip), { kind: 'file', mode: 0o644, data: Buffer.from(USER_PIP_CONF.replace('timeout = 30\n', 'timeout = 30\nretries = 3\n')) });
    expect(differences(expected, snapshot(root, CONFIG_DIRS))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// 2 and 4. A real Secret Service (gnome-keyring in a private D-Bus session)

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
}

/** An HTTP proxy to `target` that records each request's method, path and Authorization. */
async function recordingProxy(target: string): Promise<{ base: string; seen: Seen[]; close: () => Promise<void> }> {
  const to = new URL(target);
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    const headers: IncomingHttpHeaders = { ...req.headers, host: to.host };
    const up = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', (err) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy: ${err.message}`);
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}


// Skips only on a developer's machine without the tools: in CI (CI=true) requireTools throws instead.
describe.skipIf(CLIENTS.length > 0 || SESSION_TOOLS.length > 0)('configure with a real Secret Service (gnome-keyring over D-Bus)', () => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  let opts: RunOptions;
  let daemonUrl: string;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  let base: string;
  let admin: string;
  let original: Map<string, Entry>;
  /** Runs a script body in a new D-Bus session with the keyring unlocked (env as it is at that moment). */
  const inSession = keyringSession(() => root, () => env);

  const uploadUrl = () => `${base}/legacy/`;
  const indexUrl = () => `${base}/simple/`;
  const files = () => ({
    pypirc: join(root, 'home', '.pypirc'),
    pip: join(root, 'xdg', 'config', 'pip', 'pip.conf'),
    poetryConfig: join(root, 'poetry', 'config', 'config.toml'),
    poetryAuth: join(root, 'poetry', 'config', 'auth.toml'),
    pdm: join(root, 'xdg', 'config', 'pdm', 'config.toml'),
  });
  /** Each tool's keychain item, as the tool looks it up (pdm's and pip's are in their files: see below). */
  const lookups = () => `
mark twine "$(kr "$UPLOAD_URL" __token__)"
mark poetry "$(kr poetry-repository-pyrepo __token__)"
mark pip "$(${PY} -c 'import keyring, sys; c = keyring.get_credential(sys.argv[1], None); print(f"{c.username}:{c.password}" if c else None)' "$INDEX_URL")"
`;
  let token: string;

  beforeAll(async () => {
    ensureBuilt();
    root = await makeTempRoot('pyrepo-keychain-');
    env = sessionEnv(isolatedEnv(root), root, CLI_PATH);
    // pip reads pip.conf.
    delete env.PIP_CONFIG_FILE;
    opts = { env, cwd: root, timeoutMs: 120_000 };
    const init = await inSession(`pyrepo init --yes --no-configure --port 0; mark rc $?\nmark admin "$(kr pyrepo-admin admin)"\n`);
    expect(init.marks.rc, init.output).toBe('0');
    expect(init.stdout).toContain('kept in the Secret Service keyring');
    admin = init.marks.admin as string;
    expect(admin).toMatch(/^\S{20,}$/);
    // The admin password is in the keychain, not in a file.
    expect(existsSync(join(root, 'pyrepo-home', 'config', 'secrets.json'))).toBe(false);
    daemonUrl = (await statusOf(opts)).url.replace(/\/simple\/$/, '');
    proxy = await recordingProxy(daemonUrl);
    base = proxy.base;
    env = { ...env, UPLOAD_URL: uploadUrl(), INDEX_URL: indexUrl() };
    opts = { ...opts, env };
    writeUserFiles(root);
    original = snapshot(root, CONFIG_DIRS);
  }, 120_000);

  afterAll(async () => {
    if (opts) await runCli(['stop'], opts);
    await proxy?.close();
    await removeTemp(root);
  });

  it("configure keeps twine's and poetry's upload token in the Secret Service under the names they look up, pdm's in its 0600 file, and the admin password nowhere", async () => {
    const r = await inSession(`pyrepo configure --url "${base}"; mark rc $?\n${lookups()}`);
    expect(r.marks.rc, r.output).toBe('0');
    expect(r.stdout).toContain('Tokens: for twine and poetry in the Secret Service keyring; for pdm in its own file (mode 0600), the only place it reads one.');
    token = r.marks.twine as string;
    expect(token).toMatch(/^pyrepo_[a-z0-9]{8}_/);
    expect(r.stdout).toContain(`Made API token ${token.split('_')[1]} ('configure: uploads')`);
    expect(r.marks.poetry).toBe(token);
    // Reads are open: pip needs nothing.
    expect(r.marks.pip).toBe('None');
    const f = files();
    for (const file of Object.values(f)) expect(readFileSync(file, 'utf8'), file).not.toContain(admin);
    expect(readFileSync(f.pypirc, 'utf8')).toContain(`[pyrepo]\nrepository = ${uploadUrl()}\nusername = __token__\n`);
    expect(readFileSync(f.pypirc, 'utf8')).not.toContain(token);
    expect(readFileSync(f.poetryAuth, 'utf8')).toBe('[http-basic.pyrepo]\nusername = "__token__"\n');
    // pdm 2.2 asks the keychain only at a prompt: its token is in its own file.
    expect(readFileSync(f.pdm, 'utf8')).toContain(`[repository.pyrepo]\nurl = "${uploadUrl()}"\nusername = "__token__"\npassword = "${token}"\n`);
    expect(modeOf(f.pdm)).toBe(0o600);
    // .pypirc keeps the user's other passwords, so it stays private; the others keep their modes.
    expect(modeOf(f.pypirc)).toBe(0o600);
    expect(modeOf(f.pip)).toBe(0o644);
  });

  it('twine and poetry publish with the token from the keychain (the proxy sees it), pdm with the one in its file, without a terminal; doctor reports it', async () => {
    const project = await writePythonProject(join(root, 'kc-twine'), { name: 'kc-twine', version: '1.0.0' });
    const built = await buildPythonProject(project, join(project, 'dist'));
    const poet = writePoetryProject(join(root, 'kc-poet'), 'kc-poet', '0.3.0');
    const pdmProject = await writePythonProject(join(root, 'kc-pdm'), { name: 'kc-pdm', version: '0.4.0' });
    await buildPythonProject(pdmProject, join(pdmProject, 'dist'));
    const r = await inSession(
      `${PY} -m twine upload --non-interactive -r pyrepo "${built.wheel}" "${built.sdist}"; mark twine $?
poetry config --list | grep '^repositories\\.'; mark poetry-list $?
(cd "${poet}" && poetry build >/dev/null && poetry publish -r pyrepo); mark poetry $?
(cd "${pdmProject}" && pdm publish -r pyrepo --no-build </dev/null); mark pdm $?
pyrepo doctor; mark doctor $?
`,
    );
    expect(r.marks.twine, r.output).toBe('0');
    expect(r.marks['poetry-list'], r.output).toBe('0');
    expect(r.stdout).toContain(`repositories.pyrepo.url = "${uploadUrl()}"`);
    expect(r.marks.poetry, r.output).toBe('0');
    expect(r.marks.pdm, r.output).toBe('0');
    expect(r.stdout).toMatch(/secrets\s+kept in the Secret Service keyring/);
    expect(r.stdout).toMatch(/ok\s+pdm\s+\S+config\.toml points at/);

    const basic = `Basic ${Buffer.from(`__token__:${token}`).toString('base64')}`;
    const uploads = proxy.seen.filter((s) => s.method === 'POST' && s.url === '/legacy/');
    // twine: a wheel and an sdist; poetry: the same; pdm: the same.
    expect(uploads.length).toBe(6);
    for (const u of uploads) expect(u.authorization).toBe(basic);
    expect(await versionsOf(daemonUrl, 'kc-twine')).toEqual(['1.0.0']);
    expect(await versionsOf(daemonUrl, 'kc-poet')).toEqual(['0.3.0']);
    expect(await versionsOf(daemonUrl, 'kc-pdm')).toEqual(['0.4.0']);
  });

  it('unconfigure deletes the keychain items, revokes the token and gives every file back byte for byte', async () => {
    const r = await inSession(`pyrepo unconfigure; mark rc $?\n${lookups()}mark admin "$(kr pyrepo-admin admin)"\n`);
    expect(r.marks.rc, r.output).toBe('0');
    expect(r.stdout).toContain(`Revoked the API tokens configure had made: ${token.split('_')[1]}.`);
    for (const tool of ['twine', 'poetry', 'pip']) expect(r.marks[tool], tool).toBe('None');
    // The admin identity itself stays.
    expect(r.marks.admin).toBe(admin);
    expect(differences(original, snapshot(root, CONFIG_DIRS))).toEqual([]);
  });

  it('configure --no-keychain writes the token into the files (0600), says why, and deletes the copies the keychain held', async () => {
    const r = await inSession(`pyrepo configure --url "${base}"; mark first $?
pyrepo configure --url "${base}" --no-keychain; mark rc $?
${lookups()}`);
    expect(r.marks.first, r.output).toBe('0');
    expect(r.marks.rc, r.output).toBe('0');
    expect(r.stderr).toContain("Tokens: written into the tools' own files (mode 0600), since --no-keychain was given.");
    for (const tool of ['twine', 'poetry', 'pip']) expect(r.marks[tool], tool).toBe('None');
    const f = files();
    const t = /^password = (pyrepo_\S+)$/m.exec(readFileSync(f.pypirc, 'utf8'))?.[1] as string;
    expect(r.stdout).toContain(`Reused API token ${t.split('_')[1]}`);
    expect(readFileSync(f.pypirc, 'utf8')).toContain(`username = __token__\npassword = ${t}\n`);
    expect(readFileSync(f.poetryAuth, 'utf8')).toBe(`[http-basic.pyrepo]\nusername = "__token__"\npassword = "${t}"\n`);
    expect(readFileSync(f.pdm, 'utf8')).toContain(`password = "${t}"`);
    for (const file of Object.values(f)) expect(readFileSync(file, 'utf8'), file).not.toContain(admin);
    for (const file of [f.pypirc, f.poetryAuth, f.pdm]) expect(modeOf(file), file).toBe(0o600);

    const un = await inSession('pyrepo unconfigure; mark rc $?\n');
    expect(un.marks.rc, un.output).toBe('0');
    expect(differences(original, snapshot(root, CONFIG_DIRS))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// 3. Malformed files

describe('configure refuses a malformed file before writing anything', () => {
  let root: string;
  let opts: RunOptions;

  beforeAll(async () => {
    ensureBuilt();
    root = await makeTempRoot('pyrepo-malformed-');
    const env = isolatedEnv(root);
    delete env.DBUS_SESSION_BUS_ADDRESS;
    opts = { env, cwd: root, timeoutMs: 60_000 };
    // No daemon needed: with a fixed port, configure takes the URL from the settings.
    const init = await runCli(['init', '--yes', '--no-start', '--no-configure', '--port', '18645'], opts);
    expect(init.code, init.output).toBe(0);
  });

  afterAll(async () => {
    await removeTemp(root);
  });

  const cases: { what: string; file: (root: string) => string; text: string; line: number; also?: string }[] = [
    { what: 'pip.conf with a line that is not INI', file: (r) => join(r, 'xdg', 'config', 'pip', 'pip.conf'), text: '[global]\ntimeout = 30\nthis is not ini\n', line: 3 },
    { what: 'pip.conf with a duplicate section', file: (r) => join(r, 'xdg', 'config', 'pip', 'pip.conf'), text: '[global]\ntimeout = 30\n\n[install]\nuser = 1\n\n[global]\nretries = 2\n', line: 7 },
    { what: '.pypirc with a duplicate option', file: (r) => join(r, 'home', '.pypirc'), text: '[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = a\nusername = b\n', line: 6 },
    { what: '.pypirc with an option before any section', file: (r) => join(r, 'home', '.pypirc'), text: 'username = a\n[pypi]\n', line: 1 },
    { what: "poetry's config.toml that is not TOML", file: (r) => join(r, 'poetry', 'config', 'config.toml'), text: '[virtualenvs]\nin-project = true\n[installer\n', line: 3 },
  ];

  it.each(cases)('$what: exit 1, the file and line named, no file changed', async ({ file, text, line }) => {
    writeUserFiles(root);
    const path = file(root);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
    const before = snapshot(root, CONFIG_DIRS);
    const r = await runCli(['configure', '--pypirc', '--pip', '--poetry', '--pdm'], opts);
    expect(r.code, r.output).toBe(1);
    expect(r.stderr).toContain(`${path}: line ${line}:`);
    expect(r.stderr).toContain('pyrepo changed nothing');
    expect(differences(before, snapshot(root, CONFIG_DIRS))).toEqual([]);
    expect(existsSync(join(root, 'pyrepo-home', 'config', 'client-config.json'))).toBe(false);
  });
});
