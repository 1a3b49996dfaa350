/**
 * In-memory builders for Python distribution files (wheels and sdists), for
 * tests and for the benchmark that generates tens of thousands of files.
 *
 * Everything here is synchronous and runs in-process. yazl and tar-stream are
 * both stream-based: they can only hand back an archive after several event-loop
 * turns, which makes every builder async and costs far more per small archive
 * than the archive itself. Both formats are simple when every entry is already
 * in memory, so this module has two minimal writers of its own:
 *
 * - zip: local headers + central directory + end record, entries deflated with
 *   `deflateRawSync`. CRC-32 comes from `zlib.crc32` where the runtime has it
 *   (added in Node 20.15 / 22.2), else from a small lookup-table implementation,
 *   so the helper also works on older Node 20 releases;
 * - tar: POSIX ustar headers (with a pax `path` record for names that do not fit
 *   ustar or are not ASCII), then `gzipSync`.
 *
 * Output is deterministic: fixed timestamps (2020-01-01T00:00:00Z), modes and
 * entry order, so the same spec always yields the same bytes (and hashes).
 * The self-test in test/helpers-selftest checks the archives with Python's own
 * zipfile/tarfile and with tar-stream's extractor.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { deflateRawSync, gzipSync } from 'node:zlib';

/** What to put in a generated distribution. Only `name` and `version` are required. */
export interface DistSpec {
  /** Project name as written in the metadata `Name` header, e.g. `'Hello_World'`. */
  name: string;
  /** Version as written in the metadata and the filename, e.g. `'1.0.0'`. */
  version: string;
  /** `Summary` header; omitted when not given. */
  summary?: string;
  /** `Requires-Python` header, e.g. `'>=3.8'`; omitted when not given. */
  requiresPython?: string;
  /** One `Requires-Dist` header per entry, in order. */
  requiresDist?: string[];
  /** `Metadata-Version` header; default `'2.1'`. */
  metadataVersion?: string;
  /** Additional `[header, value]` pairs, written verbatim after the standard ones, in order. */
  extraHeaders?: [string, string][];
  /** Message body (the long description), written after a blank line. A trailing newline is added if missing. */
  description?: string;
  /**
   * Files of the package: path inside the distribution root (e.g. `'hello_world/__init__.py'`)
   * → source text. Default: one module `<escaped name>/__init__.py` defining `__version__`.
   */
  modules?: Record<string, string>;
  /** If given, the exact METADATA / PKG-INFO text to embed instead of the generated one. */
  metadataOverride?: string;
}

/** The fixed timestamp every archive entry carries: 2020-01-01T00:00:00Z. */
const FIXED_MTIME_SECONDS = 1_577_836_800;
/** The same moment as an MS-DOS date/time pair (local-time-free; zip has no zone). */
const DOS_DATE = ((2020 - 1980) << 9) | (1 << 5) | 1;
const DOS_TIME = 0;

/** The `WHEEL` file every generated wheel carries. */
const WHEEL_FILE_TEXT = 'Wheel-Version: 1.0\nGenerator: pyrepo-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n';

// ---------------------------------------------------------------------------
// Names and metadata text

/** PEP 503 normalization: lowercase, every run of `-`, `_`, `.` becomes one `-`. */
function normalizeName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

/** The name as used in wheel / PEP 625 sdist filenames: normalized, then `-` → `_`. */
function escapedName(name: string): string {
  return normalizeName(name).replace(/-/g, '_');
}

function defaultModules(spec: DistSpec): Record<string, string> {
  return { [`${escapedName(spec.name)}/__init__.py`]: `__version__ = ${JSON.stringify(spec.version)}\n` };
}

/**
 * The core-metadata (RFC 822 style) text for `spec`: lines joined with `'\n'`, ending with `'\n'`.
 *
 * Headers in order: `Metadata-Version` (default `2.1`), `Name`, `Version`, `Summary`,
 * `Requires-Python`, each `Requires-Dist`, then `extraHeaders`; then, if `description`
 * is set, a blank line and the description. Values are written verbatim (no folding).
 *
 * When `spec.metadataOverride` is set, that exact text is returned instead, so
 * `metadataText(spec)` is always precisely what {@link buildWheel} writes to
 * `METADATA` and {@link buildSdist} writes to `PKG-INFO`.
 */
export function metadataText(spec: DistSpec): string {
  if (spec.metadataOverride !== undefined) return spec.metadataOverride;
  const lines: string[] = [
    `Metadata-Version: ${spec.metadataVersion ?? '2.1'}`,
    `Name: ${spec.name}`,
    `Version: ${spec.version}`,
  ];
  if (spec.summary !== undefined) lines.push(`Summary: ${spec.summary}`);
  if (spec.requiresPython !== undefined) lines.push(`Requires-Python: ${spec.requiresPython}`);
  for (const req of spec.requiresDist ?? []) lines.push(`Requires-Dist: ${req}`);
  for (const [key, value] of spec.extraHeaders ?? []) lines.push(`${key}: ${value}`);
  let text = lines.join('\n') + '\n';
  if (spec.description !== undefined) {
    text += '\n' + spec.description + (spec.description.endsWith('\n') ? '' : '\n');
  }
  return text;
}

/**
 * The wheel filename for `spec`: `<escaped name>-<version>-<tags>.whl`, where the escaped
 * name is the PEP 503-normalized name with `-` → `_` (`'Hello.World'` → `hello_world`).
 *
 * @param tags - the `python-abi-platform` tag triple; default `'py3-none-any'`.
 *   (It only affects the filename; {@link buildWheel} always writes `Tag: py3-none-any`.)
 */
export function wheelFilename(spec: DistSpec, tags = 'py3-none-any'): string {
  return `${escapedName(spec.name)}-${spec.version}-${tags}.whl`;
}

/**
 * The PEP 625 sdist filename for `spec`: `<escaped name>-<version><ext>`.
 *
 * @param ext - `'.tar.gz'` (default) or `'.zip'`.
 */
export function sdistFilename(spec: DistSpec, ext: '.tar.gz' | '.zip' = '.tar.gz'): string {
  return `${escapedName(spec.name)}-${spec.version}${ext}`;
}

// ---------------------------------------------------------------------------
// Archive writers

/** One archive member; a name ending in `/` is a directory (and `data` is ignored). */
interface Entry {
  name: string;
  data: Buffer;
  /** Precomputed raw-deflate body and CRC-32 of `data` (zip only), for constant members. */
  packed?: { body: Buffer; crc: number };
}

const CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as zip and gzip use it), table-driven; the fallback when `zlib.crc32` is missing. */
function tableCrc32(buf: Buffer): number {
  let crc = 0xffffffff;
  for (let i = 0; i < buf.length; i++) {
    crc = (CRC_TABLE[(crc ^ (buf[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** `zlib.crc32` is typed as always present, but Node 20 before 20.15 lacks it. */
const nativeCrc32 = (zlib as { crc32?: (data: Buffer) => number }).crc32;

/** CRC-32 of `buf`: native when available, else {@link tableCrc32}. */
const crc32: (buf: Buffer) => number = typeof nativeCrc32 === 'function' ? (b) => nativeCrc32(b) : tableCrc32;

function isAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

/**
 * A minimal zip writer (no zip64, no data descriptors): files are deflated,
 * directories stored; Unix modes in the external attributes; the UTF-8 name flag
 * is set for non-ASCII names.
 */
function writeZip(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const isDir = entry.name.endsWith('/');
    const name = Buffer.from(entry.name, 'utf8');
    const flags = isAscii(entry.name) ? 0 : 0x0800;
    const method = isDir ? 0 : 8;
    const raw = isDir ? Buffer.alloc(0) : entry.data;
    const body = isDir ? raw : (entry.packed?.body ?? deflateRawSync(raw));
    const crc = isDir ? 0 : (entry.packed?.crc ?? crc32(raw));

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate, directories)
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28); // extra length
    parts.push(local, name, body);

    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, spec 2.0
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(flags, 8);
    cd.writeUInt16LE(method, 10);
    cd.writeUInt16LE(DOS_TIME, 12);
    cd.writeUInt16LE(DOS_DATE, 14);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(body.length, 20);
    cd.writeUInt32LE(raw.length, 24);
    cd.writeUInt16LE(name.length, 28);
    // extra length, comment length, disk number start, internal attributes: all 0
    const mode = isDir ? 0o40755 : 0o100644;
    cd.writeUInt32LE(((mode << 16) | (isDir ? 0x10 : 0)) >>> 0, 38);
    cd.writeUInt32LE(offset, 42);
    central.push(cd, name);

    offset += local.length + name.length + body.length;
  }
  const cdSize = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, end]);
}

/** Writes `value` as zero-padded octal filling `width - 1` bytes plus a NUL. */
function writeOctal(header: Buffer, value: number, offset: number, width: number): void {
  header.write(value.toString(8).padStart(width - 1, '0') + '\0', offset, width, 'ascii');
}

function tarHeader(name: string, prefix: string, size: number, type: '0' | '5' | 'x'): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  writeOctal(h, type === '5' ? 0o755 : 0o644, 100, 8);
  writeOctal(h, 0, 108, 8); // uid
  writeOctal(h, 0, 116, 8); // gid
  writeOctal(h, size, 124, 12);
  writeOctal(h, FIXED_MTIME_SECONDS, 136, 12);
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write('root', 265, 32, 'ascii'); // uname
  h.write('root', 297, 32, 'ascii'); // gname
  writeOctal(h, 0, 329, 8); // devmajor
  writeOctal(h, 0, 337, 8); // devminor
  h.write(prefix, 345, 155, 'utf8');
  // Checksum: byte sum with the checksum field counted as eight spaces.
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += h[i] as number;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

/** Splits `path` into ustar (prefix, name), or returns undefined if it does not fit / is not ASCII. */
function ustarSplit(path: string): [string, string] | undefined {
  if (!isAscii(path)) return undefined;
  if (path.length <= 100) return ['', path];
  // Split at a '/' so that the prefix has ≤ 155 bytes and the rest ≤ 100.
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    if (i <= 155 && path.length - i - 1 <= 100 && path.length - i - 1 > 0) return [path.slice(0, i), path.slice(i + 1)];
  }
  return undefined;
}

function padBlock(size: number): Buffer {
  const rem = size % 512;
  return Buffer.alloc(rem === 0 ? 0 : 512 - rem);
}

/** One pax record: `"<len> key=value\n"`, where `<len>` counts the whole record including itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body, 'utf8');
  let len = bodyLen + 1;
  while (bodyLen + String(len).length !== len) len = bodyLen + String(len).length;
  return `${len}${body}`;
}

/** A minimal uncompressed tar writer (ustar headers, pax `path` records for long/non-ASCII names). */
function writeTar(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const isDir = entry.name.endsWith('/');
    const data = isDir ? Buffer.alloc(0) : entry.data;
    const type = isDir ? '5' : '0';
    const split = ustarSplit(entry.name);
    if (split) {
      parts.push(tarHeader(split[1], split[0], data.length, type));
    } else {
      const pax = Buffer.from(paxRecord('path', entry.name), 'utf8');
      const base = entry.name.replace(/\/$/, '').split('/').pop() ?? 'entry';
      const stub = Buffer.from(base, 'utf8').subarray(0, 80).toString('latin1').replace(/[^\x20-\x7e]/g, '_');
      parts.push(tarHeader(`PaxHeader/${stub}`, '', pax.length, 'x'), pax, padBlock(pax.length));
      parts.push(tarHeader(stub + (isDir ? '/' : ''), '', data.length, type));
    }
    parts.push(data, padBlock(data.length));
  }
  parts.push(Buffer.alloc(1024)); // two zero blocks end the archive
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------
// Distributions

const WHEEL_FILE_BYTES = Buffer.from(WHEEL_FILE_TEXT, 'utf8');
/** The WHEEL file never changes: deflate it once (each deflateRawSync call costs ~20 µs of setup). */
const WHEEL_FILE_PACKED = { body: deflateRawSync(WHEEL_FILE_BYTES), crc: crc32(WHEEL_FILE_BYTES) };

function sha256Record(data: Buffer): string {
  return `sha256=${createHash('sha256').update(data).digest('base64url')}`;
}

/** Quotes a RECORD (CSV) field when it needs it. */
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Builds a pure-Python wheel for `spec`, synchronously, as one zip Buffer.
 *
 * Members, in order: the module files (`spec.modules`, default one module), then
 * `<escaped>-<version>.dist-info/METADATA` (exactly {@link metadataText}, UTF-8),
 * `.../WHEEL` (`Wheel-Version: 1.0`, `Root-Is-Purelib: true`, `Tag: py3-none-any`)
 * and `.../RECORD` (one `path,sha256=<urlsafe b64, no padding>,<size>` line per member,
 * RECORD itself as `path,,`). Files are deflated; timestamps are fixed.
 *
 * @param opts.distInfoName - replaces the `.dist-info` folder name: either the full
 *   folder name (`'Other-2.0.dist-info'`) or its stem (`'Other-2.0'`, suffix added).
 * @param opts.omit - leave these dist-info files out (they are also left out of RECORD).
 */
export function buildWheel(
  spec: DistSpec,
  opts: { distInfoName?: string; omit?: ('METADATA' | 'WHEEL' | 'RECORD')[] } = {},
): Buffer {
  const omit = new Set(opts.omit ?? []);
  const stem = opts.distInfoName ?? `${escapedName(spec.name)}-${spec.version}`;
  const distInfo = stem.endsWith('.dist-info') ? stem : `${stem}.dist-info`;

  const entries: Entry[] = [];
  for (const [path, source] of Object.entries(spec.modules ?? defaultModules(spec))) {
    entries.push({ name: path, data: Buffer.from(source, 'utf8') });
  }
  if (!omit.has('METADATA')) entries.push({ name: `${distInfo}/METADATA`, data: Buffer.from(metadataText(spec), 'utf8') });
  if (!omit.has('WHEEL')) entries.push({ name: `${distInfo}/WHEEL`, data: WHEEL_FILE_BYTES, packed: WHEEL_FILE_PACKED });
  if (!omit.has('RECORD')) {
    const recordPath = `${distInfo}/RECORD`;
    let record = '';
    for (const e of entries) record += `${csvField(e.name)},${sha256Record(e.data)},${e.data.length}\n`;
    record += `${csvField(recordPath)},,\n`;
    entries.push({ name: recordPath, data: Buffer.from(record, 'utf8') });
  }
  return writeZip(entries);
}

/** TOML basic string (backslash, quote and control characters escaped). */
function tomlString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0) as number;
    if (ch === '\\') out += '\\\\';
    else if (ch === '"') out += '\\"';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + '"';
}

function pyprojectToml(spec: DistSpec): string {
  const lines = [
    '[build-system]',
    'requires = ["setuptools>=61"]',
    'build-backend = "setuptools.build_meta"',
    '',
    '[project]',
    `name = ${tomlString(spec.name)}`,
    `version = ${tomlString(spec.version)}`,
  ];
  if (spec.summary !== undefined) lines.push(`description = ${tomlString(spec.summary)}`);
  if (spec.requiresPython !== undefined) lines.push(`requires-python = ${tomlString(spec.requiresPython)}`);
  if (spec.requiresDist?.length) lines.push(`dependencies = [${spec.requiresDist.map(tomlString).join(', ')}]`);
  return lines.join('\n') + '\n';
}

/**
 * Builds a source distribution for `spec`, synchronously, as one Buffer.
 *
 * The archive has a single top folder (default `<escaped>-<version>/`, with a
 * directory entry for it and for every subfolder) holding `PKG-INFO` (exactly
 * {@link metadataText}), a minimal setuptools `pyproject.toml`, and the module files.
 *
 * @param opts.format - `'tar.gz'` (default; ustar, gzip) or `'zip'`.
 * @param opts.topDir - replaces the top folder name (a trailing `/` is optional);
 *   `''` puts everything at the archive root.
 * @param opts.omitPkgInfo - leave `PKG-INFO` out.
 */
export function buildSdist(
  spec: DistSpec,
  opts: { format?: 'tar.gz' | 'zip'; topDir?: string; omitPkgInfo?: boolean } = {},
): Buffer {
  const top = (opts.topDir ?? `${escapedName(spec.name)}-${spec.version}`).replace(/\/+$/, '');
  const prefix = top === '' ? '' : `${top}/`;
  const files: Entry[] = [];
  if (!opts.omitPkgInfo) files.push({ name: `${prefix}PKG-INFO`, data: Buffer.from(metadataText(spec), 'utf8') });
  files.push({ name: `${prefix}pyproject.toml`, data: Buffer.from(pyprojectToml(spec), 'utf8') });
  for (const [path, source] of Object.entries(spec.modules ?? defaultModules(spec))) {
    files.push({ name: `${prefix}${path}`, data: Buffer.from(source, 'utf8') });
  }

  // Directory entries first (parents before children), as real sdists have them.
  const dirs = new Set<string>();
  if (prefix) dirs.add(prefix);
  for (const f of files) {
    const segments = f.name.split('/');
    for (let i = 1; i < segments.length; i++) dirs.add(segments.slice(0, i).join('/') + '/');
  }
  const entries: Entry[] = [...[...dirs].sort().map((name) => ({ name, data: Buffer.alloc(0) })), ...files];

  return opts.format === 'zip' ? writeZip(entries) : gzipSync(writeTar(entries));
}

/**
 * Returns a damaged copy of `buf` (the input is never modified):
 *
 * - `'truncate'`: the first half of the bytes (a zip loses its central directory,
 *   a gzip stream its end and trailer);
 * - `'garbage'`: the same number of deterministic pseudo-random bytes, starting
 *   with neither the zip (`PK`) nor the gzip (`1f 8b`) magic;
 * - `'flip-middle'`: every bit inverted in the 16 bytes (fewer for tiny buffers)
 *   around the middle, so the container still looks plausible but the compressed
 *   data / CRC no longer check out. For `.tar.gz`, the damage is certain to be
 *   noticed only by a reader that gunzips the whole stream (gzip CRC); Python's
 *   `tarfile` alone may just see garbled content or an early end of archive.
 */
export function corrupt(buf: Buffer, how: 'truncate' | 'garbage' | 'flip-middle'): Buffer {
  switch (how) {
    case 'truncate':
      return Buffer.from(buf.subarray(0, Math.floor(buf.length / 2)));
    case 'garbage': {
      const out = Buffer.alloc(buf.length);
      let x = (buf.length * 2654435761) >>> 0 || 0x9e3779b9; // xorshift32, seeded by length
      for (let i = 0; i < out.length; i++) {
        x ^= x << 13;
        x >>>= 0;
        x ^= x >>> 17;
        x ^= x << 5;
        x >>>= 0;
        out[i] = x & 0xff;
      }
      if (out.length > 0) out[0] = 0x00; // never 'P' (0x50) nor 0x1f
      return out;
    }
    case 'flip-middle': {
      const out = Buffer.from(buf);
      const width = Math.min(16, out.length);
      const start = Math.floor((out.length - width) / 2);
      for (let i = start; i < start + width; i++) out[i] = ~(out[i] as number) & 0xff;
      return out;
    }
  }
}

/** Writes a wheel and an sdist of `spec` into `dir` (made if needed); their paths. */
export async function writeDists(dir: string, spec: DistSpec): Promise<{ wheel: string; sdist: string }> {
  await mkdir(dir, { recursive: true });
  const wheel = join(dir, wheelFilename(spec));
  const sdist = join(dir, sdistFilename(spec));
  await writeFile(wheel, buildWheel(spec));
  await writeFile(sdist, buildSdist(spec));
  return { wheel, sdist };
}
