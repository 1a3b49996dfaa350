/**
 * The built `pyrepo` CLI as a real process, for end-to-end tests: start a daemon on a free
 * loopback port with its own temporary folders, read its log, stop it (SIGTERM) or crash
 * it (SIGKILL). Also a bounded `run()` for the Python clients and an environment that keeps
 * every tool away from the real HOME, the user's pip/poetry/pdm configuration and PyPI.
 *
 * The tests run against dist/ (the test command runs `npm run build` first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { GiveUp, waitFor } from './wait.js';

/** The shared wait, also from here for the tests that import it with the daemon helpers. */
export { waitFor } from './wait.js';

/** The repository root (test/helpers/ → ../..). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** The built CLI entry. */
export const CLI_PATH = join(REPO_ROOT, 'dist', 'cli', 'index.js');

/** How long to wait for the serving line, and then for `/-/health` to report indexing done. */
const START_TIMEOUT_MS = 15_000;
const HEALTH_TIMEOUT_MS = 15_000;
/** How long stop() waits after the signal before it sends SIGKILL. */
const STOP_GRACE_MS = 10_000;
/** Default time limit of run(). */
const RUN_TIMEOUT_MS = 120_000;

const SERVING_LINE = /^pyrepo \S+ serving (http:\/\/\S+?)\/simple\/ \(upload URL /;

/** One access-log line of the daemon. */
export interface AccessLogEntry {
  method: string;
  url: string;
  status: number;
  type: string | undefined;
}

export interface StartDaemonOptions {
  /** Packages folder (default `<root>/packages`). */
  packagesDir?: string;
  /** Data folder (default `<root>/data`); pass an earlier daemon's to restart on its state. */
  dataDir?: string;
  /** Extra `serve` arguments. */
  args?: string[];
  /** Extra environment for the daemon (on top of an isolated one). */
  env?: NodeJS.ProcessEnv;
}

export interface RunningTestDaemon {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  url: string;
  /** `Authorization` header of the admin identity that `serve` created (for the control API). */
  adminAuth: string;
  port: number;
  /** The temporary folder made for this daemon. */
  root: string;
  dataDir: string;
  packagesDir: string;
  pid: number;
  /** Every stdout and stderr line so far. */
  logLines(): string[];
  /** The access-log lines so far, parsed. */
  requests(): AccessLogEntry[];
  /** True once the process has exited. */
  exited(): boolean;
  /** Sends `signal` (default SIGTERM) and waits for the exit (SIGKILL after 10 s); the exit code, or null when killed by a signal. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGKILL, and wait for the process to be gone. */
  kill9(): Promise<void>;
}

/** Throws a clear message when the CLI has not been built. */
export function ensureBuilt(): void {
  if (!existsSync(CLI_PATH)) {
    throw new Error(`${CLI_PATH} is missing: the end-to-end tests run the built CLI. Run \`npm run build\` first (npm test does).`);
  }
}

/** Variables of the calling environment no test tool may inherit (user config, caches, find-links, venvs). */
const INHERITED_BLOCKLIST = /^(PIP_|PIPX_|POETRY_|PDM_|FLIT_|TWINE_|UV_|HATCH_|PYTHON|VIRTUAL_ENV|CONDA|XDG_|PYREPO_|HOME$|NODE_OPTIONS$|REQUESTS_CA_BUNDLE$|CURL_CA_BUNDLE$|SSL_CERT)/;

/**
 * An environment confined to `root`: HOME, PYREPO_HOME, XDG folders, pip/poetry/pdm folders
 * and settings all point into it, nothing asks for input, keyring is disabled, and no
 * inherited pip setting (find-links, indexes, config files) applies.
 */
export function isolatedEnv(root: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!INHERITED_BLOCKLIST.test(k)) env[k] = v;
  }
  return {
    ...env,
    HOME: join(root, 'home'),
    PYREPO_HOME: join(root, 'pyrepo-home'),
    XDG_CONFIG_HOME: join(root, 'xdg', 'config'),
    XDG_CACHE_HOME: join(root, 'xdg', 'cache'),
    XDG_DATA_HOME: join(root, 'xdg', 'data'),
    XDG_STATE_HOME: join(root, 'xdg', 'state'),
    PIP_CONFIG_FILE: '/dev/null',
    PIP_NO_INPUT: '1',
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    PIP_DEFAULT_TIMEOUT: '60',
    PDM_CHECK_UPDATE: 'false',
    PDM_IGNORE_SAVED_PYTHON: '1',
    POETRY_CONFIG_DIR: join(root, 'poetry', 'config'),
    POETRY_CACHE_DIR: join(root, 'poetry', 'cache'),
    POETRY_DATA_DIR: join(root, 'poetry', 'data'),
    POETRY_HOME: join(root, 'poetry', 'home'),
    POETRY_VIRTUALENVS_IN_PROJECT: 'true',
    POETRY_NO_INTERACTION: '1',
    PYTHON_KEYRING_BACKEND: 'keyring.backends.null.Keyring',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONNOUSERSITE: '1',
    NO_COLOR: '1',
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    ...extra,
  };
}

/** Creates the folders isolatedEnv() points at (some tools insist that HOME exists). */
export async function prepareIsolatedEnv(root: string): Promise<void> {
  for (const dir of ['home', 'pyrepo-home', 'xdg/config', 'xdg/cache', 'xdg/data', 'xdg/state', 'poetry/config', 'poetry/cache', 'poetry/data']) {
    await mkdir(join(root, dir), { recursive: true });
  }
}

/** A fresh temporary folder with an isolated environment ready in it. */
export async function makeTempRoot(prefix = 'pyrepo-e2e-'): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  await prepareIsolatedEnv(root);
  return root;
}

const live = new Set<RunningTestDaemon>();

/** The admin's Basic credentials, from the secrets file `serve` wrote (no keychain in tests). */
export function adminAuthOf(root: string): string {
  const file = join(root, 'pyrepo-home', 'config', 'secrets.json');
  const { entries } = JSON.parse(readFileSync(file, 'utf8')) as { entries: { service: string; account: string; secret: string }[] };
  const admin = entries.find((e) => e.service === 'pyrepo-admin');
  if (!admin) throw new Error(`No admin secret in ${file}`);
  return `Basic ${Buffer.from(`${admin.account}:${admin.secret}`).toString('base64')}`;
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolveWait) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolveWait(false);
    }, ms);
    const onExit = () => {
      clearTimeout(timer);
      resolveWait(true);
    };
    child.once('exit', onExit);
  });
}

function parseAccessLine(line: string): AccessLogEntry | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    if (o.msg !== 'request' || typeof o.method !== 'string' || typeof o.url !== 'string' || typeof o.status !== 'number') return undefined;
    return { method: o.method, url: o.url, status: o.status, type: typeof o.type === 'string' ? o.type : undefined };
  } catch {
    return undefined;
  }
}

/**
 * Starts `node dist/cli/index.js serve --port 0` on temporary folders and resolves once it
 * prints its URL and `/-/health` answers 200 with `indexing: false`.
 */
export async function startDaemon(opts: StartDaemonOptions = {}): Promise<RunningTestDaemon> {
  ensureBuilt();
  const root = await makeTempRoot('pyrepo-daemon-');
  const dataDir = opts.dataDir ?? join(root, 'data');
  const packagesDir = opts.packagesDir ?? join(root, 'packages');
  // Open uploads unless the test says otherwise: most tests are about the index, not access control.
  const auth = (opts.args ?? []).includes('--authenticate') ? [] : ['--authenticate', 'none'];
  const args = [CLI_PATH, 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--packages-dir', packagesDir, ...auth, ...(opts.args ?? [])];
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: isolatedEnv(root, opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let exitInfo: string | undefined;
  let onLine: ((line: string) => void) | undefined;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      lines.push(line);
      onLine?.(line);
    });
  }
  child.once('exit', (code, signal) => {
    exitInfo = `exited with ${code === null ? `signal ${String(signal)}` : `code ${code}`}`;
  });

  const logTail = () => lines.slice(-40).join('\n');
  try {
    return await waitUntilServing();
  } catch (err) {
    child.kill('SIGKILL');
    await waitForExit(child, STOP_GRACE_MS);
    await removeTemp(root);
    throw err;
  }

  async function waitUntilServing(): Promise<RunningTestDaemon> {
    const url = await new Promise<string>((resolveUrl, reject) => {
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        onLine = undefined;
        child.kill('SIGKILL');
        reject(new Error(`pyrepo serve ${why}.\nCommand: node ${args.join(' ')}\nLog:\n${logTail()}`));
      };
      const timer = setTimeout(() => fail(`did not print its URL within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
      const check = (line: string) => {
        const m = SERVING_LINE.exec(line);
        if (m?.[1] && !settled) {
          settled = true;
          clearTimeout(timer);
          onLine = undefined;
          resolveUrl(m[1]);
        }
      };
      for (const line of lines) check(line);
      onLine = check;
      // 'close' comes after 'exit' and after the last output line: the log tail is complete.
      child.once('close', () => fail(exitInfo ?? 'exited'));
      child.once('error', (err) => fail(`could not be started: ${err.message}`));
    });

    // Health answers at once; wait until the first reconcile with the folder is done. The
    // admin's credentials get the whole answer when reads need credentials too.
    const authorization = adminAuthOf(root);
    try {
      await waitFor(
        `pyrepo at ${url} to report healthy with indexing done`,
        async () => {
          if (exitInfo !== undefined) throw new GiveUp(exitInfo);
          const res = await fetch(`${url}/-/health`, { headers: { authorization }, signal: AbortSignal.timeout(3_000) });
          const body = (await res.json()) as { indexing?: unknown };
          if (res.status === 200 && body.indexing === false) return true;
          throw new Error(`status ${res.status}, indexing ${String(body.indexing)}`);
        },
        HEALTH_TIMEOUT_MS,
      );
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`pyrepo at ${url} never became healthy: ${(err as Error).message}.\nLog:\n${logTail()}`);
    }

    const daemon: RunningTestDaemon = {
      url,
      adminAuth: adminAuthOf(root),
      port: Number(new URL(url).port),
      root,
      dataDir,
      packagesDir,
      pid: child.pid as number,
      logLines: () => [...lines],
      requests: () => lines.map(parseAccessLine).filter((e): e is AccessLogEntry => e !== undefined),
      exited: () => child.exitCode !== null || child.signalCode !== null,
      async stop(signal: NodeJS.Signals = 'SIGTERM') {
        live.delete(daemon);
        if (child.exitCode === null && child.signalCode === null) {
          child.kill(signal);
          if (!(await waitForExit(child, STOP_GRACE_MS))) {
            child.kill('SIGKILL');
            await waitForExit(child, STOP_GRACE_MS);
          }
        }
        return child.exitCode;
      },
      async kill9() {
        live.delete(daemon);
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL');
          await waitForExit(child, STOP_GRACE_MS);
        }
      },
    };
    live.add(daemon);
    return daemon;
  }
}

/** Stops every daemon started by this module that is still running (for afterAll). */
export async function stopAllDaemons(): Promise<void> {
  await Promise.all([...live].map((d) => d.stop()));
}

/** Removes a temporary folder, never failing the test over it. */
export async function removeTemp(path: string | undefined): Promise<void> {
  if (path) await rm(path, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
}

export interface RunResult {
  /** Exit code; null when the process was killed (timeout or signal). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the time limit killed it. */
  timedOut: boolean;
  /** stdout and stderr together, for messages. */
  output: string;
}

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Written to stdin, which is then closed (it is closed at once without input). */
  input?: string;
  /** Time limit in ms (default 120 s); the process gets SIGKILL then. */
  timeoutMs?: number;
}

/** A command started by {@link startProcess}, still running or not. */
export interface RunningProcess {
  /** What it wrote to stdout so far. */
  stdout(): string;
  /** Settles once it has ended (by itself, by its time limit or by `stop`). */
  result: Promise<RunResult>;
  /** Sends `signal` (default SIGTERM) to its process group; its result. */
  stop(signal?: NodeJS.Signals): Promise<RunResult>;
}

/**
 * Starts a command with a time limit, for a test that watches its output while it runs
 * (`pyrepo logs -f`); never throws for its exit status.
 */
export function startProcess(cmd: string, args: string[], opts: RunOptions): RunningProcess {
  const timeoutMs = opts.timeoutMs ?? RUN_TIMEOUT_MS;
  let timedOut = false;
  let notRun = '';
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  // Its own process group, so that a timeout also ends the tool's children (poetry, pdm and pip spawn some).
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true, windowsHide: true });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
  };
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const timer = setTimeout(() => {
    timedOut = true;
    signalGroup('SIGKILL');
  }, timeoutMs);
  child.once('error', (e) => {
    notRun = `\n[${cmd} could not be run: ${e.message}]`;
  });
  const result = new Promise<RunResult>((resolveRun) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = `${Buffer.concat(err).toString('utf8')}${notRun}${timedOut ? `\n[killed after ${timeoutMs / 1000} s]` : ''}`;
      resolveRun({ code: notRun ? null : code, signal, stdout, stderr, timedOut, output: `${stdout}\n${stderr}` });
    });
  });
  child.stdin.on('error', () => undefined);
  child.stdin.end(opts.input ?? '');
  return {
    stdout: () => Buffer.concat(out).toString('utf8'),
    result,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) signalGroup(signal);
      return result;
    },
  };
}

/** Runs a command with a time limit and never throws for its exit status. */
export function run(cmd: string, args: string[], opts: RunOptions): Promise<RunResult> {
  return startProcess(cmd, args, opts).result;
}

/** Runs the built CLI (`node dist/cli/index.js ...args`). */
export function runCli(args: string[], opts: RunOptions): Promise<RunResult> {
  ensureBuilt();
  return run(process.execPath, [CLI_PATH, ...args], opts);
}

/** Starts the built CLI (`node dist/cli/index.js ...args`) and lets the test watch it run. */
export function startCli(args: string[], opts: RunOptions): RunningProcess {
  ensureBuilt();
  return startProcess(process.execPath, [CLI_PATH, ...args], opts);
}

/** The legacy upload form's metadata fields for one file (what twine sends, minus the optional ones). */
export interface UploadForm {
  name: string;
  version: string;
  filetype: 'bdist_wheel' | 'sdist';
  sha256?: string;
}

/** The multipart/form-data body of a legacy upload (`:action=file_upload`), with the file last. */
export function uploadBody(form: UploadForm, filename: string, data: Buffer, boundary = `pyrepo-e2e-${Date.now().toString(36)}`): { body: Buffer; contentType: string } {
  const fields: [string, string][] = [
    [':action', 'file_upload'],
    ['protocol_version', '1'],
    ['metadata_version', '2.1'],
    ['name', form.name],
    ['version', form.version],
    ['filetype', form.filetype],
    ['pyversion', form.filetype === 'sdist' ? 'source' : 'py3'],
  ];
  if (form.sha256) fields.push(['sha256_digest', form.sha256]);
  const parts: Buffer[] = [];
  for (const [k, v] of fields) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`, 'utf8'));
  }
  parts.push(
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="content"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`, 'utf8'),
    data,
    Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8'),
  );
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** Uploads one file through `POST /legacy/` with fetch; the status and the response text. */
export async function uploadFile(baseUrl: string, form: UploadForm, filename: string, data: Buffer): Promise<{ status: number; text: string }> {
  const { body, contentType } = uploadBody(form, filename, data);
  const res = await fetch(`${baseUrl}/legacy/`, {
    method: 'POST',
    headers: { 'content-type': contentType, authorization: `Basic ${Buffer.from('x:y').toString('base64')}` },
    body,
    signal: AbortSignal.timeout(60_000),
  });
  return { status: res.status, text: await res.text() };
}

/** The base URL (no trailing slash) of the daemon `pyrepo status --json` reports; throws when none runs. */
export async function runningBaseUrl(opts: RunOptions): Promise<string> {
  const r = await runCli(['status', '--json'], opts);
  const url = r.code === 0 ? (JSON.parse(r.stdout) as { url?: string }).url : undefined;
  if (!url) throw new Error(`pyrepo is not running:\n${r.output}`);
  return url.replace(/\/simple\/$/, '');
}
