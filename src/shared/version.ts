/** pyrepo's own version, read once from its package.json. */
import { readFileSync } from 'node:fs';

/** Finds pyrepo's package.json above this module, whether it runs from src/, dist/ or a bundle chunk. */
function readVersion(): string {
  let dir = new URL('.', import.meta.url);
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'pyrepo' && pkg.version) return pkg.version;
    } catch {
      // not here; look one folder up
    }
    dir = new URL('..', dir);
  }
  return '0.0.0';
}

/** The installed pyrepo version. */
export const PYREPO_VERSION: string = readVersion();
