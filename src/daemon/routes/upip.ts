/**
 * upip, the installer of MicroPython 1.19 and older: `GET <index>/<name>/json` and the
 * tarball its JSON points at (`/upip/<project>/<version>.tar.gz`).
 *
 * `upip.index_urls = ["http://host:port"]` asks at the root (`/<name>/json`, or
 * `//<name>/json` with a trailing slash on the URL); `["http://host:port/pypi"]` asks
 * `/pypi/<name>/json`, which is also the PyPI JSON API that tools of the pip world read
 * (routes/pypi-json.ts). The two are told apart by what upip sends: exactly
 * `GET /pypi/<name>/json HTTP/1.0`, `Host: host:port` and nothing else. Every HTTP
 * library of the pip world (requests, urllib, httpx, curl, wget, browsers, fetch) sends a
 * User-Agent or an Accept header, so a request with neither gets upip's JSON, through a
 * route constraint on the same path. The HTTP version is not looked at, so that a reverse
 * proxy speaking HTTP/1.1 to the daemon does not hide upip.
 *
 * Names are taken as typed (upip sends them verbatim) and looked up normalized; there are
 * no redirects, since upip follows none.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { normalizeName } from '../../shared/names.js';
import { boardBaseUrl, JSON_TYPE, notFoundForBoard, sendToBoard } from './board-http.js';

/** The constraint that routes upip's requests on `/pypi/<name>/json` here. */
export const UPIP_CONSTRAINT = { pyrepoClient: 'upip' };

const TARBALL_SUFFIX = '.tar.gz';

export default async function upipRoutes(app: FastifyInstance, opts: { publicUrl?: string }): Promise<void> {
  app.addConstraintStrategy({
    name: 'pyrepoClient',
    storage() {
      // Holds the router's handlers, whose type fastify does not export.
      const handlers = new Map();
      return { get: (k: unknown) => handlers.get(k) ?? null, set: (k: unknown, v: unknown) => void handlers.set(k, v) };
    },
    deriveConstraint: (req: { headers: Record<string, string | string[] | undefined> }) =>
      req.headers['user-agent'] === undefined && req.headers.accept === undefined ? 'upip' : undefined,
    mustMatchWhenDerived: false,
  });

  const json = async (req: FastifyRequest<{ Params: { project: string } }>, reply: FastifyReply) => {
    const project = normalizeName(req.params.project);
    const answer = await app.boards.upipJson(project, boardBaseUrl(req, opts.publicUrl));
    if (!answer.ok) return notFoundForBoard(reply, answer.message);
    return sendToBoard(reply, 200, JSON_TYPE, answer.value, [['Cache-Control', 'no-cache']]);
  };
  app.get('/:project/json', json);
  app.get('//:project/json', json);
  app.get('/pypi//:project/json', json);
  app.get('/pypi/:project/json', { constraints: UPIP_CONSTRAINT }, json);

  app.get<{ Params: { project: string; file: string } }>('/upip/:project/:file', async (req, reply) => {
    const { project, file } = req.params;
    if (!file.endsWith(TARBALL_SUFFIX)) return notFoundForBoard(reply, `No file named '${file}' for upip on this index.`);
    const answer = await app.boards.upipTarball(normalizeName(project), file.slice(0, -TARBALL_SUFFIX.length));
    if (!answer.ok) return notFoundForBoard(reply, answer.message);
    // A tarball is a repacked release: it counts as a download of the file it was made from.
    if (req.method === 'GET') app.reader.recordDownload(answer.value.file, { installer: 'upip', ci: false });
    return sendToBoard(reply, 200, 'application/gzip', answer.value.bytes);
  });
}
