/**
 * The requests installers make most, answered before fastify routes them: a file download
 * (`GET /packages/<file>`), a project page (`GET /simple/<project>/`) and the list of every
 * project (`GET /simple/`).
 *
 * Profiled under load, fastify's request and reply machinery (routing, the hook chain,
 * the reply object, a child logger per request) cost as much as the download itself; a
 * Node server answering the same bytes directly is four times faster. So the plain case of
 * these three requests is answered here, and everything else falls through to fastify's
 * routes (files.ts, simple.ts, upstream.ts), which stay the one definition of what the index answers:
 * - a method other than GET, a query string, a percent-encoded or non-normalized path;
 * - reads that need credentials (the auth plugin then decides);
 * - for files: Range, If-Range and the conditional headers, a `.metadata` file, a file the
 *   catalog does not list and the upstream cache does not hold (a fetch, or the 404) or one
 *   the catalog cannot name at once, one that left its folder, one too large for one read;
 * - for pages: no format the Accept header allows, a name an upstream serves whose page is
 *   not cached and current (a fetch, a refusal, a stale page and its warning), an unknown
 *   name, and a page not rendered yet when the reader cannot wait for it (node:http's
 *   handler: the route renders and keeps it; the front door waits for it);
 * - a daemon that is closing (fastify answers 503).
 *
 * What is answered here is answered byte for byte as the routes would (headers, bodies and
 * a 304 for a page's If-None-Match; test/daemon/hot-paths.test.ts compares both for every
 * case), every download is counted, and the access line is the one app.ts writes.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { AuthAction } from '../shared/settings.js';
import type { Logger } from 'pino';
import { isNormalizedValidName } from '../shared/names.js';
import { accessLineWriter } from './services/access-line.js';
import { contentTypeOf, negotiateSimple } from './services/negotiate.js';
import { READ_AT_ONCE_BYTES, type OpenFile } from './services/open-files.js';
import type { Page } from './services/page-cache.js';
import { downloadClientOf, type DownloadClient } from './services/installer.js';
import { fileContentType } from './routes/files.js';
import { upstreamFileContentType } from './routes/upstream.js';
import type { UpstreamProxy } from './services/upstream/proxy.js';
import type { LocalBlobs } from './stores/blob-store.js';
import { pageMatches, IMMUTABLE, REVALIDATE } from './routes/respond.js';
import { FileChangedError, readWhole } from './routes/send-file.js';

const MAX_INT = 2147483647;
let nextReqId = 0;

/** Request ids as fastify makes them (`req-1`, `req-2`, … in base 36), for both paths' log lines. */
export function genReqId(): string {
  nextReqId = (nextReqId + 1) & MAX_INT;
  return `req-${nextReqId.toString(36)}`;
}

export interface HotPathOptions {
  /** Which reads need credentials: those requests go through the auth plugin. */
  authenticate: readonly AuthAction[];
  /** Whether each request gets an access line (the `access-log` setting). */
  accessLog: boolean;
}

/** Headers that make a file request more than "the whole file": fastify's route answers those. */
const FILE_CONDITIONS = ['range', 'if-range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since'] as const;

/** A request as the hot paths read it: node:http's, or the front door's (front-door.ts). */
export interface HotRequest {
  method?: string | undefined;
  url?: string | undefined;
  headers: IncomingHttpHeaders;
}

/** An answer the hot paths give, to be written by whoever read the request. */
export interface HotAnswer {
  status: 200 | 304;
  /** The answer's own headers, in order (the connection's — date, keep-alive — are the writer's). */
  headers: Record<string, string>;
  body: Buffer | undefined;
  /** To be called once the answer is written: counts a download and writes the access line. */
  sent(): void;
}

export interface HotPaths {
  /**
   * The answer to a request in its plain form, or undefined when fastify's routes answer it.
   * With `wait`, a page not rendered yet is rendered and answered (a promise), where without
   * it the routes render it: a caller that can wait keeps the connection it reads.
   */
  answer(req: HotRequest, wait?: boolean): HotAnswer | Promise<HotAnswer | undefined> | undefined;
  /** Answers a request through node:http and returns true, or returns false without touching `res`. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** How many requests were answered here (tests check that the plain cases are). */
  readonly answered: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    hotPaths: HotPaths;
  }
}

/** Makes the hot paths serverFactory (and the front door) put in front of fastify, and decorates `app` with them. */
export function hotPaths(app: FastifyInstance, opts: HotPathOptions): HotPaths {
  const filesOpen = !opts.authenticate.includes('download');
  const pagesOpen = !opts.authenticate.includes('list');
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  let answered = 0;

  const writeAccessLine = accessLineWriter(app.log as unknown as Logger);
  const logLine = (req: HotRequest, status: number, type: string | undefined, started: number) => {
    if (!opts.accessLog) return;
    writeAccessLine({ reqId: genReqId(), method: req.method as string, url: req.url as string, status, type, ms: Math.round(performance.now() - started) });
  };

  /** The whole file `opened` (acquired with number `id`, if any), read at once; undefined (the route answers) when it is too large or changed while read. */
  const readAtOnce = (files: Pick<LocalBlobs, 'done' | 'forget'>, key: string, opened: OpenFile, id?: number): Buffer | undefined => {
    if (opened.size > READ_AT_ONCE_BYTES) {
      files.done(opened);
      return undefined;
    }
    try {
      return readWhole(files, key, opened, opened.size, 0, id);
    } catch (err) {
      if (err instanceof FileChangedError) return undefined;
      throw err;
    }
  };

  const download = (req: HotRequest, url: string, started: number): HotAnswer | undefined => {
    for (const h of FILE_CONDITIONS) if (req.headers[h] !== undefined) return undefined;
    const filename = url.slice(url.lastIndexOf('/') + 1);
    if (filename === '' || filename.endsWith('.metadata')) return undefined;
    const file = app.reader.servedFileNow(filename);
    if (!file) return app.upstream ? cachedUpstreamFile(req, app.upstream, filename, started) : undefined;
    const blobs = app.reader.blobs;
    const opened = blobs.acquire(file.relpath, file.sha256, file.id);
    if (!opened) return undefined;
    const body = readAtOnce(blobs, file.relpath, opened, file.id);
    if (!body) return undefined;
    const type = fileContentType(filename);
    const headers = {
      etag: `"${file.sha256}"`,
      'cache-control': IMMUTABLE,
      'last-modified': opened.lastModified,
      'accept-ranges': 'bytes',
      'content-type': type,
      'content-length': String(body.length),
    };
    return fileAnswer(req, headers, body, started, (client) => app.reader.recordDownload(file, client));
  };

  /** A file of the upstream cache, as its route (routes/upstream.ts) sends it: its headers in their order. */
  const cachedUpstreamFile = (req: HotRequest, upstream: UpstreamProxy, filename: string, started: number): HotAnswer | undefined => {
    const cached = upstream.cachedFileNow(filename);
    if (!cached) return undefined;
    const opened = upstream.openFiles.acquire(filename, cached.sha256);
    if (!opened) return undefined;
    const body = readAtOnce(upstream.openFiles, filename, opened);
    if (!body) return undefined;
    const type = upstreamFileContentType(filename);
    const headers = {
      'accept-ranges': 'bytes',
      'last-modified': opened.lastModified,
      'content-length': String(body.length),
      etag: `"${cached.sha256}"`,
      'cache-control': IMMUTABLE,
      'content-type': type,
    };
    return fileAnswer(req, headers, body, started, (client) => upstream.sentFromCache(cached, client));
  };

  /** A file's 200: once sent, its download is counted (by the installer the User-Agent names) and its access line written. */
  const fileAnswer = (req: HotRequest, headers: Record<string, string>, body: Buffer, started: number, count: (client: DownloadClient) => void): HotAnswer => {
    const client = downloadClientOf(req.headers['user-agent']);
    return {
      status: 200,
      headers,
      body,
      sent: () => {
        count(client);
        logLine(req, 200, headers['content-type'], started);
      },
    };
  };

  /** A negotiated page, or 304 for its ETag, as sendPage (respond.ts) answers. */
  const pageAnswer = (req: HotRequest, found: Page, type: string, started: number): HotAnswer => {
    if (pageMatches(req.headers['if-none-match'], found.etag)) {
      return { status: 304, headers: { etag: found.etag, 'cache-control': REVALIDATE, vary: 'Accept' }, body: undefined, sent: () => logLine(req, 304, undefined, started) };
    }
    return {
      status: 200,
      headers: { etag: found.etag, 'cache-control': REVALIDATE, vary: 'Accept', 'content-type': type, 'content-length': String(found.body.length) },
      body: found.body,
      sent: () => logLine(req, 200, type, started),
    };
  };

  /** A page rendered now, and answered unless the daemon began closing meanwhile (fastify then answers 503). */
  const rendered = (req: HotRequest, rendering: Promise<Page | undefined>, type: string, started: number): Promise<HotAnswer | undefined> =>
    rendering.then((found) => (found && !closing ? pageAnswer(req, found, type, started) : undefined));

  const page = (req: HotRequest, url: string, started: number, wait: boolean): HotAnswer | Promise<HotAnswer | undefined> | undefined => {
    const format = negotiateSimple(req.headers.accept, undefined);
    if (!format) return undefined;
    const type = contentTypeOf(format);
    if (url === '/simple/') {
      const root = app.reader.simplePageNow(undefined, format);
      if (root) return pageAnswer(req, root, type, started);
      return wait ? rendered(req, app.reader.simpleRoot(format), type, started) : undefined;
    }
    const project = url.slice('/simple/'.length, -1);
    // Only a valid name in its normalized form is answered here; simple.ts redirects the
    // others, and answers 404 for a name that cannot be a project's.
    if (!isNormalizedValidName(project)) return undefined;
    // A name that is not local is the upstream's: its page when cached and current, else
    // simple.ts sends it there (a fetch, a refusal, a stale page with its warning).
    if (app.upstream && app.upstream.decide(project).kind !== 'local') {
      const cached = app.upstream.cachedPageNow(project, format);
      return cached ? pageAnswer(req, cached, type, started) : undefined;
    }
    const found = app.reader.simplePageNow(project, format);
    if (found) return pageAnswer(req, found, type, started);
    // An unknown name renders nothing: the routes then answer 404.
    return wait ? rendered(req, app.reader.simpleProject(project, format), type, started) : undefined;
  };

  const counted = (found: HotAnswer | undefined): HotAnswer | undefined => {
    if (found) answered++;
    return found;
  };

  const hot: HotPaths = {
    answer(req, wait = false) {
      const url = req.url;
      if (closing || req.method !== 'GET' || url === undefined || url.includes('?') || url.includes('%')) return undefined;
      const started = performance.now();
      if (filesOpen && url.startsWith('/packages/')) return counted(download(req, url, started));
      if (pagesOpen && url.startsWith('/simple/') && url.endsWith('/')) {
        const found = page(req, url, started, wait);
        return found instanceof Promise ? found.then(counted) : counted(found);
      }
      return undefined;
    },
    handle(req, res) {
      const found = hot.answer(req) as HotAnswer | undefined;
      if (!found) return false;
      res.writeHead(found.status, found.headers);
      res.end(found.body);
      found.sent();
      return true;
    },
    get answered() {
      return answered;
    },
  };
  app.decorate('hotPaths', hot);
  return hot;
}
