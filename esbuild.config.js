// Bundles the two entry points (the CLI and the background daemon) into a few files.
// Loading ~300 small ESM/CJS modules cost most of a second at every start; one bundle
// loads in a fraction of that, which is what lets the daemon answer within 1 s.
// `tsc` still type-checks everything; this only decides how the output is laid out.
import { build } from 'esbuild';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const textCache = resolve(root, 'src/tui/text-cache');

// Ink measures and tokenizes every text of the screen again on each frame; the dashboard
// gives it the same functions remembered across frames (src/tui/text-cache/). Only Ink and
// the helpers it draws with get them, by ESM import (other packages, such as the prompts'
// CommonJS dependencies, keep their own versions); the shims import the real packages.
// yargs and its cliui get the string-width shim too: it loads the real one only for a text
// that is not plain ASCII, which keeps its costly set-up out of every command's start.
const REMEMBERED = { 'string-width': 'string-width.ts', 'slice-ansi': 'slice-ansi.ts', '@alcalzone/ansi-tokenize': 'ansi-tokenize.ts' };
const INK_AND_HELPERS = /[\\/]node_modules[\\/](ink|widest-line|cli-truncate|slice-ansi|wrap-ansi|log-update|yargs|cliui)[\\/](?!node_modules)/;
const rememberedText = {
  name: 'remembered-text-measurements',
  setup(b) {
    b.onResolve({ filter: /^(string-width|slice-ansi|@alcalzone\/ansi-tokenize)$/ }, (args) => {
      if (args.kind !== 'import-statement' || !INK_AND_HELPERS.test(args.importer)) return undefined;
      return { path: resolve(textCache, REMEMBERED[args.path]) };
    });
  },
};

// Chunk names carry their content's hash: without a clean folder, every build's chunks stayed
// beside the new ones (and went into the package).
rmSync(resolve(root, 'dist'), { recursive: true, force: true });

const result = await build({
  entryPoints: ['src/cli/index.ts', 'src/daemon/main.ts'],
  outdir: 'dist',
  outbase: 'src',
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  sourcemap: true,
  // V8 keeps the source of every script it loads (functions compile on first call, from it):
  // the daemon's bundle as written was 1.25 MB of its heap for as long as it runs, 0.79 MB
  // without the indentation and line breaks. Names are kept as written, so stack traces still
  // name their functions; the source maps give their lines (node --enable-source-maps).
  minifyWhitespace: true,
  minifySyntax: true,
  // Native addons: they stay packages, loaded from node_modules with their binaries.
  // react-devtools-core: Ink imports it only when DEV=true, for React DevTools; it is not installed.
  // fastify's schema compilers (ajv, fast-json-stringify): a megabyte the daemon parsed at
  // every start for routes it compiles at their first use (src/daemon/lazy-compilers.ts).
  external: ['better-sqlite3', '@napi-rs/keyring', 'react-devtools-core', '@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler'],
  // CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __pyrepoRequire } from 'node:module'; const require = __pyrepoRequire(import.meta.url);" },
  logLevel: 'warning',
  plugins: [rememberedText],
  metafile: true,
});

// V8 keeps each script's source in memory, and one character above Latin-1 makes it keep the
// whole file two bytes per character: the daemon's bundle, over 2 MB, then held twice that
// for a few arrows and accents in comments (and a regular expression or two) that esbuild
// leaves as they are. Written as \u escapes they mean the same everywhere they can occur.
for (const output of Object.keys(result.metafile.outputs)) {
  if (!output.endsWith('.js')) continue;
  const file = resolve(output);
  const text = readFileSync(file, 'utf8');
  if (!/[\u0080-\uffff]/.test(text)) continue;
  writeFileSync(file, text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}
