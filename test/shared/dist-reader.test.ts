import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDistContents } from '../../src/shared/dist-reader.js';
import { parseDistFilename } from '../../src/shared/distfiles.js';
import { DistContentError } from '../../src/shared/errors.js';
import { buildSdist, buildWheel, corrupt, metadataText, sdistFilename, wheelFilename, type DistSpec } from '../helpers/dists.js';
import { hostileSdistTar, hostileSdistZip, hostileTarCases, hostileWheel } from '../helpers/hostile-dists.js';

let dir: string;
let counter = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pyrepo-reader-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `bytes` to a fresh file and reads it as `filename`. */
async function read(bytes: Buffer, filename: string) {
  const path = join(dir, `${counter++}-${filename}`);
  await writeFile(path, bytes);
  return readDistContents(path, parseDistFilename(filename), bytes.length);
}

const SPEC: DistSpec = {
  name: 'Hello_World',
  version: '1.2.3',
  summary: 'Greets',
  requiresPython: '>=3.8',
  requiresDist: ['requests>=2'],
  description: '# Hello\n\nWorld.',
};

describe('readDistContents: wheels', () => {
  it('reads METADATA byte for byte', async () => {
    const c = await read(buildWheel(SPEC), wheelFilename(SPEC));
    expect(c.metadataBytes.equals(Buffer.from(metadataText(SPEC), 'utf8'))).toBe(true);
    expect(c.metadataPath).toBe('hello_world-1.2.3.dist-info/METADATA');
    expect(c.metadata.name).toBe('Hello_World');
    expect(c.metadata.version).toBe('1.2.3');
    expect(c.metadata.summary).toBe('Greets');
    expect(c.metadata.requiresPython).toBe('>=3.8');
    expect(c.metadata.requiresDist).toEqual(['requests>=2']);
    expect(c.metadata.description).toBe('# Hello\n\nWorld.\n');
  });

  it('finds a legacy, unnormalized dist-info folder (pip rule)', async () => {
    const c = await read(buildWheel(SPEC, { distInfoName: 'Hello.World-1.2.3' }), wheelFilename(SPEC));
    expect(c.metadataPath).toBe('Hello.World-1.2.3.dist-info/METADATA');
    expect(c.metadata.name).toBe('Hello_World');
  });

  it('reads non-ASCII metadata', async () => {
    const spec = { ...SPEC, summary: 'Grüße, 世界' };
    const c = await read(buildWheel(spec), wheelFilename(spec));
    expect(c.metadata.summary).toBe('Grüße, 世界');
  });

  it.each(['truncate', 'garbage', 'flip-middle'] as const)('rejects a %s-corrupted wheel', async (how) => {
    const bytes = corrupt(buildWheel(SPEC), how);
    await expect(read(bytes, wheelFilename(SPEC))).rejects.toBeInstanceOf(DistContentError);
  });

  it('rejects a wheel whose METADATA member is damaged', async () => {
    // Damage only the compressed METADATA bytes: find them right after the member name.
    const bytes = buildWheel({ ...SPEC, description: 'x'.repeat(2000) });
    const at = bytes.indexOf('hello_world-1.2.3.dist-info/METADATA') + 'hello_world-1.2.3.dist-info/METADATA'.length + 4;
    const damaged = Buffer.from(bytes);
    for (let i = at; i < at + 8; i++) damaged[i] = ~(damaged[i] as number) & 0xff;
    await expect(read(damaged, wheelFilename(SPEC))).rejects.toBeInstanceOf(DistContentError);
  });

  it('rejects an empty file', async () => {
    await expect(read(Buffer.alloc(0), wheelFilename(SPEC))).rejects.toBeInstanceOf(DistContentError);
  });

  it('rejects a wheel without METADATA', async () => {
    const err = await read(buildWheel(SPEC, { omit: ['METADATA'] }), wheelFilename(SPEC)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DistContentError);
    expect((err as Error).message).toMatch(/METADATA/);
  });

  it('rejects a wheel without WHEEL', async () => {
    const err = await read(buildWheel(SPEC, { omit: ['WHEEL'] }), wheelFilename(SPEC)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DistContentError);
    expect((err as Error).message).toMatch(/WHEEL/);
  });

  it('rejects a wheel with two dist-info folders for the project', async () => {
    const spec: DistSpec = {
      ...SPEC,
      modules: {
        'hello_world/__init__.py': '',
        'hello_world-9.9.dist-info/METADATA': metadataText({ ...SPEC, version: '9.9' }),
        'hello_world-9.9.dist-info/WHEEL': 'Wheel-Version: 1.0\n',
      },
    };
    const err = await read(buildWheel(spec), wheelFilename(spec)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DistContentError);
    expect((err as Error).message).toMatch(/more than one/);
  });

  it('rejects a wheel whose only dist-info folder is for another project', async () => {
    const err = await read(buildWheel(SPEC, { distInfoName: 'other-1.2.3' }), wheelFilename(SPEC)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DistContentError);
    expect((err as Error).message).toMatch(/dist-info/);
  });

  it('rejects METADATA without Name', async () => {
    const spec = { ...SPEC, metadataOverride: 'Metadata-Version: 2.1\nVersion: 1.2.3\n' };
    const err = await read(buildWheel(spec), wheelFilename(SPEC)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DistContentError);
    expect((err as Error).message).toMatch(/Name/);
  });

  it('rejects Metadata-Version 3.0', async () => {
    const spec = { ...SPEC, metadataVersion: '3.0' };
    await expect(read(buildWheel(spec), wheelFilename(spec))).rejects.toBeInstanceOf(DistContentError);
  });
});

describe('readDistContents: sdists', () => {
  it('reads PKG-INFO from a .tar.gz', async () => {
    const c = await read(buildSdist(SPEC), sdistFilename(SPEC));
    expect(c.metadataPath).toBe('hello_world-1.2.3/PKG-INFO');
    expect(c.metadataBytes.toString('utf8')).toBe(metadataText(SPEC));
    expect(c.metadata.name).toBe('Hello_World');
    expect(c.metadata.requiresPython).toBe('>=3.8');
  });

  it('reads PKG-INFO from a .zip', async () => {
    const c = await read(buildSdist(SPEC, { format: 'zip' }), sdistFilename(SPEC, '.zip'));
    expect(c.metadataPath).toBe('hello_world-1.2.3/PKG-INFO');
    expect(c.metadataBytes.toString('utf8')).toBe(metadataText(SPEC));
  });

  it('reads a legacy sdist name with a dash in the version', async () => {
    const spec: DistSpec = { name: 'foo', version: '1.0-1' };
    const c = await read(buildSdist(spec), 'foo-1.0-1.tar.gz');
    expect(c.metadata.version).toBe('1.0-1');
  });

  it.each(['truncate', 'garbage', 'flip-middle'] as const)('rejects a %s-corrupted .tar.gz', async (how) => {
    const bytes = corrupt(buildSdist(SPEC), how);
    await expect(read(bytes, sdistFilename(SPEC))).rejects.toBeInstanceOf(DistContentError);
  });

  it.each(['truncate', 'garbage', 'flip-middle'] as const)('rejects a %s-corrupted .zip', async (how) => {
    const bytes = corrupt(buildSdist(SPEC, { format: 'zip' }), how);
    await expect(read(bytes, sdistFilename(SPEC, '.zip'))).rejects.toBeInstanceOf(DistContentError);
  });

  it('rejects a .tar.gz without PKG-INFO', async () => {
    const err = await read(buildSdist(SPEC, { omitPkgInfo: true }), sdistFilename(SPEC)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DistContentError);
    expect((err as Error).message).toMatch(/PKG-INFO/);
  });

  it('rejects a .zip without PKG-INFO', async () => {
    const err = await read(buildSdist(SPEC, { format: 'zip', omitPkgInfo: true }), sdistFilename(SPEC, '.zip')).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DistContentError);
    expect((err as Error).message).toMatch(/PKG-INFO/);
  });

  /** Two top-level folders, only the first with PKG-INFO. */
  const TWO_TOPS: DistSpec = {
    ...SPEC,
    modules: {
      'hello_world-1.2.3/PKG-INFO': metadataText(SPEC),
      'hello_world-1.2.3/hello_world/__init__.py': '',
      'other-1.0/setup.py': '',
    },
  };

  it('rejects a .tar.gz with two top-level folders', async () => {
    const bytes = buildSdist(TWO_TOPS, { topDir: '', omitPkgInfo: true });
    const err = await read(bytes, sdistFilename(SPEC)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DistContentError);
    expect((err as Error).message).toMatch(/top-level/);
  });

  it('rejects a .zip with two top-level folders', async () => {
    const bytes = buildSdist(TWO_TOPS, { topDir: '', omitPkgInfo: true, format: 'zip' });
    const err = await read(bytes, sdistFilename(SPEC, '.zip')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DistContentError);
    expect((err as Error).message).toMatch(/top-level|PKG-INFO/);
  });

  it('rejects a .tar.gz with files at the archive root and no folder', async () => {
    const err = await read(buildSdist(SPEC, { topDir: '' }), sdistFilename(SPEC)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DistContentError);
  });
});

describe('readDistContents: members that would leave the archive', () => {
  const top = 'hello_world-1.2.3';

  /** The message of the DistContentError that reading `bytes` as `filename` throws. */
  async function refusal(bytes: Buffer, filename: string): Promise<string> {
    const err = await read(bytes, filename).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, `${filename} was accepted`).toBeInstanceOf(DistContentError);
    return (err as Error).message;
  }

  it.each(hostileTarCases(top))('refuses a .tar.gz sdist with %s, naming it', async (_what, entry) => {
    const message = await refusal(await hostileSdistTar(SPEC, [entry]), sdistFilename(SPEC));
    expect(message).toContain(entry.name);
  });

  it.each(hostileTarCases(top))('refuses a .tar.gz sdist held in memory with %s', async (_what, entry) => {
    const bytes = await hostileSdistTar(SPEC, [entry]);
    const err = await readDistContents(bytes, parseDistFilename(sdistFilename(SPEC)), bytes.length).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DistContentError);
    expect((err as Error).message).toContain(entry.name);
  });

  it.each([
    ['a member that climbs out with ..', { name: `${top}/../escaped.txt`, data: 'x' }],
    ['an absolute member', { name: '/tmp/pyrepo-absolute.txt', data: 'x' }],
    ['a backslash-absolute member', { name: '\\temp\\evil.txt', data: 'x' }],
    ['a drive-letter member', { name: 'C:/evil.txt', data: 'x' }],
    ['a backslash .. member', { name: `${top}\\..\\..\\evil.txt`, data: 'x' }],
    ['a symbolic link', { name: `${top}/link`, data: '/etc/passwd', mode: 0o120777 }],
    ['a character device', { name: `${top}/null`, mode: 0o020644 }],
    ['a block device', { name: `${top}/disk`, mode: 0o060644 }],
    ['a fifo', { name: `${top}/pipe`, mode: 0o010644 }],
  ] as const)('refuses a .zip sdist with %s, naming it', async (_what, entry) => {
    const message = await refusal(hostileSdistZip(SPEC, [entry]), sdistFilename(SPEC, '.zip'));
    expect(message).toContain(entry.name);
  });

  it.each([
    ['a member that climbs out with ..', '../../escaped.py'],
    ['a member that climbs out of a folder', 'pkg/../../escaped.py'],
    ['an absolute member', '/usr/lib/evil.py'],
    ['a backslash-absolute member', '\\evil.py'],
    ['a backslash .. member', 'pkg\\..\\..\\evil.py'],
    ['a drive-letter member', 'C:\\Windows\\evil.py'],
    ['a drive-relative member', 'c:evil.py'],
  ])('refuses a wheel with %s, naming it', async (_what, name) => {
    const message = await refusal(hostileWheel(SPEC, [{ name, data: 'x' }]), wheelFilename(SPEC));
    expect(message).toContain(name);
  });

  it('still reads the same archives without the hostile member', async () => {
    expect((await read(await hostileSdistTar(SPEC, []), sdistFilename(SPEC))).metadata.name).toBe('Hello_World');
    expect((await read(hostileSdistZip(SPEC, []), sdistFilename(SPEC, '.zip'))).metadata.name).toBe('Hello_World');
    expect((await read(hostileWheel(SPEC, []), wheelFilename(SPEC))).metadata.name).toBe('Hello_World');
  });

  it('accepts names that only look odd: dots inside names, ./ prefixes, folders', async () => {
    const tar = await hostileSdistTar(SPEC, [
      { name: `./${top}/docs/`, type: 'directory' },
      { name: `${top}/docs/a..b.txt`, type: 'file', data: 'x' },
      { name: `${top}/.hidden`, type: 'file', data: 'x' },
    ]);
    expect((await read(tar, sdistFilename(SPEC))).metadata.name).toBe('Hello_World');
    const wheel = hostileWheel(SPEC, [{ name: 'pkg/..data', data: 'x' }]);
    expect((await read(wheel, wheelFilename(SPEC))).metadata.name).toBe('Hello_World');
  });
});
