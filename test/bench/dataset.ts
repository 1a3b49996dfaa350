/**
 * The benchmark's packages folders: N projects × 3 versions × (wheel + sdist), flat, as
 * a pypiserver folder is. Generated once into `.bench/` under a name that carries
 * DATASET_VERSION and N, behind a completion marker; a folder that is missing, partial
 * or has the wrong number of files is generated again.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { buildSdist, buildWheel, sdistFilename, wheelFilename, type DistSpec } from '../helpers/dists.js';

/** Bump when the generated content changes, so cached folders are regenerated. */
export const DATASET_VERSION = 1;
export const VERSIONS = ['1.0.0', '1.1.0', '2.0.0'] as const;
/** Distribution files per project. */
export const FILES_PER_PROJECT = VERSIONS.length * 2;
/** Filenames of files the upload measurement adds; removed after each daemon run. */
export const UPLOAD_FILE_PREFIX = 'bench_upload_';

const MARKER = '.complete';

export interface Dataset {
  dir: string;
  projects: number;
  files: number;
  /** Normalized project names, in order. */
  names: string[];
  /** Seconds spent generating, or null when the cached folder was used. */
  generatedSeconds: number | null;
}

export function projectName(i: number): string {
  return `bench-proj-${String(i).padStart(5, '0')}`;
}

function specOf(i: number, version: string): DistSpec {
  return { name: projectName(i), version, summary: `Benchmark project number ${i}`, requiresPython: '>=3.8' };
}

function distFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => !f.startsWith('.') && (f.endsWith('.whl') || f.endsWith('.tar.gz')));
}

/** Removes files left by upload measurements (and unfinished uploads) from a dataset folder. */
export function removeUploadLeftovers(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const f of readdirSync(dir)) {
    if (f.startsWith(UPLOAD_FILE_PREFIX) || f.startsWith('.pyrepo-upload-')) {
      rmSync(join(dir, f), { force: true });
      n += 1;
    }
  }
  return n;
}

function isComplete(dir: string, projects: number): boolean {
  const marker = join(dir, MARKER);
  if (!existsSync(marker)) return false;
  try {
    const m = JSON.parse(readFileSync(marker, 'utf8')) as { version?: number; projects?: number; files?: number };
    if (m.version !== DATASET_VERSION || m.projects !== projects) return false;
    return distFiles(dir).length === projects * FILES_PER_PROJECT;
  } catch {
    return false;
  }
}

/** The folder for `projects` projects under `root`, generated if needed. */
export function ensureDataset(root: string, projects: number, log: (line: string) => void): Dataset {
  const dir = join(root, `packages-v${DATASET_VERSION}-${projects}`);
  const names = Array.from({ length: projects }, (_, i) => projectName(i));
  const files = projects * FILES_PER_PROJECT;
  mkdirSync(root, { recursive: true });
  removeUploadLeftovers(dir);
  if (isComplete(dir, projects)) return { dir, projects, files, names, generatedSeconds: null };

  log(`Generating ${projects.toLocaleString('en-US')} projects (${files.toLocaleString('en-US')} files) into ${dir} ...`);
  const started = performance.now();
  const partial = `${dir}.partial-${process.pid}`;
  // Partial folders of interrupted runs.
  const stem = `${basename(dir)}.partial-`;
  for (const f of readdirSync(root)) if (f.startsWith(stem)) rmSync(join(root, f), { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  for (let i = 0; i < projects; i++) {
    for (const version of VERSIONS) {
      const spec = specOf(i, version);
      writeFileSync(join(partial, wheelFilename(spec)), buildWheel(spec));
      writeFileSync(join(partial, sdistFilename(spec)), buildSdist(spec));
    }
    if ((i + 1) % 2000 === 0) log(`  ${(i + 1).toLocaleString('en-US')} projects`);
  }
  writeFileSync(join(partial, MARKER), `${JSON.stringify({ version: DATASET_VERSION, projects, files })}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  const generatedSeconds = (performance.now() - started) / 1000;
  log(`  done in ${generatedSeconds.toFixed(1)} s`);
  return { dir, projects, files, names, generatedSeconds };
}
