/**
 * `pyrepo doctor`'s checks: each looks at one thing and gives a one-line verdict and, when
 * something is wrong, the fix. Checks never change anything and every wait is bounded.
 *
 * They run concurrently, and answer from files where a file answers: a tool's version
 * comes from its dist-info folder, not from starting it (python-tools.ts); only Python
 * itself (and pip, in the same process) is asked. That keeps doctor under a few seconds
 * on a busy machine; `onProgress` tells the caller what is still being checked.
 */
import { constants, existsSync, readFileSync, statSync } from 'node:fs';
import { access, readFile, statfs } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { formatBytes } from '../../shared/format.js';
import { SECRETS_FILE } from '../../shared/secrets.js';
import { dataLayout, type PyrepoPaths } from '../../shared/paths.js';
import type { StoredSettings } from '../../shared/settings.js';
import type { TokenRecord } from '../../shared/access-file.js';
import { parseIni, iniGet, IniSyntaxError } from '../client-config/ini.js';
import { clientFiles } from '../client-config/locations.js';
import { mixingWarning, pdmMixesWithPypi, uvMixesWithPypi } from '../client-config/index-mixing.js';
import { DEPENDENCY_CONFUSION, pipEntryFor, pipMixesWithPypi } from '../client-config/pip-edit.js';
import { readToml, tomlValue } from '../client-config/toml-edit.js';
import { AbortError } from '../errors.js';
import type { DoctorOutput } from '../json-output.js';
import { readAdminCredentials, secretStore } from './admin-identity.js';
import { readManifest, type TokenRecordRef } from './client-manifest.js';
import { TOKEN_NAMES } from './client-tokens.js';
import { probeDaemon, type DaemonProbe } from './daemon-control.js';
import { findOnPath, findTool, VERSION_TIMEOUT_MS } from './python-tools.js';
import { defaultSettings, hasSettings, loadSettings, settingsFile } from './settings-store.js';
import { listTokens, userFiles } from './users.js';

/** One check's outcome (the shape `pyrepo doctor --json` prints). */
export type CheckResult = DoctorOutput['checks'][number];
export type Verdict = CheckResult['verdict'];

/** Below this much free space in the data folder's file system, doctor warns. */
const LOW_SPACE_BYTES = 1024 ** 3;

function result(check: string, verdict: Verdict, detail: string, fix?: string): CheckResult {
  return fix === undefined ? { check, verdict, detail } : { check, verdict, detail, fix };
}

function checkDaemon(probe: DaemonProbe): CheckResult {
  if (probe.kind === 'stopped') {
    const stale = probe.stale ? ` (it had died without cleaning up, pid ${probe.stale.pid}; cleaned now)` : '';
    return result('daemon', 'warn', `not running${stale}`, 'pyrepo start');
  }
  if (probe.kind === 'unresponsive') return result('daemon', 'fail', `pid ${probe.state.pid} runs but does not answer: ${probe.reason}`, 'pyrepo restart');
  const { health, state } = probe;
  if (health.problems.length > 0) return result('daemon', 'fail', `running at ${state.url}, but: ${health.problems.join(' ')}`, 'pyrepo restart (after fixing the folder)');
  return result('daemon', 'ok', `running at ${state.url}/simple/ (pid ${state.pid}, ${health.projects} projects, ${health.files} files)`);
}

/** Whether something else holds the port the daemon would listen on. */
function portFree(host: string, port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

async function checkPort(probe: DaemonProbe, settings: StoredSettings): Promise<CheckResult> {
  if (probe.kind !== 'stopped') return result('port', 'ok', `the daemon listens on ${probe.state.host}:${probe.state.port}`);
  if (settings.port === 0) return result('port', 'ok', 'a free port is picked at each start (port 0)');
  const err = await portFree(settings.host, settings.port);
  if (!err) return result('port', 'ok', `${settings.host}:${settings.port} is free`);
  if (err.code === 'EADDRINUSE') {
    return result('port', 'fail', `${settings.host}:${settings.port} is used by another program`, `pyrepo init --port ${settings.port + 1} (or stop that program)`);
  }
  if (err.code === 'EADDRNOTAVAIL') return result('port', 'fail', `${settings.host} is not an address of this machine`, 'pyrepo init --host 127.0.0.1');
  if (err.code === 'EACCES') return result('port', 'fail', `not allowed to listen on port ${settings.port}`, 'pyrepo init --port 8645');
  return result('port', 'fail', `cannot listen on ${settings.host}:${settings.port}: ${err.message}`);
}

async function checkFolder(label: string, dir: string): Promise<CheckResult> {
  let existing = dir;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  try {
    if (!statSync(existing).isDirectory()) return result(label, 'fail', `${existing} is not a folder`, 'Move it away, or choose another folder');
    await access(existing, constants.W_OK);
  } catch {
    return result(label, 'fail', `${existing} is not writable`, `chmod u+w ${existing}, or choose another folder`);
  }
  const free = await statfs(existing).then((s) => s.bavail * s.bsize, () => undefined);
  const where = existing === dir ? dir : `${dir} (not created yet; ${existing} is writable)`;
  if (free !== undefined && free < LOW_SPACE_BYTES) return result(label, 'warn', `${where}: only ${formatBytes(free)} free`, 'Free some disk space');
  return result(label, 'ok', `${where}${free === undefined ? '' : `, ${formatBytes(free)} free`}`);
}

async function checkSecrets(paths: PyrepoPaths, settings: StoredSettings): Promise<CheckResult[]> {
  const store = secretStore(paths);
  const out: CheckResult[] = [];
  const opened = await store.open().catch((err: unknown) => err as Error);
  if (opened instanceof Error) return [result('secrets', 'fail', `the keychain failed: ${opened.message}`, 'unlock it, or set PYREPO_KEYCHAIN=off')];
  try {
    const admin = await readAdminCredentials(store, settings.adminUser);
    out.push(
      admin
        ? result('admin identity', 'ok', `'${admin.username}'`)
        : result('admin identity', 'warn', `no password for '${settings.adminUser}' yet`, 'pyrepo init'),
    );
  } catch (err) {
    out.push(result('admin identity', 'fail', (err as Error).message, 'pyrepo init'));
  }
  if (store.backend.kind === 'file') {
    const file = join(paths.configDir, SECRETS_FILE);
    const mode = existsSync(file) ? statSync(file).mode & 0o777 : undefined;
    if (mode !== undefined && (mode & 0o077) !== 0) {
      out.push(result('secrets', 'fail', `${file} is readable by others (mode ${mode.toString(8)})`, `chmod 600 ${file}`));
    } else {
      out.push(result('secrets', 'warn', `in ${store.backend.description}, not the OS keychain: ${opened.keychainProblem ?? 'unknown reason'}`, 'run pyrepo where a keychain is unlocked (a desktop session) to use it'));
    }
  } else {
    out.push(result('secrets', 'ok', `kept in ${store.backend.description}`));
  }
  return out;
}

/** Whether ~/.pypirc has a repository pointing at this index's upload URL. */
async function checkPypirc(file: string, uploadUrl: string | undefined): Promise<CheckResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return result('~/.pypirc', 'info', 'does not exist (twine and flit then need --repository-url)', 'pyrepo configure');
  }
  try {
    const doc = parseIni(text);
    const listed = (iniGet(doc, 'distutils', 'index-servers') ?? 'pypi testpypi').split(/\s+/).filter(Boolean);
    const ours = doc.sections.filter((s) => uploadUrl && s.options.some((o) => o.key === 'repository' && o.value.replace(/\/?$/, '/') === uploadUrl));
    const usable = ours.find((s) => listed.includes(s.name));
    if (usable) return result('~/.pypirc', 'ok', `[${usable.name}] uploads to this index (twine upload -r ${usable.name})`);
    if (ours[0]) return result('~/.pypirc', 'warn', `[${ours[0].name}] points here but is not listed in [distutils] index-servers`, `add ${ours[0].name} to index-servers in ${file}`);
    return result('~/.pypirc', 'info', uploadUrl ? 'no repository points at this index' : 'not checked: the daemon is not running', uploadUrl ? 'pyrepo configure --pypirc' : undefined);
  } catch (err) {
    const why = err instanceof IniSyntaxError ? err.message : (err as Error).message;
    return result('~/.pypirc', 'fail', `twine cannot read it: ${why}`, `fix ${file}`);
  }
}

/**
 * Whether pip's user config uses this index, and uses it safely: with the credentials its
 * URL must carry when reads need them (pip in a virtual environment has no keyring, so it
 * prompts and, without a terminal, dies with EOFError), and not as an extra index beside PyPI.
 */
async function checkPip(file: string, indexUrl: string | undefined, readsNeedCredentials: boolean): Promise<CheckResult[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [result('pip.conf', 'info', `${file} does not exist (pip then needs --index-url)`, 'pyrepo configure --pip')];
  }
  try {
    if (!indexUrl) return [result('pip.conf', 'info', 'not checked: the daemon is not running')];
    const entry = pipEntryFor(text, indexUrl);
    if (entry === undefined) return [result('pip.conf', 'info', `${file} does not use this index`, 'pyrepo configure --pip')];
    const out: CheckResult[] = [];
    if (readsNeedCredentials && !/^https?:\/\/[^/@\s]*:[^/@\s]+@/i.test(entry)) {
      out.push(
        result(
          'pip.conf',
          'fail',
          `reading the index needs credentials, but its URL in ${file} carries none: pip in a virtual environment has no keyring, so it asks for a password and, without a terminal, fails`,
          'pyrepo configure --pip (puts a read-only token in the URL)',
        ),
      );
    } else {
      out.push(result('pip.conf', 'ok', `${file} uses this index${readsNeedCredentials ? ' (with a read token in its URL)' : ''}`));
    }
    if (pipMixesWithPypi(text, indexUrl)) out.push(result('pip index', 'warn', DEPENDENCY_CONFUSION));
    return out;
  } catch (err) {
    const why = err instanceof IniSyntaxError ? err.message : (err as Error).message;
    return [result('pip.conf', 'fail', `pip cannot read ${file}: ${why}`, `fix ${file}`)];
  }
}

/**
 * uv and pdm files that ask PyPI beside this index (pip's is checkPip's): every project is
 * then looked up on both, the dependency-confusion hole. With an upstream pyrepo serves
 * PyPI's projects itself, and `pyrepo configure` makes it their only index.
 */
function checkIndexMixing(files: { uv: string; pdm: string }, indexUrl: string | undefined, hasUpstream: boolean): CheckResult[] {
  if (!indexUrl) return [];
  const out: CheckResult[] = [];
  for (const [tool, file, mixes] of [
    ['uv', files.uv, uvMixesWithPypi],
    ['pdm', files.pdm, pdmMixesWithPypi],
  ] as const) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    try {
      if (mixes(text, indexUrl)) out.push(result(`${tool} index`, 'warn', `${file}: ${mixingWarning(tool, hasUpstream)}`, hasUpstream ? `pyrepo configure --${tool}` : `pyrepo config set upstream on, pyrepo restart, then pyrepo configure --${tool}`));
    } catch {
      // A file that cannot be read is reported by the configured-files check.
    }
  }
  return out;
}

/**
 * Whether `pdm publish -r <name>` can run without a terminal: pdm 2.2 takes the user and
 * password from its config.toml (or PDM_PUBLISH_USERNAME/PASSWORD) and asks the keychain
 * only at an interactive prompt, so a repository without a password there fails with
 * "Username and password are required".
 */
function pdmCanPublish(text: string, uploadUrl: string, env: NodeJS.ProcessEnv): { name: string; missing: string[] } | undefined {
  const doc = readToml(text);
  const repos = tomlValue(doc, ['repository']);
  if (!repos || typeof repos !== 'object') return undefined;
  for (const [name, repo] of Object.entries(repos as Record<string, Record<string, unknown>>)) {
    if (typeof repo !== 'object' || String(repo.url ?? '').replace(/\/?$/, '/') !== uploadUrl) continue;
    const missing = [...(repo.username || env.PDM_PUBLISH_USERNAME ? [] : ['username']), ...(repo.password || env.PDM_PUBLISH_PASSWORD ? [] : ['password'])];
    return { name, missing };
  }
  return undefined;
}

/**
 * The other files `pyrepo configure` wrote (poetry, pdm, uv), from its record: still there,
 * and pointing at the URL the index runs at now.
 */
function checkConfiguredFiles(paths: PyrepoPaths, settings: StoredSettings, base: string | undefined): CheckResult[] {
  let manifest;
  try {
    manifest = readManifest(paths.configDir);
  } catch (err) {
    return [result('configured files', 'fail', (err as Error).message, err instanceof AbortError ? err.nextStep : undefined)];
  }
  const out: CheckResult[] = [];
  if (base && manifest.baseUrl && manifest.baseUrl !== base) {
    out.push(result('configured files', 'warn', `the tools were pointed at ${manifest.baseUrl}, but the index runs at ${base}`, 'pyrepo configure'));
  }
  for (const [file, record] of Object.entries(manifest.files)) {
    if (record.target === 'pip' || record.target === 'pypirc') continue;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      out.push(result(record.target, 'warn', `${file} was configured, but it is gone`, `pyrepo configure --${record.target}`));
      continue;
    }
    if (record.target === 'poetry' && file.endsWith('auth.toml')) continue;
    const url = manifest.baseUrl;
    if (!url || !text.includes(url)) {
      out.push(result(record.target, 'warn', `${file} no longer points at the index`, `pyrepo configure --${record.target}`));
      continue;
    }
    if (record.target === 'pdm') {
      let pdm: ReturnType<typeof pdmCanPublish>;
      try {
        pdm = pdmCanPublish(text, `${url}/legacy/`, process.env);
      } catch (err) {
        out.push(result('pdm', 'fail', `pdm cannot read ${file}: ${(err as Error).message}`, `fix ${file}`));
        continue;
      }
      if (pdm && pdm.missing.length > 0) {
        out.push(
          result(
            'pdm',
            'fail',
            `\`pdm publish -r ${pdm.name}\` fails without a terminal: ${file} has no ${pdm.missing.join(' or ')} for it, and pdm asks the keychain only at a prompt`,
            'pyrepo configure --pdm',
          ),
        );
        continue;
      }
    }
    out.push(result(record.target, 'ok', `${file} points at ${url}`));
  }
  out.push(...checkTokens(paths, settings, manifest.tokens ?? []));
  return out;
}

/** The API tokens configure gave the tools: still there and not expired (else every upload or read with them gets 401). */
function checkTokens(paths: PyrepoPaths, settings: StoredSettings, refs: TokenRecordRef[]): CheckResult[] {
  if (refs.length === 0) return [];
  let records: TokenRecord[];
  try {
    records = listTokens(userFiles(paths.dataDir, settings.htpasswdFile));
  } catch (err) {
    return [result('tool tokens', 'fail', (err as Error).message)];
  }
  const now = Date.now();
  const bad = refs.filter((ref) => {
    const r = records.find((t) => t.id === ref.id);
    return !r || (r.expires !== undefined && Date.parse(r.expires) <= now);
  });
  if (bad.length > 0) {
    return [result('tool tokens', 'fail', `the tools' token ${bad.map((b) => `${b.id} (${TOKEN_NAMES[b.purpose]})`).join(', ')} was revoked or has expired: they get 401`, 'pyrepo configure (makes a new one)')];
  }
  return [result('tool tokens', 'ok', refs.map((r) => `${r.id} (${TOKEN_NAMES[r.purpose]})`).join(', '))];
}

/** Python and pip, from one short run of the interpreter on PATH (pip's version without importing pip's CLI). */
async function checkPython(): Promise<CheckResult[]> {
  const python = findOnPath('python3') ?? findOnPath('python');
  if (!python) return [result('python', 'warn', 'not found on PATH'), result('pip', 'info', 'not checked: no python on PATH')];
  const script = 'import sys\nprint(sys.version.split()[0])\ntry:\n    from importlib.metadata import version\n    print(version("pip"))\nexcept Exception:\n    print("")';
  const r = await execa(python, ['-I', '-c', script], { reject: false, timeout: VERSION_TIMEOUT_MS, stdin: 'ignore' });
  if (r.timedOut) return [result('python', 'warn', `\`${python}\` did not answer within ${VERSION_TIMEOUT_MS / 1000} s`)];
  if (r.exitCode !== 0) return [result('python', 'warn', `\`${python}\` failed (exit ${r.exitCode ?? 'none'})`)];
  const [version = '', pip = ''] = r.stdout.split('\n').map((l) => l.trim());
  return [result('python', 'ok', version), pip ? result('pip', 'ok', pip) : result('pip', 'info', `not installed for ${python}`)];
}

/** The Python tools on PATH and their versions (read from their dist-info, see python-tools.ts). */
async function checkTools(): Promise<CheckResult[]> {
  const tools: [string, string][] = [
    ['twine', 'twine'],
    ['poetry', 'poetry'],
    ['uv', 'uv'],
    ['pdm', 'pdm'],
    ['flit', 'flit'],
  ];
  return Promise.all(
    tools.map(async ([cmd, dist]) => {
      const found = await findTool(cmd, dist);
      if (!found.path) return result(cmd, 'info', 'not found on PATH');
      if (found.problem) return result(cmd, 'warn', found.problem);
      return result(cmd, 'ok', found.version ?? 'unknown version');
    }),
  );
}

/** What runChecks reports while it works: the checks still running. */
export type DoctorProgress = (pending: string[]) => void;

/** Runs every check; never throws for what it finds (a broken settings file is a failed check). */
export async function runChecks(paths: PyrepoPaths, onProgress?: DoctorProgress): Promise<CheckResult[]> {
  const pending = new Set<string>();
  const track = <T>(label: string, work: Promise<T>): Promise<T> => {
    pending.add(label);
    onProgress?.([...pending]);
    return work.finally(() => {
      pending.delete(label);
      onProgress?.([...pending]);
    });
  };
  // Independent of everything else, and the slowest: started first.
  const python = track('python', checkPython());
  const tools = track('tools', checkTools());
  const out: CheckResult[] = [];
  let settings = defaultSettings();
  if (!hasSettings(paths)) {
    out.push(result('settings', 'warn', 'none yet (defaults apply)', 'pyrepo init'));
  } else {
    try {
      settings = loadSettings(paths);
      out.push(result('settings', 'ok', settingsFile(paths)));
    } catch (err) {
      out.push(result('settings', 'fail', (err as Error).message, err instanceof AbortError ? err.nextStep : undefined));
    }
  }
  const secrets = track('secrets', checkSecrets(paths, settings));
  const data = track('data folder', checkFolder('data folder', paths.dataDir));
  const packages = track('packages folder', checkFolder('packages folder', settings.packagesDir ?? dataLayout(paths.dataDir).defaultPackagesDir));
  const probe = await track('daemon', probeDaemon(paths.dataDir));
  const files = clientFiles();
  const base = probe.kind === 'stopped' ? undefined : (settings.publicUrl?.replace(/\/+$/, '') ?? probe.state.url);
  const authenticate = probe.kind === 'running' ? probe.health.authenticate : settings.authenticate;
  const readsNeedCredentials = authenticate.some((a) => a === 'list' || a === 'download');
  const [port, pypirc, pip] = await Promise.all([
    track('port', checkPort(probe, settings)),
    track('~/.pypirc', checkPypirc(files.pypirc, base && `${base}/legacy/`)),
    track('pip.conf', checkPip(files.pip, base && `${base}/simple/`, readsNeedCredentials)),
  ]);
  const configured = checkConfiguredFiles(paths, settings, base);
  const hasUpstream = probe.kind === 'running' ? probe.health.upstream !== undefined : settings.upstream !== undefined;
  const mixing = checkIndexMixing(files, base && `${base}/simple/`, hasUpstream);
  return [...out, checkDaemon(probe), port, await data, await packages, ...(await secrets), pypirc, ...pip, ...mixing, ...configured, ...(await python), ...(await tools)];
}
