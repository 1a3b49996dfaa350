/**
 * Tools the end-to-end tests need, and a real Secret Service to run commands against.
 *
 * `requireTools` lists what is missing: in CI (`.ci/run` sets CI and installs everything)
 * a missing tool is an error, never a skip; on a developer's machine the tests that need it
 * skip, saying why.
 *
 * `keyringSession` runs shell scripts inside `dbus-run-session` with gnome-keyring unlocked
 * (its keyrings in the test's $XDG_DATA_HOME), so that Python's keyring, pip, twine, poetry
 * and pyrepo all use the same real Secret Service, as on a desktop.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { run, type RunResult } from './daemon.js';
import { DEBIAN_PYTHON } from './python.js';

export { DEBIAN_PYTHON } from './python.js';

/**
 * Python keyring's backend for the Secret Service over D-Bus (secretstorage), named for every
 * session: left to choose, keyring prefers its libsecret backend wherever Debian's
 * gir1.2-secret-1 is installed, and the tests would then depend on the machine.
 */
export const SECRET_SERVICE_BACKEND = 'keyring.backends.SecretService.Keyring';

function have(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000, env: { ...process.env, PDM_CHECK_UPDATE: 'false' } });
  return r.status === 0;
}

/** The tools (command and probe arguments, default `--version`) that are not usable here; throws in CI. */
export function requireTools(label: string, tools: [string, string[]?][]): string[] {
  const gone = tools.filter(([cmd, args]) => !have(cmd, args ?? ['--version'])).map(([cmd, args]) => [cmd, ...(args ?? ['--version'])].join(' '));
  if (gone.length > 0 && process.env.CI) throw new Error(`CI must have: ${gone.join(', ')} (see .ci/run)`);
  if (gone.length > 0) console.warn(`[${label}] skipping: not on this machine: ${gone.join(', ')}`);
  return gone;
}

/** What a Secret Service session needs. */
export const SESSION_TOOL_PROBES: [string, string[]?][] = [
  ['dbus-run-session', ['--version']],
  ['sh', ['-c', 'command -v dbus-send']],
  ['gnome-keyring-daemon', ['--version']],
  [DEBIAN_PYTHON, ['-c', 'import keyring, secretstorage']],
];

/**
 * The start of every session script: gnome-keyring unlocked with a password on stdin,
 * ended by its process id when the script ends; `pyrepo` (the built CLI), `kr SERVICE USER`
 * (Python keyring's get_password) and `mark NAME VALUE` (a line the test reads back).
 */
const SESSION_PREAMBLE = `set -u
printf '%s' "$KEYRING_UNLOCK" | gnome-keyring-daemon --unlock --components=secrets >"$ROOT/gnome-keyring.out" 2>&1
end_keyring() {
  pid=$(dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets 2>/dev/null | awk '/uint32/ {print $2}')
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null
  i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}
trap end_keyring EXIT
pyrepo() { node "$PYREPO_CLI" "$@"; }
kr() { ${DEBIAN_PYTHON} -c 'import keyring, sys; print(keyring.get_password(sys.argv[1], sys.argv[2]))' "$1" "$2"; }
mark() { printf '\\n@@%s=%s\\n' "$1" "$2"; }
mark backend "$(${DEBIAN_PYTHON} -c 'import keyring; k = keyring.get_keyring(); print(",".join(sorted({type(b).__module__ for b in getattr(k, "backends", [k])})))')"
`;

/** A session script's result, with its `mark NAME VALUE` lines as `marks`. */
export interface SessionResult extends RunResult {
  marks: Record<string, string>;
}

/**
 * The environment a session needs on top of an isolated one: the CLI path, the root (for
 * gnome-keyring's output) and an unlock password; Python's keyring on its Secret Service
 * backend ({@link SECRET_SERVICE_BACKEND}) and no inherited D-Bus session.
 */
export function sessionEnv(env: NodeJS.ProcessEnv, root: string, cliPath: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env, PYREPO_CLI: cliPath, ROOT: root, KEYRING_UNLOCK: 'unlock-the-test-keyring', PYTHON_KEYRING_BACKEND: SECRET_SERVICE_BACKEND };
  delete out.DBUS_SESSION_BUS_ADDRESS;
  return out;
}

/**
 * A function that runs a shell script body in a new D-Bus session with the keyring
 * unlocked, in the folder `root()` names, with the environment `env()` gives at that moment (plus `extraEnv`).
 * Each run checks that Python's keyring really used the Secret Service.
 */
export function keyringSession(root: () => string, env: () => NodeJS.ProcessEnv, timeoutMs = 180_000): (body: string, extraEnv?: NodeJS.ProcessEnv) => Promise<SessionResult> {
  let scripts = 0;
  return async (body, extraEnv = {}) => {
    const script = join(root(), `session-${++scripts}.sh`);
    writeFileSync(script, SESSION_PREAMBLE + body);
    const r = await run('dbus-run-session', ['--', 'sh', script], { cwd: root(), env: { ...env(), ...extraEnv }, timeoutMs });
    const marks: Record<string, string> = {};
    for (const m of r.stdout.matchAll(/^@@([\w-]+)=(.*)$/gm)) marks[m[1] as string] = m[2] as string;
    // Secret Service through secretstorage, and also through libsecret where gir1.2-secret-1 is installed (keyring then chains the two).
    expect(marks.backend?.split(',').every((b) => b === 'keyring.backends.SecretService' || b === 'keyring.backends.libsecret'), r.output).toBe(true);
    return { ...r, marks };
  };
}
