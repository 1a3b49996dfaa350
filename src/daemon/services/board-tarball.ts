/**
 * The tarball upip installs: plain ustar, one top folder, the board files, and the
 * dependencies in `<name>.egg-info/requires.txt`, gzipped with a 4 KB window.
 *
 * upip's tar reader looks at a header's name (100 bytes) and size only: it ignores the
 * type flag, the ustar prefix and PAX or GNU records, so every name must fit in 100 bytes
 * of ASCII and no extension record may appear (it would be extracted as a junk file).
 * tar-stream writes exactly one plain ustar header for such names; longer or non-ASCII
 * names would make it write a prefix or a PAX record, so they are refused before packing.
 * Boards with 64 KB of heap or less inflate with a 4 KB window (zlib windowBits 12) and
 * fail with EINVAL on the usual 32 KB one, hence `windowBits: 12`, which zlib's deflate
 * honours by never referring further back than 4 KB.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import tarStream from 'tar-stream';

const gzipAsync = promisify(gzip);

/** upip reads names from the first 100 bytes of a header only. */
export const UPIP_NAME_LIMIT = 100;

export interface UpipTarballInput {
  /** The top folder (upip strips it). */
  top: string;
  /** Normalized-and-escaped project name, for `<name>.egg-info/requires.txt`. */
  escapedName: string;
  files: { target: string; bytes: Buffer }[];
  /** `name` or `name==version` lines; no requires.txt when empty. */
  requires: string[];
  /** Timestamp of every member. */
  mtime: Date;
}

function fits(name: string): boolean {
  return /^[\x20-\x7e]*$/.test(name) && name.length <= UPIP_NAME_LIMIT;
}

/**
 * A top folder under which every member name fits upip's reader, or the reason none
 * does: `<name>-<version>` when possible, else a one-letter folder.
 */
export function upipTopFolder(escapedName: string, version: string, targets: string[]): { top: string } | { problem: string } {
  const needed = [...targets, `${escapedName}.egg-info/requires.txt`];
  for (const top of [`${escapedName}-${version}`, 'p']) {
    if (needed.every((t) => fits(`${top}/${t}`))) return { top };
  }
  const bad = needed.find((t) => !fits(`p/${t}`)) as string;
  return { problem: `upip cannot install the file '${bad}': its tar reader takes names of at most ${UPIP_NAME_LIMIT - 2} ASCII characters. Install it with mip instead.` };
}

/** Every folder leading to `path`, parents first (`a/`, `a/b/`). */
function foldersOf(path: string): string[] {
  const parts = path.split('/').slice(0, -1);
  return parts.map((_, i) => `${parts.slice(0, i + 1).join('/')}/`);
}

/** Builds the gzipped tarball. */
export async function buildUpipTarball(input: UpipTarballInput): Promise<Buffer> {
  const members: { name: string; bytes: Buffer }[] = input.files.map((f) => ({ name: f.target, bytes: f.bytes }));
  if (input.requires.length > 0) {
    members.push({ name: `${input.escapedName}.egg-info/requires.txt`, bytes: Buffer.from(`${input.requires.join('\n')}\n`, 'utf8') });
  }
  const folders = new Set<string>(['']);
  for (const m of members) for (const f of foldersOf(m.name)) folders.add(f);

  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  const common = { mtime: input.mtime, uid: 0, gid: 0, uname: '', gname: '' };
  for (const folder of [...folders].sort()) {
    const name = `${input.top}/${folder}`;
    if (!fits(name)) throw new Error(`tar name too long for upip: ${name}`);
    pack.entry({ ...common, name, type: 'directory', mode: 0o755 });
  }
  for (const m of members) {
    const name = `${input.top}/${m.name}`;
    if (!fits(name)) throw new Error(`tar name too long for upip: ${name}`);
    pack.entry({ ...common, name, type: 'file', mode: 0o644, size: m.bytes.length }, m.bytes);
  }
  pack.finalize();
  await done;
  return gzipAsync(Buffer.concat(chunks), { windowBits: 12, level: 9 });
}
