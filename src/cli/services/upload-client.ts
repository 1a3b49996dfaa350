/**
 * One distribution file's upload through the legacy upload API, as twine does it: a
 * multipart/form-data POST to exactly the given URL with the core-metadata fields, the
 * digests and the file as the `content` part; never a redirect; the file streamed from
 * disk with a Content-Length, progress reported as bytes leave; an inactivity limit.
 *
 * Built on node:http/node:https rather than fetch: fetch cannot report upload progress,
 * and a streamed fetch body goes out chunked, which some indexes refuse.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { basename } from 'node:path';
import { createBlake2b256 } from '../../shared/blake2b.js';
import { readDistContents } from '../../shared/dist-reader.js';
import { parseDistFilename, type DistFilename } from '../../shared/distfiles.js';
import { DistContentError, DistFilenameError } from '../../shared/errors.js';
import { decodeMetadata, parseRawMetadata, type CoreMetadata } from '../../shared/metadata.js';
import { PYREPO_VERSION } from '../../shared/version.js';

/** The three digests twine, poetry and pdm send (lowercase hex). */
export interface FileDigests {
  sha256: string;
  md5: string;
  blake2_256: string;
}

/** A file ready to upload: parsed name, metadata form fields and digests. */
export interface PreparedUpload {
  path: string;
  filename: string;
  size: number;
  dist: DistFilename;
  digests: FileDigests;
  /** The form fields in order, repeated keys for multi-use fields; `content` excluded. */
  fields: [string, string][];
}

/** Where to upload, and as whom. */
export interface UploadTarget {
  /** The upload URL, POSTed to exactly (e.g. `http://127.0.0.1:8645/legacy/`). */
  url: string;
  username?: string;
  password?: string;
  /** PEM of the certificate pyrepo's own HTTPS daemon serves, trusted for it alone (see DaemonClientOptions). */
  tlsCertificate?: string;
}

/** A reason a file cannot be uploaded at all, found before anything is sent. */
export class UnusableFileError extends Error {
  override readonly name = 'UnusableFileError';
}

/** Hashes a file once, streaming: sha256, md5 and BLAKE2b-256 (Node's crypto lacks the 32-byte BLAKE2b). */
export async function hashFile(path: string): Promise<FileDigests & { size: number }> {
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  const blake = await createBlake2b256();
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) {
    const b = chunk as Buffer;
    size += b.length;
    sha256.update(b);
    md5.update(b);
    blake.update(b);
  }
  return { sha256: sha256.digest('hex'), md5: md5.digest('hex'), blake2_256: blake.digestHex(), size };
}

/** twine's `_safe_name`: runs of anything but letters, digits and `.` become `-`. */
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9.]+/g, '-');
}

/**
 * Multi-use core-metadata fields that CoreMetadata does not carry, read from the raw
 * headers: header name → form name (twine's `metadata_dictionary`).
 */
const RAW_MULTI_FIELDS: [string, string][] = [
  ['supported-platform', 'supported_platform'],
  ['provides-dist', 'provides_dist'],
  ['obsoletes-dist', 'obsoletes_dist'],
  ['requires-external', 'requires_external'],
  ['provides', 'provides'],
  ['requires', 'requires'],
  ['obsoletes', 'obsoletes'],
];

/**
 * The form fields for a file, as twine sends them: identity (`name`, `version`,
 * `filetype`, `pyversion`), `metadata_version`, every core-metadata field the file has
 * (multi-use ones repeated) and the digests. Empty and absent fields are left out, as
 * `requests` drops None values.
 */
export function uploadFields(dist: DistFilename, metadata: CoreMetadata, digests: FileDigests, metadataText = ''): [string, string][] {
  const out: [string, string][] = [];
  const one = (key: string, value: string | null | undefined) => {
    if (value !== null && value !== undefined && value !== '') out.push([key, value]);
  };
  const many = (key: string, values: readonly string[]) => {
    for (const v of values) one(key, v);
  };
  one(':action', 'file_upload');
  one('protocol_version', '1');
  one('name', safeName(metadata.name));
  one('version', metadata.version);
  one('filetype', dist.packagetype);
  one('pyversion', dist.pythonVersion);
  one('metadata_version', metadata.metadataVersion);
  one('summary', metadata.summary);
  one('home_page', metadata.homePage);
  one('author', metadata.author);
  one('author_email', metadata.authorEmail);
  one('maintainer', metadata.maintainer);
  one('maintainer_email', metadata.maintainerEmail);
  one('license', metadata.license);
  one('license_expression', metadata.licenseExpression);
  many('license_file', metadata.licenseFiles);
  one('description', metadata.description);
  one('description_content_type', metadata.descriptionContentType);
  one('keywords', metadata.keywords);
  many('platform', metadata.platforms);
  many('classifiers', metadata.classifiers);
  one('download_url', metadata.downloadUrl);
  one('requires_python', metadata.requiresPython);
  many('requires_dist', metadata.requiresDist);
  many('provides_extra', metadata.providesExtra);
  many(
    'project_urls',
    Object.entries(metadata.projectUrls).map(([label, url]) => `${label}, ${url}`),
  );
  many('dynamic', metadata.dynamic);
  if (metadataText) {
    const { headers } = parseRawMetadata(metadataText);
    for (const [header, form] of RAW_MULTI_FIELDS) many(form, (headers.get(header) ?? []).filter((v) => v !== 'UNKNOWN'));
  }
  one('sha256_digest', digests.sha256);
  one('blake2_256_digest', digests.blake2_256);
  one('md5_digest', digests.md5);
  return out;
}

/**
 * Parses the filename, reads the core metadata and hashes the file: everything the
 * upload needs, so that a bad file is found before any file is sent.
 * Throws UnusableFileError with a message naming the file.
 */
export async function prepareUpload(path: string): Promise<PreparedUpload> {
  const filename = basename(path);
  let dist: DistFilename;
  try {
    dist = parseDistFilename(filename);
  } catch (err) {
    if (err instanceof DistFilenameError) throw new UnusableFileError(`${path} is not a wheel or sdist: ${err.message}`);
    throw err;
  }
  try {
    const { size } = await stat(path);
    const contents = await readDistContents(path, dist, size);
    const digests = await hashFile(path);
    const { metadata } = contents;
    return {
      path,
      filename,
      size: digests.size,
      dist,
      digests: { sha256: digests.sha256, md5: digests.md5, blake2_256: digests.blake2_256 },
      fields: uploadFields(dist, metadata, digests, decodeMetadata(contents.metadataBytes)),
    };
  } catch (err) {
    if (err instanceof DistContentError) throw new UnusableFileError(`${path} cannot be uploaded: ${err.message}`);
    if ((err as NodeJS.ErrnoException).code) throw new UnusableFileError(`Cannot read ${path}: ${(err as Error).message}`);
    throw err;
  }
}

/** A form value as a multipart field; CR/LF in names are impossible here (our own keys). */
function quoteParam(value: string): string {
  // What browsers do (WHATWG multipart/form-data): escape `"` and line breaks.
  return value.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/**
 * The multipart body around the file: `head` (every field, then the `content` part's
 * headers) and `tail` (the closing boundary). The file's bytes go between them.
 */
export function multipartFrame(fields: [string, string][], filename: string, boundary: string): { head: Buffer; tail: Buffer; contentType: string } {
  const parts: string[] = [];
  for (const [name, value] of fields) {
    parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="${quoteParam(name)}"\r\n\r\n${value}\r\n`);
  }
  parts.push(
    `--${boundary}\r\nContent-Disposition: form-data; name="content"; filename="${quoteParam(filename)}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  return {
    head: Buffer.from(parts.join(''), 'utf8'),
    tail: Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8'),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

/** A boundary that cannot occur in the fields (checked) and is unlikely in the file. */
function makeBoundary(fields: [string, string][]): string {
  for (;;) {
    const boundary = `----pyrepo${createHash('sha256').update(`${Date.now()}:${Math.random()}`).digest('hex').slice(0, 32)}`;
    if (!fields.some(([, v]) => v.includes(boundary))) return boundary;
  }
}

/** What the index answered. */
export interface UploadResponse {
  status: number;
  /** The reason phrase (Warehouse and pyrepo put their message there). */
  reason: string;
  /** The body, cut to 64 KiB. */
  body: string;
  /** `Location` of a redirect. */
  location?: string;
  /** pyrepo's `X-Pyrepo-Upload: created|identical|replaced`. */
  outcome?: string;
}

/** The upload could not complete: no connection, a broken one, or no progress in time. */
export class UploadTransportError extends Error {
  override readonly name = 'UploadTransportError';
  constructor(
    message: string,
    /** True when nothing reached the index (refused, unknown host): the next file would fail the same way. */
    readonly unreachable: boolean,
  ) {
    super(message);
  }
}

/** Options of {@link sendUpload}. */
export interface SendOptions {
  /** Called as bytes of the file leave (cumulative, file bytes only). */
  onProgress?: (sent: number, total: number) => void;
  /** Give up after this long without any progress either way. Default 60 s. */
  inactivityMs?: number;
}

const MAX_BODY = 64 * 1024;

function describeNetworkError(err: NodeJS.ErrnoException, url: URL): UploadTransportError {
  const where = `${url.protocol}//${url.host}`;
  switch (err.code) {
    case 'ECONNREFUSED':
      return new UploadTransportError(`nothing accepts connections at ${where} (connection refused)`, true);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new UploadTransportError(`the host ${url.hostname} cannot be found`, true);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new UploadTransportError(`${where} cannot be reached (${err.code})`, true);
    case 'ECONNRESET':
    case 'EPIPE':
      return new UploadTransportError(`the index at ${where} closed the connection during the upload`, false);
    default:
      if (err.code?.startsWith('ERR_TLS') || /certificate/i.test(err.message)) {
        return new UploadTransportError(`the TLS connection to ${where} failed: ${err.message}`, true);
      }
      return new UploadTransportError(`the upload to ${where} failed: ${err.message}`, false);
  }
}

/**
 * POSTs one prepared file to `target.url` and returns the index's answer, whatever its
 * status; redirects are returned, not followed. Throws UploadTransportError when there
 * is no answer (connection failure, inactivity timeout).
 */
export function sendUpload(file: PreparedUpload, target: UploadTarget, opts: SendOptions = {}): Promise<UploadResponse> {
  const url = new URL(target.url);
  const inactivityMs = opts.inactivityMs ?? 60_000;
  const { head, tail, contentType } = multipartFrame(file.fields, file.filename, makeBoundary(file.fields));
  const headers: http.OutgoingHttpHeaders = {
    'content-type': contentType,
    'content-length': head.length + file.size + tail.length,
    'user-agent': `pyrepo/${PYREPO_VERSION} (publish)`,
    accept: 'text/plain, */*;q=0.5',
  };
  // Credentials go pre-emptively, as every upload client sends them (standards §3.7).
  if (target.username !== undefined || target.password !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${target.username ?? ''}:${target.password ?? ''}`, 'utf8').toString('base64')}`;
  }
  const transport = url.protocol === 'https:' ? https : http;

  return new Promise<UploadResponse>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const fileStream = createReadStream(file.path, { highWaterMark: 256 * 1024 });
    const finish = (err: Error | undefined, value?: UploadResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fileStream.destroy();
      // An early answer leaves the request body unfinished: without destroying it, its
      // socket would keep the process alive.
      if (err || !req.writableEnded) req.destroy();
      if (err) reject(err);
      else resolve(value as UploadResponse);
    };
    const touch = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => finish(new UploadTransportError(`no progress for ${Math.round(inactivityMs / 1000)} s; the index at ${url.host} stopped answering`, false)),
        inactivityMs,
      );
    };

    const pinned = target.tlsCertificate && url.protocol === 'https:' ? { ca: target.tlsCertificate, checkServerIdentity: () => undefined } : {};
    const req = transport.request(url, { method: 'POST', headers, ...pinned });
    touch();
    let responded = false;
    req.on('error', (err: NodeJS.ErrnoException) => {
      // After an early answer the index may close while the file is still going out;
      // the answer is what counts, and it completes through the response's own events.
      if (!responded) finish(describeNetworkError(err, url));
    });
    req.on('response', (res) => {
      responded = true;
      // An early answer (413, 401, a redirect) ends the upload: stop sending the file.
      fileStream.destroy();
      touch();
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (c: Buffer) => {
        touch();
        if (kept < MAX_BODY) {
          chunks.push(c);
          kept += c.length;
        }
      });
      const done = () => {
        const outcome = res.headers['x-pyrepo-upload'];
        const location = res.headers.location;
        finish(undefined, {
          status: res.statusCode ?? 0,
          reason: res.statusMessage ?? '',
          body: Buffer.concat(chunks).toString('utf8').slice(0, MAX_BODY),
          ...(location ? { location } : {}),
          ...(typeof outcome === 'string' ? { outcome } : {}),
        });
      };
      res.on('end', done);
      // A connection closed mid-answer still leaves a status worth reporting.
      res.on('close', done);
      res.on('error', () => undefined);
    });

    let sent = 0;
    req.write(head);
    fileStream.on('error', (err) => finish(new UploadTransportError(`reading ${file.path} failed: ${err.message}`, false)));
    fileStream.on('data', (chunk) => {
      const b = chunk as Buffer;
      // Backpressure: pause the file until the socket has taken this chunk.
      const flushed = req.write(b, () => {
        if (settled) return;
        sent += b.length;
        touch();
        opts.onProgress?.(Math.min(sent, file.size), file.size);
      });
      if (!flushed) {
        fileStream.pause();
        req.once('drain', () => fileStream.resume());
      }
    });
    fileStream.on('end', () => {
      if (settled) return;
      if (fileStream.bytesRead !== file.size) {
        finish(new UploadTransportError(`${file.path} changed while it was being uploaded (${fileStream.bytesRead} bytes instead of ${file.size})`, false));
        return;
      }
      req.end(tail);
    });
  });
}

/** How one file's upload ended. */
export type UploadVerdict =
  | { result: 'uploaded'; replaced?: boolean; warnings: string[] }
  | { result: 'identical'; warnings: string[] }
  | { result: 'conflict'; message: string }
  | { result: 'failed'; message: string; /** The same answer will come for every file (auth, wrong URL). */ fatal: boolean };

/** A short, single-line excerpt of a response text. */
function excerpt(text: string, max = 300): string {
  const flat = text
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** The index's message: the body when it says something, else the reason phrase. */
function serverMessage(res: UploadResponse): string {
  const body = excerpt(res.body);
  const reason = res.reason.trim();
  if (!body) return reason || `HTTP ${res.status}`;
  // pyrepo (and others) cut long reason phrases short with "...": the body says it whole.
  const shortened = reason.replace(/(\.\.\.|…)$/, '');
  if (!reason || body.includes(shortened)) return body;
  return `${reason}: ${body}`;
}

/**
 * What an answer means, with twine's and poetry's rules for duplicates (standards §3.6):
 * 2xx is success (identical when pyrepo says so, by header or by message); 409, or 400
 * with "already exist" in the reason or body, is a conflict; 3xx is refused (uploads are
 * never redirected); 401/403/413 and the rest are failures with a message.
 */
export function interpretResponse(res: UploadResponse, url: string): UploadVerdict {
  const text = `${res.reason}\n${res.body}`;
  if (res.status >= 200 && res.status < 300) {
    // pyrepo says what it accepted but noticed (a file boards cannot install) on `Warning:` lines.
    const warnings = [...res.body.matchAll(/^Warning: (.+)$/gm)].map((m) => (m[1] as string).trim());
    if (res.outcome === 'identical' || /already on this index with the same content/i.test(res.body)) return { result: 'identical', warnings };
    return res.outcome === 'replaced' ? { result: 'uploaded', replaced: true, warnings } : { result: 'uploaded', warnings };
  }
  if (res.status === 409 || (res.status === 400 && /already exist/i.test(text))) {
    return { result: 'conflict', message: serverMessage(res) };
  }
  if (res.status >= 300 && res.status < 400) {
    const to = res.location ? new URL(res.location, url).toString() : undefined;
    return {
      result: 'failed',
      fatal: true,
      message: to
        ? `the index answered ${res.status} redirecting to ${to}; uploads are never redirected (use --repository-url ${to} if that is the upload URL)`
        : `the index answered ${res.status} (a redirect without a Location); uploads are never redirected`,
    };
  }
  if (res.status === 401) return { result: 'failed', fatal: true, message: `the index wants credentials (401 ${res.reason.trim() || 'Unauthorized'})` };
  if (res.status === 403) return { result: 'failed', fatal: true, message: `not allowed (403): ${serverMessage(res)}` };
  if (res.status === 404 || res.status === 405) {
    return { result: 'failed', fatal: true, message: `${url} is not an upload URL (${res.status} ${res.reason.trim()}); indexes take uploads at …/legacy/` };
  }
  if (res.status === 413) return { result: 'failed', fatal: false, message: `too large for this index (413): ${serverMessage(res)}` };
  return { result: 'failed', fatal: false, message: `${res.status}: ${serverMessage(res)}` };
}
