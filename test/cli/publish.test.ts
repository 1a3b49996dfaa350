/**
 * `pyrepo publish` in-process: which files it takes and in what order, the errors before
 * anything is sent, the multipart body and its fields (read back by a capturing server
 * and accepted by the real upload route), how answers are understood, the inactivity
 * limit, and the build step with stand-in interpreters.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blake2b } from '@noble/hashes/blake2b';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError } from '../../src/cli/errors.js';
import { PublishOutputSchema, type PublishedFile } from '../../src/cli/json-output.js';
import { summaryTable } from '../../src/cli/publish-view.js';
import { collectDistFiles, prepareFiles, withoutUserInfo, resolveTarget, runBuild, uploadFiles, type PublishTarget } from '../../src/cli/services/publish.js';
import {
  interpretResponse,
  multipartFrame,
  prepareUpload,
  sendUpload,
  UploadTransportError,
  type UploadResponse,
} from '../../src/cli/services/upload-client.js';
import { resolvePaths } from '../../src/shared/paths.js';
import { makeApp, type TestApp } from '../helpers/app.js';
import { buildWheel, corrupt, sdistFilename, wheelFilename, type DistSpec, writeDists } from '../helpers/dists.js';
import { DEBIAN_PYTHON } from '../helpers/python.js';

let root: string;
let counter = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pyrepo-publish-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh folder under the test root. */
async function folder(name = 'd'): Promise<string> {
  const dir = join(root, `${counter++}-${name}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

const SPEC: DistSpec = {
  name: 'pub_demo',
  version: '1.0',
  summary: 'Publish demo',
  requiresPython: '>=3.8',
  requiresDist: ['requests>=2', 'click; extra == "cli"'],
  extraHeaders: [
    ['Classifier', 'Programming Language :: Python :: 3'],
    ['Classifier', 'License :: OSI Approved :: MIT License'],
    ['Project-URL', 'Homepage, https://example.org/pub'],
    ['Project-URL', 'Issues, https://example.org/pub/issues'],
    ['Author-email', 'Ann <ann@example.org>'],
    ['Keywords', 'demo,publish'],
    ['Description-Content-Type', 'text/markdown'],
    ['Provides-Extra', 'cli'],
    ['Requires-External', 'libfoo'],
  ],
  description: '# Pub demo\n\nLong text.',
};

/** The AbortError a promise rejects with. */
async function abortOf(p: Promise<unknown>): Promise<AbortError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AbortError);
  return err as AbortError;
}

describe('collecting the files', () => {
  it('takes ./dist by default, sdists first, then wheels, each by name', async () => {
    const project = await folder('project');
    const dist = join(project, 'dist');
    await mkdir(dist);
    const a = await writeDists(dist, { name: 'alpha', version: '1.0' });
    const b = await writeDists(dist, { name: 'beta', version: '2.0' });
    await writeFile(join(dist, 'notes.txt'), 'not a distribution');
    await writeFile(join(dist, `${wheelFilename({ name: 'alpha', version: '1.0' })}.asc`), 'signature');
    expect(await collectDistFiles([], project)).toEqual([a.sdist, b.sdist, a.wheel, b.wheel]);
  });

  it('counts a file once however it is named (twice, through its folder, through a symlink)', async () => {
    const dir = await folder();
    const { wheel, sdist } = await writeDists(dir, SPEC);
    const link = join(await folder('links'), wheelFilename(SPEC));
    await symlink(wheel, link);
    const files = await collectDistFiles([wheel, dir, wheel, link, `${dir}/./${sdistFilename(SPEC)}`], root);
    expect(files).toEqual([sdist, wheel]);
  });

  it('refuses two different files with the same name', async () => {
    const one = await writeDists(await folder('one'), SPEC);
    const two = await writeDists(await folder('two'), SPEC);
    const err = await abortOf(collectDistFiles([one.wheel, two.wheel], root));
    expect(err.message).toContain(`Two different files are named ${wheelFilename(SPEC)}`);
  });

  it('says there is no dist folder and suggests building', async () => {
    const project = await folder('empty-project');
    const err = await abortOf(collectDistFiles([], project));
    expect(err.message).toBe(`There is no dist folder in ${project}, so there is nothing to publish.`);
    expect(err.nextStep).toMatch(/python -m build.*--build/);
  });

  it('says a folder holds no distributions and suggests building', async () => {
    const dir = await folder('nothing');
    await writeFile(join(dir, 'README.md'), '# hi');
    const err = await abortOf(collectDistFiles([dir], root));
    expect(err.message).toMatch(/holds no wheels \(\.whl\) or sdists/);
    expect(err.nextStep).toMatch(/python -m build/);
  });

  it('names every argument that is not a distribution, before anything is sent', async () => {
    const dir = await folder();
    const { wheel } = await writeDists(dir, SPEC);
    await writeFile(join(dir, 'setup.py'), '');
    await writeFile(join(dir, 'README.md'), '');
    const err = await abortOf(collectDistFiles([wheel, join(dir, 'setup.py'), join(dir, 'README.md')], root));
    expect(err.message).toContain('setup.py');
    expect(err.message).toContain('README.md');
    expect(err.message).toMatch(/nothing was uploaded/);
  });

  it('names a path that does not exist', async () => {
    const err = await abortOf(collectDistFiles(['no/such/file-1.0.tar.gz'], root));
    expect(err.message).toBe('no/such/file-1.0.tar.gz does not exist.');
  });
});

describe('preparing the files', () => {
  it('refuses a file whose name does not parse, and a damaged archive, naming each; nothing is prepared', async () => {
    const dir = await folder();
    const { wheel } = await writeDists(dir, SPEC);
    const badName = join(dir, 'not-a-wheel.whl');
    await writeFile(badName, buildWheel(SPEC));
    const damaged = join(dir, wheelFilename({ name: 'broken', version: '1.0' }));
    await writeFile(damaged, corrupt(buildWheel({ name: 'broken', version: '1.0' }), 'garbage'));
    const err = await abortOf(prepareFiles([wheel, badName, damaged]));
    expect(err.message).toMatch(/^2 files cannot be uploaded:/);
    expect(err.message).toContain(`${badName} is not a wheel or sdist`);
    expect(err.message).toContain(`${damaged} cannot be uploaded`);
    expect(err.message).toMatch(/Nothing was uploaded\.$/);
  });

  it('sends the core metadata as twine does, multi-use fields repeated, with all three digests', async () => {
    const { wheel, sdist } = await writeDists(await folder(), SPEC);
    const bytes = await readFile(wheel);
    const w = await prepareUpload(wheel);
    const all = (k: string) => w.fields.filter(([key]) => key === k).map(([, v]) => v);
    const one = (k: string) => {
      const values = all(k);
      expect(values, k).toHaveLength(1);
      return values[0];
    };
    expect(one(':action')).toBe('file_upload');
    expect(one('protocol_version')).toBe('1');
    expect(one('name')).toBe('pub-demo');
    expect(one('version')).toBe('1.0');
    expect(one('filetype')).toBe('bdist_wheel');
    expect(one('pyversion')).toBe('py3');
    expect(one('metadata_version')).toBe('2.1');
    expect(one('summary')).toBe('Publish demo');
    expect(one('requires_python')).toBe('>=3.8');
    expect(all('requires_dist')).toEqual(['requests>=2', 'click; extra == "cli"']);
    expect(all('classifiers')).toEqual(['Programming Language :: Python :: 3', 'License :: OSI Approved :: MIT License']);
    expect(all('project_urls')).toEqual(['Homepage, https://example.org/pub', 'Issues, https://example.org/pub/issues']);
    expect(one('author_email')).toBe('Ann <ann@example.org>');
    expect(one('keywords')).toBe('demo,publish');
    expect(one('description_content_type')).toBe('text/markdown');
    expect(one('description')).toBe('# Pub demo\n\nLong text.\n');
    expect(all('provides_extra')).toEqual(['cli']);
    expect(all('requires_external')).toEqual(['libfoo']);
    expect(all('author')).toEqual([]);
    expect(one('sha256_digest')).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(one('md5_digest')).toBe(createHash('md5').update(bytes).digest('hex'));
    expect(one('blake2_256_digest')).toBe(Buffer.from(blake2b(bytes, { dkLen: 32 })).toString('hex'));
    expect(w.size).toBe(bytes.length);

    const s = await prepareUpload(sdist);
    expect(s.fields).toContainEqual(['filetype', 'sdist']);
    expect(s.fields).toContainEqual(['pyversion', 'source']);
  });
});

/** One received request, with the multipart body taken apart. */
interface Captured {
  headers: IncomingMessage['headers'];
  body: Buffer;
  fields: [string, string][];
  file?: { filename: string; type: string | undefined; bytes: Buffer };
}

/** Splits a multipart/form-data body (enough of RFC 7578 for these tests). */
function parseMultipart(body: Buffer, contentType: string): Pick<Captured, 'fields' | 'file'> {
  const boundary = /boundary=(.+)$/.exec(contentType)?.[1];
  if (!boundary) throw new Error(`no boundary in ${contentType}`);
  const text = body.toString('latin1');
  const parts = text.split(`--${boundary}`);
  expect(parts.at(-1)).toBe('--\r\n');
  const fields: [string, string][] = [];
  let file: Captured['file'];
  for (const part of parts.slice(1, -1)) {
    const headEnd = part.indexOf('\r\n\r\n');
    const head = part.slice(2, headEnd);
    const value = part.slice(headEnd + 4, -2);
    const name = /name="([^"]*)"/.exec(head)?.[1] ?? '';
    const filename = /filename="([^"]*)"/.exec(head)?.[1];
    if (filename !== undefined) {
      file = { filename, type: /Content-Type: (.+)/i.exec(head)?.[1], bytes: Buffer.from(value, 'latin1') };
    } else {
      fields.push([name, Buffer.from(value, 'latin1').toString('utf8')]);
    }
  }
  return { fields, ...(file ? { file } : {}) };
}

/** A local HTTP server that records requests and answers with `respond`. */
async function captureServer(respond: (req: IncomingMessage, res: ServerResponse, captured: Captured) => void) {
  const requests: Captured[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const captured: Captured = { headers: req.headers, body, ...parseMultipart(body, req.headers['content-type'] ?? '') };
      requests.push(captured);
      respond(req, res, captured);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/legacy/`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function target(url: string, extra: Partial<PublishTarget> = {}): PublishTarget {
  return { url, displayUrl: url, source: 'url', ...extra };
}

describe('sending one file', () => {
  it('POSTs a multipart body with a Content-Length, the fields, then the file as `content`, and Basic auth', async () => {
    const server = await captureServer((_req, res) => res.writeHead(200).end());
    try {
      const { wheel } = await writeDists(await folder(), SPEC);
      const prepared = await prepareUpload(wheel);
      const progress: number[] = [];
      const res = await sendUpload(prepared, { url: server.url, username: 'ann', password: 'pw:with:colons' }, { onProgress: (sent) => progress.push(sent) });
      expect(res.status).toBe(200);
      const [req] = server.requests;
      if (!req) throw new Error('no request');
      expect(req.headers['content-length']).toBe(String(req.body.length));
      expect(req.headers['transfer-encoding']).toBeUndefined();
      expect(req.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
      expect(req.headers.authorization).toBe(`Basic ${Buffer.from('ann:pw:with:colons').toString('base64')}`);
      expect(req.fields).toEqual(prepared.fields);
      expect(req.file?.filename).toBe(wheelFilename(SPEC));
      expect(req.file?.type).toBe('application/octet-stream');
      expect(req.file?.bytes.equals(await readFile(wheel))).toBe(true);
      expect(progress.at(-1)).toBe(prepared.size);
    } finally {
      await server.close();
    }
  });

  it('sends no Authorization without credentials', async () => {
    const server = await captureServer((_req, res) => res.writeHead(200).end());
    try {
      const { sdist } = await writeDists(await folder(), SPEC);
      await sendUpload(await prepareUpload(sdist), { url: server.url });
      expect(server.requests[0]?.headers.authorization).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it('never follows a redirect, and says where it pointed', async () => {
    const server = await captureServer((_req, res) => res.writeHead(308, { location: '/legacy/elsewhere/' }).end());
    try {
      const { sdist } = await writeDists(await folder(), SPEC);
      const res = await sendUpload(await prepareUpload(sdist), { url: server.url });
      expect(res.status).toBe(308);
      expect(server.requests).toHaveLength(1);
      const verdict = interpretResponse(res, server.url);
      expect(verdict).toMatchObject({ result: 'failed', fatal: true });
      expect(verdict.result === 'failed' && verdict.message).toContain(`--repository-url ${server.url}elsewhere/`);
    } finally {
      await server.close();
    }
  });

  it('gives up after the inactivity limit when the index never answers', async () => {
    const server = await captureServer(() => undefined);
    try {
      const { sdist } = await writeDists(await folder(), SPEC);
      const started = Date.now();
      const err = await sendUpload(await prepareUpload(sdist), { url: server.url }, { inactivityMs: 300 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UploadTransportError);
      expect((err as Error).message).toMatch(/no progress for 0 s|stopped answering/);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await server.close();
    }
  });

  it('says nothing listens when the connection is refused', async () => {
    const server = await captureServer(() => undefined);
    const url = server.url;
    await server.close();
    const { sdist } = await writeDists(await folder(), SPEC);
    const err = await sendUpload(await prepareUpload(sdist), { url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UploadTransportError);
    expect((err as UploadTransportError).unreachable).toBe(true);
    expect((err as Error).message).toMatch(/connection refused/);
  });

  it('frames the body exactly: head + file + tail adds up to the Content-Length', () => {
    const { head, tail, contentType } = multipartFrame([['name', 'x'], ['summary', 'ünïcode "quoted"']], 'x-1.0.tar.gz', 'BOUNDARY');
    expect(contentType).toBe('multipart/form-data; boundary=BOUNDARY');
    expect(head.toString('utf8')).toBe(
      '--BOUNDARY\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n' +
        '--BOUNDARY\r\nContent-Disposition: form-data; name="summary"\r\n\r\nünïcode "quoted"\r\n' +
        '--BOUNDARY\r\nContent-Disposition: form-data; name="content"; filename="x-1.0.tar.gz"\r\nContent-Type: application/octet-stream\r\n\r\n',
    );
    expect(tail.toString()).toBe('\r\n--BOUNDARY--\r\n');
  });
});

describe('understanding the answer', () => {
  const url = 'http://i.example/legacy/';
  const res = (status: number, reason: string, body = '', extra: Partial<UploadResponse> = {}): UploadResponse => ({ status, reason, body, ...extra });

  it.each([
    ['a plain 200', res(200, 'OK'), { result: 'uploaded' }],
    ["pyrepo's identical header", res(200, 'OK', '', { outcome: 'identical' }), { result: 'identical' }],
    ["pyrepo's identical message (no header)", res(200, 'OK', 'x-1.0.tar.gz is already on this index with the same content; nothing to do.\n'), { result: 'identical' }],
    ["pyrepo's replaced header", res(200, 'OK', 'Replaced x.\n', { outcome: 'replaced' }), { result: 'uploaded', replaced: true }],
    ["pyrepo's warnings", res(200, 'OK', 'Warning: boards cannot use it\nWarning: another one\n', { outcome: 'created' }), { result: 'uploaded', warnings: ['boards cannot use it', 'another one'] }],
    ['a 200 without warnings', res(200, 'OK', 'ok'), { result: 'uploaded', warnings: [] }],
    ['409', res(409, "File already exists ('x-1.0.tar.gz', …)", "File already exists ('x-1.0.tar.gz', …)"), { result: 'conflict' }],
    ["Warehouse's 400 already exists", res(400, "File already exists ('x', with blake2_256 hash 'h')."), { result: 'conflict' }],
    ['401', res(401, 'Unauthorized'), { result: 'failed', fatal: true }],
    ['403', res(403, 'Forbidden', 'Invalid or non-existent authentication information.'), { result: 'failed', fatal: true }],
    ['413', res(413, 'Payload Too Large', 'File too large: this index accepts uploads of at most 1 MiB'), { result: 'failed', fatal: false }],
    ['a 400 about metadata', res(400, 'Bad Request', 'Version in filename should be 1.0'), { result: 'failed', fatal: false }],
    ['500', res(500, 'Internal Server Error', '<html><body>boom</body></html>'), { result: 'failed', fatal: false }],
  ])('%s', (_label, answer, expected) => {
    expect(interpretResponse(answer, url)).toMatchObject(expected);
  });

  it('a reason phrase cut short with "..." is not repeated before the body that says it whole', () => {
    const whole = `File already exists ('x-1.0.tar.gz', with sha256 hash '${'a'.repeat(64)}'): a file with that name and different content is already on this index. Upload a new version instead.`;
    const v = interpretResponse(res(409, `${whole.slice(0, 197)}...`, whole), url);
    expect(v).toEqual({ result: 'conflict', message: whole });
  });

  it('puts the reason and the body in the message, trimmed to one line', () => {
    const v = interpretResponse(res(400, 'Bad Request', `Version in filename\nshould be 1.0 ${'x'.repeat(1000)}`), url);
    expect(v.result).toBe('failed');
    const message = v.result === 'failed' ? v.message : '';
    expect(message.startsWith('400: Bad Request: Version in filename should be 1.0')).toBe(true);
    expect(message).not.toContain('\n');
    expect(message.length).toBeLessThan(400);
    const wants = interpretResponse(res(401, 'Unauthorized'), url);
    expect(wants.result === 'failed' && wants.message).toMatch(/the index wants credentials/);
  });
});

describe('the summary table', () => {
  const row = (file: string, result: PublishedFile['result'], extra: Partial<PublishedFile> = {}): PublishedFile => ({
    file,
    path: `/d/${file}`,
    size: 2048,
    sha256: 'a'.repeat(64),
    project: 'x',
    version: '1.0',
    filetype: 'sdist',
    repositoryUrl: 'http://i.example/legacy/',
    result,
    ...extra,
  });
  const plain = { enabled: false, bold: String, dim: String, red: String, green: String, yellow: String, cyan: String } as unknown as Parameters<typeof summaryTable>[1];
  const conflict = (file: string) =>
    `File already exists ('${file}', with sha256 hash '${'b'.repeat(64)}'): a file with that name and different content is already on this index. Upload a new version instead.`;

  it('one short reason per row; each message of the index once, under the table', () => {
    const results = [
      row('x-1.0.tar.gz', 'conflict', { httpStatus: 409, message: conflict('x-1.0.tar.gz') }),
      row('x-1.0-py3-none-any.whl', 'conflict', { httpStatus: 409, message: conflict('x-1.0-py3-none-any.whl') }),
      row('y-1.0.tar.gz', 'uploaded', { httpStatus: 200 }),
    ];
    const lines = summaryTable(results, plain).split('\n');
    expect(lines.slice(0, 5)).toEqual([
      'file                     size  result',
      '----------------------  -----  -----------------------------------------------------------',
      'x-1.0.tar.gz            2 KiB  conflict: a different file of this name is on the index [1]',
      'x-1.0-py3-none-any.whl  2 KiB  conflict: a different file of this name is on the index [2]',
      'y-1.0.tar.gz            2 KiB  uploaded',
    ]);
    expect(lines.slice(5)).toEqual(['', 'What the index said:', `  [1] 409: ${conflict('x-1.0.tar.gz')}`, `  [2] 409: ${conflict('x-1.0-py3-none-any.whl')}`]);
    for (const line of lines.slice(0, 5)) expect(line.length).toBeLessThan(100);
    const table = summaryTable(results, plain);
    expect(table.split(conflict('x-1.0.tar.gz')).length - 1).toBe(1);
  });

  it('400, 401, 403 and 413 read well: the kind in the row, the words once below, rows not sent refer to them', () => {
    const results = [
      row('a-1.0.tar.gz', 'failed', { httpStatus: 413, message: 'too large for this index (413): File too large: this index accepts uploads of at most 1 MiB (the max-upload-size setting).' }),
      row('b-1.0.tar.gz', 'failed', { httpStatus: 413, message: 'too large for this index (413): File too large: this index accepts uploads of at most 1 MiB (the max-upload-size setting).' }),
      row('c-1.0.tar.gz', 'failed', { httpStatus: 400, message: '400: Bad Request: Version in filename should be 1.0' }),
      row('d-1.0.tar.gz', 'failed', { httpStatus: 403, message: "not allowed (403): The user 'ann' isn't allowed to upload to project 'd'." }),
      row('e-1.0.tar.gz', 'not-attempted', { message: "not sent after: not allowed (403): The user 'ann' isn't allowed to upload to project 'd'." }),
      row('f-1.0.tar.gz', 'failed', { httpStatus: 401, message: 'the index wants credentials (401 Invalid username or password.)' }),
      row('g-1.0.tar.gz', 'failed', { message: 'no answer within 60 s' }),
    ];
    const text = summaryTable(results, plain);
    const cell = (file: string) => text.split('\n').find((l) => l.startsWith(file))?.replace(/^\S+\s+\S+ \S+\s+/, '');
    expect(cell('a-1.0.tar.gz')).toBe('failed: too large for the index (413) [1]');
    expect(cell('b-1.0.tar.gz')).toBe('failed: too large for the index (413) [1]');
    expect(cell('c-1.0.tar.gz')).toBe('failed: refused by the index (400) [2]');
    expect(cell('d-1.0.tar.gz')).toBe('failed: not allowed (403) [3]');
    expect(cell('e-1.0.tar.gz')).toBe('not sent, as the same answer would come [3]');
    expect(cell('f-1.0.tar.gz')).toBe('failed: needs credentials (401) [4]');
    expect(cell('g-1.0.tar.gz')).toBe('failed: no answer within 60 s');
    expect(text.split('What the index said:\n')[1]?.split('\n')).toEqual([
      '  [1] 413: File too large: this index accepts uploads of at most 1 MiB (the max-upload-size setting).',
      '  [2] 400: Bad Request: Version in filename should be 1.0',
      "  [3] 403: The user 'ann' isn't allowed to upload to project 'd'.",
      '  [4] 401: Invalid username or password.',
    ]);
  });
});

describe('uploading several files', () => {
  it('keeps going after a conflict, and stops sending after a 401 (it would repeat)', async () => {
    const { wheel, sdist } = await writeDists(await folder(), SPEC);
    const extra = await writeDists(await folder(), { name: 'other', version: '1.0' });
    const files = await prepareFiles([sdist, extra.sdist, wheel, extra.wheel]);

    const conflicting = await captureServer((_req, res, c) => {
      if (c.file?.filename === sdistFilename(SPEC)) res.writeHead(409, 'File already exists').end('File already exists (x)');
      else res.writeHead(200).end();
    });
    try {
      const results = await uploadFiles(files, target(conflicting.url));
      expect(results.map((r) => r.result)).toEqual(['conflict', 'uploaded', 'uploaded', 'uploaded']);
      expect(results[0]?.message).toMatch(/^File already exists/);
      expect(results[0]?.httpStatus).toBe(409);
      expect(Value.Check(PublishOutputSchema, results)).toBe(true);
      const table = summaryTable(results);
      expect(table).toMatch(new RegExp(`${sdistFilename(SPEC).replace(/\./g, '\\.')}\\s+\\S+ \\S+\\s+conflict: a different file of this name is on the index \\[1\\]`));
      expect(table).toContain('  [1] 409: File already exists (x)');
    } finally {
      await conflicting.close();
    }

    const locked = await captureServer((_req, res) => res.writeHead(401, { 'www-authenticate': 'Basic realm="pyrepo"' }).end('Unauthorized'));
    try {
      const done: string[] = [];
      const results = await uploadFiles(files, target(locked.url), { onDone: (f, r) => done.push(`${f.filename}:${r.result}`) });
      expect(results.map((r) => r.result)).toEqual(['failed', 'not-attempted', 'not-attempted', 'not-attempted']);
      expect(locked.requests).toHaveLength(1);
      expect(results[1]?.message).toMatch(/not sent after: the index wants credentials/);
      expect(done).toHaveLength(4);
    } finally {
      await locked.close();
    }
  });

  describe('against the real upload route', () => {
    let t: TestApp;
    let url: string;
    beforeAll(async () => {
      t = await makeApp();
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/legacy/`;
    });
    afterAll(async () => {
      await t.close();
    });

    it('is accepted, then identical, and a different file under the same name conflicts', async () => {
      const dir = await folder();
      const { wheel, sdist } = await writeDists(dir, SPEC);
      const files = await prepareFiles([sdist, wheel]);
      expect((await uploadFiles(files, target(url))).map((r) => r.result)).toEqual(['uploaded', 'uploaded']);
      const simple = (await (await fetch(url.replace('/legacy/', '/simple/pub-demo/'), { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as {
        files: { filename: string; hashes: { sha256: string } }[];
      };
      expect(simple.files.map((f) => [f.filename, f.hashes.sha256]).sort()).toEqual(files.map((f) => [f.filename, f.digests.sha256]).sort());
      // The server derives the metadata from the file, and took the form as sent.
      const info = (await (await fetch(url.replace('/legacy/', '/pypi/pub-demo/json'))).json()) as { info: { summary: string; requires_dist: string[] } };
      expect(info.info.summary).toBe('Publish demo');

      expect((await uploadFiles(files, target(url))).map((r) => r.result)).toEqual(['identical', 'identical']);

      const otherDir = await folder();
      const changed = await writeDists(otherDir, { ...SPEC, summary: 'Different bytes' });
      const results = await uploadFiles(await prepareFiles([changed.wheel]), target(url));
      expect(results[0]?.result).toBe('conflict');
      expect(results[0]?.message).toMatch(/^File already exists/);
    });
  });
});

describe('choosing the target', () => {
  const paths = () => resolvePaths({ PYREPO_HOME: join(root, 'no-pyrepo-here') });

  it('takes --repository-url as given, credentials from flags, then env, then the URL', async () => {
    const base = { repositoryUrl: 'https://idx.example/legacy/', paths: paths() };
    expect(await resolveTarget({ ...base, env: {} })).toEqual({ url: 'https://idx.example/legacy/', displayUrl: 'https://idx.example/legacy/', source: 'url' });
    expect(await resolveTarget({ ...base, env: { PYREPO_USERNAME: 'env-user', PYREPO_PASSWORD: 'env-pw' }, username: 'flag-user', password: 'flag-pw' })).toMatchObject({
      username: 'flag-user',
      password: 'flag-pw',
    });
    expect(await resolveTarget({ ...base, env: { PYREPO_USERNAME: 'env-user', PYREPO_PASSWORD: 'env-pw' } })).toMatchObject({ username: 'env-user', password: 'env-pw' });
    // A password alone is a token.
    expect(await resolveTarget({ ...base, env: { PYREPO_PASSWORD: 'tok' } })).toMatchObject({ username: '__token__', password: 'tok' });
    const withUserInfo = await resolveTarget({ ...base, repositoryUrl: 'https://u:p%40ss@idx.example/legacy/', env: {} });
    expect(withUserInfo).toMatchObject({ url: 'https://idx.example/legacy/', displayUrl: 'https://idx.example/legacy/', username: 'u', password: 'p@ss' });
  });

  it('refuses a user without a password, a non-http URL, and both -r and --repository-url', async () => {
    expect((await abortOf(resolveTarget({ repositoryUrl: 'http://x.example/legacy/', username: 'ann', env: {}, paths: paths() }))).message).toMatch(/user name \(ann\).*no password/);
    expect((await abortOf(resolveTarget({ repositoryUrl: 'file:///tmp/x', env: {}, paths: paths() }))).message).toMatch(/not an http\(s\) URL/);
    expect((await abortOf(resolveTarget({ repositoryUrl: 'http://x/', repository: 'pypi', env: {}, paths: paths() }))).exitCode).toBe(64);
  });

  it('reads -r NAME from the .pypirc in the given home, or from --config-file', async () => {
    const home = await folder('home');
    await writeFile(join(home, '.pypirc'), '[distutils]\nindex-servers = pyrepo\n[pyrepo]\nrepository = http://127.0.0.1:9/legacy/\nusername = ann\npassword = pw\n');
    expect(await resolveTarget({ repository: 'pyrepo', env: {}, paths: paths(), home })).toEqual({
      url: 'http://127.0.0.1:9/legacy/',
      displayUrl: 'http://127.0.0.1:9/legacy/',
      source: 'pypirc',
      repositoryName: 'pyrepo',
      username: 'ann',
      password: 'pw',
    });
    const other = join(home, 'other.pypirc');
    await writeFile(other, '[distutils]\nindex-servers = elsewhere\n[elsewhere]\nrepository = http://127.0.0.1:10/legacy/\n');
    expect(await resolveTarget({ repository: 'elsewhere', configFile: other, env: {}, paths: paths(), home })).toMatchObject({ url: 'http://127.0.0.1:10/legacy/' });
    const err = await abortOf(resolveTarget({ repository: 'elsewhere', env: {}, paths: paths(), home }));
    expect(err.message).toContain(join(home, '.pypirc'));
  });

  it('says the daemon is not running (exit 3) when publishing to pyrepo', async () => {
    const err = await abortOf(resolveTarget({ env: {}, paths: paths() }));
    expect(err.message).toBe('The pyrepo daemon is not running.');
    expect(err.exitCode).toBe(3);
  });

  it('never shows credentials in a URL', () => {
    expect(withoutUserInfo('https://user:secret@idx.example/legacy/')).toBe('https://idx.example/legacy/');
    expect(withoutUserInfo('http://127.0.0.1:1/legacy/')).toBe('http://127.0.0.1:1/legacy/');
  });
});

describe('building first', () => {
  /** A stand-in interpreter: a shell script that records its arguments and runs `body`. */
  async function fakePython(body: string): Promise<{ python: string; argsFile: string }> {
    const dir = await folder('bin');
    const python = join(dir, 'python3');
    const argsFile = join(dir, 'args');
    await writeFile(python, `#!/bin/sh\nprintf '%s\\n' "$@" > '${argsFile}'\n${body}\n`);
    await chmod(python, 0o755);
    return { python, argsFile };
  }

  async function project(): Promise<string> {
    const dir = await folder('proj');
    await writeFile(join(dir, 'pyproject.toml'), '[project]\nname = "p"\nversion = "1.0"\n');
    return dir;
  }

  it('runs `python -m build --outdir <project>/dist [--no-isolation] <project>` and returns what it built', async () => {
    const dir = await project();
    // Writes an sdist and a wheel where --outdir says, and reports them as build does.
    const { python, argsFile } = await fakePython(
      [
        'out="$4"',
        'mkdir -p "$out"',
        `printf x > "$out/p-1.0.tar.gz"`,
        `printf y > "$out/p-1.0-py3-none-any.whl"`,
        'echo "Successfully built p-1.0.tar.gz and p-1.0-py3-none-any.whl"',
      ].join('\n'),
    );
    const built = await runBuild({ python, projectDir: dir, isolation: false });
    expect(built).toEqual([join(dir, 'dist', 'p-1.0.tar.gz'), join(dir, 'dist', 'p-1.0-py3-none-any.whl')]);
    expect((await readFile(argsFile, 'utf8')).trim().split('\n')).toEqual(['-m', 'build', '--outdir', join(dir, 'dist'), '--no-isolation', dir]);
  });

  it('falls back to the files new in the output folder when build says nothing', async () => {
    const dir = await project();
    await mkdir(join(dir, 'dist'));
    await writeFile(join(dir, 'dist', 'p-0.9.tar.gz'), 'old');
    const { python, argsFile } = await fakePython('printf z > "$4/p-1.0-py3-none-any.whl"');
    expect(await runBuild({ python, projectDir: dir, isolation: true })).toEqual([join(dir, 'dist', 'p-1.0-py3-none-any.whl')]);
    expect(await readFile(argsFile, 'utf8')).not.toContain('--no-isolation');
  });

  it('says the interpreter is not found and suggests --python', async () => {
    const err = await abortOf(runBuild({ python: join(root, 'no-such-python3'), projectDir: await project(), isolation: true }));
    expect(err.message).toMatch(/no-such-python3 not found/);
    expect(err.nextStep).toMatch(/--python/);
  });

  it('suggests installing build when the module is missing', async () => {
    const { python } = await fakePython('echo "$0: No module named build" >&2\nexit 1');
    const err = await abortOf(runBuild({ python, projectDir: await project(), isolation: true }));
    expect(err.message).toBe(`${python} has no 'build' module.`);
    expect(err.nextStep).toMatch(/pip install build/);
    expect(err.nextStep).toMatch(/python3-build/);
  });

  it('reports a failed build with its exit code', async () => {
    const { python } = await fakePython('echo "ERROR Backend subprocess exited" >&2\nexit 2');
    const err = await abortOf(runBuild({ python, projectDir: await project(), isolation: false }));
    expect(err.message).toBe(`${python} -m build failed (exit 2); its output is above.`);
  });

  it('stops a build that takes too long', async () => {
    const { python } = await fakePython('sleep 30');
    const err = await abortOf(runBuild({ python, projectDir: await project(), isolation: false, timeoutMs: 300 }));
    expect(err.message).toMatch(/took longer than .* and was stopped/);
  });

  it('refuses a folder that is not a Python project', async () => {
    const err = await abortOf(runBuild({ python: DEBIAN_PYTHON, projectDir: await folder('not-a-project'), isolation: false }));
    expect(err.message).toMatch(/has no pyproject\.toml or setup\.py/);
    expect(err.nextStep).toMatch(/--project/);
  });
});
