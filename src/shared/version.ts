/** pyrepo's own version, read once from package.json (two levels up from both src/shared and dist/shared). */
import { readFileSync } from 'node:fs';

/** The installed pyrepo version. */
export const PYREPO_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
