/**
 * Inspects a distribution file: its filename by the spec grammar, its core metadata
 * from inside the archive, and that the two agree (pip rejects a wheel whose METADATA
 * names another project, so the index must never serve one).
 */
import { parseDistFilename, type DistFilename } from '../../shared/distfiles.js';
import { readDistContents, type DistContents, type DistSource } from '../../shared/dist-reader.js';
import { DistMismatchError } from '../../shared/errors.js';
import { normalizeName } from '../../shared/names.js';
import { normalizeVersion, releaseKey } from '../../shared/versions.js';
import type { FileRecord } from './catalog.js';
import type { Digests } from './hashing.js';
import { sha256Hex } from './hashing.js';

export interface Inspected {
  dist: DistFilename;
  contents: DistContents;
  /** Normalized version from the metadata. */
  version: string;
}

/** Parses the filename and the archive (its path or bytes); throws a Dist*Error describing any problem. */
export async function inspectDistribution(source: DistSource, filename: string, size: number): Promise<Inspected> {
  const dist = parseDistFilename(filename);
  const contents = await readDistContents(source, dist, size);
  const meta = contents.metadata;
  if (normalizeName(meta.name) !== dist.project) {
    throw new DistMismatchError(
      `The filename '${filename}' names the project '${dist.rawName}', but its metadata (${contents.metadataPath}) says '${meta.name}'.`,
    );
  }
  const version = normalizeVersion(meta.version);
  if (version === null) {
    throw new DistMismatchError(`The metadata of '${filename}' has an invalid PEP 440 version '${meta.version}'.`);
  }
  if (version !== dist.version) {
    throw new DistMismatchError(`Version in filename should be '${version}' not '${dist.rawVersion}' (from ${contents.metadataPath}).`);
  }
  return { dist, contents, version };
}

/** Builds the catalog record of an inspected file. */
export function fileRecordOf(
  inspected: Inspected,
  digests: Digests & { size: number },
  place: { relpath: string; mtimeMs: number },
  uploadTime: string,
  origin: Pick<FileRecord, 'source' | 'uploadedBy' | 'uploadedFrom'>,
): FileRecord {
  const { dist, contents, version } = inspected;
  return {
    filename: dist.filename,
    relpath: place.relpath,
    project: dist.project,
    version,
    releaseKey: releaseKey(version),
    packagetype: dist.packagetype,
    pythonVersion: dist.pythonVersion,
    size: digests.size,
    mtimeMs: place.mtimeMs,
    sha256: digests.sha256,
    md5: digests.md5,
    blake2b256: digests.blake2b256,
    requiresPython: contents.metadata.requiresPython,
    // PEP 658 metadata files are served for wheels only: an sdist's PKG-INFO need not match what it builds.
    metadataSha256: dist.kind === 'wheel' ? sha256Hex(contents.metadataBytes) : null,
    uploadTime,
    ...origin,
  };
}
