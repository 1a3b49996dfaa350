/**
 * Distributions that are valid in every way but one hostile member: a path that leaves
 * the archive (`..`, absolute, drive letters), a link, or a device file. dists.ts writes
 * only well-formed archives (and yazl refuses such names), so this module writes its own:
 * tar through tar-stream's packer, which writes any header it is given, and zip with a
 * minimal stored-only writer.
 */
import { crc32, gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import { metadataText, sdistFilename, wheelFilename, type DistSpec } from './dists.js';

/** A tar member type as tar-stream names it. */
export type TarType = 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';

export interface HostileTarEntry {
  name: string;
  type: TarType;
  /** Target of a symbolic or hard link. */
  linkname?: string;
  data?: string;
}

/** The well-formed members of an sdist of `spec`, under its top folder. */
function sdistMembers(spec: DistSpec): { top: string; files: [string, string][] } {
  const top = sdistFilename(spec).replace(/\.tar\.gz$/, '');
  return {
    top,
    files: [
      [`${top}/PKG-INFO`, metadataText(spec)],
      [`${top}/pyproject.toml`, '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'],
    ],
  };
}

/** A .tar.gz sdist of `spec` with `extra` appended after its ordinary members. */
export async function hostileSdistTar(spec: DistSpec, extra: HostileTarEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  const { top, files } = sdistMembers(spec);
  const mtime = new Date('2020-01-01T00:00:00Z');
  pack.entry({ name: `${top}/`, type: 'directory', mode: 0o755, mtime });
  for (const [name, text] of files) pack.entry({ name, mode: 0o644, mtime }, text);
  for (const e of extra) {
    const header = { name: e.name, type: e.type, mode: 0o644, mtime, ...(e.linkname ? { linkname: e.linkname } : {}) };
    if (e.type === 'file') pack.entry(header, e.data ?? '');
    else pack.entry({ ...header, size: 0 });
  }
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

export interface HostileZipEntry {
  name: string;
  data?: string;
  /** Unix mode stored in the external attributes (`0o120777` for a symbolic link); default a regular file. */
  mode?: number;
}

/** A stored (uncompressed) zip of the entries, Unix modes in the external attributes. */
export function writeStoredZip(entries: HostileZipEntry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const data = Buffer.from(entry.data ?? '', 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    parts.push(local, name, data);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE((3 << 8) | 20, 4); // made by Unix
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(0x0800, 8);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(data.length, 20);
    cd.writeUInt32LE(data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(((entry.mode ?? 0o100644) << 16) >>> 0, 38);
    cd.writeUInt32LE(offset, 42);
    central.push(cd, name);
    offset += local.length + name.length + data.length;
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

/** A .zip sdist of `spec` with `extra` after its ordinary members. */
export function hostileSdistZip(spec: DistSpec, extra: HostileZipEntry[]): Buffer {
  const { files } = sdistMembers(spec);
  return writeStoredZip([...files.map(([name, data]) => ({ name, data })), ...extra]);
}

/** A wheel of `spec` (METADATA, WHEEL, a module) with `extra` after its ordinary members. */
export function hostileWheel(spec: DistSpec, extra: HostileZipEntry[]): Buffer {
  const info = `${wheelFilename(spec).split('-').slice(0, 2).join('-')}.dist-info`;
  return writeStoredZip([
    { name: 'pkg/__init__.py', data: '' },
    { name: `${info}/METADATA`, data: metadataText(spec) },
    { name: `${info}/WHEEL`, data: 'Wheel-Version: 1.0\nGenerator: pyrepo-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n' },
    ...extra,
  ]);
}

/**
 * The hostile sdists of the issue, by what makes them so: a member path that climbs out,
 * an absolute one, and every kind of member that is not a file or folder.
 */
export function hostileTarCases(top: string): [string, HostileTarEntry][] {
  return [
    ['a member that climbs out with ..', { name: `${top}/../../escaped.txt`, type: 'file', data: 'x' }],
    ['an absolute member', { name: '/tmp/pyrepo-absolute.txt', type: 'file', data: 'x' }],
    ['a symbolic link', { name: `${top}/link`, type: 'symlink', linkname: '/etc/passwd' }],
    ['a hard link', { name: `${top}/hard`, type: 'link', linkname: `${top}/PKG-INFO` }],
    ['a character device', { name: `${top}/null`, type: 'character-device' }],
    ['a block device', { name: `${top}/disk`, type: 'block-device' }],
    ['a fifo', { name: `${top}/pipe`, type: 'fifo' }],
  ];
}
