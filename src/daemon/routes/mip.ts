/**
 * mip, the installer of MicroPython 1.20 and later (and `mpremote mip`), with the index
 * URL `http://host:port/mip`:
 *
 * - `GET /mip/package/{mpy}/{name}/{version|latest}.json`: the files by short sha256,
 *   the dependencies and the version;
 * - `GET /mip/file/{hh}/{hash}`: a file by its hash prefix;
 * - `GET /mip/{name}[@{version}]/package.json`, for `mip.install("http://host:port/mip/name")`.
 *
 * `{mpy}` is the bytecode version of the board's firmware (6 on every release so far) or
 * `py` (`mpy=False`, or firmware that cannot load .mpy). pyrepo has no mpy-cross, and
 * .mpy files must match the firmware's bytecode version exactly, so every `{mpy}` gets
 * the .py sources: mip names files by the target path in `hashes`, not by what it asked
 * for, and MicroPython imports .py as readily as .mpy (the reference verified this with
 * the real clients). Any version number is accepted, so a future bytecode version keeps
 * working.
 */
import type { FastifyInstance } from 'fastify';
import { normalizeName } from '../../shared/names.js';
import { boardBaseUrl, JSON_TYPE, notFoundForBoard, sendToBoard } from './board-http.js';

const MPY = /^(py|[0-9]{1,3})$/;
const PREFIX = /^[0-9a-f]{8,64}$/;
const NO_CACHE: [string, string][] = [['Cache-Control', 'no-cache']];
/** Downloads through these routes are mip's (or `mpremote mip`'s, which sends urllib's User-Agent). */
const MIP = { installer: 'mip', ci: false } as const;

export default async function mipRoutes(app: FastifyInstance, opts: { publicUrl?: string }): Promise<void> {
  app.get<{ Params: { mpy: string; project: string; file: string } }>('/mip/package/:mpy/:project/:file', async (req, reply) => {
    const { mpy, project, file } = req.params;
    if (!MPY.test(mpy)) return notFoundForBoard(reply, `'${mpy}' is not a bytecode version: mip asks for a number such as 6, or py.`);
    if (!file.endsWith('.json')) return notFoundForBoard(reply, `Package files end in .json, not '${file}'.`);
    const answer = await app.boards.mipPackage(normalizeName(project), file.slice(0, -'.json'.length));
    if (!answer.ok) return notFoundForBoard(reply, answer.message);
    // mip fetches this once per install of the package (then only its files): count it as a download.
    if (req.method === 'GET') app.reader.recordDownload(answer.value.file, MIP);
    return sendToBoard(reply, 200, JSON_TYPE, answer.value.body, NO_CACHE);
  });

  app.get<{ Params: { hh: string; hash: string } }>('/mip/file/:hh/:hash', async (req, reply) => {
    const { hh, hash } = req.params;
    const bytes = PREFIX.test(hash) && hash.slice(0, 2) === hh ? await app.boards.mipFile(hash) : undefined;
    if (!bytes) return notFoundForBoard(reply, `No file with the hash '${hash}' on this index.`);
    return sendToBoard(reply, 200, 'application/octet-stream', bytes);
  });

  app.get<{ Params: { spec: string } }>('/mip/:spec/package.json', async (req, reply) => {
    const at = req.params.spec.indexOf('@');
    const [name, version] = at === -1 ? [req.params.spec, 'latest'] : [req.params.spec.slice(0, at), req.params.spec.slice(at + 1)];
    const answer = await app.boards.mipUrlPackage(normalizeName(name), version, boardBaseUrl(req, opts.publicUrl));
    if (!answer.ok) return notFoundForBoard(reply, answer.message);
    if (req.method === 'GET') app.reader.recordDownload(answer.value.file, MIP);
    return sendToBoard(reply, 200, JSON_TYPE, answer.value.body, NO_CACHE);
  });
}
