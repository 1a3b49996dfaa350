/**
 * Which files of a distribution a MicroPython board gets: the importable modules and
 * packages, nothing else (no tests, docs, metadata, build scripts, stubs or bytecode),
 * with src/ layouts flattened. Works on member paths alone, so the same rules decide
 * what upip's tarball and mip's file list hold and whether an upload can run on a board.
 */

/** One file as a board installs it. */
export interface BoardFile {
  /** Path under the board's lib folder, e.g. `pkg/__init__.py`. */
  target: string;
  /** Member path inside the archive. */
  member: string;
}

export interface BoardLayout {
  files: BoardFile[];
  /** How many of `files` are Python modules (`.py`). */
  modules: number;
  /** Compiled extension modules (or their C/Cython sources, in an sdist) that boards cannot use. */
  compiled: string[];
}

/** Top-level names that hold tests, documentation or tooling rather than the package. */
const NOT_PACKAGES = new Set(['test', 'tests', 'testing', 'doc', 'docs', 'example', 'examples', 'benchmark', 'benchmarks', 'build', 'dist', 'scripts', 'tools']);
/** Top-level modules of an sdist that configure its build or its tests. */
const NOT_MODULES = new Set(['setup.py', 'conftest.py', 'noxfile.py', 'toxfile.py', 'fabfile.py']);
/** Extension modules built for CPython. */
const COMPILED = /\.(so|pyd|dylib|dll)$|\.so\.[0-9.]+$|\.(cpython|abi3|pypy)[^/]*\.so$/;
/** Sources of compiled extensions (an sdist's counterpart of COMPILED). */
const COMPILED_SOURCE = /\.(c|cc|cpp|cxx|h|hpp|pyx|pxd|pxi|rs|f90)$/;
/** Files a board never needs: bytecode for CPython, type stubs and markers. */
const USELESS = /\.(pyc|pyo|pyi)$|(^|\/)py\.typed$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function isSkippedPath(path: string): boolean {
  return path.split('/').some((s) => s === '__pycache__' || s === '' || s === '.' || s === '..' || s.startsWith('.'));
}

/**
 * Keeps the files under `root` that belong to importable modules and packages, and the
 * compiled extensions found on the way.
 * @param requireInit - a top-level folder counts only if it holds `__init__.py` (an sdist's
 *   project folder holds many folders that are not packages); under src/ or in a wheel every
 *   folder with Python files does (namespace packages included).
 */
function pick(paths: { rel: string; member: string }[], requireInit: boolean): BoardLayout {
  const hasInit = new Set(paths.filter((p) => /^[^/]+\/__init__\.py$/.test(p.rel)).map((p) => p.rel.split('/')[0]));
  const hasPython = new Set(paths.filter((p) => p.rel.includes('/') && p.rel.endsWith('.py')).map((p) => p.rel.split('/')[0]));
  const files: BoardFile[] = [];
  const compiled: string[] = [];
  for (const { rel, member } of paths) {
    if (isSkippedPath(rel)) continue;
    const top = rel.split('/')[0] as string;
    const inFolder = rel.includes('/');
    if (NOT_PACKAGES.has(top.toLowerCase()) && inFolder) continue;
    if (COMPILED.test(rel)) {
      compiled.push(rel);
      continue;
    }
    if (COMPILED_SOURCE.test(rel)) {
      if (requireInit ? hasInit.has(top) || !inFolder : true) compiled.push(rel);
      continue;
    }
    if (USELESS.test(rel)) continue;
    if (!inFolder) {
      if (rel.endsWith('.py') && IDENTIFIER.test(rel.slice(0, -3)) && !NOT_MODULES.has(rel)) files.push({ target: rel, member });
      continue;
    }
    if (!IDENTIFIER.test(top)) continue;
    if (requireInit ? !hasInit.has(top) : !hasPython.has(top)) continue;
    files.push({ target: rel, member });
  }
  files.sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
  return { files, modules: files.filter((f) => f.target.endsWith('.py')).length, compiled };
}

/** The board files of a wheel: its install tree, `*.data/purelib|platlib` merged in, `*.dist-info` left out. */
export function wheelBoardLayout(members: string[]): BoardLayout {
  const paths: { rel: string; member: string }[] = [];
  for (const member of members) {
    const top = member.split('/')[0] as string;
    if (top.endsWith('.dist-info')) continue;
    if (top.endsWith('.data')) {
      const m = /^[^/]+\/(purelib|platlib)\/(.+)$/.exec(member);
      if (m) paths.push({ rel: m[2] as string, member });
      continue;
    }
    paths.push({ rel: member, member });
  }
  return pick(paths, false);
}

/** The board files of an sdist: modules and packages at its root, or under `src/` when it has a src layout. */
export function sdistBoardLayout(members: string[]): BoardLayout {
  const paths: { rel: string; member: string }[] = [];
  for (const member of members) {
    const clean = member.replace(/^\.\//, '');
    const slash = clean.indexOf('/');
    if (slash === -1) continue;
    paths.push({ rel: clean.slice(slash + 1), member });
  }
  const src = pick(
    paths.filter((p) => p.rel.startsWith('src/')).map((p) => ({ rel: p.rel.slice(4), member: p.member })),
    false,
  );
  if (src.files.length > 0) return src;
  const root = pick(
    paths.filter((p) => !p.rel.startsWith('src/')),
    true,
  );
  return { ...root, compiled: [...root.compiled, ...src.compiled.map((c) => `src/${c}`)] };
}

/** The board files of a wheel or an sdist, from its member paths. */
export function boardLayoutOf(kind: 'wheel' | 'sdist', members: string[]): BoardLayout {
  return kind === 'wheel' ? wheelBoardLayout(members) : sdistBoardLayout(members);
}

/**
 * Why a distribution cannot run on a MicroPython board, or null when it can (or when it
 * holds no code at all, like a package that only gathers dependencies).
 */
export function boardIncompatibility(filename: string, layout: BoardLayout): string | null {
  if (layout.modules > 0 || layout.compiled.length === 0) return null;
  const examples = layout.compiled.slice(0, 3).join(', ') + (layout.compiled.length > 3 ? ', ...' : '');
  return `${filename} has compiled extension modules only (${examples}) and no pure-Python modules: MicroPython boards cannot install it with upip or mip.`;
}
