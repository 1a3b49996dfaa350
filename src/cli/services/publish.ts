/**
 * `pyrepo publish` without the printing: which files (collected, checked and ordered
 * before anything is sent), where to (the running daemon, a URL, or a `.pypirc`
 * repository) and as whom, the build that makes the files, and the uploads one by one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { execa } from 'execa';
import { hasDistExtension } from '../../shared/distfiles.js';
import { formatDuration } from '../../shared/format.js';
import type { PyrepoPaths } from '../../shared/paths.js';
import { AbortError } from '../errors.js';
import type { PublishedFile } from '../json-output.js';
import { readAdminCredentials, secretStore } from './admin-identity.js';
import { connectToDaemon } from './daemon-access.js';
import { defaultPypircPath, isHttpUrl, pypircRepository, readPypirc } from './pypirc.js';
import { loadSettings } from './settings-store.js';
import {
  interpretResponse,
  prepareUpload,
  sendUpload,
  UnusableFileError,
  UploadTransportError,
  type PreparedUpload,
  type UploadTarget,
} from './upload-client.js';

/** What to do when there is nothing to publish. */
const BUILD_HINT = 'Build the project first with `python -m build`, or let `pyrepo publish --build` do it.';

/** sdists before wheels (as poetry uploads), then by name: the order files are sent in. */
export function uploadOrder(a: string, b: string): number {
  const rank = (p: string) => (basename(p).endsWith('.whl') ? 1 : 0);
  const byKind = rank(a) - rank(b);
  if (byKind !== 0) return byKind;
  const an = basename(a);
  const bn = basename(b);
  return an < bn ? -1 : an > bn ? 1 : 0;
}

/**
 * The files `publish` will send, from the arguments (default `./dist`): files as given,
 * folders for their wheels and sdists (not recursively; other files in them are left
 * alone). Each file is counted once however it was named. Absolute paths, in upload order.
 * Throws AbortError for a missing path, an empty folder, a file that is not a wheel or
 * sdist, or two different files with the same name.
 */
export async function collectDistFiles(inputs: readonly string[], cwd: string): Promise<string[]> {
  const given = inputs.length > 0 ? inputs : ['dist'];
  const found = new Map<string, string>();
  const notDists: string[] = [];
  // The first way a file was named is the one shown.
  const keep = (real: string, path: string) => {
    if (!found.has(real)) found.set(real, path);
  };
  for (const input of given) {
    const path = resolve(cwd, input);
    let info;
    try {
      info = await stat(path);
    } catch {
      if (inputs.length === 0) throw new AbortError(`There is no dist folder in ${cwd}, so there is nothing to publish.`, BUILD_HINT);
      throw new AbortError(`${input} does not exist.`, 'Name wheels, sdists or folders holding them (default: ./dist).');
    }
    if (info.isDirectory()) {
      const names = (await readdir(path, { withFileTypes: true })).filter((e) => e.isFile() && hasDistExtension(e.name)).map((e) => e.name);
      if (names.length === 0) throw new AbortError(`${input} holds no wheels (.whl) or sdists (.tar.gz, .zip).`, BUILD_HINT);
      for (const name of names) keep(await realpath(join(path, name)), join(path, name));
    } else if (!hasDistExtension(basename(path))) {
      notDists.push(input);
    } else {
      keep(await realpath(path), path);
    }
  }
  if (notDists.length > 0) {
    const list = notDists.join(', ');
    throw new AbortError(
      `${notDists.length === 1 ? `${list} is not a wheel or an sdist` : `These are not wheels or sdists: ${list}`} (.whl, .tar.gz or .zip); nothing was uploaded.`,
      'Pass only distribution files, or the folder that holds them (default: ./dist).',
    );
  }
  const byName = new Map<string, string>();
  for (const path of found.values()) {
    const name = basename(path);
    const other = byName.get(name);
    if (other) throw new AbortError(`Two different files are named ${name}: ${other} and ${path}; an index holds one file per name.`, 'Pass only one of them.');
    byName.set(name, path);
  }
  return [...found.values()].sort(uploadOrder);
}

/**
 * Reads and hashes every file, so that one that cannot be uploaded (a bad name, a damaged
 * archive, missing metadata) stops the run before any file is sent. Every bad file is named.
 */
export async function prepareFiles(paths: readonly string[]): Promise<PreparedUpload[]> {
  const prepared: PreparedUpload[] = [];
  const problems: string[] = [];
  for (const path of paths) {
    try {
      prepared.push(await prepareUpload(path));
    } catch (err) {
      if (!(err instanceof UnusableFileError)) throw err;
      problems.push(err.message);
    }
  }
  if (problems.length > 0) {
    throw new AbortError(
      `${problems.length === 1 ? problems[0] : `${problems.length} files cannot be uploaded:\n  ${problems.join('\n  ')}`}\nNothing was uploaded.`,
      'Rebuild the files (`python -m build`), or leave the bad ones out.',
    );
  }
  return prepared;
}

/** Where the files go, as whom, and how to name the place to the user. */
export interface PublishTarget extends UploadTarget {
  /** The upload URL without any credentials, for messages. */
  displayUrl: string;
  /** How it was chosen: the running pyrepo daemon, --repository-url, or a `.pypirc` repository. */
  source: 'pyrepo' | 'url' | 'pypirc';
  /** The `.pypirc` repository name, for `source: 'pypirc'`. */
  repositoryName?: string;
}

/** Options of {@link resolveTarget}. */
export interface TargetOptions {
  repositoryUrl?: string;
  repository?: string;
  /** A `.pypirc` other than ~/.pypirc (twine's --config-file). */
  configFile?: string;
  username?: string;
  password?: string;
  /** For PYREPO_USERNAME / PYREPO_PASSWORD. */
  env: NodeJS.ProcessEnv;
  /** pyrepo's folders, to find the daemon and the admin identity. */
  paths: PyrepoPaths;
  /** The home folder holding `.pypirc` (default: the user's). */
  home?: string;
}

/** A URL without its user info, for printing. */
export function withoutUserInfo(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * Picks the credentials: flags, then PYREPO_USERNAME/PYREPO_PASSWORD, then the target's
 * own (the `.pypirc` section, the admin identity, or the URL's user info). A password
 * alone goes with the token user `__token__`; a user without a password is an error,
 * since publish never prompts.
 */
function credentials(
  opts: TargetOptions,
  fallback: { username?: string | undefined; password?: string | undefined },
  where: string,
): { username?: string; password?: string } {
  const explicitUser = opts.username ?? (opts.env.PYREPO_USERNAME || undefined);
  const explicitPassword = opts.password ?? (opts.env.PYREPO_PASSWORD || undefined);
  let username: string | undefined;
  let password: string | undefined;
  if (explicitUser === undefined && explicitPassword === undefined) {
    username = fallback.username;
    password = fallback.password;
  } else {
    username = explicitUser ?? fallback.username;
    // Another user's password is no use: only take the fallback's when it is the same user.
    password = explicitPassword ?? (username === fallback.username ? fallback.password : undefined);
  }
  if (password !== undefined && (username === undefined || username === '')) username = '__token__';
  if (username !== undefined && password === undefined) {
    throw new AbortError(`There is a user name (${username}) for ${where} but no password.`, 'Pass -p/--password, or set PYREPO_PASSWORD.');
  }
  return username === undefined ? {} : { username, password: password as string };
}

/**
 * The upload target: `--repository-url` as given, `-r NAME` from the `.pypirc`, or else
 * the running pyrepo daemon's `/legacy/` with the admin identity (when `pyrepo init`
 * made one). AbortError when the daemon is not running or the repository is unknown.
 */
export async function resolveTarget(opts: TargetOptions): Promise<PublishTarget> {
  if (opts.repositoryUrl !== undefined && opts.repository !== undefined) {
    throw new AbortError('Give either --repository-url or -r/--repository, not both.', undefined, 64);
  }
  if (opts.repositoryUrl !== undefined) {
    const url = opts.repositoryUrl;
    if (!isHttpUrl(url)) {
      throw new AbortError(`--repository-url ${withoutUserInfo(url)} is not an http(s) URL.`, 'Give the full upload URL, e.g. http://127.0.0.1:8645/legacy/', 64);
    }
    const u = new URL(url);
    const fromUrl = { username: u.username ? decodeURIComponent(u.username) : undefined, password: u.password ? decodeURIComponent(u.password) : undefined };
    const displayUrl = withoutUserInfo(url);
    u.username = '';
    u.password = '';
    return { url: u.toString(), displayUrl, source: 'url', ...credentials(opts, fromUrl, displayUrl) };
  }
  if (opts.repository !== undefined) {
    const file = opts.configFile !== undefined ? resolve(opts.configFile) : defaultPypircPath(opts.home);
    const repo = pypircRepository(await readPypirc(file, opts.configFile !== undefined), opts.repository);
    const displayUrl = withoutUserInfo(repo.url);
    return {
      url: repo.url,
      displayUrl,
      source: 'pypirc',
      repositoryName: repo.name,
      ...credentials(opts, repo, `[${repo.name}] in ${file}`),
    };
  }
  const { state } = await connectToDaemon(opts.paths);
  const url = `${state.url}/legacy/`;
  const admin = await readAdminCredentials(secretStore(opts.paths), loadSettings(opts.paths).adminUser);
  const tls = state.tlsCert ? { tlsCertificate: readFileSync(state.tlsCert, 'utf8') } : {};
  return { url, displayUrl: url, source: 'pyrepo', ...tls, ...credentials(opts, admin ?? {}, url) };
}

/** Progress callbacks of {@link uploadFiles}. */
export interface UploadEvents {
  onStart?(file: PreparedUpload): void;
  onProgress?(file: PreparedUpload, sent: number, total: number): void;
  onDone?(file: PreparedUpload, result: PublishedFile): void;
}

/**
 * Uploads the files one after the other and reports each outcome. A conflict or a
 * refused file does not stop the others; an answer that would repeat for every file
 * (credentials wanted, not allowed, a redirect, no connection) leaves the rest
 * `not-attempted`.
 */
export async function uploadFiles(
  files: readonly PreparedUpload[],
  target: PublishTarget,
  events: UploadEvents = {},
  opts: { inactivityMs?: number } = {},
): Promise<PublishedFile[]> {
  const results: PublishedFile[] = [];
  let stopReason: string | undefined;
  for (const file of files) {
    const base = {
      file: file.filename,
      path: file.path,
      size: file.size,
      sha256: file.digests.sha256,
      project: file.dist.project,
      version: file.dist.version,
      filetype: file.dist.packagetype,
      repositoryUrl: target.displayUrl,
    };
    let result: PublishedFile;
    if (stopReason !== undefined) {
      result = { ...base, result: 'not-attempted', message: stopReason };
    } else {
      events.onStart?.(file);
      try {
        const res = await sendUpload(file, target, {
          onProgress: (sent, total) => events.onProgress?.(file, sent, total),
          ...(opts.inactivityMs !== undefined ? { inactivityMs: opts.inactivityMs } : {}),
        });
        const verdict = interpretResponse(res, target.url);
        const httpStatus = res.status;
        if (verdict.result === 'uploaded' || verdict.result === 'identical') {
          const warnings = verdict.warnings.length > 0 ? { warnings: verdict.warnings } : {};
          result = { ...base, result: verdict.result === 'uploaded' && verdict.replaced ? 'replaced' : verdict.result, httpStatus, ...warnings };
        }
        else {
          result = { ...base, result: verdict.result, message: verdict.message, httpStatus };
          if (verdict.result === 'failed' && verdict.fatal) stopReason = `not sent after: ${verdict.message}`;
        }
      } catch (err) {
        if (!(err instanceof UploadTransportError)) throw err;
        result = { ...base, result: 'failed', message: err.message };
        if (err.unreachable) stopReason = `not sent after: ${err.message}`;
      }
    }
    results.push(result);
    events.onDone?.(file, result);
  }
  return results;
}

/** Options of {@link runBuild}. */
export interface BuildOptions {
  /** The interpreter that runs `-m build` (default python3). */
  python: string;
  /** The project folder (pyproject.toml or setup.py). */
  projectDir: string;
  /** False passes `--no-isolation` (build with what is installed; no network needed). */
  isolation: boolean;
  /** Time limit; default 10 minutes. */
  timeoutMs?: number;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/** The files a build wrote: name → `mtime:size`, to tell fresh files from old ones. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return out;
  }
  for (const name of names.filter(hasDistExtension)) {
    const s = await stat(join(dir, name)).catch(() => undefined);
    if (s?.isFile()) out.set(name, `${s.mtimeMs}:${s.size}`);
  }
  return out;
}

/**
 * Runs `<python> -m build --outdir <project>/dist <project>` with its output shown on
 * stderr (stdout stays for the result), and returns the paths of the files it built:
 * those named in its "Successfully built X and Y" line, else those new or rewritten in
 * the output folder.
 */
export async function runBuild(opts: BuildOptions): Promise<string[]> {
  const projectDir = resolve(opts.projectDir);
  if (!existsSync(projectDir)) throw new AbortError(`The project folder ${projectDir} does not exist.`, 'Pass the folder with pyproject.toml as --project.');
  if (!existsSync(join(projectDir, 'pyproject.toml')) && !existsSync(join(projectDir, 'setup.py'))) {
    throw new AbortError(`${projectDir} has no pyproject.toml or setup.py, so there is nothing to build.`, 'Run this in the project folder, or pass --project DIR.');
  }
  const outDir = join(projectDir, 'dist');
  const before = await snapshot(outDir);
  const args = ['-m', 'build', '--outdir', outDir, ...(opts.isolation ? [] : ['--no-isolation']), projectDir];
  const timeoutMs = opts.timeoutMs ?? 10 * 60_000;
  const command = `${opts.python} -m build`;
  // Its own process group, so that a timeout or Ctrl-C also ends the build backend that
  // build runs as a subprocess (it would otherwise keep running and hold the output open).
  const child = execa(opts.python, args, {
    cwd: projectDir,
    stdin: 'ignore',
    // Shown to the user as it happens (on stderr: stdout is for the summary or JSON), and kept.
    stdout: ['pipe', 2],
    stderr: ['pipe', 2],
    reject: false,
    detached: true,
    // Unbuffered, so its stdout and stderr lines arrive in order.
    env: { PYTHONUNBUFFERED: '1' },
  });
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  let timedOut = false;
  let interrupted: NodeJS.Signals | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup('SIGTERM');
    setTimeout(() => killGroup('SIGKILL'), 5_000).unref();
  }, timeoutMs);
  // A detached group does not get the terminal's Ctrl-C: pass it on, then report it.
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = signal;
    killGroup(signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let r: Awaited<typeof child>;
  try {
    r = await child;
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const output = `${String(r.stdout ?? '')}\n${String(r.stderr ?? '')}`.replace(ANSI, '');
  if (r.code === 'ENOENT' || (r.failed && r.exitCode === undefined && /ENOENT/.test(r.message ?? ''))) {
    throw new AbortError(`${opts.python} not found, so the project cannot be built.`, 'Pass the Python to build with as --python (e.g. --python python3.12 or --python .venv/bin/python).');
  }
  if (interrupted) throw new AbortError(`Interrupted (${interrupted}); the build was stopped and nothing was uploaded.`, undefined, 130);
  if (timedOut) throw new AbortError(`${command} took longer than ${formatDuration(timeoutMs / 1000)} and was stopped.`, 'Look at its output above.');
  if (/No module named build\b/.test(output)) {
    throw new AbortError(
      `${opts.python} has no 'build' module.`,
      `Install it with \`${opts.python} -m pip install build\` (Debian/Ubuntu: \`apt install python3-build\`), or pass another interpreter as --python.`,
    );
  }
  if (r.exitCode !== 0) {
    const why = r.signal ? `ended by ${r.signal}` : `exit ${r.exitCode ?? '?'}`;
    const offline = !opts.isolation ? '' : ' If it could not download its build dependencies (offline), --no-isolation builds with the installed ones.';
    throw new AbortError(`${command} failed (${why}); its output is above.`, `Fix what it reports and try again.${offline}`);
  }
  const m = /Successfully built (.+?)\s*$/m.exec(output);
  let built = m?.[1]
    ? m[1]
        .split(/ and |, /)
        .map((s) => s.trim())
        .filter(hasDistExtension)
        .map((name) => join(outDir, name))
        .filter((p) => existsSync(p))
    : [];
  if (built.length === 0) {
    const after = await snapshot(outDir);
    built = [...after].filter(([name, stamp]) => before.get(name) !== stamp).map(([name]) => join(outDir, name));
  }
  if (built.length === 0) {
    throw new AbortError(`${command} finished but wrote no wheel or sdist into ${outDir}.`, 'Look at its output above.');
  }
  return built.sort(uploadOrder);
}
