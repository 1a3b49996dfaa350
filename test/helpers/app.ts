/**
 * Test harness for the daemon: a buildApp() instance in a fresh temporary folder,
 * a hand-built multipart/form-data encoder (so tests can also make malformed bodies)
 * and a one-call upload of a generated distribution.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { blake2b } from '@noble/hashes/blake2b';
import { buildApp, type BuildAppOptions } from '../../src/daemon/app.js';
import { accessFiles, writeAccessFile } from '../../src/shared/access-file.js';
import { hashPassword } from '../../src/shared/htpasswd.js';
import type { DaemonSettings } from '../../src/shared/settings.js';
import { buildSdist, buildWheel, sdistFilename, wheelFilename, type DistSpec } from './dists.js';

/** A log stream that drops everything (logLevel is 'silent' anyway). */
function nullStream(): Writable {
  return new Writable({
    write(_chunk, _enc, done) {
      done();
    },
  });
}

export interface TestApp {
  app: FastifyInstance;
  /** `Authorization` value of the admin user every test app has (`admin` / {@link TEST_ADMIN_PASSWORD}). */
  adminAuth: string;
  /** The temporary folder holding `data/` and `packages/` (unless overridden). */
  root: string;
  packagesDir: string;
  dataDir: string;
  /** Closes the app; removes `root` unless `keepFiles` is set. Safe to call twice. */
  close(opts?: { keepFiles?: boolean }): Promise<void>;
}

/** Default settings for a test daemon rooted at `root`. */
export function testSettings(root: string, overrides: Partial<DaemonSettings> = {}): DaemonSettings {
  return {
    host: '127.0.0.1',
    port: 0,
    dataDir: join(root, 'data'),
    packagesDir: join(root, 'packages'),
    overwrite: false,
    maxUploadBytes: 100 * 1024 * 1024,
    watch: false,
    logLevel: 'silent',
    accessLog: false,
    authenticate: [],
    allowAnonymousLanUploads: false,
    ...overrides,
  };
}

/** The admin password of every test app. */
export const TEST_ADMIN_PASSWORD = 'test-admin-password';
/** bcrypt (cost 4, cheap) of TEST_ADMIN_PASSWORD. */
let adminHash: string | undefined;

/** `Basic` credentials for an Authorization header. */
export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export interface MakeAppOptions {
  /** Send the admin's credentials with every control API request that carries none (default true). */
  autoAdmin?: boolean;
  /** Where the log goes (default: nowhere); set `logLevel` and `accessLog` in the settings to get lines. */
  logStream?: Writable;
  /** The event stream's ring size and download batching (BuildAppOptions.events). */
  events?: BuildAppOptions['events'];
}

/**
 * Builds a daemon in a new temporary folder, waits until it is ready and the first
 * reconcile with the packages folder is done. Its data folder has an admin user; control
 * API requests carry the admin's credentials unless they bring their own (or autoAdmin
 * is off), so tests about the index need not care about access control.
 */
export async function makeApp(overrides: Partial<DaemonSettings> = {}, options: MakeAppOptions = {}): Promise<TestApp> {
  const root = await mkdtemp(join(tmpdir(), 'pyrepo-test-'));
  const settings = testSettings(root, overrides);
  await mkdir(settings.dataDir, { recursive: true });
  adminHash ??= await hashPassword(TEST_ADMIN_PASSWORD, 4);
  const files = accessFiles(settings.dataDir);
  await writeFile(files.htpasswd, `admin:${adminHash}\n`);
  writeAccessFile(files.access, { version: 1, roles: { admin: 'admin' }, tokens: [] });
  const app = await buildApp({ settings, logStream: options.logStream ?? nullStream(), ...(options.events ? { events: options.events } : {}) });
  const adminAuth = basic('admin', TEST_ADMIN_PASSWORD);
  if (options.autoAdmin !== false) {
    const inject = app.inject.bind(app) as (o: InjectOptions | string) => Promise<LightMyRequestResponse>;
    const withAdmin = (o: InjectOptions | string): InjectOptions | string => {
      const opts: InjectOptions = typeof o === 'string' ? { url: o } : o;
      const url = typeof opts.url === 'string' ? opts.url : '';
      const headers = (opts.headers ?? {}) as Record<string, string>;
      if (!url.startsWith('/-/') || 'authorization' in headers) return o;
      return { ...opts, headers: { ...headers, authorization: adminAuth } };
    };
    (app as unknown as { inject: unknown }).inject = (o: InjectOptions | string) => inject(withAdmin(o));
  }
  await app.ready();
  await app.initialIndexing;
  let closed = false;
  return {
    app,
    adminAuth,
    root,
    packagesDir: settings.packagesDir,
    dataDir: settings.dataDir,
    async close(opts = {}) {
      if (!closed) {
        closed = true;
        await app.close();
      }
      if (!opts.keepFiles) await rm(root, { recursive: true, force: true });
    },
  };
}

/** Every entry (files and folders, hidden ones included) under `dir`, as `/`-separated relative paths, sorted. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      out.push(relative(dir, p).split('\\').join('/'));
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return out.sort();
}

export interface FormOptions {
  /** Boundary used in the body; default a fixed random-looking one. */
  boundary?: string;
  /** Boundary announced in the Content-Type header (default: the body's). `null` leaves it out. */
  headerBoundary?: string | null;
  /** Content-Type of the file part; `null` sends the part without one. Default application/octet-stream. */
  fileContentType?: string | null;
  /** Form name of the file part; default `content`. */
  fileField?: string;
  /** Leave the file part out. */
  omitFile?: boolean;
  /** Put the file part before the fields instead of after them. */
  fileFirst?: boolean;
}

/**
 * A multipart/form-data body as the upload clients send it. `fields` are merged over the
 * defaults `:action=file_upload` and `protocol_version=1`; an array value repeats the
 * field; an empty array leaves the field (even a default one) out.
 */
export function uploadForm(
  file: Buffer,
  filename: string,
  fields: Record<string, string | string[]>,
  opts: FormOptions = {},
): { payload: Buffer; headers: Record<string, string> } {
  const boundary = opts.boundary ?? '----pyrepoTestBoundary7MA4YWxkTrZu0gW';
  const all: Record<string, string | string[]> = { ':action': 'file_upload', protocol_version: '1', ...fields };
  const chunks: Buffer[] = [];
  const fieldChunks: Buffer[] = [];
  for (const [name, value] of Object.entries(all)) {
    for (const v of [value].flat()) {
      fieldChunks.push(
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${v}\r\n`, 'utf8'),
      );
    }
  }
  const fileChunks: Buffer[] = [];
  if (!opts.omitFile) {
    const type = opts.fileContentType === undefined ? 'application/octet-stream' : opts.fileContentType;
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${opts.fileField ?? 'content'}"; filename="${filename}"\r\n`;
    if (type !== null) head += `Content-Type: ${type}\r\n`;
    head += '\r\n';
    fileChunks.push(Buffer.from(head, 'utf8'), file, Buffer.from('\r\n', 'utf8'));
  }
  if (opts.fileFirst) chunks.push(...fileChunks, ...fieldChunks);
  else chunks.push(...fieldChunks, ...fileChunks);
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'utf8'));
  const headerBoundary = opts.headerBoundary === undefined ? boundary : opts.headerBoundary;
  return {
    payload: Buffer.concat(chunks),
    headers: {
      'content-type': headerBoundary === null ? 'multipart/form-data' : `multipart/form-data; boundary=${headerBoundary}`,
    },
  };
}

/** Hex digests of `bytes` as the upload form carries them. */
export function digestsOf(bytes: Buffer): { md5: string; sha256: string; blake2_256: string } {
  return {
    md5: createHash('md5').update(bytes).digest('hex'),
    sha256: createHash('sha256').update(bytes).digest('hex'),
    blake2_256: Buffer.from(blake2b(bytes, { dkLen: 32 })).toString('hex'),
  };
}

export type DistKind = 'wheel' | 'sdist' | 'sdist-zip';

/** The file a spec turns into, for each kind. */
export function makeDist(spec: DistSpec, kind: DistKind): { filename: string; bytes: Buffer; filetype: 'bdist_wheel' | 'sdist' } {
  switch (kind) {
    case 'wheel':
      return { filename: wheelFilename(spec), bytes: buildWheel(spec), filetype: 'bdist_wheel' };
    case 'sdist':
      return { filename: sdistFilename(spec), bytes: buildSdist(spec), filetype: 'sdist' };
    case 'sdist-zip':
      return { filename: sdistFilename(spec, '.zip'), bytes: buildSdist(spec, { format: 'zip' }), filetype: 'sdist' };
  }
}

/** The form fields twine would send for a file (name, version, filetype, pyversion, digests). */
export function formFieldsFor(spec: DistSpec, dist: { bytes: Buffer; filetype: string }): Record<string, string> {
  const d = digestsOf(dist.bytes);
  return {
    name: spec.name,
    version: spec.version,
    filetype: dist.filetype,
    pyversion: dist.filetype === 'sdist' ? 'source' : 'py3',
    metadata_version: spec.metadataVersion ?? '2.1',
    sha256_digest: d.sha256,
    blake2_256_digest: d.blake2_256,
  };
}

/**
 * Builds a distribution with dists.ts and posts it to `/legacy/` with the fields twine
 * sends (plus `extraFields`, which win).
 */
export async function upload(
  app: FastifyInstance,
  spec: DistSpec,
  kind: DistKind = 'wheel',
  extraFields: Record<string, string | string[]> = {},
  url = '/legacy/',
): Promise<{ res: LightMyRequestResponse; filename: string; bytes: Buffer }> {
  const dist = makeDist(spec, kind);
  const form = uploadForm(dist.bytes, dist.filename, { ...formFieldsFor(spec, dist), ...extraFields });
  const res = await app.inject({ method: 'POST', url, payload: form.payload, headers: form.headers });
  return { res, filename: dist.filename, bytes: dist.bytes };
}

/** Posts an already built file with the given fields. */
export function postFile(
  app: FastifyInstance,
  bytes: Buffer,
  filename: string,
  fields: Record<string, string | string[]>,
  opts: FormOptions = {},
  url = '/legacy/',
): Promise<LightMyRequestResponse> {
  const form = uploadForm(bytes, filename, fields, opts);
  return app.inject({ method: 'POST', url, payload: form.payload, headers: form.headers });
}
