/**
 * Distribution filenames: the wheel grammar and the sdist forms (PEP 625 and legacy),
 * mirroring `packaging.utils.parse_wheel_filename` / `parse_sdist_filename`.
 */
import { DistFilenameError } from './errors.js';
import { filenameEscapedName, isValidProjectName, normalizeName } from './names.js';
import { isValidVersion, normalizeVersion } from './versions.js';

/** What a distribution filename says about its contents. */
export interface DistFilename {
  filename: string;
  kind: 'wheel' | 'sdist';
  /** Upload `filetype`: `bdist_wheel` or `sdist`. */
  packagetype: 'bdist_wheel' | 'sdist';
  /** The name part as written in the filename. */
  rawName: string;
  /** PEP 503-normalized project name. */
  project: string;
  /** The version part as written in the filename. */
  rawVersion: string;
  /** PEP 440-normalized version. */
  version: string;
  /** `source` for sdists, the python tag(s) (`py3`, `cp312`, `py2.py3`) for wheels. */
  pythonVersion: string;
  buildTag?: string;
  /** Archive format, for choosing a reader. */
  archive: 'zip' | 'tar.gz';
}

const SDIST_SUFFIXES = ['.tar.gz', '.zip'] as const;

/**
 * Rejects names that are unsafe as a single path segment: separators, NUL and other
 * control characters, `.`/`..`, hidden files and absurd lengths.
 */
export function assertSafeFilename(filename: string): void {
  if (filename.length === 0) throw new DistFilenameError('The filename is empty.');
  if (filename.length > 255) throw new DistFilenameError('The filename is longer than 255 characters.');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(filename)) {
    throw new DistFilenameError('The filename contains control characters.');
  }
  if (filename.includes('/') || filename.includes('\\')) {
    throw new DistFilenameError(`Invalid filename '${filename}': it must not contain '/' or '\\'.`);
  }
  if (filename.startsWith('.')) {
    throw new DistFilenameError(`Invalid filename '${filename}': it must not start with '.'.`);
  }
  if (/^[A-Za-z]:/.test(filename)) {
    throw new DistFilenameError(`Invalid filename '${filename}': it must not be a drive path.`);
  }
}

/** True for the extensions pyrepo serves: `.whl`, `.tar.gz`, `.zip`. */
export function hasDistExtension(filename: string): boolean {
  return filename.endsWith('.whl') || SDIST_SUFFIXES.some((s) => filename.endsWith(s));
}

/** Parses a wheel filename: `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`. */
export function parseWheelFilename(filename: string): DistFilename {
  assertSafeFilename(filename);
  if (!filename.endsWith('.whl')) {
    throw new DistFilenameError(`Invalid wheel filename '${filename}': it must end with '.whl'.`);
  }
  const stem = filename.slice(0, -4);
  const dashes = stem.split('-').length - 1;
  if (dashes !== 4 && dashes !== 5) {
    throw new DistFilenameError(
      `Invalid wheel filename '${filename}': expected name-version(-build)-python-abi-platform.whl.`,
    );
  }
  const parts = stem.split('-');
  const rawName = parts[0] ?? '';
  const rawVersion = parts[1] ?? '';
  if (!/^[\p{L}\p{N}_.]+$/u.test(rawName) || rawName.includes('__') || !isValidProjectName(rawName)) {
    throw new DistFilenameError(`Invalid project name '${rawName}' in wheel filename '${filename}'.`);
  }
  const version = normalizeVersion(rawVersion);
  if (version === null) {
    throw new DistFilenameError(`Invalid version '${rawVersion}' in wheel filename '${filename}'.`);
  }
  let buildTag: string | undefined;
  if (dashes === 5) {
    buildTag = parts[2] ?? '';
    if (!/^\d/.test(buildTag)) {
      throw new DistFilenameError(
        `Invalid build tag '${buildTag}' in wheel filename '${filename}': it must start with a digit.`,
      );
    }
  }
  const [python, abi, platform] = parts.slice(-3);
  for (const tag of [python, abi, platform]) {
    if (!tag || !/^[A-Za-z0-9_.]+$/.test(tag)) {
      throw new DistFilenameError(`Invalid compatibility tag '${tag ?? ''}' in wheel filename '${filename}'.`);
    }
  }
  return {
    filename,
    kind: 'wheel',
    packagetype: 'bdist_wheel',
    rawName,
    project: normalizeName(rawName),
    rawVersion,
    version,
    pythonVersion: python as string,
    ...(buildTag !== undefined ? { buildTag } : {}),
    archive: 'zip',
  };
}

/**
 * Parses an sdist filename. PEP 625 names have exactly one `-`; legacy names
 * (`Foo-Bar-1.0.tar.gz`, `foo-1.0-1.tar.gz`) are split at the leftmost `-` after which
 * the rest is a valid version, which is how pypiserver folders are usually named.
 */
export function parseSdistFilename(filename: string): DistFilename {
  assertSafeFilename(filename);
  const suffix = SDIST_SUFFIXES.find((s) => filename.endsWith(s));
  if (!suffix) {
    throw new DistFilenameError(`Invalid sdist filename '${filename}': it must end with '.tar.gz' or '.zip'.`);
  }
  const stem = filename.slice(0, -suffix.length);
  let at = stem.indexOf('-');
  while (at !== -1) {
    const rawName = stem.slice(0, at);
    const rawVersion = stem.slice(at + 1);
    if (isValidProjectName(rawName) && isValidVersion(rawVersion) && rawVersion.trim() === rawVersion) {
      return {
        filename,
        kind: 'sdist',
        packagetype: 'sdist',
        rawName,
        project: normalizeName(rawName),
        rawVersion,
        version: normalizeVersion(rawVersion) as string,
        pythonVersion: 'source',
        archive: suffix === '.zip' ? 'zip' : 'tar.gz',
      };
    }
    at = stem.indexOf('-', at + 1);
  }
  throw new DistFilenameError(
    `Invalid sdist filename '${filename}': expected {name}-{version}${suffix} with a PEP 440 version.`,
  );
}

/**
 * Why an sdist's name is not the PEP 625 form (`{escaped name}-{normalized version}.tar.gz`,
 * what current build tools write), or undefined when it is, or for a wheel. Legacy names
 * are served (pip installs them); uploads of them get this as a warning.
 */
export function legacySdistName(dist: DistFilename): string | undefined {
  if (dist.kind !== 'sdist') return undefined;
  const expected = `${filenameEscapedName(dist.rawName)}-${dist.version}.tar.gz`;
  if (dist.filename === expected) return undefined;
  return `${dist.filename} is not a standard (PEP 625) sdist name, which would be ${expected} (as setuptools 69.3 and later write it); it is served as it is, and pip installs it.`;
}

/** Parses any distribution filename pyrepo accepts. */
export function parseDistFilename(filename: string): DistFilename {
  if (filename.endsWith('.whl')) return parseWheelFilename(filename);
  if (SDIST_SUFFIXES.some((s) => filename.endsWith(s))) return parseSdistFilename(filename);
  assertSafeFilename(filename);
  throw new DistFilenameError(
    `Invalid file extension in '${filename}': use .whl for wheels and .tar.gz (or .zip) for sdists.`,
  );
}
