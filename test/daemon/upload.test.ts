import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  digestsOf,
  formFieldsFor,
  listTree,
  makeApp,
  makeDist,
  postFile,
  upload,
  uploadForm,
  type TestApp,
} from '../helpers/app.js';
import { buildSdist, buildWheel, corrupt, sdistFilename, wheelFilename, type DistSpec } from '../helpers/dists.js';
import { hostileSdistTar, hostileSdistZip, hostileTarCases, hostileWheel } from '../helpers/hostile-dists.js';
import { waitFor } from '../helpers/wait.js';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const SPEC: DistSpec = { name: 'up_demo', version: '1.0', summary: 'Upload demo', requiresPython: '>=3.8' };
const WHEEL = makeDist(SPEC, 'wheel');
const SDIST = makeDist(SPEC, 'sdist');
const WHEEL_FIELDS = formFieldsFor(SPEC, WHEEL);
const SDIST_FIELDS = formFieldsFor(SPEC, SDIST);

/** Waits (briefly) for the packages folder to hold exactly `expected`; its listing. */
async function folderSettles(dir: string, expected: string[]): Promise<string[]> {
  return waitFor(
    `the packages folder to hold exactly ${JSON.stringify(expected)}`,
    async () => {
      const entries = await listTree(dir);
      expect(entries).toEqual(expected);
      return entries;
    },
    1_000,
    50,
  );
}

describe('rejected uploads', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp();
  });
  afterAll(async () => {
    await t.close();
  });

  /**
   * Runs `request`, which must fail with `status` and a message matching `message` in the
   * body and the reason phrase, add nothing to the packages folder (no file, no temporary
   * file), and leave the daemon answering.
   */
  async function rejects(request: () => Promise<LightMyRequestResponse>, status: number | '4xx', message: RegExp): Promise<void> {
    const before = await listTree(t.packagesDir);
    const res = await request();
    if (status === '4xx') {
      expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, res.body).toBeLessThan(500);
    } else {
      expect(res.statusCode, res.body).toBe(status);
    }
    expect(res.body).toMatch(message);
    expect(res.statusMessage).toMatch(message);
    expect(res.statusMessage).not.toMatch(/[\r\n]/);
    expect(await folderSettles(t.packagesDir, before)).toEqual(before);
    const health = await t.app.inject({ url: '/-/health' });
    expect(health.statusCode).toBe(200);
    const simple = await t.app.inject({ url: '/simple/' });
    expect(simple.statusCode).toBe(200);
  }

  function post(payload: Buffer | string, headers: Record<string, string>, url = '/legacy/') {
    return t.app.inject({ method: 'POST', url, payload, headers });
  }

  describe('malformed multipart bodies', () => {
    it('rejects a body whose boundary differs from the header', async () => {
      const form = uploadForm(WHEEL.bytes, WHEEL.filename, WHEEL_FIELDS, { headerBoundary: 'SomethingElse123' });
      await rejects(() => post(form.payload, form.headers), 400, /multipart|:action|file/i);
    });

    it('rejects a multipart Content-Type without a boundary', async () => {
      const form = uploadForm(WHEEL.bytes, WHEEL.filename, WHEEL_FIELDS, { headerBoundary: null });
      await rejects(() => post(form.payload, form.headers), 400, /multipart|boundary/i);
    });

    it('rejects a body truncated inside the fields', async () => {
      const form = uploadForm(WHEEL.bytes, WHEEL.filename, WHEEL_FIELDS, { fileFirst: false });
      const cut = form.payload.subarray(0, 120);
      await rejects(() => post(cut, form.headers), 400, /multipart|end of form|truncat|:action/i);
    });

    it('rejects a body of garbage', async () => {
      const form = uploadForm(WHEEL.bytes, WHEEL.filename, WHEEL_FIELDS);
      await rejects(() => post(corrupt(form.payload, 'garbage'), form.headers), 400, /multipart|:action/i);
    });

    it('rejects an upload without a content part', async () => {
      const form = uploadForm(WHEEL.bytes, WHEEL.filename, WHEEL_FIELDS, { omitFile: true });
      await rejects(() => post(form.payload, form.headers), 400, /does not have a file/);
    });

    it('rejects a file sent under another part name', async () => {
      const form = uploadForm(WHEEL.bytes, WHEEL.filename, WHEEL_FIELDS, { fileField: 'file' });
      await rejects(() => post(form.payload, form.headers), 400, /does not have a file/);
    });

    it('rejects two content parts', async () => {
      const one = uploadForm(WHEEL.bytes, WHEEL.filename, WHEEL_FIELDS);
      const boundary = '----pyrepoTestBoundary7MA4YWxkTrZu0gW';
      const extra = Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="content"; filename="${SDIST.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
        SDIST.bytes,
        Buffer.from('\r\n'),
      ]);
      const end = Buffer.from(`--${boundary}--\r\n`);
      const payload = Buffer.concat([one.payload.subarray(0, one.payload.length - end.length), extra, end]);
      await rejects(() => post(payload, one.headers), 400, /more than one/);
    });
  });

  describe('requests that are not multipart uploads', () => {
    it('rejects a JSON body', async () => {
      await rejects(() => post(JSON.stringify({ name: 'x' }), { 'content-type': 'application/json' }), '4xx', /:action|multipart/);
    });

    it('rejects a plain-text body', async () => {
      await rejects(() => post('hello', { 'content-type': 'text/plain' }), '4xx', /:action|multipart|Content-Type/);
    });

    it('rejects a raw file body', async () => {
      await rejects(() => post(WHEEL.bytes, { 'content-type': 'application/octet-stream' }), '4xx', /multipart|Content-Type/);
    });

    it('rejects an empty POST', async () => {
      await rejects(() => t.app.inject({ method: 'POST', url: '/legacy/' }), '4xx', /:action/);
    });

    it('rejects a urlencoded file_upload (it has no file)', async () => {
      const body = new URLSearchParams({ ':action': 'file_upload', name: 'up_demo', version: '1.0', filetype: 'sdist' }).toString();
      await rejects(() => post(body, { 'content-type': 'application/x-www-form-urlencoded' }), 400, /does not have a file/);
    });
  });

  describe(':action', () => {
    it('rejects a missing :action', async () => {
      await rejects(() => postFile(t.app, WHEEL.bytes, WHEEL.filename, { ...WHEEL_FIELDS, ':action': [] }), 400, /Missing ':action'/);
    });

    it('rejects an unknown :action', async () => {
      await rejects(() => postFile(t.app, WHEEL.bytes, WHEEL.filename, { ...WHEEL_FIELDS, ':action': 'frobnicate' }), 400, /Unsupported ':action'.*frobnicate/);
    });

    it('keeps user text out of the response headers', async () => {
      const res = await postFile(t.app, WHEEL.bytes, WHEEL.filename, { ...WHEEL_FIELDS, ':action': 'bad\r\nX-Injected: 1 ünï' });
      expect(res.statusCode).toBe(400);
      expect(res.headers['x-injected']).toBeUndefined();
      expect(res.statusMessage).toMatch(/^Unsupported ':action' field: 'bad/);
      expect(res.statusMessage).toMatch(/^[\x20-\x7e]*$/);
      expect(res.body).toContain('X-Injected: 1 ünï');
      expect((await listTree(t.packagesDir)).filter((e) => e.startsWith('.'))).toEqual([]);
    });

    it.each(['submit', 'submit_pkg_info'])('answers %s with 410', async (action) => {
      const body = uploadForm(Buffer.alloc(0), 'x', { ':action': action, name: 'up_demo', version: '1.0' }, { omitFile: true });
      await rejects(() => post(body.payload, body.headers), 410, /no longer required or supported/);
    });

    it('answers doc_upload with 410', async () => {
      const body = uploadForm(Buffer.alloc(0), 'x', { ':action': 'doc_upload', name: 'up_demo' }, { omitFile: true });
      await rejects(() => post(body.payload, body.headers), 410, /documentation/i);
    });

    it('answers doc_upload with a docs zip (as setuptools upload_docs sends it) with 410', async () => {
      const docs = buildSdist({ name: 'up_demo', version: '1.0' }, { format: 'zip', topDir: '' });
      await rejects(() => postFile(t.app, docs, 'up_demo.zip', { ':action': 'doc_upload', name: 'up_demo' }), 410, /documentation/i);
    });
  });

  describe('form fields', () => {
    it.each(['name', 'version', 'filetype'])('rejects a missing %s', async (field) => {
      await rejects(() => postFile(t.app, WHEEL.bytes, WHEEL.filename, { ...WHEEL_FIELDS, [field]: [] }), 400, new RegExp(`Missing required form field '${field}'`));
    });

    it('rejects a filetype that does not match the file', async () => {
      await rejects(() => postFile(t.app, WHEEL.bytes, WHEEL.filename, { ...WHEEL_FIELDS, filetype: 'sdist' }), 400, /filetype 'sdist'/);
      await rejects(() => postFile(t.app, SDIST.bytes, SDIST.filename, { ...SDIST_FIELDS, filetype: 'bdist_wheel' }), 400, /filetype 'bdist_wheel'/);
    });

    it('rejects an unknown filetype', async () => {
      await rejects(() => postFile(t.app, WHEEL.bytes, WHEEL.filename, { ...WHEEL_FIELDS, filetype: 'bdist_egg' }), 400, /filetype 'bdist_egg'/);
    });

    it('rejects protocol_version=2', async () => {
      await rejects(() => postFile(t.app, WHEEL.bytes, WHEEL.filename, { ...WHEEL_FIELDS, protocol_version: '2' }), 400, /protocol_version/);
    });

    it('rejects a form name for another project', async () => {
      await rejects(() => postFile(t.app, WHEEL.bytes, WHEEL.filename, { ...WHEEL_FIELDS, name: 'other-project' }), 400, /other-project/);
    });

    it('rejects a form version that differs from the file', async () => {
      await rejects(() => postFile(t.app, WHEEL.bytes, WHEEL.filename, { ...WHEEL_FIELDS, version: '2.0' }), 400, /version.*2\.0/);
    });
  });

  describe('filenames', () => {
    /** A valid sdist for `name` posted under `filename`. */
    function sdistAs(name: string, filename: string, headerFilename = filename) {
      const spec: DistSpec = { name, version: '1.0' };
      const bytes = buildSdist(spec);
      const form = uploadForm(bytes, headerFilename, { ...formFieldsFor(spec, { bytes, filetype: 'sdist' }) });
      return post(form.payload, form.headers);
    }

    it('rejects ../evil-1.0.tar.gz and writes nothing outside the folder', async () => {
      await rejects(() => sdistAs('evil', '../evil-1.0.tar.gz'), 400, /filename/i);
      expect(existsSync(join(t.root, 'evil-1.0.tar.gz'))).toBe(false);
    });

    it('rejects /abs-1.0.tar.gz', async () => {
      await rejects(() => sdistAs('abs', '/abs-1.0.tar.gz'), 400, /filename/i);
    });

    it('rejects a\\b-1.0.tar.gz', async () => {
      // The header's quoted-string escapes the backslash, so the filename received is a\b-1.0.tar.gz.
      await rejects(() => sdistAs('b', 'a\\b-1.0.tar.gz', 'a\\\\b-1.0.tar.gz'), 400, /filename/i);
    });

    it('rejects a NUL in the filename', async () => {
      await rejects(() => sdistAs('nul', 'nul\u0000-1.0.tar.gz'), 400, /filename|control/i);
    });

    it('rejects .hidden-1.0.tar.gz', async () => {
      await rejects(() => sdistAs('hidden', '.hidden-1.0.tar.gz'), 400, /filename|'\.'/i);
    });

    it('rejects x.exe', async () => {
      await rejects(() => postFile(t.app, WHEEL.bytes, 'x.exe', WHEEL_FIELDS), 400, /extension/i);
    });

    it('rejects an invalid wheel filename', async () => {
      await rejects(() => postFile(t.app, WHEEL.bytes, 'up_demo-1.0-py3-none.whl', WHEEL_FIELDS), 400, /wheel filename/i);
    });
  });

  describe('digests', () => {
    const wrong = digestsOf(Buffer.from('something else'));
    it.each([
      ['md5_digest', wrong.md5, /md5 digest supplied does not match/],
      ['sha256_digest', wrong.sha256, /sha256 digest supplied does not match/],
      ['blake2_256_digest', wrong.blake2_256, /blake2_256 digest supplied does not match/],
    ])('rejects a wrong %s', async (field, value, message) => {
      await rejects(() => postFile(t.app, WHEEL.bytes, WHEEL.filename, { ...WHEEL_FIELDS, [field]: value }), 400, message);
    });

    it.each([
      ['sha256_digest', 'xyz'],
      ['sha256_digest', 'a'.repeat(63)],
      ['md5_digest', 'g'.repeat(32)],
      ['blake2_256_digest', `${'0'.repeat(63)}!`],
    ])('rejects a malformed %s (%s)', async (field, value) => {
      await rejects(() => postFile(t.app, WHEEL.bytes, WHEEL.filename, { ...WHEEL_FIELDS, [field]: value }), 400, new RegExp(`${field}.*hex digest`));
    });
  });

  describe('archives', () => {
    it.each(['truncate', 'garbage', 'flip-middle'] as const)('rejects a %s-corrupted wheel', async (how) => {
      const bytes = corrupt(WHEEL.bytes, how);
      await rejects(() => postFile(t.app, bytes, WHEEL.filename, formFieldsFor(SPEC, { bytes, filetype: 'bdist_wheel' })), 400, /up_demo-1\.0-py3-none-any\.whl/);
    });

    it.each(['truncate', 'garbage', 'flip-middle'] as const)('rejects a %s-corrupted .tar.gz sdist', async (how) => {
      const bytes = corrupt(SDIST.bytes, how);
      await rejects(() => postFile(t.app, bytes, SDIST.filename, formFieldsFor(SPEC, { bytes, filetype: 'sdist' })), 400, /up_demo-1\.0\.tar\.gz/);
    });

    it('rejects a wheel without METADATA', async () => {
      const bytes = buildWheel(SPEC, { omit: ['METADATA'] });
      await rejects(() => postFile(t.app, bytes, WHEEL.filename, formFieldsFor(SPEC, { bytes, filetype: 'bdist_wheel' })), 400, /METADATA/);
    });

    it('rejects an empty file', async () => {
      const bytes = Buffer.alloc(0);
      await rejects(() => postFile(t.app, bytes, WHEEL.filename, { ...WHEEL_FIELDS, sha256_digest: [], blake2_256_digest: [] }), 400, /up_demo-1\.0-py3-none-any\.whl/);
    });

    it('rejects metadata naming another project than the filename', async () => {
      const bytes = buildWheel({ ...SPEC, name: 'someone_else' }, { distInfoName: 'up_demo-1.0' });
      await rejects(() => postFile(t.app, bytes, WHEEL.filename, formFieldsFor(SPEC, { bytes, filetype: 'bdist_wheel' })), 400, /someone_else/);
    });

    it('rejects metadata with another version than the filename', async () => {
      const bytes = buildWheel({ ...SPEC, version: '2.0' }, { distInfoName: 'up_demo-1.0' });
      await rejects(() => postFile(t.app, bytes, WHEEL.filename, formFieldsFor(SPEC, { bytes, filetype: 'bdist_wheel' })), 400, /2\.0/);
    });

    const HOSTILE: DistSpec = { name: 'hostile', version: '1.0' };

    it.each(hostileTarCases('hostile-1.0'))('rejects a .tar.gz sdist with %s, naming the member', async (_what, entry) => {
      const bytes = await hostileSdistTar(HOSTILE, [entry]);
      const filename = sdistFilename(HOSTILE);
      const member = new RegExp(escapeRegExp(entry.name));
      await rejects(() => postFile(t.app, bytes, filename, formFieldsFor(HOSTILE, { bytes, filetype: 'sdist' })), 400, member);
      expect((await t.app.inject({ url: `/packages/${filename}` })).statusCode).toBe(404);
    });

    it.each([
      ['a symbolic link', { name: 'hostile-1.0/link', data: '/etc/passwd', mode: 0o120777 }],
      ['a member that climbs out', { name: 'hostile-1.0/../../escaped.txt', data: 'x' }],
    ])('rejects a .zip sdist with %s, naming the member', async (_what, entry) => {
      const bytes = hostileSdistZip(HOSTILE, [entry]);
      const filename = sdistFilename(HOSTILE, '.zip');
      await rejects(() => postFile(t.app, bytes, filename, formFieldsFor(HOSTILE, { bytes, filetype: 'sdist' })), 400, new RegExp(escapeRegExp(entry.name)));
    });

    it.each(['../escaped.py', '/usr/lib/evil.py', 'C:\\evil.py', '\\evil.py'])('rejects a wheel with the member %j, naming it', async (name) => {
      const bytes = hostileWheel(HOSTILE, [{ name, data: 'x' }]);
      const filename = wheelFilename(HOSTILE);
      await rejects(() => postFile(t.app, bytes, filename, formFieldsFor(HOSTILE, { bytes, filetype: 'bdist_wheel' })), 400, new RegExp(escapeRegExp(name)));
    });

    it('rejects an sdist whose PKG-INFO disagrees with its filename', async () => {
      const bytes = buildSdist({ ...SPEC, version: '3.0' });
      await rejects(() => postFile(t.app, bytes, SDIST.filename, formFieldsFor(SPEC, { bytes, filetype: 'sdist' })), 400, /3\.0/);
    });
  });
});

describe('a multipart body truncated inside the file part', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const form = uploadForm(WHEEL.bytes, WHEEL.filename, WHEEL_FIELDS);
  const cut = form.payload.subarray(0, form.payload.length - Math.floor(WHEEL.bytes.length / 2));

  it('is answered 400 over a real connection, leaving nothing behind', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as { port: number };
    const res = await fetch(`http://127.0.0.1:${port}/legacy/`, {
      method: 'POST',
      body: cut,
      headers: form.headers,
      signal: AbortSignal.timeout(10_000),
    });
    expect(res.status).toBe(400);
    expect(res.statusText).toMatch(/multipart/);
    expect(await res.text()).toMatch(/multipart body ended .*: the upload was cut off/);
    expect(await folderSettles(t.packagesDir, [])).toEqual([]);
  });

  it('is answered 400 when the whole body is already buffered (inject), leaving nothing behind', async () => {
    const answer = await Promise.race([
      t.app.inject({ method: 'POST', url: '/legacy/', payload: cut, headers: form.headers }),
      new Promise<'no answer'>((resolve) => setTimeout(() => resolve('no answer'), 5000)),
    ]);
    expect(answer, 'the daemon did not answer within 5 s').not.toBe('no answer');
    const res = answer as LightMyRequestResponse;
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatch(/multipart|end of form|terminated early/i);
    expect(await folderSettles(t.packagesDir, [])).toEqual([]);
  });
});

describe('the upload size limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp({ maxUploadBytes: 2048 });
  });
  afterAll(async () => {
    await t.close();
  });

  it.each([
    ['read whole', (payload: Buffer) => payload],
    ['streamed (no Content-Length: busboy)', (payload: Buffer) => Readable.from([payload])],
  ])('answers 413 for a file over maxUploadBytes and keeps nothing, %s', async (_way, send) => {
    // Incompressible content, so the archive itself is well over the limit.
    const noise = corrupt(Buffer.alloc(6000), 'garbage').toString('base64');
    const spec: DistSpec = { name: 'big', version: '1.0', modules: { 'big/data.py': `DATA = ${JSON.stringify(noise)}\n` } };
    const dist = makeDist(spec, 'sdist');
    expect(dist.bytes.length).toBeGreaterThan(4096);
    const form = uploadForm(dist.bytes, dist.filename, formFieldsFor(spec, dist));
    const res = await t.app.inject({ method: 'POST', url: '/legacy/', payload: send(form.payload), headers: form.headers });
    expect(res.statusCode, res.body).toBe(413);
    expect(res.body).toMatch(/File too large.*2 KiB/);
    expect(res.statusMessage).toMatch(/File too large/);
    expect(await folderSettles(t.packagesDir, [])).toEqual([]);
    expect((await t.app.inject({ url: '/-/health' })).statusCode).toBe(200);
  });

  it('still accepts a file under the limit', async () => {
    const { res } = await upload(t.app, { name: 'small', version: '1.0' }, 'wheel');
    expect(res.statusCode, res.body).toBe(200);
  });
});

describe('accepted uploads', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp();
  });
  afterAll(async () => {
    await t.close();
  });

  async function filesOf(project: string): Promise<string[]> {
    const res = await t.app.inject({ url: `/simple/${project}/`, headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
    if (res.statusCode === 404) return [];
    return ((res.json() as { files: { filename: string }[] }).files.map((f) => f.filename)).sort();
  }

  it('stores a wheel and serves it at once', async () => {
    const { res, filename, bytes } = await upload(t.app, SPEC, 'wheel');
    expect(res.statusCode, res.body).toBe(200);
    expect(await filesOf('up-demo')).toEqual([filename]);
    expect(await readFile(join(t.packagesDir, filename))).toEqual(bytes);
    expect(await listTree(t.packagesDir)).toEqual([filename]);
  });

  it('answers 200 to an identical re-upload and keeps one file', async () => {
    const { res, filename } = await upload(t.app, SPEC, 'wheel');
    expect(res.statusCode, res.body).toBe(200);
    expect(await filesOf('up-demo')).toEqual([filename]);
    expect(await listTree(t.packagesDir)).toEqual([filename]);
  });

  it('answers 409 "File already exists" to different content under the same name', async () => {
    const changed: DistSpec = { ...SPEC, summary: 'Different bytes' };
    const { res, bytes } = await upload(t.app, changed, 'wheel');
    expect(res.statusCode, res.body).toBe(409);
    expect(res.body.startsWith('File already exists')).toBe(true);
    expect(res.statusMessage.startsWith('File already exists')).toBe(true);
    expect(res.body).toContain(wheelFilename(SPEC));
    const served = await t.app.inject({ url: `/packages/${wheelFilename(SPEC)}` });
    expect(served.rawPayload.equals(WHEEL.bytes)).toBe(true);
    expect(served.rawPayload.equals(bytes)).toBe(false);
    expect(await folderSettles(t.packagesDir, [wheelFilename(SPEC)])).toEqual([wheelFilename(SPEC)]);
  });

  it.each(['/', '/legacy', '/legacy/'])('accepts uploads at %s without redirecting', async (url) => {
    const spec: DistSpec = { name: 'where_to', version: `1.${url.length}` };
    const { res, filename } = await upload(t.app, spec, 'sdist', {}, url);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers.location).toBeUndefined();
    expect(await filesOf('where-to')).toContain(filename);
  });

  it('accepts a .zip sdist, with a warning that it is not the standard sdist form', async () => {
    const { res, filename } = await upload(t.app, { name: 'zipped', version: '1.0' }, 'sdist-zip');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toContain(`Warning: ${filename} is not a standard (PEP 625) sdist name, which would be zipped-1.0.tar.gz`);
    expect(await filesOf('zipped')).toEqual([filename]);
  });

  it('accepts a legacy sdist name (as old setuptools wrote them) with a warning, and a PEP 625 one without', async () => {
    const spec: DistSpec = { name: 'Legacy.Name', version: '1.0' };
    const bytes = buildSdist(spec);
    const legacy = await postFile(t.app, bytes, 'Legacy.Name-1.0.tar.gz', formFieldsFor(spec, { bytes, filetype: 'sdist' }));
    expect(legacy.statusCode, legacy.body).toBe(200);
    expect(legacy.body).toMatch(/^Warning: Legacy\.Name-1\.0\.tar\.gz is not a standard \(PEP 625\) sdist name, which would be legacy_name-1\.0\.tar\.gz \(as setuptools 69\.3 and later write it\); it is served as it is, and pip installs it\.$/m);
    const { res } = await upload(t.app, { name: 'Modern.Name', version: '1.0' }, 'sdist');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).not.toContain('Warning');
  });

  it('accepts :action in the query string', async () => {
    const spec: DistSpec = { name: 'query_action', version: '1.0' };
    const dist = makeDist(spec, 'wheel');
    const res = await postFile(t.app, dist.bytes, dist.filename, { ...formFieldsFor(spec, dist), ':action': [] }, {}, '/legacy/?:action=file_upload');
    expect(res.statusCode, res.body).toBe(200);
    expect(await filesOf('query-action')).toEqual([dist.filename]);
  });

  it('accepts digests in upper case and all three at once', async () => {
    const spec: DistSpec = { name: 'digests_ok', version: '1.0' };
    const dist = makeDist(spec, 'wheel');
    const d = digestsOf(dist.bytes);
    const res = await postFile(t.app, dist.bytes, dist.filename, {
      ...formFieldsFor(spec, dist),
      md5_digest: d.md5.toUpperCase(),
      sha256_digest: d.sha256.toUpperCase(),
      blake2_256_digest: d.blake2_256,
    });
    expect(res.statusCode, res.body).toBe(200);
  });

  it('accepts an upload without any digest', async () => {
    const spec: DistSpec = { name: 'no_digest', version: '1.0' };
    const { res } = await upload(t.app, spec, 'wheel', { sha256_digest: [], blake2_256_digest: [] });
    expect(res.statusCode, res.body).toBe(200);
  });

  it('tolerates empty-string fields, UNKNOWN, unknown fields and attestations', async () => {
    const spec: DistSpec = { name: 'tolerant', version: '1.0' };
    const { res, filename } = await upload(t.app, spec, 'wheel', {
      summary: '',
      md5_digest: '',
      license: 'UNKNOWN',
      home_page: 'UNKNOWN',
      keywords: '',
      provides_extras: '',
      import_names: 'tolerant',
      some_future_field: 'whatever',
      attestations: '[]',
      comment: '',
      classifiers: ['Programming Language :: Python :: 3', 'License :: OSI Approved :: MIT License'],
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(await filesOf('tolerant')).toEqual([filename]);
  });

  it('tolerates UNKNOWN in a digest field', async () => {
    const { res } = await upload(t.app, { name: 'unknown_digest', version: '1.0' }, 'wheel', { md5_digest: 'UNKNOWN' });
    expect(res.statusCode, res.body).toBe(200);
  });

  it('tolerates a content part without Content-Type', async () => {
    const spec: DistSpec = { name: 'no_type', version: '1.0' };
    const dist = makeDist(spec, 'sdist');
    const res = await postFile(t.app, dist.bytes, dist.filename, formFieldsFor(spec, dist), { fileContentType: null });
    expect(res.statusCode, res.body).toBe(200);
    const served = await t.app.inject({ url: `/packages/${dist.filename}` });
    expect(served.rawPayload.equals(dist.bytes)).toBe(true);
  });

  it('tolerates repeated requires_python (pdm, uv)', async () => {
    const spec: DistSpec = { name: 'repeated_rp', version: '1.0', requiresPython: '>=3.9' };
    const { res } = await upload(t.app, spec, 'wheel', { requires_python: ['', '>=3.9', '>=3.9'] });
    expect(res.statusCode, res.body).toBe(200);
    const html = (await t.app.inject({ url: '/simple/repeated-rp/' })).body;
    expect(html).toContain('data-requires-python="&gt;=3.9"');
  });

  it('takes the metadata from the file, not the form', async () => {
    const spec: DistSpec = { name: 'from_file', version: '1.0', summary: 'The real summary', requiresPython: '>=3.10' };
    const { res } = await upload(t.app, spec, 'wheel', { summary: 'The form summary', requires_python: '>=2.7', metadata_version: '2.3' });
    expect(res.statusCode, res.body).toBe(200);
    const info = (await t.app.inject({ url: '/pypi/from-file/json' })).json() as { info: { summary: string; requires_python: string } };
    expect(info.info.summary).toBe('The real summary');
    expect(info.info.requires_python).toBe('>=3.10');
  });

  it('accepts the file part before the fields', async () => {
    const spec: DistSpec = { name: 'file_first', version: '1.0' };
    const dist = makeDist(spec, 'wheel');
    const res = await postFile(t.app, dist.bytes, dist.filename, formFieldsFor(spec, dist), { fileFirst: true });
    expect(res.statusCode, res.body).toBe(200);
  });

  it('ignores a gpg_signature file part', async () => {
    const spec: DistSpec = { name: 'signed', version: '1.0' };
    const dist = makeDist(spec, 'wheel');
    const boundary = '----pyrepoTestBoundary7MA4YWxkTrZu0gW';
    const form = uploadForm(dist.bytes, dist.filename, formFieldsFor(spec, dist));
    const end = Buffer.from(`--${boundary}--\r\n`);
    const sig = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="gpg_signature"; filename="${dist.filename}.asc"\r\nContent-Type: application/octet-stream\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\n`,
    );
    const payload = Buffer.concat([form.payload.subarray(0, form.payload.length - end.length), sig, end]);
    const res = await t.app.inject({ method: 'POST', url: '/legacy/', payload, headers: form.headers });
    expect(res.statusCode, res.body).toBe(200);
    expect(await filesOf('signed')).toEqual([dist.filename]);
  });

  it('accepts a local version and serves it at the URL the index gives', async () => {
    const { res, filename, bytes } = await upload(t.app, { name: 'local_ver', version: '1.0+ubuntu.1' }, 'wheel');
    expect(res.statusCode, res.body).toBe(200);
    expect(await filesOf('local-ver')).toEqual([filename]);
    const json = (await t.app.inject({ url: '/simple/local-ver/', headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json() as {
      versions: string[];
      files: { url: string }[];
    };
    expect(json.versions).toEqual(['1.0+ubuntu.1']);
    const url = new URL(json.files[0]?.url as string, 'http://h/simple/local-ver/');
    const served = await t.app.inject({ url: url.pathname });
    expect(served.statusCode).toBe(200);
    expect(served.rawPayload.equals(bytes)).toBe(true);
  });

  it('accepts a form name that is equivalent but not identical', async () => {
    const spec: DistSpec = { name: 'Mixed.Case_Name', version: '1.0' };
    const { res } = await upload(t.app, spec, 'wheel', { name: 'mixed-case-name' });
    expect(res.statusCode, res.body).toBe(200);
    expect(await filesOf('mixed-case-name')).toEqual([wheelFilename(spec)]);
  });

  it('leaves no temporary files behind', async () => {
    const entries = await listTree(t.packagesDir);
    expect(entries.filter((e) => e.startsWith('.'))).toEqual([]);
  });
});

describe('concurrent uploads of one filename', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('let exactly one of two different files win; the other gets 409', async () => {
    const a = makeDist({ ...SPEC, summary: 'contender A' }, 'wheel');
    const b = makeDist({ ...SPEC, summary: 'contender B' }, 'wheel');
    const [ra, rb] = await Promise.all([
      postFile(t.app, a.bytes, a.filename, formFieldsFor(SPEC, a)),
      postFile(t.app, b.bytes, b.filename, formFieldsFor(SPEC, b)),
    ]);
    expect([ra.statusCode, rb.statusCode].sort()).toEqual([200, 409]);
    const winner = ra.statusCode === 200 ? a : b;
    const served = await t.app.inject({ url: `/packages/${a.filename}` });
    expect(served.rawPayload.equals(winner.bytes)).toBe(true);
    expect(await folderSettles(t.packagesDir, [a.filename])).toEqual([a.filename]);
  });

  it('answer 200 to both of two identical uploads', async () => {
    const spec: DistSpec = { name: 'twins', version: '1.0' };
    const d = makeDist(spec, 'sdist');
    const results = await Promise.all([1, 2, 3].map(() => postFile(t.app, d.bytes, d.filename, formFieldsFor(spec, d))));
    expect(results.map((r) => r.statusCode)).toEqual([200, 200, 200]);
    expect(await folderSettles(t.packagesDir, [WHEEL.filename, d.filename].sort())).toEqual([WHEEL.filename, d.filename].sort());
  });
});

describe('a file copied into the folder but not indexed yet (watch off)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('makes an identical upload a 200 no-op and a different one a 409', async () => {
    await writeFile(join(t.packagesDir, WHEEL.filename), WHEEL.bytes);
    const same = await postFile(t.app, WHEEL.bytes, WHEEL.filename, WHEEL_FIELDS);
    expect(same.statusCode, same.body).toBe(200);
    const json = (await t.app.inject({ url: '/simple/up-demo/', headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json() as {
      files: { filename: string }[];
    };
    expect(json.files.map((f) => f.filename)).toEqual([WHEEL.filename]);
    const other = makeDist({ ...SPEC, summary: 'not the same' }, 'wheel');
    const res = await postFile(t.app, other.bytes, other.filename, formFieldsFor(SPEC, other));
    expect(res.statusCode).toBe(409);
    expect(await readFile(join(t.packagesDir, WHEEL.filename))).toEqual(WHEEL.bytes);
  });
});

describe('overwrite: true', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp({ overwrite: true });
  });
  afterAll(async () => {
    await t.close();
  });

  it('replaces a file with different content and serves the new bytes', async () => {
    const first = await upload(t.app, SPEC, 'wheel');
    expect(first.res.statusCode).toBe(200);
    const second = await upload(t.app, { ...SPEC, summary: 'Second version of the bytes' }, 'wheel');
    expect(second.res.statusCode, second.res.body).toBe(200);
    expect(second.bytes.equals(first.bytes)).toBe(false);

    const served = await t.app.inject({ url: `/packages/${second.filename}` });
    expect(served.rawPayload.equals(second.bytes)).toBe(true);
    const json = (await t.app.inject({ url: '/simple/up-demo/', headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json() as {
      files: { filename: string; hashes: { sha256: string } }[];
    };
    expect(json.files).toHaveLength(1);
    expect(json.files[0]?.hashes.sha256).toBe(sha256(second.bytes));
    const meta = await t.app.inject({ url: `/packages/${second.filename}.metadata` });
    expect(meta.body).toContain('Summary: Second version of the bytes');
    const info = (await t.app.inject({ url: '/pypi/up-demo/json' })).json() as { info: { summary: string } };
    expect(info.info.summary).toBe('Second version of the bytes');
    expect(await listTree(t.packagesDir)).toEqual([second.filename]);
  });
});

describe('pypiserver :action=remove_pkg', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp();
  });
  afterAll(async () => {
    await t.close();
  });

  async function seed(name: string): Promise<void> {
    for (const v of ['1.0', '2.0']) {
      for (const kind of ['wheel', 'sdist'] as const) {
        const { res } = await upload(t.app, { name, version: v }, kind);
        expect(res.statusCode, res.body).toBe(200);
      }
    }
  }

  it('removes every file of the version (multipart)', async () => {
    await seed('removable');
    const form = uploadForm(Buffer.alloc(0), 'x', { ':action': 'remove_pkg', name: 'removable', version: '1.0' }, { omitFile: true });
    const res = await t.app.inject({ method: 'POST', url: '/', payload: form.payload, headers: form.headers });
    expect(res.statusCode, res.body).toBe(200);
    expect(await listTree(t.packagesDir)).toEqual(
      [sdistFilename({ name: 'removable', version: '2.0' }), wheelFilename({ name: 'removable', version: '2.0' })].sort(),
    );
    const html = (await t.app.inject({ url: '/simple/removable/' })).body;
    expect(html).not.toContain('removable-1.0');
    expect(html).toContain('removable-2.0');
  });

  it('removes every file of the version (urlencoded), with a non-normalized name', async () => {
    const body = new URLSearchParams({ ':action': 'remove_pkg', name: 'Removable', version: '2.0' }).toString();
    const res = await t.app.inject({
      method: 'POST',
      url: '/',
      payload: body,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(await listTree(t.packagesDir)).toEqual([]);
    expect((await t.app.inject({ url: '/simple/removable/' })).statusCode).toBe(404);
  });

  it('answers 404 when there is nothing to remove', async () => {
    const body = new URLSearchParams({ ':action': 'remove_pkg', name: 'removable', version: '9.9' }).toString();
    const res = await t.app.inject({
      method: 'POST',
      url: '/',
      payload: body,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.statusCode).toBe(404);
    expect(res.body).toMatch(/removable \(9\.9\) not found/);
    expect(res.statusMessage).toMatch(/not found/);
  });

  it('answers 400 without name or version', async () => {
    const body = new URLSearchParams({ ':action': 'remove_pkg', name: 'removable' }).toString();
    const res = await t.app.inject({
      method: 'POST',
      url: '/',
      payload: body,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatch(/version/);
  });

  it('removes only the release asked for, not its post-releases', async () => {
    for (const v of ['3.0', '3.0.post1', '3.0.post2']) {
      const { res } = await upload(t.app, { name: 'posty', version: v }, 'wheel');
      expect(res.statusCode, res.body).toBe(200);
    }
    const body = new URLSearchParams({ ':action': 'remove_pkg', name: 'posty', version: '3.0.post1' }).toString();
    const res = await t.app.inject({ method: 'POST', url: '/', payload: body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(await listTree(t.packagesDir)).toEqual(
      [wheelFilename({ name: 'posty', version: '3.0' }), wheelFilename({ name: 'posty', version: '3.0.post2' })].sort(),
    );
  });
});

describe('the X-Pyrepo-Upload header', () => {
  // pyrepo publish tells "uploaded" from "already there" by this header, not by the text.
  let t: TestApp;
  let overwriting: TestApp;
  beforeAll(async () => {
    t = await makeApp();
    overwriting = await makeApp({ overwrite: true });
  });
  afterAll(async () => {
    await t.close();
    await overwriting.close();
  });

  it('says created, then identical for the same bytes, and is absent on a conflict', async () => {
    const spec: DistSpec = { name: 'header_demo', version: '1.0' };
    const first = await upload(t.app, spec, 'sdist');
    expect(first.res.statusCode, first.res.body).toBe(200);
    expect(first.res.headers['x-pyrepo-upload']).toBe('created');
    const again = await upload(t.app, spec, 'sdist');
    expect(again.res.statusCode, again.res.body).toBe(200);
    expect(again.res.headers['x-pyrepo-upload']).toBe('identical');
    expect(again.res.body).toMatch(/already on this index with the same content/);
    const other = await upload(t.app, { ...spec, summary: 'other bytes' }, 'sdist');
    expect(other.res.statusCode).toBe(409);
    expect(other.res.headers['x-pyrepo-upload']).toBeUndefined();
  });

  it('says replaced when an overwriting index takes different bytes', async () => {
    const spec: DistSpec = { name: 'header_demo', version: '1.0' };
    expect((await upload(overwriting.app, spec, 'wheel')).res.headers['x-pyrepo-upload']).toBe('created');
    const second = await upload(overwriting.app, { ...spec, summary: 'new bytes' }, 'wheel');
    expect(second.res.statusCode, second.res.body).toBe(200);
    expect(second.res.headers['x-pyrepo-upload']).toBe('replaced');
  });
});
