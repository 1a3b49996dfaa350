/**
 * Reads the core metadata out of a wheel (`*.dist-info/METADATA`) or an sdist
 * (`<top>/PKG-INFO`, .tar.gz or .zip), checking the archive's shape on the way.
 * zip via yauzl (random access to the central directory), tar via tar-stream.
 */
import { createReadStream } from 'node:fs';
import { crc32, createGunzip, gunzipSync, inflateRawSync } from 'node:zlib';
import yauzl from 'yauzl';
import tarStream from 'tar-stream';
import { DistContentError } from './errors.js';
import type { DistFilename } from './distfiles.js';
import { decodeMetadata, parseCoreMetadata, type CoreMetadata } from './metadata.js';
import { normalizeName } from './names.js';

/** What an archive says about itself. */
export interface DistContents {
  /** The exact bytes of METADATA (wheels) or PKG-INFO (sdists). */
  metadataBytes: Buffer;
  metadata: CoreMetadata;
  /** Member path the metadata was read from. */
  metadataPath: string;
  /** Paths of every regular file in the archive, as stored (for wheels relative to the root, for sdists with their top folder). */
  members: string[];
}

const MAX_METADATA_BYTES = 8 * 1024 * 1024;
/** An archive may not expand past this many bytes beyond 50 times its own size (zip/tar bombs). */
const BOMB_ALLOWANCE = 64 * 1024 * 1024;

/** A distribution to read: its path, or its bytes when it is small enough to hold in memory. */
export type DistSource = string | Buffer;

/**
 * Why a member name would land outside the folder an archive is unpacked into, or
 * undefined when it would not. Both separators count: unpacked on Windows, a member
 * `a\..\..\x` climbs out just as `a/../../x` does anywhere.
 */
export function unsafeMemberPath(name: string): string | undefined {
  if (name.startsWith('/') || name.startsWith('\\')) return 'is an absolute path';
  if (/^[A-Za-z]:/.test(name)) return 'is a drive path';
  if (name.split(/[\\/]/).includes('..')) return "climbs out with '..'";
  return undefined;
}

function refuseMember(dist: DistFilename, member: string, why: string): DistContentError {
  const where = dist.kind === 'wheel' ? 'the wheel' : 'its top folder';
  return new DistContentError(
    `${dist.filename} has a member '${member}' that ${why}; every member must be a file or folder inside ${where}, so it is refused.`,
  );
}

/** Unix file types in a zip entry's external attributes (`st_mode >> 12`). */
const ZIP_FILE_TYPES: Record<number, string> = {
  0o01: 'is a fifo',
  0o02: 'is a character device',
  0o06: 'is a block device',
  0o12: 'is a symbolic link',
  0o14: 'is a socket',
};

/** Hosts whose zip tools store a Unix mode in the high half of the external attributes. */
const UNIX_ZIP_HOSTS = new Set([3, 19]);

/** yauzl's decoder of one entry's name (the Info-ZIP Unicode path, UTF-8 flag or CP437); untyped in @types/yauzl. */
const zipEntryName = (yauzl as unknown as {
  getFileNameLowLevel(flags: number, name: Buffer, extraFields: { id: number; data: Buffer }[], strict: boolean): string;
}).getFileNameLowLevel;

function openZip(source: DistSource): Promise<yauzl.ZipFile> {
  // Names are decoded and checked by listZipEntries: yauzl's own check turns `\` into `/`
  // first and refuses with a message that does not name the problem.
  const options = { lazyEntries: true, autoClose: false, validateEntrySizes: true, decodeStrings: false };
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, zip: yauzl.ZipFile) => (err ? reject(err) : resolve(zip));
    if (typeof source === 'string') yauzl.open(source, options, done);
    else yauzl.fromBuffer(source, options, done);
  });
}

/**
 * The entries of a zip, names decoded (a backslash, which Windows tools write, read as
 * `/`). Refuses a member whose path leaves the archive, and in an sdist one that is a
 * link, device, fifo or socket (pip's unpacking would create it as it is).
 */
function listZipEntries(zip: yauzl.ZipFile, dist: DistFilename): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: yauzl.Entry[] = [];
    zip.on('entry', (e: yauzl.Entry) => {
      const raw = zipEntryName(e.generalPurposeBitFlag, e.fileName as unknown as Buffer, e.extraFields, true);
      const unsafe = unsafeMemberPath(raw);
      const type = UNIX_ZIP_HOSTS.has(e.versionMadeBy >> 8) ? (e.externalFileAttributes >>> 28) & 0o17 : 0;
      const special = dist.kind === 'sdist' ? ZIP_FILE_TYPES[type] : undefined;
      if (unsafe || special) {
        reject(refuseMember(dist, raw, (unsafe ?? special) as string));
        return;
      }
      e.fileName = raw.replace(/\\/g, '/');
      entries.push(e);
      zip.readEntry();
    });
    zip.on('end', () => resolve(entries));
    zip.on('error', reject);
    zip.readEntry();
  });
}

/**
 * checkZipEntry for an archive already in memory: inflates synchronously, which is far
 * cheaper for the small members of a wheel than a stream and a thread-pool job each.
 */
function checkZipEntryInMemory(dist: DistFilename, zip: Buffer, entry: yauzl.Entry, keep: boolean): Buffer | undefined {
  if (keep && entry.uncompressedSize > MAX_METADATA_BYTES) {
    throw new DistContentError(`${entry.fileName} is larger than ${MAX_METADATA_BYTES} bytes.`);
  }
  const local = entry.relativeOffsetOfLocalHeader;
  if (local + 30 > zip.length || zip.readUInt32LE(local) !== 0x04034b50) {
    throw new DistContentError(`${dist.filename} is damaged: member ${entry.fileName} has no valid local header.`);
  }
  const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
  const raw = zip.subarray(start, start + entry.compressedSize);
  if (raw.length !== entry.compressedSize) throw new DistContentError(`${dist.filename} is truncated inside member ${entry.fileName}.`);
  let data: Buffer;
  try {
    data = entry.compressionMethod === 8 ? inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.uncompressedSize) }) : raw;
  } catch (err) {
    throw new DistContentError(`${dist.filename} is damaged: member ${entry.fileName} cannot be inflated (${describe(err)}).`);
  }
  if (data.length !== entry.uncompressedSize || crc32(data) !== entry.crc32) {
    throw new DistContentError(`${dist.filename} is damaged: member ${entry.fileName} fails its CRC-32 check.`);
  }
  return keep ? Buffer.from(data) : undefined;
}

/**
 * Inflates one member and checks its CRC-32 (yauzl checks sizes, not checksums), so a
 * damaged member anywhere in the archive is refused, as pip would refuse to install it.
 * Returns the bytes when `keep` is set.
 */
function checkZipEntry(dist: DistFilename, zip: yauzl.ZipFile, entry: yauzl.Entry, keep: boolean): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    if (keep && entry.uncompressedSize > MAX_METADATA_BYTES) {
      reject(new DistContentError(`${entry.fileName} is larger than ${MAX_METADATA_BYTES} bytes.`));
      return;
    }
    zip.openReadStream(entry, (err, stream) => {
      if (err) return reject(err);
      const chunks: Buffer[] = [];
      let crc = 0;
      stream.on('data', (c: Buffer) => {
        crc = crc32(c, crc);
        if (keep) chunks.push(c);
      });
      stream.on('end', () => {
        if (crc !== entry.crc32) reject(new DistContentError(`${dist.filename} is damaged: member ${entry.fileName} fails its CRC-32 check.`));
        else resolve(keep ? Buffer.concat(chunks) : undefined);
      });
      stream.on('error', reject);
    });
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function readZipMember(
  source: DistSource,
  dist: DistFilename,
  pick: (entries: yauzl.Entry[]) => yauzl.Entry,
): Promise<{ bytes: Buffer; member: string; members: string[] }> {
  let zip: yauzl.ZipFile | undefined;
  try {
    zip = await openZip(source);
    const entries = await listZipEntries(zip, dist);
    let total = 0;
    for (const e of entries) {
      if (e.compressionMethod !== 0 && e.compressionMethod !== 8) {
        throw new DistContentError(
          `${dist.filename} uses zip compression method ${e.compressionMethod}; only stored and deflate are allowed.`,
        );
      }
      total += e.uncompressedSize;
    }
    if (total > BOMB_ALLOWANCE && total > 50 * zip.fileSize) {
      throw new DistContentError(`${dist.filename} expands to ${total} bytes, too much for its size (a zip bomb?).`);
    }
    const entry = pick(entries);
    let bytes: Buffer | undefined;
    for (const e of entries) {
      if (e.fileName.endsWith('/')) continue;
      const read =
        typeof source === 'string' ? await checkZipEntry(dist, zip, e, e === entry) : checkZipEntryInMemory(dist, source, e, e === entry);
      if (e === entry) bytes = read;
    }
    const members = entries.filter((e) => !e.fileName.endsWith('/')).map((e) => e.fileName);
    return { bytes: bytes as Buffer, member: entry.fileName, members };
  } catch (err) {
    if (err instanceof DistContentError) throw err;
    throw new DistContentError(`${dist.filename} is not a valid zip archive: ${describe(err)}.`);
  } finally {
    zip?.close();
  }
}

/** pip's rule: exactly one top-level `*.dist-info` folder whose name starts with the project's. */
function pickWheelMetadata(dist: DistFilename, entries: yauzl.Entry[]): yauzl.Entry {
  const infoDirs = new Set<string>();
  for (const e of entries) {
    const top = e.fileName.split('/')[0] ?? '';
    if (top.endsWith('.dist-info') && e.fileName.includes('/')) infoDirs.add(top);
  }
  const project = dist.project;
  const matching = [...infoDirs].filter((d) => normalizeName(d.slice(0, -'.dist-info'.length)).startsWith(project));
  if (matching.length === 0) {
    throw new DistContentError(`${dist.filename} has no .dist-info folder for '${dist.rawName}'.`);
  }
  if (matching.length > 1) {
    throw new DistContentError(`${dist.filename} has more than one .dist-info folder: ${matching.join(', ')}.`);
  }
  const dir = matching[0] as string;
  const wheelFile = entries.find((e) => e.fileName === `${dir}/WHEEL`);
  if (!wheelFile) throw new DistContentError(`${dist.filename} has no ${dir}/WHEEL file.`);
  const metadata = entries.find((e) => e.fileName === `${dir}/METADATA`);
  if (!metadata) throw new DistContentError(`${dist.filename} has no ${dir}/METADATA file.`);
  return metadata;
}

/** An sdist has one top-level folder holding PKG-INFO. */
function sdistTop(member: string): { top: string; rest: string } {
  const clean = member.replace(/^\.\//, '');
  const slash = clean.indexOf('/');
  return slash === -1 ? { top: clean, rest: '' } : { top: clean.slice(0, slash), rest: clean.slice(slash + 1) };
}

function assertOneTopFolder(dist: DistFilename, tops: Set<string>): void {
  if (tops.size !== 1) {
    throw new DistContentError(
      `${dist.filename} must contain exactly one top-level folder (found ${tops.size === 0 ? 'none' : [...tops].slice(0, 3).join(', ')}).`,
    );
  }
}

function pickZipSdistMetadata(dist: DistFilename, entries: yauzl.Entry[]): yauzl.Entry {
  assertOneTopFolder(dist, new Set(entries.map((e) => sdistTop(e.fileName).top).filter((t) => t !== '' && t !== '.')));
  const candidates = entries.filter((e) => {
    const { rest } = sdistTop(e.fileName);
    return rest === 'PKG-INFO';
  });
  if (candidates.length !== 1) {
    throw new DistContentError(`${dist.filename} has no single <name>-<version>/PKG-INFO file.`);
  }
  return candidates[0] as yauzl.Entry;
}

/** Tar member types an sdist may hold; `null` is an unknown type, which tarfile reads as a file. */
const TAR_TYPES_ALLOWED = new Set<string | null>(['file', 'contiguous-file', 'directory', null]);

const TAR_TYPE_WORDS: Record<string, string> = {
  link: 'is a hard link',
  symlink: 'is a symbolic link',
  'character-device': 'is a character device',
  'block-device': 'is a block device',
  fifo: 'is a fifo',
};

/**
 * The refusal of a tar member that is not a plain file or folder inside the archive:
 * links could point anywhere once unpacked, devices and fifos have no business in an sdist.
 */
function unsafeTarMember(dist: DistFilename, header: tarStream.Header): DistContentError | undefined {
  const unsafe = unsafeMemberPath(header.name);
  if (unsafe) return refuseMember(dist, header.name, unsafe);
  if (!TAR_TYPES_ALLOWED.has(header.type)) {
    const target = header.linkname ? ` (to '${header.linkname}')` : '';
    return refuseMember(dist, header.name, `${TAR_TYPE_WORDS[header.type as string] ?? `is of tar type ${String(header.type)}`}${target}`);
  }
  return undefined;
}

/**
 * Feeds a .tar.gz (path or bytes) through `extract` until it finishes; every failure
 * becomes a DistContentError. tar-stream is a streamx stream, which stream/promises'
 * pipeline does not drive, hence the hand-made plumbing.
 */
async function driveTar(source: DistSource, dist: DistFilename, extract: tarStream.Extract, limit: number): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      extract.on('error', reject);
      extract.on('finish', () => resolve());
      if (typeof source !== 'string') {
        // In memory: one synchronous inflate, bounded like the entries themselves.
        let tar: Buffer;
        try {
          tar = gunzipSync(source, { maxOutputLength: limit + 1024 * 1024 });
        } catch (err) {
          const bomb = err instanceof RangeError || (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
          reject(bomb ? new DistContentError(`${dist.filename} expands to more than ${limit} bytes (a tar bomb?).`) : err);
          return;
        }
        extract.end(tar);
        return;
      }
      const input = createReadStream(source);
      const gunzip = createGunzip();
      const fail = (err: unknown) => {
        input.destroy();
        gunzip.destroy();
        reject(err);
      };
      input.on('error', fail);
      gunzip.on('error', fail);
      input.pipe(gunzip).pipe(extract);
    });
  } catch (err) {
    if (err instanceof DistContentError) throw err;
    throw new DistContentError(`${dist.filename} is not a valid .tar.gz archive: ${describe(err)}.`);
  }
}

/**
 * Stops reading a tar with `err`. The entry being read is destroyed with the archive and
 * re-emits the error, which is the archive's to report: without a listener on the entry
 * it would be an uncaught exception.
 */
function stopTar(extract: tarStream.Extract, entry: { on(event: 'error', listener: () => void): unknown }, err: Error): void {
  entry.on('error', () => undefined);
  extract.destroy(err);
}

async function readTarSdist(source: DistSource, dist: DistFilename, compressedSize: number): Promise<{ bytes: Buffer; member: string; members: string[] }> {
  const extract = tarStream.extract();
  const tops = new Set<string>();
  const members: string[] = [];
  let found: { bytes: Buffer; member: string } | undefined;
  let expanded = 0;
  const limit = Math.max(BOMB_ALLOWANCE, 50 * compressedSize);
  extract.on('entry', (header, stream, next) => {
    const refused = unsafeTarMember(dist, header);
    if (refused) {
      stopTar(extract, stream, refused);
      return;
    }
    const { top, rest } = sdistTop(header.name);
    if (top && top !== '.') tops.add(top);
    if (header.type === 'file' || header.type === 'contiguous-file') members.push(header.name);
    expanded += header.size ?? 0;
    if (expanded > limit) {
      stopTar(extract, stream, new DistContentError(`${dist.filename} expands to more than ${limit} bytes (a tar bomb?).`));
      return;
    }
    if (rest === 'PKG-INFO' && header.type === 'file' && !found) {
      if ((header.size ?? 0) > MAX_METADATA_BYTES) {
        stopTar(extract, stream, new DistContentError(`${header.name} is larger than ${MAX_METADATA_BYTES} bytes.`));
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        found = { bytes: Buffer.concat(chunks), member: header.name };
        next();
      });
    } else {
      stream.on('end', () => next());
      stream.resume();
    }
  });
  await driveTar(source, dist, extract, limit);
  assertOneTopFolder(dist, tops);
  if (!found) throw new DistContentError(`${dist.filename} has no <name>-<version>/PKG-INFO file.`);
  return { ...found, members };
}

/** Reads and parses the core metadata of a distribution, from its path or its bytes. */
export async function readDistContents(source: DistSource, dist: DistFilename, size: number): Promise<DistContents> {
  let read: { bytes: Buffer; member: string; members: string[] };
  if (dist.kind === 'wheel') {
    read = await readZipMember(source, dist, (entries) => pickWheelMetadata(dist, entries));
  } else if (dist.archive === 'zip') {
    read = await readZipMember(source, dist, (entries) => pickZipSdistMetadata(dist, entries));
  } else {
    read = await readTarSdist(source, dist, size);
  }
  const metadata = parseCoreMetadata(decodeMetadata(read.bytes), `${dist.filename}: ${read.member}`);
  return { metadataBytes: read.bytes, metadata, metadataPath: read.member, members: read.members };
}

/**
 * Reads the bytes of the named members (paths as in {@link DistContents.members}) of a
 * distribution that {@link readDistContents} accepted. Refuses, with a DistContentError,
 * to hold more than `maxBytes` in all.
 */
export async function readDistMembers(source: DistSource, dist: DistFilename, wanted: ReadonlySet<string>, maxBytes: number): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  let held = 0;
  const hold = (size: number) => {
    held += size;
    if (held > maxBytes) throw new DistContentError(`${dist.filename}: the files to read add up to more than ${maxBytes} bytes.`);
  };
  if (dist.archive === 'zip') {
    let zip: yauzl.ZipFile | undefined;
    try {
      zip = await openZip(source);
      for (const e of await listZipEntries(zip, dist)) {
        if (!wanted.has(e.fileName)) continue;
        hold(e.uncompressedSize);
        const bytes =
          typeof source === 'string' ? await checkZipEntry(dist, zip, e, true) : checkZipEntryInMemory(dist, source, e, true);
        out.set(e.fileName, bytes as Buffer);
      }
    } catch (err) {
      if (err instanceof DistContentError) throw err;
      throw new DistContentError(`${dist.filename} is not a valid zip archive: ${describe(err)}.`);
    } finally {
      zip?.close();
    }
    return out;
  }
  const extract = tarStream.extract();
  extract.on('entry', (header, stream, next) => {
    if (!wanted.has(header.name) || out.has(header.name)) {
      stream.on('end', () => next());
      stream.resume();
      return;
    }
    try {
      hold(header.size ?? 0);
    } catch (err) {
      stopTar(extract, stream, err as Error);
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      out.set(header.name, Buffer.concat(chunks));
      next();
    });
  });
  await driveTar(source, dist, extract, Math.max(BOMB_ALLOWANCE, maxBytes));
  return out;
}
