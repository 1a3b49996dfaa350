/**
 * Self-test for test/helpers/dists.ts and test/helpers/python-project.ts: the
 * in-memory archives must be readable by Python's own zipfile/tarfile (and by
 * the wheel tool, which checks RECORD hashes), and the real-build helper must
 * produce a wheel and an sdist.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip } from 'node:zlib';
import tarStream from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildSdist,
  buildWheel,
  corrupt,
  metadataText,
  sdistFilename,
  wheelFilename,
  type DistSpec,
} from '../helpers/dists.js';
import { buildPythonProject, writePythonProject } from '../helpers/python-project.js';

const execFileAsync = promisify(execFile);
const PYTHON = '/usr/bin/python3';

/** Runs a Python snippet with `args` as sys.argv[1:] and parses its JSON stdout. */
async function python<T>(script: string, args: string[]): Promise<T> {
  const { stdout } = await execFileAsync(PYTHON, ['-c', script, ...args], { maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as T;
}

/** Reads every archive in argv as Python would and reports names, the metadata file and any error. */
const INSPECT = String.raw`
import json, sys, tarfile, zipfile, base64, hashlib, csv, io, gzip
out = []
for path in sys.argv[1:]:
    r = {"path": path}
    try:
        if path.endswith(".tar.gz"):
            # tarfile may stop before the end of the gzip stream (and so never check its CRC);
            # a careful reader (like the daemon's) gunzips everything, so do that too.
            with open(path, "rb") as f:
                gzip.decompress(f.read())
            with tarfile.open(path, "r:gz") as t:
                members = t.getmembers()
                r["names"] = [m.name for m in members]
                r["dirs"] = [m.name for m in members if m.isdir()]
                for m in members:
                    if m.isfile():
                        data = t.extractfile(m).read()
                        assert len(data) == m.size
                        if m.name.endswith("/PKG-INFO") and m.name.count("/") == 1:
                            r["metadata"] = data.decode("utf-8")
        else:
            with zipfile.ZipFile(path) as z:
                bad = z.testzip()
                if bad is not None:
                    raise Exception("bad CRC in " + bad)
                r["names"] = z.namelist()
                for n in z.namelist():
                    if n.endswith(".dist-info/METADATA"):
                        r["metadata"] = z.read(n).decode("utf-8")
                    if n.endswith("/PKG-INFO") and n.count("/") == 1:
                        r["metadata"] = z.read(n).decode("utf-8")
                    if n.endswith(".dist-info/RECORD"):
                        rows = list(csv.reader(io.StringIO(z.read(n).decode("utf-8"))))
                        ok = True
                        for row in rows:
                            p, h, size = row
                            if p == n:
                                ok = ok and h == "" and size == ""
                                continue
                            data = z.read(p)
                            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                            ok = ok and h == "sha256=" + digest and int(size) == len(data)
                        r["recordOk"] = ok and sorted(row[0] for row in rows) == sorted(z.namelist())
        r["ok"] = True
    except Exception as e:
        r["ok"] = False
        r["error"] = type(e).__name__ + ": " + str(e)
    out.append(r)
print(json.dumps(out))
`;

interface Inspected {
  path: string;
  ok: boolean;
  error?: string;
  names?: string[];
  dirs?: string[];
  metadata?: string;
  recordOk?: boolean;
}

const spec: DistSpec = {
  name: 'Hello_World',
  version: '1.0.0',
  summary: 'Grüße — a "test" package \\ ok',
  requiresPython: '>=3.8',
  requiresDist: ['requests>=2', 'idna; extra == "x"'],
  extraHeaders: [
    ['Provides-Extra', 'x'],
    ['Project-URL', 'Home, https://example.invalid/'],
  ],
  description: 'Hello, *world*.\n\nÜnïcödé body.',
  modules: {
    'hello_world/__init__.py': 'from .core import greet\n',
    'hello_world/core.py': 'def greet():\n    return "hi"\n',
    // > 100 characters: needs a ustar prefix split in tar.
    [`hello_world/${'deep/'.repeat(20)}leaf.py`]: 'X = 1\n',
    // Non-ASCII name: pax path record in tar, UTF-8 flag in zip.
    'hello_world/dätä.txt': 'ünïcode\n',
  },
};

let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'pyrepo-dists-selftest-'));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('dists helpers', () => {
  it('formats metadata and filenames', () => {
    const text = metadataText(spec);
    expect(text.startsWith('Metadata-Version: 2.1\nName: Hello_World\nVersion: 1.0.0\nSummary: Grüße')).toBe(true);
    expect(text).toContain('\nRequires-Dist: requests>=2\nRequires-Dist: idna; extra == "x"\n');
    expect(text.endsWith('\n\nHello, *world*.\n\nÜnïcödé body.\n')).toBe(true);
    expect(metadataText({ name: 'a', version: '1' })).toBe('Metadata-Version: 2.1\nName: a\nVersion: 1\n');
    expect(metadataText({ ...spec, metadataOverride: 'X: y\n' })).toBe('X: y\n');
    expect(wheelFilename(spec)).toBe('hello_world-1.0.0-py3-none-any.whl');
    expect(wheelFilename({ name: 'Foo.-Bar', version: '2' }, 'cp311-cp311-linux_x86_64')).toBe(
      'foo_bar-2-cp311-cp311-linux_x86_64.whl',
    );
    expect(sdistFilename(spec)).toBe('hello_world-1.0.0.tar.gz');
    expect(sdistFilename(spec, '.zip')).toBe('hello_world-1.0.0.zip');
  });

  it('builds deterministic output', () => {
    expect(buildWheel(spec).equals(buildWheel(spec))).toBe(true);
    expect(buildSdist(spec).equals(buildSdist(spec))).toBe(true);
  });

  it('builds a wheel and sdists that Python reads', async () => {
    const wheel = join(tmp, wheelFilename(spec));
    const tgz = join(tmp, sdistFilename(spec));
    const zip = join(tmp, 'zipdir', sdistFilename(spec, '.zip'));
    await writeFile(wheel, buildWheel(spec));
    await writeFile(tgz, buildSdist(spec));
    await mkdir(join(tmp, 'zipdir'));
    await writeFile(zip, buildSdist(spec, { format: 'zip' }));

    const [w, t, z] = await python<Inspected[]>(INSPECT, [wheel, tgz, zip]);
    const expected = metadataText(spec);

    expect(w?.error).toBeUndefined();
    expect(w?.metadata).toBe(expected);
    expect(w?.recordOk).toBe(true);
    expect(w?.names).toEqual([
      'hello_world/__init__.py',
      'hello_world/core.py',
      `hello_world/${'deep/'.repeat(20)}leaf.py`,
      'hello_world/dätä.txt',
      'hello_world-1.0.0.dist-info/METADATA',
      'hello_world-1.0.0.dist-info/WHEEL',
      'hello_world-1.0.0.dist-info/RECORD',
    ]);

    for (const s of [t, z]) {
      expect(s?.error).toBeUndefined();
      expect(s?.metadata).toBe(expected);
      const names = (s?.names ?? []).map((n) => n.replace(/\/$/, ''));
      expect(names).toContain('hello_world-1.0.0/pyproject.toml');
      expect(names).toContain(`hello_world-1.0.0/hello_world/${'deep/'.repeat(20)}leaf.py`);
      expect(names).toContain('hello_world-1.0.0/hello_world/dätä.txt');
      expect(names.every((n) => n === 'hello_world-1.0.0' || n.startsWith('hello_world-1.0.0/'))).toBe(true);
    }
    expect(t?.dirs).toContain('hello_world-1.0.0');

    // Python's exact-read check the brief asks for, verbatim.
    const { stdout } = await execFileAsync(PYTHON, [
      '-c',
      `import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read('hello_world-1.0.0.dist-info/METADATA'))`,
      wheel,
    ]);
    expect(stdout).toBe(expected);

    // The wheel tool verifies every RECORD hash while unpacking.
    await execFileAsync(PYTHON, ['-m', 'wheel', 'unpack', '-d', join(tmp, 'unpacked'), wheel]);
    // pyproject.toml parses as TOML.
    const toml = await python<{ project: Record<string, unknown> }>(
      'import sys, tarfile, json, tomllib; t = tarfile.open(sys.argv[1]); ' +
        'print(json.dumps(tomllib.loads(t.extractfile("hello_world-1.0.0/pyproject.toml").read().decode())))',
      [tgz],
    );
    expect(toml.project).toEqual({
      name: 'Hello_World',
      version: '1.0.0',
      description: spec.summary,
      'requires-python': '>=3.8',
      dependencies: spec.requiresDist,
    });
  });

  it('writes tar.gz that tar-stream (the daemon reader) extracts', async () => {
    const names: string[] = [];
    let pkgInfo = '';
    const extract = tarStream.extract();
    extract.on('entry', (header, stream, next) => {
      names.push(header.name);
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => {
        if (Buffer.isBuffer(c)) chunks.push(c);
      });
      stream.on('end', () => {
        if (header.name === 'hello_world-1.0.0/PKG-INFO') pkgInfo = Buffer.concat(chunks).toString('utf8');
        next();
      });
    });
    await pipeline(Readable.from([buildSdist(spec)]), createGunzip(), extract);
    expect(pkgInfo).toBe(metadataText(spec));
    expect(names).toContain(`hello_world-1.0.0/hello_world/${'deep/'.repeat(20)}leaf.py`);
    expect(names).toContain('hello_world-1.0.0/hello_world/dätä.txt');
  });

  it('honours the options', async () => {
    const files: Record<string, Buffer> = {
      'override.whl': buildWheel({ ...spec, metadataOverride: 'Metadata-Version: 2.1\nName: other\nVersion: 9\n' }),
      'distinfo.whl': buildWheel(spec, { distInfoName: 'Other-2.0' }),
      'omit.whl': buildWheel(spec, { omit: ['WHEEL', 'RECORD'] }),
      'top.tar.gz': buildSdist(spec, { topDir: 'elsewhere-1/', omitPkgInfo: true }),
    };
    for (const [name, buf] of Object.entries(files)) await writeFile(join(tmp, name), buf);
    const [o, d, m, t] = await python<Inspected[]>(
      INSPECT,
      Object.keys(files).map((n) => join(tmp, n)),
    );
    expect(o?.metadata).toBe('Metadata-Version: 2.1\nName: other\nVersion: 9\n');
    expect(o?.recordOk).toBe(true);
    expect(d?.names).toContain('Other-2.0.dist-info/METADATA');
    expect(d?.recordOk).toBe(true);
    expect(m?.names?.filter((n) => n.includes('.dist-info/'))).toEqual(['hello_world-1.0.0.dist-info/METADATA']);
    expect(t?.names?.every((n) => n.startsWith('elsewhere-1'))).toBe(true);
    expect(t?.names).not.toContain('elsewhere-1/PKG-INFO');
  });

  it('corrupts archives so that Python rejects them', async () => {
    const originals: Record<string, Buffer> = {
      'c.whl': buildWheel(spec),
      'c.tar.gz': buildSdist(spec),
      'c.zip': buildSdist(spec, { format: 'zip' }),
    };
    const paths: string[] = [];
    for (const how of ['truncate', 'garbage', 'flip-middle'] as const) {
      for (const [name, buf] of Object.entries(originals)) {
        const bad = corrupt(buf, how);
        expect(bad.equals(buf)).toBe(false);
        expect(bad.length).toBe(how === 'truncate' ? Math.floor(buf.length / 2) : buf.length);
        const path = join(tmp, `${how}-${name}`);
        await writeFile(path, bad);
        paths.push(path);
      }
    }
    const results = await python<Inspected[]>(INSPECT, paths);
    for (const r of results) expect({ path: basename(r.path), ok: r.ok }).toEqual({ path: basename(r.path), ok: false });
    // The input is left alone.
    expect(originals['c.whl']?.equals(buildWheel(spec))).toBe(true);
  });

  it('builds 1,000 wheels and 1,000 sdists quickly', () => {
    const n = 1000;
    // Untimed warm-up so the JIT has settled (the benchmark builds 60,000 files in one go).
    for (let i = 0; i < 100; i++) buildSdist({ name: 'warm', version: `0.${i}` }, { format: i % 2 ? 'zip' : 'tar.gz' });
    for (let i = 0; i < 100; i++) buildWheel({ name: 'warm', version: `0.${i}` });
    const start = process.hrtime.bigint();
    let bytes = 0;
    for (let i = 0; i < n; i++) bytes += buildWheel({ name: `bench-pkg-${i % 50}`, version: `1.0.${i}`, summary: 'x' }).length;
    const mid = process.hrtime.bigint();
    for (let i = 0; i < n; i++) bytes += buildSdist({ name: `bench-pkg-${i % 50}`, version: `1.0.${i}`, summary: 'x' }).length;
    const end = process.hrtime.bigint();
    const wheelMs = Number(mid - start) / 1e6;
    const sdistMs = Number(end - mid) / 1e6;
    console.log(
      `dists: ${n} wheels in ${wheelMs.toFixed(0)} ms (${((n / wheelMs) * 1000).toFixed(0)}/s, ` +
        `${((wheelMs / n) * 1000).toFixed(0)} µs each); ${n} sdists in ${sdistMs.toFixed(0)} ms ` +
        `(${((n / sdistMs) * 1000).toFixed(0)}/s, ${((sdistMs / n) * 1000).toFixed(0)} µs each); ` +
        `${(bytes / 1024).toFixed(0)} KiB total`,
    );
    expect(bytes).toBeGreaterThan(0);
  });
});

describe('python-project helpers', () => {
  it('builds a real wheel and sdist with python3 -m build', async () => {
    const project = await writePythonProject(join(tmp, 'proj'), {
      name: 'real-proj',
      version: '0.3.1',
      requiresPython: '>=3.8',
      dependencies: ['requests>=2'],
    });
    const { wheel, sdist } = await buildPythonProject(project, join(tmp, 'proj-out'));
    expect(basename(wheel)).toMatch(/^real_proj-0\.3\.1-py3-none-any\.whl$/);
    expect(basename(sdist)).toMatch(/^real[-_]proj-0\.3\.1\.tar\.gz$/);
    const [w, s] = await python<Inspected[]>(INSPECT, [wheel, sdist]);
    expect(w?.error).toBeUndefined();
    expect(w?.recordOk).toBe(true);
    expect(w?.names).toContain('real_proj/__init__.py');
    expect(w?.metadata).toMatch(/^Name: real-proj$/m);
    expect(w?.metadata).toMatch(/^Requires-Python: >=3\.8$/m);
    expect(w?.metadata).toMatch(/^Requires-Dist: requests ?\(?>=2\)?$/m); // old setuptools writes 'requests (>=2)'
    expect(s?.error).toBeUndefined();
    expect(s?.metadata).toMatch(/^Version: 0\.3\.1$/m);
  });
});
