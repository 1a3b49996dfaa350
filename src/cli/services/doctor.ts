/**
 * `pyrepo doctor`'s checks: each looks at one thing and gives a one-line verdict and, when
 * something is wrong, the fix. Checks never change anything and every wait is bounded.
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
import { parseIni, iniGet, IniSyntaxError } from '../client-config/ini.js';
import { clientFiles } from '../client-config/locations.js';
import { pipUses } from '../client-config/pip-edit.js';
import { AbortError } from '../errors.js';
import type { DoctorOutput } from '../json-output.js';
import { readAdminCredentials, secretStore } from './admin-identity.js';
import { readManifest } from './client-manifest.js';
import { probeDaemon, type DaemonProbe } from './daemon-control.js';
import { defaultSettings, hasSettings, loadSettings, settingsFile } from './settings-store.js';

/** One check's outcome (the shape `pyrepo doctor --json` prints). */
export type CheckResult = DoctorOutput['checks'][number];
export type Verdict = CheckResult['verdict'];

/** Below this much free space in the data folder's file system, doctor warns. */
const LOW_SPACE_BYTES = 1024 ** 3;
/** Time limit for each `<tool> --version`. */
const TOOL_TIMEOUT_MS = 8_000;

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

/** Whether pip's user config uses this index. */
async function checkPip(file: string, indexUrl: string | undefined): Promise<CheckResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return result('pip.conf', 'info', `${file} does not exist (pip then needs --index-url)`, 'pyrepo configure --pip');
  }
  try {
    if (!indexUrl) return result('pip.conf', 'info', 'not checked: the daemon is not running');
    return pipUses(text, indexUrl) ? result('pip.conf', 'ok', `${file} uses this index`) : result('pip.conf', 'info', `${file} does not use this index`, 'pyrepo configure --pip');
  } catch (err) {
    const why = err instanceof IniSyntaxError ? err.message : (err as Error).message;
    return result('pip.conf', 'fail', `pip cannot read ${file}: ${why}`, `fix ${file}`);
  }
}

/**
 * The other files `pyrepo configure` wrote (poetry, pdm, uv), from its record: still there,
 * and pointing at the URL the index runs at now.
 */
function checkConfiguredFiles(paths: PyrepoPaths, base: string | undefined): CheckResult[] {
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
    out.push(url && text.includes(url) ? result(record.target, 'ok', `${file} points at ${url}`) : result(record.target, 'warn', `${file} no longer points at the index`, `pyrepo configure --${record.target}`));
  }
  return out;
}

/** The Python tools on PATH and their versions. */
async function checkTools(): Promise<CheckResult[]> {
  const tools: [string, string, string[]][] = [
    ['python', 'python3', ['--version']],
    ['pip', 'python3', ['-m', 'pip', '--version']],
    ['twine', 'twine', ['--version']],
    ['poetry', 'poetry', ['--version']],
    ['uv', 'uv', ['--version']],
    ['pdm', 'pdm', ['--version']],
    ['flit', 'flit', ['--version']],
  ];
  return Promise.all(
    tools.map(async ([label, cmd, args]) => {
      const r = await execa(cmd, args, { reject: false, timeout: TOOL_TIMEOUT_MS, stdin: 'ignore', env: { PDM_CHECK_UPDATE: 'false', NO_COLOR: '1' } });
      if (r.failed && (r.code === 'ENOENT' || r.exitCode === undefined)) {
        if (r.timedOut) return result(label, 'warn', `\`${cmd} ${args.join(' ')}\` did not answer within ${TOOL_TIMEOUT_MS / 1000} s`);
        return result(label, label === 'python' ? 'warn' : 'info', 'not found on PATH');
      }
      if (r.exitCode !== 0) return result(label, 'info', `\`${cmd} ${args.join(' ')}\` failed (exit ${r.exitCode})`);
      const line = `${r.stdout}\n${r.stderr}`.split('\n').find((l) => /\d+\.\d+/.test(l)) ?? '';
      const version = /(\d+\.\d+(?:\.\d+)?[\w.+-]*)/.exec(line)?.[1] ?? 'unknown version';
      return result(label, 'ok', version);
    }),
  );
}

/** Runs every check; never throws for what it finds (a broken settings file is a failed check). */
export async function runChecks(paths: PyrepoPaths): Promise<CheckResult[]> {
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
  const probe = await probeDaemon(paths.dataDir);
  const files = clientFiles();
  const base = probe.kind === 'stopped' ? undefined : (settings.publicUrl?.replace(/\/+$/, '') ?? probe.state.url);
  const [port, data, packages, secrets, pypirc, pip, tools] = await Promise.all([
    checkPort(probe, settings),
    checkFolder('data folder', paths.dataDir),
    checkFolder('packages folder', settings.packagesDir ?? dataLayout(paths.dataDir).defaultPackagesDir),
    checkSecrets(paths, settings),
    checkPypirc(files.pypirc, base && `${base}/legacy/`),
    checkPip(files.pip, base && `${base}/simple/`),
    checkTools(),
  ]);
  return [...out, checkDaemon(probe), port, data, packages, ...secrets, pypirc, pip, ...checkConfiguredFiles(paths, base), ...tools];
}
