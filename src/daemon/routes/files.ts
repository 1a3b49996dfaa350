/**
 * Distribution files under `/packages/<filename>` (pypiserver's path; subfolder paths
 * work too) and their PEP 658 core-metadata files at `<filename>.metadata`.
 * HEAD, single and suffix ranges (206/416) come from @fastify/send; no content-encoding
 * is ever applied, since ranged bytes must be the raw archive.
 */
import type { FastifyInstance } from 'fastify';
import send from '@fastify/send';
import { NotFound } from '../errors.js';
import { IMMUTABLE, sendPage } from './respond.js';

const METADATA_SUFFIX = '.metadata';

function fileContentType(filename: string): string {
  if (filename.endsWith('.whl') || filename.endsWith('.zip')) return 'application/zip';
  if (filename.endsWith('.tar.gz')) return 'application/gzip';
  return 'application/octet-stream';
}

/** A GET counts as a download when it returns the file from its first byte. */
function isDownload(method: string, status: number, range: string | undefined): boolean {
  if (method !== 'GET') return false;
  if (status === 200) return true;
  return status === 206 && range !== undefined && /^bytes=0-/.test(range.trim());
}

export default async function fileRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { '*': string } }>('/packages/*', async (req, reply) => {
    const path = req.params['*'];
    const filename = path.slice(path.lastIndexOf('/') + 1);
    const index = app.index;

    if (filename.endsWith(METADATA_SUFFIX)) {
      const dist = index.catalog.file(filename.slice(0, -METADATA_SUFFIX.length));
      const bytes = dist?.metadataSha256 ? index.catalog.metadataBytes(dist.filename) : undefined;
      if (!dist || !bytes) throw new NotFound(`No file named '${filename}' on this index.`);
      // The sha256 advertised in the index covers exactly these bytes, so it is a strong validator.
      const page = { body: bytes, etag: `"${dist.metadataSha256}"` };
      return sendPage(req, reply, page, 'text/plain; charset=utf-8', { cacheControl: IMMUTABLE });
    }

    const file = index.catalog.file(filename);
    if (!file) throw new NotFound(`No file named '${filename}' on this index.`);
    const result = await send(req.raw, `/${file.relpath.split('/').map(encodeURIComponent).join('/')}`, {
      root: index.storage.dir,
      dotfiles: 'deny',
      index: false,
      extensions: false,
      cacheControl: false,
      contentType: false,
      acceptRanges: true,
      etag: true,
      lastModified: true,
    });
    if (result.type !== 'file') {
      if (result.type === 'error' && result.statusCode !== 404) {
        // 416 and 412 come with the headers the RFC asks for (Content-Range: bytes */size).
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
    reply.code(result.statusCode).headers(result.headers);
    reply.header('content-type', fileContentType(filename)).header('cache-control', IMMUTABLE);
    if (isDownload(req.method, result.statusCode, req.headers.range)) index.recordDownload(file);
    return reply.send(result.stream);
  });
}
