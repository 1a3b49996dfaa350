/**
 * The upstream proxy's answers over HTTP: project pages and files for names that are not on
 * this index (called where the simple and file routes find nothing local), and the cache's
 * control API (`/-/api/upstream`, for `pyrepo cache`).
 *
 * Refusals say why: a name the allow or deny list refuses is a 403 with the reason; an
 * upstream that cannot be used and no cached copy is a 502 with what went wrong; a file whose
 * bytes do not match upstream's hash is a 502 too, and is not kept. A name that is private
 * answers exactly as it did without an upstream.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { CacheRemovalSchema, ControlRoutes, ProjectParamsSchema, UpstreamStatusSchema } from '../../shared/api.js';
import { isValidProjectName, normalizeName } from '../../shared/names.js';
import { BadRequest, NotFound, UpstreamRefused } from '../errors.js';
import { downloadClientOf } from '../services/installer.js';
import { contentTypeOf, type SimpleFormat } from '../services/negotiate.js';
import type { NotServed, PageAnswer, UpstreamProxy } from '../services/upstream/proxy.js';
import { decideRange, noneMatch, rangeStillValid } from './byte-range.js';
import { IMMUTABLE, sendPage } from './respond.js';

const METADATA_SUFFIX = '.metadata';

/** Header text: printable ASCII on one line. */
function headerText(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').replace(/"/g, "'").slice(0, 300);
}

/** Answers a name or file upstream does not serve: as before for local names, else with the reason. */
function notServed(reply: FastifyReply, answer: NotServed, localMessage: string): FastifyReply {
  switch (answer.kind) {
    case 'local':
      throw new NotFound(localMessage);
    case 'missing':
      throw new NotFound(answer.reason);
    case 'refused':
      throw new UpstreamRefused(answer.reason);
    default:
      // Sent here rather than thrown: the root handler masks 5xx messages, and this one is for the user.
      reply.code(502).type('text/plain; charset=utf-8');
      reply.raw.statusMessage = headerText(answer.reason.split('. ')[0] ?? 'Bad gateway');
      return reply.send(`${answer.reason}\n`);
  }
}

/** `/simple/<project>/` for a project that is not on this index. */
export function sendUpstreamProject(
  upstream: UpstreamProxy,
  req: FastifyRequest,
  reply: FastifyReply,
  project: string,
  format: SimpleFormat,
  localMessage: string,
): FastifyReply | Promise<FastifyReply> {
  const answer = upstream.projectPage(project, format);
  // A cached page is sent at once, as a local one is; only a fetch is waited for.
  if ('then' in answer) return answer.then((a) => sendAnswer(req, reply, a, format, localMessage));
  return sendAnswer(req, reply, answer, format, localMessage);
}

function sendAnswer(req: FastifyRequest, reply: FastifyReply, answer: PageAnswer, format: SimpleFormat, localMessage: string): FastifyReply {
  if (answer.kind !== 'page') return notServed(reply, answer, localMessage);
  // RFC 7234's "revalidation failed", which pip and curl -v show as they are.
  if (answer.warning) reply.header('warning', `111 pyrepo "${headerText(answer.warning)}"`);
  return sendPage(req, reply, answer.page, contentTypeOf(format), { vary: true });
}

/** The Content-Type of a cached upstream file (as its route has always sent it). */
export function upstreamFileContentType(filename: string): string {
  if (filename.endsWith('.whl') || filename.endsWith('.zip')) return 'application/zip';
  if (filename.endsWith('.tar.gz')) return 'application/gzip';
  return 'application/octet-stream';
}

/** Conditional and range headers answered here; send sees none of them but a plain range. */
const DECIDED_HEADERS = new Set(['range', 'if-range', 'if-match', 'if-none-match']);

/**
 * `/packages/<filename>` (and its `.metadata`) for a file that is not on this index: from the
 * upstream cache, fetched first when needed. Served as files.ts serves local ones (strong
 * ETag from the sha256, ranges, HEAD), downloads counted by installer the same way.
 */
export async function sendUpstreamFile(upstream: UpstreamProxy, req: FastifyRequest, reply: FastifyReply, filename: string, localMessage: string): Promise<FastifyReply> {
  if (filename.endsWith(METADATA_SUFFIX)) {
    const answer = await upstream.metadata(filename.slice(0, -METADATA_SUFFIX.length));
    if (answer.kind !== 'metadata') return notServed(reply, answer, localMessage);
    return sendPage(req, reply, { body: answer.bytes, etag: `"${answer.sha256}"` }, 'text/plain; charset=utf-8', { cacheControl: IMMUTABLE });
  }
  for (let attempt = 0; ; attempt++) {
    const answer = await upstream.file(filename);
    if (answer.kind !== 'file') return notServed(reply, answer, localMessage);
    const { file } = answer;
    const etag = `"${file.sha256}"`;
    const lastModified = new Date(file.storedAt).toUTCString();
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
    if (ifNoneMatch !== undefined) delete headers['if-modified-since'];
    if (range.kind === 'part') headers.range = `bytes=${range.first}-${range.last}`;
    const decided = { method: req.raw.method, headers } as unknown as IncomingMessage;
    // Loaded with the first cached upstream file: a daemon without an upstream never sends one.
    const { default: send } = await import('@fastify/send');
    const result = await send(decided, `/${encodeURIComponent(filename)}`, {
      root: upstream.filesDir,
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
      if (result.type === 'error' && result.statusCode === 404 && attempt === 0) {
        // Its bytes left the cache folder (deleted by hand): forget it and fetch it again.
        await upstream.forgetFile(filename);
        continue;
      }
      throw result.type === 'error' ? result.metadata.error : new NotFound(localMessage);
    }
    validators(reply.code(result.statusCode).headers(result.headers));
    reply.header('content-type', upstreamFileContentType(filename));
    if (req.method === 'GET' && (result.statusCode === 200 || (result.statusCode === 206 && range.kind === 'part' && range.first === 0))) {
      upstream.recordDownload(file, downloadClientOf(req.headers['user-agent']));
    }
    return reply.send(result.stream);
  }
}

/** `/-/api/upstream…`: the cache's state, prune and purge (`pyrepo cache`). */
export default async function upstreamControlRoutes(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const proxy = (): UpstreamProxy => {
    if (!app.upstream) throw new NotFound('This index has no upstream, so it caches nothing. Set one with `pyrepo config set upstream on` (PyPI) or a URL, then `pyrepo restart`.');
    return app.upstream;
  };
  api.get(ControlRoutes.upstream, { schema: { response: { 200: UpstreamStatusSchema } } }, () => proxy().status());
  api.post(ControlRoutes.upstreamPrune, { schema: { response: { 200: CacheRemovalSchema } } }, () => proxy().prune());
  api.delete(ControlRoutes.upstreamCache, { schema: { response: { 200: CacheRemovalSchema } } }, () => proxy().purge());
  api.delete(ControlRoutes.upstreamProjectCache, { schema: { params: ProjectParamsSchema, response: { 200: CacheRemovalSchema } } }, (req) => {
    if (!isValidProjectName(req.params.project)) throw new BadRequest(`'${req.params.project}' is not a valid project name.`);
    return proxy().purge(normalizeName(req.params.project));
  });
}
