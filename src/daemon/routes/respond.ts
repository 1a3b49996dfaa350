/** Sending pre-rendered pages with validators: ETag, 304 on If-None-Match, revalidating cache headers. */
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Page } from '../services/page-cache.js';
import type { SpooledPage } from '../services/spooled-pages.js';

/** Index pages change with every upload: clients must revalidate (a 304 is cheap). */
export const REVALIDATE = 'max-age=0, must-revalidate';
/** A file's bytes never change under its name. */
export const IMMUTABLE = 'public, max-age=365000000, immutable';

/** Whether an If-None-Match header names the page's ETag (weak or strong), or is `*`. */
export function pageMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/** Sends `page` (or 304) with the given type, from memory or from its file; `vary` adds `Vary: Accept` for negotiated pages. */
export function sendPage(
  req: FastifyRequest,
  reply: FastifyReply,
  page: Page | SpooledPage,
  contentType: string,
  opts: { vary?: boolean; cacheControl?: string } = {},
): FastifyReply {
  reply.header('etag', page.etag).header('cache-control', opts.cacheControl ?? REVALIDATE);
  if (opts.vary) reply.header('vary', 'Accept');
  if (pageMatches(req.headers['if-none-match'], page.etag)) return reply.code(304).send();
  reply.header('content-type', contentType);
  if ('body' in page) return reply.send(page.body);
  // fastify answers HEAD through the GET route and drops the body; an empty stream (not an
  // empty buffer, which it would measure) keeps the Content-Length set here.
  return reply.header('content-length', String(page.length)).send(req.method === 'HEAD' ? Readable.from([]) : page.stream());
}
