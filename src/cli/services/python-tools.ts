/**
 * Which Python tools are installed, and their versions, found quickly: a tool is looked up
 * on PATH without running it, and its version read from its `*.dist-info` (or
 * `*.egg-info`) folder next to the interpreter its script names. Starting poetry or pdm
 * only to print a version costs about a second of CPU each; reading a folder name costs
 * nothing. A tool whose version cannot be read that way (a binary such as uv, a script
 * behind `#!/usr/bin/env`) is asked with `--version`, with a time limit.
 */
import { accessSync, constants, openSync, readSync, closeSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { execa } from 'execa';

/** Time limit for one `<tool> --version` when a file read does not answer. */
export const VERSION_TIMEOUT_MS = 5_000;

/** The first executable file named `cmd` on PATH, or undefined. */
export function findOnPath(cmd: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const exts = process.platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const path = join(dir, cmd + ext);
      try {
        if (!statSync(path).isFile()) continue;
        accessSync(path, constants.X_OK);
        return path;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/** The interpreter a script's `#!` line names directly (not through `env`), or undefined. */
function shebangInterpreter(script: string): string | undefined {
  const buf = Buffer.alloc(256);
  let n = 0;
  try {
    const fd = openSync(script, 'r');
    try {
      n = readSync(fd, buf, 0, buf.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const first = buf.subarray(0, n).toString('latin1').split('\n', 1)[0] ?? '';
  const m = /^#!\s*(\/\S+)/.exec(first);
  if (!m || /\/env$/.test(m[1] as string)) return undefined;
  return /python[\d.]*$/.test(m[1] as string) ? (m[1] as string) : undefined;
}

/** Folder listings, shared by the lookups of one run (several tools live in the same site-packages). */
const listings = new Map<string, Promise<string[]>>();

function listing(dir: string): Promise<string[]> {
  let list = listings.get(dir);
  if (!list) {
    list = readdir(dir).catch(() => []);
    listings.set(dir, list);
  }
  return list;
}

/** The folders an interpreter at `<prefix>/bin/pythonX` imports packages from (Debian's, venvs', pipx's, /usr/local's). */
async function siteFolders(interpreter: string): Promise<string[]> {
  const prefix = dirname(dirname(interpreter));
  const out = [join(prefix, 'lib', 'python3', 'dist-packages')];
  for (const lib of [join(prefix, 'lib'), join(prefix, 'local', 'lib')]) {
    for (const name of (await listing(lib)).filter((n) => /^python3(\.\d+)?$/.test(n))) out.push(join(lib, name, 'site-packages'), join(lib, name, 'dist-packages'));
  }
  return out;
}

/** The version in a `<dist>-<version>.dist-info` or `.egg-info` folder name for `dist` (names compared as pip does: case and `-`/`_`/`.` alike). */
async function versionIn(folders: string[], dist: string): Promise<string | undefined> {
  const wanted = dist.toLowerCase().replace(/[-_.]+/g, '_');
  for (const folder of folders) {
    for (const name of await listing(folder)) {
      const m = /^(.+?)-(\d[^-]*?)(?:-py\d[\d.]*)?\.(?:dist-info|egg-info)$/.exec(name);
      if (m && (m[1] as string).toLowerCase().replace(/[-_.]+/g, '_') === wanted) return m[2];
    }
  }
  return undefined;
}

/** A tool as found. */
export interface ToolInfo {
  /** Its path on PATH; undefined: not installed. */
  path?: string;
  version?: string;
  /** Why there is no version (it failed or did not answer). */
  problem?: string;
}

/** The first version-looking word of a tool's `--version` output. */
export function versionFromOutput(output: string): string | undefined {
  const line = output.split('\n').find((l) => /\d+\.\d+/.test(l)) ?? '';
  return /(\d+\.\d+(?:\.\d+)?[\w.+-]*)/.exec(line)?.[1];
}

/**
 * Finds `cmd` on PATH and its version: from the dist-info of `dist` (default: `cmd`) beside
 * the interpreter of its script, else from `cmd --version` (bounded by VERSION_TIMEOUT_MS).
 */
export async function findTool(cmd: string, dist: string = cmd, env: NodeJS.ProcessEnv = process.env): Promise<ToolInfo> {
  const path = findOnPath(cmd, env);
  if (!path) return {};
  const interpreter = shebangInterpreter(path);
  const read = interpreter ? await versionIn(await siteFolders(interpreter), dist) : undefined;
  if (read) return { path, version: read };
  const r = await execa(path, ['--version'], { reject: false, timeout: VERSION_TIMEOUT_MS, stdin: 'ignore', env: { PDM_CHECK_UPDATE: 'false', NO_COLOR: '1' } });
  if (r.timedOut) return { path, problem: `\`${cmd} --version\` did not answer within ${VERSION_TIMEOUT_MS / 1000} s` };
  if (r.exitCode !== 0) return { path, problem: `\`${cmd} --version\` failed (exit ${r.exitCode ?? 'none'})` };
  const version = versionFromOutput(`${r.stdout}\n${r.stderr}`);
  return version ? { path, version } : { path };
}
