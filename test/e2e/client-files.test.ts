/**
 * What `pyrepo configure` writes, proved with the real tools of this machine:
 *
 * 1. `init --yes` on a machine without a Secret Service leaves the admin password in no
 *    file outside pyrepo's own folder; config files that are symbolic links (dotfiles
 *    managers) stay links, and after unconfigure HOME is exactly as it was (a full listing
 *    with modes and link targets); a dangling link is refused and nothing changes.
 * 2. An extra index the user already has, in any spelling pip accepts, keeps working
 *    beside pyrepo's (`pip download` from two local indexes); `--primary` replaces an
 *    `index_url` in place.
 * 3. The poetry snippet configure prints works with poetry 1.3 (lock and install from the
 *    index; the landing page's command for older poetry is accepted), and the Pipfile
 *    snippet works with Debian's pipenv.
 * 4. With reads protected, the pip.conf configure writes works for pip in a fresh venv
 *    (no keyring there), with a read-only token; doctor fails the file without it, which
 *    venv pip cannot use either.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorOutput } from '../../src/cli/json-output.js';
import { ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, run, runCli, runningBaseUrl, startDaemon, type RunningTestDaemon, type RunOptions } from '../helpers/daemon.js';
import { DEBIAN_PYTHON, requireTools } from '../helpers/keyring-session.js';
import { buildPythonProject, writePoetryProject, writePythonProject } from '../helpers/python-project.js';

const PY = DEBIAN_PYTHON;
const CLIENTS = requireTools('client files e2e', [['python3', ['-m', 'pip', '--version']], [PY, ['-m', 'pip', '--version']], [PY, ['-m', 'twine', '--version']], [PY, ['-m', 'venv', '--help']], ['poetry'], ['pdm'], ['pipenv']]);

/** A closed loopback port standing in for PyPI: nothing leaves the machine. */
const NO_PYPI = 'http://127.0.0.1:9/simple/';

/** Every entry under `dir`: kind, mode, link target, content digest. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    const st = lstatSync(path);
    const rel = relative(dir, path) || '.';
    if (st.isSymbolicLink()) out.push(`${rel} link -> ${readlinkSync(path)}`);
    else if (st.isDirectory()) {
      out.push(`${rel} dir ${(st.mode & 0o777).toString(8)}`);
      for (const name of readdirSync(path).sort()) walk(join(path, name));
    } else out.push(`${rel} file ${(st.mode & 0o777).toString(8)} ${createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16)}`);
  };
  walk(dir);
  return out;
}

/** Files under `dir` (links followed) whose bytes contain `secret`. */
function filesHolding(dir: string, secret: string): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    const st = lstatSync(path);
    if (st.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
    else if (st.isFile() && readFileSync(path).includes(secret)) out.push(path);
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/** The admin password from the 0600 secrets file (no keychain in these tests). */
function adminPassword(root: string): string {
  const { entries } = JSON.parse(readFileSync(join(root, 'pyrepo-home', 'config', 'secrets.json'), 'utf8')) as { entries: { service: string; secret: string }[] };
  return entries.find((e) => e.service === 'pyrepo-admin')?.secret as string;
}

/** An environment whose tool configs live in HOME (~/.config), as on a real machine, with no keychain. */
function homeEnv(root: string): NodeJS.ProcessEnv {
  const env = isolatedEnv(root);
  for (const k of ['XDG_CONFIG_HOME', 'POETRY_CONFIG_DIR', 'PIP_CONFIG_FILE', 'DBUS_SESSION_BUS_ADDRESS']) delete env[k];
  return env;
}

/** The block configure printed after `marker`, its 4-space indent removed. */
function snippetAfter(stdout: string, marker: string): string {
  const lines = stdout.split('\n');
  const at = lines.findIndex((l) => l.includes(marker));
  if (at < 0) throw new Error(`no '${marker}' in:\n${stdout}`);
  const block: string[] = [];
  for (const line of lines.slice(at + 1)) {
    if (!line.startsWith('    ')) break;
    block.push(line.slice(4));
  }
  return block.join('\n');
}

async function publishTo(opts: RunOptions, root: string, name: string, version: string): Promise<void> {
  const project = await writePythonProject(join(root, `${name}-${version}`), { name, version });
  await buildPythonProject(project, join(project, 'dist'));
  const r = await runCli(['publish'], { ...opts, cwd: project });
  expect(r.code, r.output).toBe(0);
}

// ---------------------------------------------------------------------------------------
// 1. No admin password in the tools' files; symbolic links

describe.skipIf(CLIENTS.length > 0)('init --yes without a keychain, and config files that are symbolic links', () => {
  let root: string;
  let opts: RunOptions;
  let home: string;

  beforeAll(async () => {
    ensureBuilt();
    root = await makeTempRoot('pyrepo-links-');
    home = join(root, 'home');
    opts = { env: homeEnv(root), cwd: root, timeoutMs: 120_000 };
  });

  afterAll(async () => {
    if (opts) await runCli(['stop'], opts);
    await removeTemp(root);
  });

  it('init --yes configures the tools with a token: the admin password is in no file outside pyrepo\'s folder', async () => {
    const r = await runCli(['init', '--yes', '--port', '0'], opts);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toMatch(/Made API token [a-z0-9]{8} \('configure: uploads'\)/);
    const admin = adminPassword(root);
    expect(readFileSync(join(home, '.pypirc'), 'utf8')).toContain('username = __token__');
    expect(filesHolding(home, admin)).toEqual([]);
    expect(filesHolding(join(root, 'xdg'), admin)).toEqual([]);
    const un = await runCli(['unconfigure'], opts);
    expect(un.code, un.output).toBe(0);
    expect(readdirSync(home)).toEqual([]);
  });

  it('edits the files links point to, keeps the links, and unconfigure leaves HOME exactly as it was', async () => {
    const dotfiles = join(home, 'dotfiles');
    mkdirSync(join(dotfiles, 'pip'), { recursive: true });
    writeFileSync(join(dotfiles, 'pypirc'), '[distutils]\nindex-servers =\n    pypi\n\n[pypi]\nusername = __token__\n', { mode: 0o600 });
    writeFileSync(join(dotfiles, 'pip', 'pip.conf'), '[global]\ntimeout = 30\n', { mode: 0o644 });
    writeFileSync(join(dotfiles, 'poetry-config.toml'), '[virtualenvs]\nin-project = true\n', { mode: 0o640 });
    mkdirSync(join(home, '.config', 'pypoetry'), { recursive: true });
    symlinkSync('dotfiles/pypirc', join(home, '.pypirc')); // relative, to a file
    symlinkSync('../dotfiles/pip', join(home, '.config', 'pip')); // to a folder
    symlinkSync(join(dotfiles, 'poetry-config.toml'), join(home, '.config', 'pypoetry', 'config.toml')); // absolute
    const before = listing(home);

    const r = await runCli(['configure'], opts);
    expect(r.code, r.output).toBe(0);
    expect(lstatSync(join(home, '.pypirc')).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(home, '.config', 'pip')).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(home, '.config', 'pypoetry', 'config.toml')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dotfiles, 'pypirc'), 'utf8')).toContain('[pyrepo]');
    expect(readFileSync(join(dotfiles, 'poetry-config.toml'), 'utf8')).toContain('[repositories.pyrepo]');
    // The tools read through the links.
    const pip = await run('python3', ['-m', 'pip', 'config', 'list'], opts);
    expect(pip.stdout, pip.output).toContain(`global.extra-index-url='${await runningBaseUrl(opts)}/simple/'`);
    const poetry = await run('poetry', ['config', '--list'], opts);
    expect(poetry.stdout, poetry.output).toContain('repositories.pyrepo.url');

    const un = await runCli(['unconfigure'], opts);
    expect(un.code, un.output).toBe(0);
    expect(listing(home)).toEqual(before);
  });

  it('refuses a dangling link, naming it, and changes nothing', async () => {
    rmSync(join(home, '.pypirc'));
    symlinkSync('dotfiles/gone', join(home, '.pypirc'));
    const before = listing(home);
    const r = await runCli(['configure'], opts);
    expect(r.code, r.output).toBe(1);
    expect(r.stderr).toContain(`${join(home, '.pypirc')} is a symbolic link to dotfiles/gone, which does not exist`);
    expect(listing(home)).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------
// 2 and 3. The user's own extra index; the poetry and Pipfile snippets

describe.skipIf(CLIENTS.length > 0)("the user's extra index in any spelling, and the poetry and Pipfile snippets", () => {
  let root: string;
  let opts: RunOptions;
  let corp: RunningTestDaemon;
  let base: string;
  const pipConf = () => join(root, 'home', '.config', 'pip', 'pip.conf');

  beforeAll(async () => {
    ensureBuilt();
    // The user's other index (another pyrepo, open to all) with a project only it has.
    corp = await startDaemon();
    const corpProject = await writePythonProject(join(corp.root, 'corp-only'), { name: 'corp-only', version: '2.0.0' });
    const built = await buildPythonProject(corpProject, join(corpProject, 'dist'));
    const up = await run(PY, ['-m', 'twine', 'upload', '--non-interactive', '--repository-url', `${corp.url}/legacy/`, '-u', 'x', '-p', 'y', built.wheel], { env: isolatedEnv(corp.root), cwd: corp.root });
    expect(up.code, up.output).toBe(0);

    root = await makeTempRoot('pyrepo-spellings-');
    opts = { env: homeEnv(root), cwd: root, timeoutMs: 240_000 };
    const init = await runCli(['init', '--yes', '--no-configure', '--port', '0'], opts);
    expect(init.code, init.output).toBe(0);
    base = await runningBaseUrl(opts);
    await publishTo(opts, root, 'only-here', '1.0.0');
  }, 120_000);

  afterAll(async () => {
    if (opts) await runCli(['stop'], opts);
    await corp?.stop();
    await removeTemp(root);
    await removeTemp(corp?.root);
  });

  it.each(['extra_index_url', 'Extra-Index-Url', '--extra-index-url'])('%s: the user\'s index and pyrepo\'s both serve pip, and unconfigure gives the file back', async (key) => {
    const original = `[global]\n${key} = ${corp.url}/simple/\n`;
    mkdirSync(join(pipConf(), '..'), { recursive: true });
    writeFileSync(pipConf(), original);
    const r = await runCli(['configure', '--pip'], opts);
    expect(r.code, r.output).toBe(0);
    expect(readFileSync(pipConf(), 'utf8')).toBe(`[global]\n${key} = ${corp.url}/simple/ ${base}/simple/\n`);
    const dest = join(root, `dl-${key}`);
    const pip = await run('python3', ['-m', 'pip', 'download', '--no-deps', '--no-cache-dir', '--retries', '0', '--timeout', '5', '-d', dest, 'corp-only', 'only-here'], {
      ...opts,
      env: { ...opts.env, PIP_INDEX_URL: NO_PYPI },
    });
    expect(pip.code, pip.output).toBe(0);
    expect(readdirSync(dest).sort()).toEqual(['corp_only-2.0.0-py3-none-any.whl', 'only_here-1.0.0-py3-none-any.whl']);
    const un = await runCli(['unconfigure', '--pip'], opts);
    expect(un.code, un.output).toBe(0);
    expect(readFileSync(pipConf(), 'utf8')).toBe(original);
  });

  it('--primary replaces an index_url in place (no second spelling beside it) and puts it back', async () => {
    const original = `[global]\nindex_url = ${corp.url}/simple/\ntimeout = 30\n`;
    writeFileSync(pipConf(), original);
    const r = await runCli(['configure', '--pip', '--primary'], opts);
    expect(r.code, r.output).toBe(0);
    expect(readFileSync(pipConf(), 'utf8')).toBe(`[global]\nindex_url = ${base}/simple/\ntimeout = 30\n`);
    expect(r.stderr).not.toContain('dependency confusion');
    const list = await run(PY, ['-m', 'pip', 'config', 'list'], opts);
    expect(list.stdout).toContain(`global.index-url='${base}/simple/'`);
    const un = await runCli(['unconfigure', '--pip'], opts);
    expect(un.code, un.output).toBe(0);
    expect(readFileSync(pipConf(), 'utf8')).toBe(original);
  });

  it("--url of an index this machine does not run: no token is made (its tokens are not this machine's); --token passes one made there", async () => {
    const r = await runCli(['configure', '--pypirc', '--url', corp.url], opts);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain(`${corp.url} is not the index this machine runs (it is another pyrepo`);
    expect(r.stdout).not.toContain('Made API token');
    expect(r.stderr).toContain(`run \`pyrepo configure --url ${corp.url} --token <token>\``);
    const pypirc = join(root, 'home', '.pypirc');
    expect(readFileSync(pypirc, 'utf8')).toContain(`[pyrepo]\nrepository = ${corp.url}/legacy/\n`);
    expect(readFileSync(pypirc, 'utf8')).not.toContain('password');
    const theirs = 'pyrepo_abcd1234_made-on-that-index-000000000000';
    const given = await runCli(['configure', '--pypirc', '--url', corp.url, '--token', theirs], opts);
    expect(given.code, given.output).toBe(0);
    expect(given.stdout).toContain('the tools use the token given with --token, which pyrepo will not revoke');
    expect(readFileSync(pypirc, 'utf8')).toContain(`[pyrepo]\nrepository = ${corp.url}/legacy/\nusername = __token__\npassword = ${theirs}\n`);
    const un = await runCli(['unconfigure', '--pypirc'], opts);
    expect(un.code, un.output).toBe(0);
    expect(un.stdout).not.toContain('Revoked');
    // Its own daemon under another name (a LAN address, a proxy; here localhost) is still this machine's: its /-/health names this data folder.
    const own = await runCli(['configure', '--pypirc', '--url', base.replace('127.0.0.1', 'localhost')], opts);
    expect(own.stdout, own.output).toMatch(/Made API token [a-z0-9]{8}/);
    expect((await runCli(['unconfigure'], opts)).code).toBe(0);
  });

  it('poetry 1.3 locks and installs from the index with the snippet configure prints (--primary: PyPI off)', async () => {
    const r = await runCli(['configure', '--poetry', '--primary'], opts);
    expect(r.code, r.output).toBe(0);
    const snippet = snippetAfter(r.stdout, 'add to its pyproject.toml:');
    expect(snippet).toBe(`[[tool.poetry.source]]\nname = "pyrepo"\nurl = "${base}/simple/"\ndefault = true`);
    const project = writePoetryProject(join(root, 'poetry-app'), 'poetry-app', '0.1.0');
    const pyproject = join(project, 'pyproject.toml');
    writeFileSync(pyproject, readFileSync(pyproject, 'utf8').replace('python = ">=3.7"\n', 'python = ">=3.7"\nonly-here = "^1.0"\n') + `\n${snippet}\n`);
    const lock = await run('poetry', ['lock', '--no-interaction'], { ...opts, cwd: project });
    expect(lock.code, lock.output).toBe(0);
    expect(readFileSync(join(project, 'poetry.lock'), 'utf8')).toContain('name = "only-here"');
    const install = await run('poetry', ['install', '--no-root', '--no-interaction'], { ...opts, cwd: project });
    expect(install.code, install.output).toBe(0);
    const check = await run(join(project, '.venv', 'bin', 'python'), ['-c', 'import only_here; print(only_here.__version__)'], { ...opts, cwd: project });
    expect(check.stdout.trim(), check.output).toBe('1.0.0');
  });

  it('poetry 1.3 accepts the secondary snippet and the landing page\'s command for poetry before 1.5, and refuses --priority', async () => {
    const r = await runCli(['configure', '--poetry'], opts);
    expect(r.code, r.output).toBe(0);
    const snippet = snippetAfter(r.stdout, 'add to its pyproject.toml:');
    expect(snippet).toContain('secondary = true');
    const project = writePoetryProject(join(root, 'poetry-secondary'), 'poetry-secondary', '0.1.0');
    writeFileSync(join(project, 'pyproject.toml'), `${readFileSync(join(project, 'pyproject.toml'), 'utf8')}\n${snippet}\n`);
    const check = await run('poetry', ['check'], { ...opts, cwd: project });
    expect(check.code, check.output).toBe(0);
    const landing = writePoetryProject(join(root, 'poetry-landing'), 'poetry-landing', '0.1.0');
    const add = await run('poetry', ['source', 'add', '--secondary', 'pyrepo', `${base}/simple/`], { ...opts, cwd: landing });
    expect(add.code, add.output).toBe(0);
    const modern = await run('poetry', ['source', 'add', '--priority=supplemental', 'other', `${base}/simple/`], { ...opts, cwd: landing });
    expect(modern.code, 'poetry 1.3 has no --priority: the page must offer the older form').not.toBe(0);
  });

  it("pipenv installs a package from the index with the Pipfile snippet configure prints, the index alone", async () => {
    // pip.conf is not pointed at pyrepo: the Pipfile alone brings pipenv there.
    const r = await runCli(['configure', '--pypirc'], opts);
    expect(r.code, r.output).toBe(0);
    const snippet = snippetAfter(r.stdout, "add to a project's Pipfile:");
    const project = join(root, 'pipenv-app');
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, 'Pipfile'), `${snippet}\n\n[packages]\nonly-here = "*"\n`);
    const env = { ...opts.env, PIPENV_VENV_IN_PROJECT: '1', PIPENV_NOSPIN: '1', PIPENV_YES: '1', PIPENV_IGNORE_VIRTUALENVS: '1', PIPENV_TIMEOUT: '120' };
    const install = await run('pipenv', ['install', '--python', PY], { ...opts, cwd: project, env, timeoutMs: 300_000 });
    expect(install.code, install.output).toBe(0);
    const check = await run(join(project, '.venv', 'bin', 'python'), ['-c', 'import only_here; print(only_here.__version__)'], { ...opts, cwd: project });
    expect(check.stdout.trim(), `${install.output}\n${check.output}`).toBe('1.0.0');
  }, 320_000);
});

// ---------------------------------------------------------------------------------------
// 4. Reads protected: pip in a fresh venv

describe.skipIf(CLIENTS.length > 0)('reads protected: the pip.conf configure writes works for pip in a fresh venv', () => {
  let root: string;
  let opts: RunOptions;
  let base: string;
  let venvPython: string;
  const pipConf = () => join(root, 'home', '.config', 'pip', 'pip.conf');
  const venvInstall = (target: string) =>
    run(venvPython, ['-m', 'pip', 'install', '--no-deps', '--no-cache-dir', '--retries', '0', '--timeout', '5', '--target', join(root, target), 'only-here'], opts);

  beforeAll(async () => {
    ensureBuilt();
    root = await makeTempRoot('pyrepo-private-');
    opts = { env: homeEnv(root), cwd: root, timeoutMs: 180_000 };
    const init = await runCli(['init', '--yes', '--no-configure', '--port', '0', '--authenticate', 'list,download,upload'], opts);
    expect(init.code, init.output).toBe(0);
    base = await runningBaseUrl(opts);
    await publishTo(opts, root, 'only-here', '1.0.0');
    const venv = await run(PY, ['-m', 'venv', join(root, 'venv')], opts);
    expect(venv.code, venv.output).toBe(0);
    venvPython = join(root, 'venv', 'bin', 'python');
    const noKeyring = await run(venvPython, ['-c', 'import keyring'], opts);
    expect(noKeyring.code, 'a fresh venv has no keyring module').not.toBe(0);
  }, 120_000);

  afterAll(async () => {
    if (opts) await runCli(['stop'], opts);
    await removeTemp(root);
  });

  it('configure puts a read-only token in the index URL (pip.conf 0600), and venv pip installs without a terminal', async () => {
    const r = await runCli(['configure', '--pip', '--pdm', '--primary'], opts);
    expect(r.code, r.output).toBe(0);
    const read = /Made API token ([a-z0-9]{8}) \('configure: reads \(read-only\)'\)/.exec(r.stdout)?.[1];
    expect(read, r.stdout).toBeDefined();
    const text = readFileSync(pipConf(), 'utf8');
    const token = new RegExp(`index-url = http://__token__:(pyrepo_${read}_[\\w-]+)@127\\.0\\.0\\.1:\\d+/simple/`).exec(text)?.[1];
    expect(token, text).toBeDefined();
    expect(lstatSync(pipConf()).mode & 0o777).toBe(0o600);
    // The read token reads, and cannot upload.
    const auth = { authorization: `Basic ${Buffer.from(`__token__:${token}`).toString('base64')}` };
    expect((await fetch(`${base}/simple/only-here/`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${base}/legacy/`, { method: 'POST', headers: auth })).status).toBe(403);
    const pip = await venvInstall('site-ok');
    expect(pip.code, pip.output).toBe(0);
    expect(existsSync(join(root, 'site-ok', 'only_here', '__init__.py'))).toBe(true);
    const doctor = await runCli(['doctor', '--json'], opts);
    expect((JSON.parse(doctor.stdout) as DoctorOutput).checks.find((c) => c.check === 'pip.conf'), doctor.stdout).toMatchObject({ verdict: 'ok' });
    // pdm's source reads with it too.
    expect(readFileSync(join(root, 'home', '.config', 'pdm', 'config.toml'), 'utf8')).toContain(`[pypi.pyrepo]\nurl = "${base}/simple/"\nusername = "__token__"\npassword = "${token}"\n`);
  });

  it('without the credential in its URL (what configure wrote before), venv pip fails, and doctor says so', async () => {
    const good = readFileSync(pipConf(), 'utf8');
    try {
      writeFileSync(pipConf(), good.replace(/__token__:[^@]+@/, 'admin@'));
      const pip = await venvInstall('site-broken');
      expect(pip.code, pip.output).not.toBe(0);
      const doctor = await runCli(['doctor', '--json'], opts);
      const check = (JSON.parse(doctor.stdout) as DoctorOutput).checks.find((c) => c.check === 'pip.conf');
      expect(check, doctor.stdout).toMatchObject({ verdict: 'fail', detail: expect.stringContaining('pip in a virtual environment has no keyring') });
    } finally {
      writeFileSync(pipConf(), good);
    }
  });

  it('pipenv installs from the protected index with the Pipfile snippet configure prints and a read-only token', async () => {
    const r = await runCli(['configure', '--pip', '--primary'], opts);
    expect(r.code, r.output).toBe(0);
    const snippet = snippetAfter(r.stdout, "add to a project's Pipfile:");
    expect(snippet).toContain('url = "http://__token__:${PYREPO_READ_TOKEN}@127.0.0.1:');
    // As the note says: a read-only token of its own, in the variable pipenv fills in.
    expect(r.stdout).toContain('export PYREPO_READ_TOKEN=$(pyrepo token create --read-only --name pipenv)');
    const made = await runCli(['token', 'create', '--read-only', '--name', 'pipenv'], opts);
    expect(made.code, made.output).toBe(0);
    const project = join(root, 'pipenv-private');
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, 'Pipfile'), `${snippet}\n\n[packages]\nonly-here = "*"\n`);
    const env = { ...opts.env, PYREPO_READ_TOKEN: made.stdout.trim(), PIPENV_VENV_IN_PROJECT: '1', PIPENV_NOSPIN: '1', PIPENV_YES: '1', PIPENV_IGNORE_VIRTUALENVS: '1', PIPENV_TIMEOUT: '120' };
    const install = await run('pipenv', ['install', '--python', PY], { ...opts, cwd: project, env, timeoutMs: 300_000 });
    expect(install.code, install.output).toBe(0);
    const check = await run(join(project, '.venv', 'bin', 'python'), ['-c', 'import only_here; print(only_here.__version__)'], { ...opts, cwd: project });
    expect(check.stdout.trim(), `${install.output}\n${check.output}`).toBe('1.0.0');
  }, 320_000);
});
