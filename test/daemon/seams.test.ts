/**
 * The seam issue 14 asks for, kept: routes (and the hot paths that answer before them) reach
 * the index only through its reader and its publisher, never the catalog, the packages
 * folder's storage or the index put together; and the services that read and change the
 * index reach the catalog and the files only through the store interfaces (CatalogStore,
 * BlobStore), never the embedded catalog or the folder themselves.
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

/** The services over index data, and why one of them may still read files itself. */
const SERVICES: { file: string; fsAllowed?: string }[] = [
  { file: 'services/index-reader.ts' },
  { file: 'services/publisher.ts', fsAllowed: 'it reads watched build folders (outside the index) the way an upload arrives' },
  { file: 'services/board-index.ts' },
  { file: 'services/shared-index.ts' },
  { file: 'services/upstream/proxy.ts', fsAllowed: 'the upstream cache is its own folder, not index data' },
];

describe('services reach index data only through the store interfaces', () => {
  it.each(SERVICES)('$file', ({ file, fsAllowed }) => {
    const imports = readFileSync(join(DAEMON, file), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('import '));
    // The embedded catalog class and the folder class, as values or types.
    expect(imports.filter((line) => /\b(Catalog|PackageStorage|LocalCatalog|FolderBlobs)\b/.test(line))).toEqual([]);
    const fs = imports.filter((line) => /from 'node:fs(\/promises)?'/.test(line) && !line.startsWith('import type '));
    if (!fsAllowed) expect(fs).toEqual([]);
  });
});
