/**
 * Distribution files under `/packages/<filename>` (pypiserver's path; subfolder paths
 * work too), their PEP 658 core-metadata files at `<filename>.metadata`, and at
 * `/packages/` the list of every file as pypiserver shows it.
 *
 * Files carry a strong ETag, their sha256 (their bytes never change under their name), so
 * If-None-Match, If-Match and If-Range compare exactly, from the catalog, before the disk
 * is touched. Ranges are decided by RFC 9110 (byte-range.ts) and the bytes sent by
 * send-file.ts; HEAD answers like GET. No content-encoding is ever applied, since ranged
 * bytes must be the raw archive.
 */
import type { FastifyInstance } from 'fastify';
import { NotFound } from '../errors.js';
import { downloadClientOf } from '../services/installer.js';
import { decideRange, noneMatch, rangeStillValid, type RangeDecision } from './byte-range.js';
import { PACKAGES_LISTING_FOOT, PACKAGES_LISTING_HEAD, renderPackagesLinks, type ListedFile } from '../services/pages.js';
import type { PageWriter } from '../services/spooled-pages.js';
import { takeTurns } from '../services/turns.js';
import { IMMUTABLE, REVALIDATE, sendPage } from './respond.js';
import { sendFile } from './send-file.js';
import { sendUpstreamFile } from './upstream.js';

const METADATA_SUFFIX = '.metadata';

export function fileContentType(filename: string): string {
  if (filename.endsWith('.whl') || filename.endsWith('.zip')) return 'application/zip';
  if (filename.endsWith('.tar.gz')) return 'application/gzip';
  return 'application/octet-stream';
}

/** A GET counts as a download when it returns the file from its first byte. */
function isDownload(method: string, status: number, range: RangeDecision): boolean {
  if (method !== 'GET') return false;
  return status === 200 || (status === 206 && range.kind === 'part' && range.first === 0);
}

/** Projects whose records are read together for `/packages/`: one group's are in memory at a time (at 60,000 files, groups of 64 raised the peak by 9 MB and took 0.94 s; of 16, 1 MB and 0.76 s). */
const LISTING_GROUP = 16;

/** Writes `/packages/`: every file on the index, projects by name, oldest version first within each; requests get turns meanwhile. */
async function writeListing(app: FastifyInstance, write: PageWriter): Promise<void> {
  write(PACKAGES_LISTING_HEAD);
  const projects = await app.reader.projects();
  const turn = takeTurns();
  for (let at = 0; at < projects.length; at += LISTING_GROUP) {
    await turn();
    const views = await Promise.all(projects.slice(at, at + LISTING_GROUP).map((p) => app.reader.view(p.name)));
    const files: ListedFile[] = [];
    for (const view of views) {
      if (!view) continue;
      for (const f of view.files) {
        files.push({ relpath: f.relpath, sha256: f.sha256, requiresPython: f.requiresPython, yanked: view.states.get(f.releaseKey) ?? { yanked: false, reason: null } });
      }
    }
    write(renderPackagesLinks(files));
  }
  write(PACKAGES_LISTING_FOOT);
}

const WHOLE: RangeDecision = { kind: 'whole' };

export default async function fileRoutes(app: FastifyInstance): Promise<void> {
  app.get('/packages', (_req, reply) => reply.code(301).header('location', '/packages/').send());

  const listing = app.spooledPages(1);
  app.get('/packages/', async (req, reply) => {
    const page = await listing.get('packages', (write) => writeListing(app, write));
    return sendPage(req, reply, page, 'text/html; charset=utf-8', { cacheControl: REVALIDATE });
  });

  app.get<{ Params: { '*': string } }>('/packages/*', async (req, reply) => {
    const path = req.params['*'];
    const filename = path.slice(path.lastIndexOf('/') + 1);
    const { reader, publisher } = app;

    if (filename.endsWith(METADATA_SUFFIX)) {
      const dist = await reader.file(filename.slice(0, -METADATA_SUFFIX.length));
      const bytes = dist?.metadataSha256 ? await reader.metadataBytes(dist.filename) : undefined;
      if (!dist || !bytes) {
        if (app.upstream && !dist) return sendUpstreamFile(app.upstream, req, reply, filename, `No file named '${filename}' on this index.`);
        throw new NotFound(`No file named '${filename}' on this index.`);
      }
      // The sha256 advertised in the index covers exactly these bytes, so it is a strong validator.
      const page = { body: bytes, etag: `"${dist.metadataSha256}"` };
      return sendPage(req, reply, page, 'text/plain; charset=utf-8', { cacheControl: IMMUTABLE });
    }

    const file = await reader.servedFile(filename);
    if (!file) {
      if (app.upstream) return sendUpstreamFile(app.upstream, req, reply, filename, `No file named '${filename}' on this index.`);
      throw new NotFound(`No file named '${filename}' on this index.`);
    }
    const etag = `"${file.sha256}"`;
    reply.header('etag', etag).header('cache-control', IMMUTABLE);

    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && ifMatch.trim() !== '*' && !ifMatch.split(',').some((t) => t.trim() === etag)) {
      return reply.code(412).type('text/plain; charset=utf-8').send(`${filename} is not the version If-Match names.\n`);
    }
    const ifNoneMatch = req.headers['if-none-match'];
    if (ifNoneMatch !== undefined && noneMatch(ifNoneMatch, etag)) return reply.code(304).send();

    const ifRange = req.headers['if-range'];
    const sent = sendFile(req, reply, file.relpath, {
      blobs: reader.blobs,
      sha256: file.sha256,
      id: file.id,
      contentType: fileContentType(filename),
      rangeOf: (size, lastModified) =>
        rangeStillValid(typeof ifRange === 'string' ? ifRange : undefined, etag, lastModified) ? decideRange(req.headers.range, size) : WHOLE,
    });
    if ('missing' in sent) {
      // The catalog still lists a file that left the folder: forget it now.
      await publisher.forgetFolderPath(file.relpath);
      reply.removeHeader('etag').removeHeader('cache-control');
      throw new NotFound(`No file named '${filename}' on this index.`);
    }
    if (isDownload(req.method, sent.status, sent.range)) reader.recordDownload(file, downloadClientOf(req.headers['user-agent']));
    return reply;
  });
}
