/** Sending pre-rendered pages with validators: ETag, 304 on If-None-Match, revalidating cache headers. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Page } from '../services/page-cache.js';

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

/** Sends `page` (or 304) with the given type; `vary` adds `Vary: Accept` for negotiated pages. */
export function sendPage(
  req: FastifyRequest,
  reply: FastifyReply,
  page: Page,
  contentType: string,
  opts: { vary?: boolean; cacheControl?: string } = {},
): FastifyReply {
  reply.header('etag', page.etag).header('cache-control', opts.cacheControl ?? REVALIDATE);
  if (opts.vary) reply.header('vary', 'Accept');
  if (pageMatches(req.headers['if-none-match'], page.etag)) return reply.code(304).send();
  return reply.header('content-type', contentType).send(page.body);
}
