/**
 * The Python interpreters the tests run, always by absolute path: never whichever `python3`
 * comes first on PATH (a pyenv one with its own pip on some machines, Debian's on others),
 * so that a test means the same pip on every machine.
 *
 * - {@link DEBIAN_PYTHON}: Debian 12's Python with pip 23.0, twine, build, keyring and
 *   secretstorage (what `.ci/run` installs).
 * - {@link currentPipPython}: a venv of Debian's Python with a current pip (Debian trixie's
 *   pip wheel, 25.x), for what pip 23.2 and later do: PEP 714's `core-metadata` in JSON
 *   pages, which pip 23.0 does not read.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { REPO_ROOT } from './daemon.js';

/** Debian's interpreter: pip 23.0, twine, build, keyring and secretstorage live there. */
export const DEBIAN_PYTHON = '/usr/bin/python3';

/** Where fetched test tools are kept between runs (`PYREPO_TEST_CACHE`, default `~/.cache/pyrepo-tests`). */
export const TEST_CACHE = process.env.PYREPO_TEST_CACHE ?? join(homedir(), '.cache', 'pyrepo-tests');

/** The oldest pip that reads PEP 714's `core-metadata` key (and so fetches `.metadata` files from JSON pages). */
export const CURRENT_PIP_MIN = [23, 2] as const;

const FETCH_SCRIPT = join(REPO_ROOT, 'test', 'helpers', 'fetch-current-pip.sh');

/** An environment for setting up the venv that no user or machine pip setting reaches. */
function setupEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: 'C.UTF-8',
    PIP_CONFIG_FILE: '/dev/null',
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    PIP_NO_INPUT: '1',
    PYTHONNOUSERSITE: '1',
    PYTHONDONTWRITEBYTECODE: '1',
  };
}

function runOrThrow(cmd: string, args: string[], what: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: setupEnv(), timeout: 300_000 });
  if (r.status !== 0) throw new Error(`${what} failed (${r.error?.message ?? `exit ${String(r.status ?? r.signal)}`}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `pip X.Y.Z from …` → whether X.Y is at least {@link CURRENT_PIP_MIN}. */
export function isCurrentPip(versionLine: string): boolean {
  const m = /^pip (\d+)\.(\d+)/.exec(versionLine);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > CURRENT_PIP_MIN[0] || (major === CURRENT_PIP_MIN[0] && minor >= CURRENT_PIP_MIN[1]);
}

let prepared: string | undefined;

/**
 * The `python` of a venv (made once per machine in {@link TEST_CACHE}) of Debian's Python
 * with a current pip. Run it as `<python> -m pip install --target <folder> …`: tests install
 * into folders of their own, never into this shared venv.
 *
 * When the venv cannot be made (no network for the one download on a fresh machine) this
 * says why on stderr and returns the path anyway, so that `requireTools` reports the
 * interpreter as missing: an error in CI, a skip elsewhere.
 */
export function currentPipPython(): string {
  if (prepared) return prepared;
  mkdirSync(TEST_CACHE, { recursive: true });
  let python = join(TEST_CACHE, 'venv-pip-current', 'bin', 'python');
  try {
    const wheel = runOrThrow('bash', [FETCH_SCRIPT, TEST_CACHE], `Fetching a current pip wheel (${FETCH_SCRIPT})`).trim();
    const venv = join(TEST_CACHE, `venv-${basename(wheel).replace(/-py3-none-any\.whl$/, '')}`);
    python = join(venv, 'bin', 'python');
    if (!existsSync(python)) {
      // Made beside its final place and renamed into it: a test file that looks at the same
      // time finds no venv or a whole one. The venv only runs `-m pip`, so the move is harmless.
      const making = mkdtempSync(join(TEST_CACHE, '.venv-'));
      try {
        runOrThrow(DEBIAN_PYTHON, ['-m', 'venv', '--without-pip', making], `${DEBIAN_PYTHON} -m venv`);
        runOrThrow(join(making, 'bin', 'python'), [join(wheel, 'pip'), 'install', '--quiet', '--no-index', '--no-cache-dir', wheel], `Installing ${wheel}`);
        try {
          renameSync(making, venv);
        } catch (err) {
          // Another test file got there first.
          if (!existsSync(python)) throw err;
        }
      } finally {
        rmSync(making, { recursive: true, force: true });
      }
    }
    const version = runOrThrow(python, ['-m', 'pip', '--version'], `${python} -m pip --version`);
    if (!isCurrentPip(version)) throw new Error(`${python} has ${version.trim()}; the tests need pip ${CURRENT_PIP_MIN.join('.')} or later`);
    prepared = python;
  } catch (err) {
    process.stderr.write(`[python helper] no venv with a current pip: ${(err as Error).message}\n`);
  }
  return python;
}
