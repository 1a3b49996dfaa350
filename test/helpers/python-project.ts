/**
 * Real Python projects built by the real build frontend, for tests that need
 * distributions produced by the actual toolchain rather than by ./dists.ts.
 *
 * Requires Debian's python3-build, python3-setuptools and python3-wheel; the
 * build runs with `--no-isolation`, so it works offline.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { DEBIAN_PYTHON } from './python.js';

const execFileAsync = promisify(execFile);

/** The interpreter used for builds (Debian's, which has python3-build installed). */
const PYTHON = DEBIAN_PYTHON;

/** TOML basic string. */
function tomlString(s: string): string {
  return JSON.stringify(s).replace(/\x7f/g, '\\u007f');
}

/** The import name of the package: the project name with `-` (and `.`) replaced by `_`. */
function moduleName(name: string): string {
  return name.replace(/[-.]/g, '_');
}

/**
 * Writes a tiny real Python project (pyproject.toml with setuptools backend, src-less flat package) into dir and returns its path.
 *
 * The project is written directly into `dir` (created if needed), and the returned path is
 * `dir` resolved to an absolute path. It contains `pyproject.toml` (`[project]` with `name`,
 * `version`, optional `requires-python` and `dependencies`; `[tool.setuptools] packages`
 * listing the one package) and `<module>/__init__.py` defining `__version__`, where
 * `<module>` is `spec.name` with `-` replaced by `_` (`.` too, so the name is importable).
 */
export async function writePythonProject(
  dir: string,
  spec: { name: string; version: string; requiresPython?: string; dependencies?: string[] },
): Promise<string> {
  const root = resolve(dir);
  const mod = moduleName(spec.name);
  const lines = [
    '[build-system]',
    'requires = ["setuptools>=61", "wheel"]',
    'build-backend = "setuptools.build_meta"',
    '',
    '[project]',
    `name = ${tomlString(spec.name)}`,
    `version = ${tomlString(spec.version)}`,
    `description = ${tomlString(`Test project ${spec.name}`)}`,
  ];
  if (spec.requiresPython !== undefined) lines.push(`requires-python = ${tomlString(spec.requiresPython)}`);
  if (spec.dependencies !== undefined) lines.push(`dependencies = [${spec.dependencies.map(tomlString).join(', ')}]`);
  lines.push('', '[tool.setuptools]', `packages = [${tomlString(mod)}]`);

  await mkdir(join(root, mod), { recursive: true });
  await writeFile(join(root, 'pyproject.toml'), lines.join('\n') + '\n');
  await writeFile(join(root, mod, '__init__.py'), `__version__ = ${JSON.stringify(spec.version)}\n`);
  return root;
}

/**
 * Runs the real `python3 -m build --no-isolation --wheel --sdist --outdir <out>` (Debian's python3-build; use /usr/bin/python3) and returns the two file paths.
 *
 * `outDir` is created if needed. The returned paths are absolute. Build failures reject
 * with an error carrying the tool's output.
 */
export async function buildPythonProject(projectDir: string, outDir: string): Promise<{ wheel: string; sdist: string }> {
  const out = resolve(outDir);
  await mkdir(out, { recursive: true });
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(
      PYTHON,
      ['-m', 'build', '--no-isolation', '--wheel', '--sdist', '--outdir', out, resolve(projectDir)],
      {
        cwd: resolve(projectDir),
        timeout: 180_000,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', SOURCE_DATE_EPOCH: '1577836800' },
      },
    ));
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`python3 -m build failed for ${projectDir}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, {
      cause: err,
    });
  }

  // build ends with "Successfully built <sdist> and <wheel>".
  const match = /Successfully built (\S+) and (\S+)\s*$/m.exec(stdout);
  if (match?.[1] !== undefined && match[2] !== undefined) {
    const built = [match[1], match[2]];
    const wheel = built.find((f) => f.endsWith('.whl'));
    const sdist = built.find((f) => f.endsWith('.tar.gz') || f.endsWith('.zip'));
    if (wheel && sdist) return { wheel: join(out, wheel), sdist: join(out, sdist) };
  }

  // Fallback: the newest wheel and sdist in the output folder.
  const newest = async (pred: (f: string) => boolean): Promise<string | undefined> => {
    let best: { path: string; mtime: number } | undefined;
    for (const f of (await readdir(out)).filter(pred)) {
      const path = join(out, f);
      const { mtimeMs } = await stat(path);
      if (!best || mtimeMs > best.mtime) best = { path, mtime: mtimeMs };
    }
    return best?.path;
  };
  const wheel = await newest((f) => f.endsWith('.whl'));
  const sdist = await newest((f) => f.endsWith('.tar.gz') || f.endsWith('.zip'));
  if (!wheel || !sdist) throw new Error(`python3 -m build did not leave a wheel and an sdist in ${out}:\n${stdout}`);
  return { wheel, sdist };
}

/** A tiny poetry 1.3 project (its build backend, poetry-core, is bundled with poetry: no network); its folder. */
export function writePoetryProject(dir: string, name: string, version: string): string {
  const mod = moduleName(name);
  mkdirSync(join(dir, mod), { recursive: true });
  writeFileSync(
    join(dir, 'pyproject.toml'),
    `[tool.poetry]\nname = "${name}"\nversion = "${version}"\ndescription = "A tiny poetry project"\nauthors = ["Test <test@example.com>"]\npackages = [{ include = "${mod}" }]\n\n` +
      `[tool.poetry.dependencies]\npython = ">=3.7"\n\n[build-system]\nrequires = ["poetry-core>=1.0.0"]\nbuild-backend = "poetry.core.masonry.api"\n`,
  );
  writeFileSync(join(dir, mod, '__init__.py'), `__version__ = "${version}"\n`);
  return dir;
}
