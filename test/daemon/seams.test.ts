/**
 * The seam issue 14 asks for, kept: routes (and the hot paths that answer before them) reach
 * the index only through its reader and its publisher, never the catalog, the packages
 * folder's storage or the index put together.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const DAEMON = join(import.meta.dirname, '../../src/daemon');
const sources = [...readdirSync(join(DAEMON, 'routes')).map((f) => join('routes', f)), 'hot-paths.ts'];
/** What a route must not name: the index as a whole, its catalog, its storage. */
const FORBIDDEN = [/\bapp\.index\b/, /\.catalog(?![\w-])/, /\.storage(?![\w-])/, /from '\.\.\/services\/(catalog|storage|index-service)\.js'/];

describe('routes see only the reader and the publisher', () => {
  it.each(sources)('%s', (file) => {
    const code = readFileSync(join(DAEMON, file), 'utf8')
      // Comments may speak of the catalog.
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '');
    const found = FORBIDDEN.flatMap((re) => code.split('\n').filter((line) => re.test(line)).map((line) => line.trim()));
    expect(found).toEqual([]);
  });
});
