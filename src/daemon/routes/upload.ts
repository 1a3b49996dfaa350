/**
 * The legacy upload API (twine, poetry, flit, pdm, uv) at `/`, `/legacy/` and `/legacy`,
 * never redirected. It reads the form; the publisher (services/publisher.ts) does the rest,
 * as it does for watched build folders. A body of up to 4 MiB is read whole and cut into its
 * parts (upload-form.ts); a larger one, or one of unknown length, streams through busboy,
 * its file hashed as it arrives and, past 4 MiB, written to a hidden temporary file in the
 * packages folder. Nothing becomes visible until it is verified, written, fsynced and
 * renamed into place.
 * pypiserver's `:action=remove_pkg` is served too.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseDistFilename } from '../../shared/distfiles.js';
import { formatBytes } from '../../shared/format.js';
import { DistContentError, DistFilenameError, DistMismatchError } from '../../shared/errors.js';
import { normalizeName } from '../../shared/names.js';
import {
  BadRequest,
  DigestMismatch,
  FileExists,
  Gone,
  InvalidDistribution,
  InvalidFilename,
  InvalidUpload,
  MetadataMismatch,
  NotFound,
  NotMultipart,
  UnsupportedAction,
  UploadCutOff,
  UploadStalled,
  UploadTooLarge,
} from '../errors.js';
import { FileConflictError, NotOnIndexError, type ReceivedUpload, type TempFile } from '../services/publisher.js';
import { hashBytes, IN_MEMORY_LIMIT, MultiHasher, type Digests } from '../services/hashing.js';
import { boundaryOf, readWholeBody, watchUploadBody } from './upload-body.js';
import { parseForm } from './upload-form.js';

export interface UploadRouteOptions {
  maxUploadBytes: number;
  /** How long an upload body may stop arriving before it is refused (408); default {@link UPLOAD_IDLE_MS}. */
  idleTimeoutMs?: number;
}

/** An upload whose bytes stop arriving for this long is answered 408 and dropped. */
export const UPLOAD_IDLE_MS = 60_000;

/** Where uploads are posted (pypiserver's `/`, PyPI's `/legacy/`); never redirected. */
export const UPLOAD_URLS = ['/', '/legacy', '/legacy/'] as const;

/** True for a POST to an upload URL: its errors speak of uploads. */
export function isUploadRequest(req: FastifyRequest): boolean {
  return req.method === 'POST' && (UPLOAD_URLS as readonly string[]).includes(req.url.split('?', 1)[0] as string);
}

/** The refusal of an upload body that is not multipart/form-data, naming what it was. */
export function notMultipart(contentType: string | undefined): Error {
  return new NotMultipart(contentType ? `Content-Type '${contentType}'` : 'no Content-Type');
}

/** Form fields, repeated keys kept; distutils' `UNKNOWN` and empty strings count as absent. */
type Fields = Map<string, string[]>;

const DIGEST_FIELDS = [
  ['md5_digest', 'md5', 'md5', 32],
  ['sha256_digest', 'sha256', 'sha256', 64],
  ['blake2_256_digest', 'blake2b256', 'blake2_256', 64],
] as const;

function field(fields: Fields, name: string): string | undefined {
  return fields.get(name)?.find((v) => v !== '' && v !== 'UNKNOWN');
}

function required(fields: Fields, name: string, hint: string): string {
  const value = field(fields, name);
  if (value === undefined) throw new InvalidUpload(`Missing required form field '${name}' (${hint}).`);
  return value;
}

/** The index service's errors as the HTTP errors clients read (reason phrase and body). */
function asHttpError(err: unknown): unknown {
  if (err instanceof FileConflictError) return new FileExists(err.filename, err.existingSha256);
  if (err instanceof DistMismatchError) return new MetadataMismatch(err.message);
  if (err instanceof DistContentError) return new InvalidDistribution(err.message);
  if (err instanceof DistFilenameError) return new InvalidFilename(err.message);
  return err;
}

/** Refuses a filename that is not a wheel or sdist name (or is unsafe as a path). */
function checkFilename(filename: string): void {
  try {
    parseDistFilename(filename);
  } catch (err) {
    throw asHttpError(err);
  }
}

/** A field's value as either way of reading the form keeps it: a NUL as the text `\x00` (PostgreSQL's text, in the shared mode, cannot hold one). */
const fieldValue = (value: string) => value.replace(/\0/g, '\\x00');

/**
 * Refuses a second `content` part, and a distribution filename that is not one when the
 * form uploads a file: clients send the fields first, so it is refused before a byte is stored.
 */
function checkContentPart(fields: Fields, already: ReceivedUpload | undefined, filename: string): void {
  if (already) throw new InvalidUpload("The upload has more than one 'content' file part.");
  if (field(fields, ':action') === 'file_upload') checkFilename(filename);
}

function verifyDigests(fields: Fields, digests: Digests): void {
  for (const [formName, key, label, length] of DIGEST_FIELDS) {
    const supplied = field(fields, formName);
    if (supplied === undefined) continue;
    if (supplied.length !== length || !/^[0-9a-fA-F]+$/.test(supplied)) {
      throw new InvalidUpload(`The form field '${formName}' must be a ${length}-character hex digest.`);
    }
    if (supplied.toLowerCase() !== digests[key]) throw new DigestMismatch(label);
  }
}

export default async function uploadRoutes(app: FastifyInstance, opts: UploadRouteOptions): Promise<void> {
  // Uploads too large to hold in memory are streamed to the publisher's temporary files.
  const publisher = app.publisher;

  /** Reads the `content` part while hashing it: into memory when small, else into a temporary file. */
  async function receive(filename: string, stream: Readable & { truncated?: boolean }): Promise<ReceivedUpload> {
    const truncated = () => new UploadCutOff('before the file was complete');
    // A part cut off by the end of the body may already be closed, without an error.
    if (stream.destroyed) throw truncated();
    const hasher = await MultiHasher.create();
    const chunks: Buffer[] = [];
    let temp: TempFile | undefined;
    const write = async (chunk: Buffer) => {
      const handle = (temp as TempFile).handle as FileHandle;
      for (let at = 0; at < chunk.length; ) at += (await handle.write(chunk, at)).bytesWritten;
    };
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        hasher.update(chunk);
        if (temp) {
          await write(chunk);
          continue;
        }
        chunks.push(chunk);
        if (hasher.size > IN_MEMORY_LIMIT) {
          // Too big to hold: spill to a temporary file in the packages folder and stream on.
          temp = await publisher.createTemp();
          for (const held of chunks.splice(0)) await write(held);
        }
      }
      if (stream.truncated) throw new UploadTooLarge(formatBytes(opts.maxUploadBytes));
    } catch (err) {
      if (temp) await publisher.discard(temp);
      const code = (err as { code?: string }).code;
      if (code === 'FST_REQ_FILE_TOO_LARGE') throw new UploadTooLarge(formatBytes(opts.maxUploadBytes));
      if (code === 'ERR_STREAM_PREMATURE_CLOSE') throw truncated();
      throw err;
    }
    const digests = { ...hasher.digest(), size: hasher.size };
    return temp ? { filename, digests, temp } : { filename, digests, bytes: Buffer.concat(chunks) };
  }

  /** The form (its fields, and its file); `declared` is the body's Content-Length (NaN when it has none). */
  async function readForm(req: FastifyRequest, reply: FastifyReply, declared: number): Promise<{ fields: Fields; file?: ReceivedUpload }> {
    const fields: Fields = new Map();
    const add = (k: string, v: string) => fields.set(k, [...(fields.get(k) ?? []), v]);
    for (const [k, v] of Object.entries(req.query as Record<string, string | string[]>)) {
      for (const value of [v].flat()) add(k, value);
    }
    if (!req.isMultipart()) {
      const type = req.headers['content-type'];
      // A urlencoded form carries pypiserver's remove_pkg; a bodiless POST may carry :action in the query.
      if (type !== undefined && !/^application\/x-www-form-urlencoded\b/i.test(type)) throw notMultipart(type);
      for (const [k, v] of Object.entries((req.body ?? {}) as Record<string, string | string[]>)) {
        for (const value of [v].flat()) add(k, value);
      }
      return { fields };
    }
    const boundary = boundaryOf(req.headers['content-type']);
    const idleMs = opts.idleTimeoutMs ?? UPLOAD_IDLE_MS;
    const stalled = () => new UploadStalled(String(Math.round(idleMs / 1000)));
    // A body that fits in memory is read whole and cut into its parts at once (upload-form.ts).
    if (boundary !== undefined && declared <= IN_MEMORY_LIMIT) {
      return readWholeForm(req, reply, boundary, idleMs, stalled, fields, add);
    }
    const watch = watchUploadBody(req.raw, boundary, idleMs, stalled);
    const parsing = parseParts(req, fields, add);
    try {
      const file = await Promise.race([parsing, watch.stalled]);
      if (!watch.closed) {
        if (file?.temp) await publisher.discard(file.temp);
        throw new UploadCutOff(`after ${watch.bytes} bytes, without its closing boundary`);
      }
      return file ? { fields, file } : { fields };
    } catch (err) {
      // A stalled body is answered now; whatever the parser still holds is dropped when the connection goes.
      if (err instanceof UploadStalled) {
        reply.header('connection', 'close');
        parsing.then((file) => file?.temp && publisher.discard(file.temp)).catch(() => undefined);
      }
      throw err;
    } finally {
      watch.stop();
    }
  }

  /** A form read whole (a body that fits in memory): its fields into `fields`, and its `content` file. */
  async function readWholeForm(
    req: FastifyRequest,
    reply: FastifyReply,
    boundary: string,
    idleMs: number,
    stalled: () => Error,
    fields: Fields,
    add: (k: string, v: string) => void,
  ): Promise<{ fields: Fields; file?: ReceivedUpload }> {
    let body: Buffer;
    try {
      body = await readWholeBody(req.raw, idleMs, stalled);
    } catch (err) {
      // A stalled body is answered now, and the connection closed.
      if (err instanceof UploadStalled) reply.header('connection', 'close');
      throw err;
    }
    let file: ReceivedUpload | undefined;
    for (const part of parseForm(body, boundary)) {
      if (part.filename === undefined) {
        add(part.name, fieldValue(part.data.toString('utf8')));
        continue;
      }
      // As busboy's fileSize limit: every file part, the ones ignored too.
      if (part.data.length > opts.maxUploadBytes) throw new UploadTooLarge(formatBytes(opts.maxUploadBytes));
      // gpg_signature and stray file parts are accepted and ignored, as PyPI does.
      if (part.name !== 'content') continue;
      checkContentPart(fields, file, part.filename);
      file = { filename: part.filename, digests: await hashBytes(part.data), bytes: part.data };
    }
    return file ? { fields, file } : { fields };
  }

  /** Reads the parts of a multipart form into `fields` as they stream in; the `content` file is returned. */
  async function parseParts(req: FastifyRequest, fields: Fields, add: (k: string, v: string) => void): Promise<ReceivedUpload | undefined> {
    let file: ReceivedUpload | undefined;
    try {
      for await (const part of req.parts()) {
        if (part.type === 'field') {
          if (typeof part.value === 'string') add(part.fieldname, fieldValue(part.value));
          continue;
        }
        if (part.fieldname !== 'content') {
          // gpg_signature and stray file parts are accepted and ignored, as PyPI does.
          part.file.resume();
          continue;
        }
        try {
          checkContentPart(fields, file, part.filename);
        } catch (err) {
          part.file.resume();
          throw err;
        }
        file = await receive(part.filename, part.file);
      }
    } catch (err) {
      if (file?.temp) await publisher.discard(file.temp);
      throw err;
    }
    return file;
  }

  async function fileUpload(req: FastifyRequest, fields: Fields, file: ReceivedUpload | undefined, reply: FastifyReply) {
    if (!file) throw new InvalidUpload("Upload payload does not have a file: send it as the multipart part 'content'.");
    checkFilename(file.filename);
    const protocol = field(fields, 'protocol_version');
    if (protocol !== undefined && protocol !== '1') throw new InvalidUpload(`Unknown protocol_version '${protocol}'; this index speaks version 1.`);
    verifyDigests(fields, file.digests);
    const claims = {
      name: required(fields, 'name', 'the project name'),
      version: required(fields, 'version', 'the release version'),
      filetype: required(fields, 'filetype', "'bdist_wheel' or 'sdist'"),
    };
    const project = normalizeName(claims.name);
    req.change = { action: 'upload', project, version: claims.version, files: [file.filename] };
    try {
      // The path every file takes onto the index (a watched build folder's too): checks, ownership, storage, catalog, events.
      const outcome = await app.publisher.publish(file, {
        claims,
        ...(req.identity ? { identity: req.identity } : {}),
        by: app.actorOf(req),
        origin: { source: 'upload' },
      });
      // Says which of the three it was, so that clients (pyrepo publish) need not parse the text.
      reply.code(200).type('text/plain; charset=utf-8').header('x-pyrepo-upload', outcome.status);
      // Warnings (a file boards cannot install) never refuse an upload; they are said in the body.
      const warnings = outcome.warnings.map((w) => `Warning: ${w}\n`).join('');
      if (outcome.status === 'identical') return `${file.filename} is already on this index with the same content; nothing to do.\n${warnings}`;
      return `${outcome.status === 'replaced' ? `Replaced ${file.filename}.\n` : ''}${warnings}`;
    } catch (err) {
      throw asHttpError(err);
    }
  }

  async function removePackage(req: FastifyRequest, fields: Fields, reply: FastifyReply) {
    const name = required(fields, 'name', 'the project to remove from');
    const version = required(fields, 'version', 'the release to remove');
    const project = normalizeName(name);
    req.change = { action: 'delete', project, version };
    app.mayUpload(req, project);
    try {
      req.change.files = await app.publisher.removeRelease(project, version, app.actorOf(req));
    } catch (err) {
      if (err instanceof NotOnIndexError) throw new NotFound(`${name} (${version}) not found`);
      throw err;
    }
    return reply.code(200).type('text/plain; charset=utf-8').send('');
  }

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    // Multipart framing and metadata fields add a little to the file itself.
    if (declared > opts.maxUploadBytes + 16 * 1024 * 1024) throw new UploadTooLarge(formatBytes(opts.maxUploadBytes));
    const { fields, file } = await readForm(req, reply, declared);
    const action = field(fields, ':action');
    try {
      switch (action) {
        case 'file_upload':
          return await fileUpload(req, fields, file, reply);
        case 'remove_pkg':
          return await removePackage(req, fields, reply);
        case 'submit':
        case 'submit_pkg_info':
          throw new Gone('Project pre-registration is no longer required or supported; upload the files directly.');
        case 'doc_upload':
          throw new Gone('Uploading documentation is not supported by this index.');
        case 'verify':
          return reply.code(200).type('text/plain; charset=utf-8').send('');
        case undefined:
          throw new BadRequest("Missing ':action' field: to upload a file send a multipart/form-data body with ':action=file_upload' (twine, poetry, flit, pdm and uv do).");
        default:
          throw new UnsupportedAction(`Unsupported ':action' field: '${action}'.`);
      }
    } finally {
      if (file?.temp) await publisher.discard(file.temp);
    }
  };

  for (const url of UPLOAD_URLS) app.post(url, handler);
}
