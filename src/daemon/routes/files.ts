/**
 * Distribution files under `/packages/<filename>` (pypiserver's path; subfolder paths
 * work too), their PEP 658 core-metadata files at `<filename>.metadata`, and at
 * `/packages/` the list of every file as pypiserver shows it.
 *
 * Files carry a strong ETag, their sha256 (their bytes never change under their name), so
 * If-None-Match, If-Match and If-Range compare exactly. Ranges are decided by RFC 9110
 * (byte-range.ts) and handed to @fastify/send as one plain range or none; HEAD answers
 * like GET. No content-encoding is ever applied, since ranged bytes must be the raw archive.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply } from 'fastify';
import send from '@fastify/send';
import { NotFound } from '../errors.js';
import { downloadClientOf } from '../services/installer.js';
import { decideRange, noneMatch, rangeStillValid, type RangeDecision } from './byte-range.js';
import { ALL_PROJECTS, type Page } from '../services/page-cache.js';
import { renderPackagesListing, type ListedFile } from '../services/pages.js';
import { SerialPages } from '../services/serial-pages.js';
import { IMMUTABLE, REVALIDATE, sendPage } from './respond.js';
import { sendUpstreamFile } from './upstream.js';

const METADATA_SUFFIX = '.metadata';

function fileContentType(filename: string): string {
  if (filename.endsWith('.whl') || filename.endsWith('.zip')) return 'application/zip';
  if (filename.endsWith('.tar.gz')) return 'application/gzip';
  return 'application/octet-stream';
}

/** A GET counts as a download when it returns the file from its first byte. */
function isDownload(method: string, status: number, range: RangeDecision): boolean {
  if (method !== 'GET') return false;
  return status === 200 || (status === 206 && range.kind === 'part' && range.first === 0);
}

/** Every file on the index for `/packages/`, oldest version first within each project. */
function listedFiles(app: FastifyInstance): ListedFile[] {
  const out: ListedFile[] = [];
  for (const project of app.index.catalog.projects()) {
    const view = app.index.view(project.name);
    if (!view) continue;
    for (const f of view.files) {
      out.push({ relpath: f.relpath, sha256: f.sha256, requiresPython: f.requiresPython, yanked: view.states.get(f.releaseKey) ?? { yanked: false, reason: null } });
    }
  }
  return out;
}

/** Conditional and range headers answered here; send sees none of them but a plain range. */
const DECIDED_HEADERS = new Set(['range', 'if-range', 'if-match', 'if-none-match']);

export default async function fileRoutes(app: FastifyInstance): Promise<void> {
  app.get('/packages', (_req, reply) => reply.code(301).header('location', '/packages/').send());

  const listing = new SerialPages(() => app.index.catalog.serial);
  app.get('/packages/', (req, reply) => {
    const page = listing.get(ALL_PROJECTS, 'packages', () => renderPackagesListing(listedFiles(app))) as Page;
    return sendPage(req, reply, page, 'text/html; charset=utf-8', { cacheControl: REVALIDATE });
  });

  app.get<{ Params: { '*': string } }>('/packages/*', async (req, reply) => {
    const path = req.params['*'];
    const filename = path.slice(path.lastIndexOf('/') + 1);
    const index = app.index;

    if (filename.endsWith(METADATA_SUFFIX)) {
      const dist = index.catalog.file(filename.slice(0, -METADATA_SUFFIX.length));
      const bytes = dist?.metadataSha256 ? index.catalog.metadataBytes(dist.filename) : undefined;
      if (!dist || !bytes) {
        if (app.upstream && !dist) return sendUpstreamFile(app.upstream, req, reply, filename, `No file named '${filename}' on this index.`);
        throw new NotFound(`No file named '${filename}' on this index.`);
      }
      // The sha256 advertised in the index covers exactly these bytes, so it is a strong validator.
      const page = { body: bytes, etag: `"${dist.metadataSha256}"` };
      return sendPage(req, reply, page, 'text/plain; charset=utf-8', { cacheControl: IMMUTABLE });
    }

    const file = index.catalog.file(filename);
    if (!file) {
      if (app.upstream) return sendUpstreamFile(app.upstream, req, reply, filename, `No file named '${filename}' on this index.`);
      throw new NotFound(`No file named '${filename}' on this index.`);
    }
    const etag = `"${file.sha256}"`;
    const lastModified = new Date(file.mtimeMs).toUTCString();
    const validators = (r: FastifyReply) => r.header('etag', etag).header('cache-control', IMMUTABLE);

    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && ifMatch.trim() !== '*' && !ifMatch.split(',').some((t) => t.trim() === etag)) {
      return validators(reply.code(412)).type('text/plain; charset=utf-8').send(`${filename} is not the version If-Match names.\n`);
    }
    const ifNoneMatch = req.headers['if-none-match'];
    if (ifNoneMatch !== undefined && noneMatch(ifNoneMatch, etag)) return validators(reply.code(304)).send();

    const ifRange = req.headers['if-range'];
    const fresh = rangeStillValid(typeof ifRange === 'string' ? ifRange : undefined, etag, lastModified);
    const range = fresh ? decideRange(req.headers.range, file.size) : ({ kind: 'whole' } as const);
    if (range.kind === 'unsatisfiable') {
      reply.code(416).header('content-range', `bytes */${file.size}`).header('accept-ranges', 'bytes');
      return reply.type('text/plain; charset=utf-8').send(`No byte of the range '${req.headers.range ?? ''}' is in ${filename} (${file.size} bytes).\n`);
    }
    const headers: Record<string, string | string[] | undefined> = {};
    for (const [k, v] of Object.entries(req.raw.headers)) if (!DECIDED_HEADERS.has(k)) headers[k] = v;
    // If-Modified-Since is ignored when If-None-Match was sent (RFC 9110 §13.1.3).
    if (ifNoneMatch !== undefined) delete headers['if-modified-since'];
    if (range.kind === 'part') headers.range = `bytes=${range.first}-${range.last}`;
    const decided = { method: req.raw.method, headers } as unknown as IncomingMessage;

    const result = await send(decided, `/${file.relpath.split('/').map(encodeURIComponent).join('/')}`, {
      root: index.storage.dir,
      dotfiles: 'deny',
      index: false,
      extensions: false,
      cacheControl: false,
      contentType: false,
      acceptRanges: true,
      etag: false,
      lastModified: true,
    });
    if (result.type !== 'file') {
      if (result.type === 'error' && result.statusCode !== 404) {
        if (result.statusCode < 500) {
          reply.code(result.statusCode).headers(result.headers);
          return reply.type('text/plain; charset=utf-8').send(`${result.metadata.error.message}\n`);
        }
        throw result.metadata.error;
      }
      // The catalog still lists a file that left the folder: forget it now.
      index.forgetFolderPath(file.relpath);
      throw new NotFound(`No file named '${filename}' on this index.`);
    }
    validators(reply.code(result.statusCode).headers(result.headers));
    reply.header('content-type', fileContentType(filename));
    if (isDownload(req.method, result.statusCode, range)) index.recordDownload(file, downloadClientOf(req.headers['user-agent']));
    return reply.send(result.stream);
  });
}
