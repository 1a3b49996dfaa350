// Bundles the two entry points (the CLI and the background daemon) into a few files.
// Loading ~300 small ESM/CJS modules cost most of a second at every start; one bundle
// loads in a fraction of that, which is what lets the daemon answer within 1 s.
// `tsc` still type-checks everything; this only decides how the output is laid out.
import { build } from 'esbuild';

await build({
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
  // Native addons: they stay packages, loaded from node_modules with their binaries.
  // react-devtools-core: Ink imports it only when DEV=true, for React DevTools; it is not installed.
  external: ['better-sqlite3', '@napi-rs/keyring', 'react-devtools-core'],
  // CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __pyrepoRequire } from 'node:module'; const require = __pyrepoRequire(import.meta.url);" },
  logLevel: 'warning',
});
