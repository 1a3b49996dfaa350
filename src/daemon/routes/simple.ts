/**
 * The Simple Repository API: `/simple/` and `/simple/<project>/`, HTML or JSON by
 * negotiation (PEP 503, 629, 691, 700), non-normalized names redirected (301).
 *
 * pypiserver's root URLs too: `/<project>/` and `/<project>` redirect to
 * `/simple/<project>/`, so that `pip install --index-url http://host:port/` keeps working
 * for those who pointed pip at a pypiserver's root. The first path segments the daemon
 * serves itself are never taken for project names.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isValidProjectName, normalizeName } from '../../shared/names.js';
import { NotAcceptable, NotFound } from '../errors.js';
import { contentTypeOf, negotiateSimple, type SimpleFormat } from '../services/negotiate.js';
import { sendPage } from './respond.js';
import { sendUpstreamProject } from './upstream.js';

type Query = { format?: string };

/**
 * First path segments with routes of their own (or reserved for them): a GET on
 * `/<one of these>/` is not a project. pypiserver answers `/favicon.ico` with 404 too.
 */
const RESERVED_SEGMENTS = new Set(['-', 'simple', 'packages', 'pypi', 'project', 'legacy', 'mip', 'upip', 'favicon.ico', 'robots.txt']);

function queryString(req: FastifyRequest): string {
  const at = req.url.indexOf('?');
  return at === -1 ? '' : req.url.slice(at);
}

function formatOf(req: FastifyRequest<{ Querystring: Query }>): SimpleFormat {
  const format = negotiateSimple(req.headers.accept, req.query.format);
  if (!format) {
    throw new NotAcceptable(
      'None of the requested formats is available. This index serves application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html and text/html.',
    );
  }
  return format;
}

export default async function simpleRoutes(app: FastifyInstance): Promise<void> {
  const redirect = (reply: FastifyReply, to: string) => reply.code(301).header('location', to).send();

  app.get('/simple', (req, reply) => redirect(reply, `/simple/${queryString(req)}`));

  app.get<{ Querystring: Query }>('/simple/', async (req, reply) => {
    const format = formatOf(req);
    return sendPage(req, reply, await app.reader.simpleRoot(format), contentTypeOf(format), { vary: true });
  });

  app.get<{ Params: { project: string } }>('/simple/:project', (req, reply) =>
    redirect(reply, `/simple/${encodeURIComponent(normalizeName(req.params.project))}/${queryString(req)}`),
  );

  const toProject = (req: FastifyRequest<{ Params: { project: string } }>, reply: FastifyReply) => {
    const { project } = req.params;
    if (RESERVED_SEGMENTS.has(project.toLowerCase()) || !isValidProjectName(project)) return reply.callNotFound();
    return redirect(reply, `/simple/${encodeURIComponent(normalizeName(project))}/${queryString(req)}`);
  };
  app.get<{ Params: { project: string } }>('/:project', toProject);
  app.get<{ Params: { project: string } }>('/:project/', toProject);

  app.get<{ Params: { project: string }; Querystring: Query }>('/simple/:project/', async (req, reply) => {
    const { project } = req.params;
    const normalized = normalizeName(project);
    if (normalized !== project) return redirect(reply, `/simple/${encodeURIComponent(normalized)}/${queryString(req)}`);
    const format = formatOf(req);
    // With an upstream, a name that is not local (by the catalog, as of its serial) goes there
    // without the catalog lookup a local miss costs; a local name never does.
    if (app.upstream && app.upstream.decide(normalized).kind !== 'local') {
      return sendUpstreamProject(app.upstream, req, reply, normalized, format, `No project named '${project}' on this index.`);
    }
    const page = await app.reader.simpleProject(normalized, format);
    if (!page) throw new NotFound(`No project named '${project}' on this index.`);
    return sendPage(req, reply, page, contentTypeOf(format), { vary: true });
  });
}
