/** pyrepo's own version and install folder, read once from its package.json. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Finds pyrepo's package.json above this module, whether it runs from src/, dist/ or a bundle chunk. */
function findPackage(): { root?: string; version: string } {
  let dir = new URL('.', import.meta.url);
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'pyrepo' && pkg.version) return { root: fileURLToPath(dir).replace(/[\\/]$/, ''), version: pkg.version };
    } catch {
      // not here; look one folder up
    }
    dir = new URL('..', dir);
  }
  return { version: '0.0.0' };
}

const found = findPackage();

/** The installed pyrepo version. */
export const PYREPO_VERSION: string = found.version;

/** The folder holding pyrepo's package.json (its built entry points are under dist/). */
export const PYREPO_ROOT: string | undefined = found.root;
