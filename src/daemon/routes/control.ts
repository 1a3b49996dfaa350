/** The control API under `/-/` used by the CLI and the dashboard; schemas from src/shared/api.ts. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { openSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import {
  ActivityListSchema,
  ActivityQuerySchema,
  ControlRoutes,
  DeleteResultSchema,
  FileParamsSchema,
  HealthSchema,
  INSTANCE_HEADER,
  OwnerListSchema,
  OwnerParamsSchema,
  OwnerRequestSchema,
  OwnershipRemovalSchema,
  OwnershipsSchema,
  ProjectDetailSchema,
  ProjectListSchema,
  ProjectParamsSchema,
  PublicHealthSchema,
  ReleaseParamsSchema,
  SNAPSHOT_SHA256_HEADER,
  UserParamsSchema,
  YankRequestSchema,
  YankResultSchema,
  type Health,
  type OwnerList,
  type PublicHealth,
  type YankResult,
} from '../../shared/api.js';
import { describeAccess } from '../../shared/access-policy.js';
import { isValidProjectName, normalizeName } from '../../shared/names.js';
import type { AuthAction } from '../../shared/settings.js';
import { PYREPO_VERSION } from '../../shared/version.js';
import { BadRequest, NotFound } from '../errors.js';
import { NotOnIndexError } from '../services/publisher.js';
import { eachPart } from '../services/file-parts.js';
import { FilePartStream } from './file-part-stream.js';

export interface ControlRouteOptions {
  /** What needs credentials (the settings' `authenticate`). */
  authenticate: AuthAction[];
  dataDir: string;
  packagesDir: string;
  startedAt: Date;
  /** This run's random id, also in the state file. */
  instance: string;
}

/**
 * Whether a health request may see everything (paths, pid, counts, version): when reads
 * are open anyway, when the admin asks, or when the caller shows this run's instance id.
 *
 * The CLI recognises its own daemon by the pid in /-/health, and runs `pyrepo status`
 * without touching the keychain (a D-Bus round trip, maybe an unlock prompt) or the
 * daemon's bcrypt check. So it sends the random id the daemon wrote into its state file,
 * which only the account that runs pyrepo (and root) can read (mode 0600): whoever can
 * read that file can read the catalog and the paths anyway, so the answer tells them
 * nothing new. Anyone else learns only that the daemon is up, and nothing about the id:
 * it is compared in constant time and never sent back.
 */
function seesEverything(req: FastifyRequest, opts: ControlRouteOptions): boolean {
  if (!opts.authenticate.includes('list')) return true;
  if (req.identity?.role === 'admin') return true;
  const shown = req.headers[INSTANCE_HEADER];
  if (typeof shown !== 'string') return false;
  const a = Buffer.from(shown);
  const b = Buffer.from(opts.instance);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Catalog snapshots being sent are hidden files in the data folder with this prefix. */
const SNAPSHOT_PREFIX = '.catalog-snapshot-';

function notFound(err: unknown): never {
  if (err instanceof NotOnIndexError) throw new NotFound(err.message);
  throw err;
}

export default async function controlRoutes(app: FastifyInstance, opts: ControlRouteOptions): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const { reader, publisher } = app;

  api.get(ControlRoutes.health, { schema: { response: { 200: Type.Union([HealthSchema, PublicHealthSchema]) } } }, async (req): Promise<Health | PublicHealth> => {
    if (!seesEverything(req, opts)) return { status: 'ok' };
    const counts = await reader.counts();
    return {
      status: 'ok',
      version: PYREPO_VERSION,
      pid: process.pid,
      startedAt: opts.startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - opts.startedAt.getTime()) / 1000),
      projects: counts.projects,
      files: counts.files,
      dataDir: opts.dataDir,
      packagesDir: opts.packagesDir,
      indexing: reader.indexing,
      problems: [...(await app.folderProblems()), ...(app.shared?.problems() ?? [])],
      access: describeAccess({ authenticate: opts.authenticate }),
      authenticate: opts.authenticate,
      watchedFolders: app.watches.folders(),
      ...(app.upstream ? { upstream: app.upstream.status() } : {}),
      ...(app.shared ? { shared: await app.shared.status(app.instance) } : {}),
    };
  });

  // In the shared mode, downloads are every daemon's (PostgreSQL's counts), the rest this daemon's copy.
  api.get(ControlRoutes.projects, { schema: { response: { 200: ProjectListSchema } } }, async (_req, reply) => {
    const list = await reader.projectList();
    // JSON.stringify, not the serializer compiled from the schema: at 10,000 projects (2.6 MB)
    // that one held the event loop for 110 ms a call, every download waiting, and its output
    // took another 16 ms to measure; JSON.stringify writes the same document in a tenth of it.
    // The list is built field by field from the schema's types (the client checks it too).
    // (A serializer of its own leaves the Content-Type to the route.)
    reply.type('application/json; charset=utf-8').serializer(JSON.stringify);
    return app.shared ? app.shared.withSharedDownloads(list) : list;
  });

  api.get(ControlRoutes.project, { schema: { params: ProjectParamsSchema, response: { 200: ProjectDetailSchema } } }, async (req) => {
    const detail = await reader.projectDetail(normalizeName(req.params.project));
    if (!detail) throw new NotFound(`No project named '${req.params.project}' on this index.`);
    return app.shared ? app.shared.detailWithSharedDownloads(detail) : detail;
  });

  api.delete(ControlRoutes.release, { schema: { params: ReleaseParamsSchema, response: { 200: DeleteResultSchema } } }, async (req) => {
    const project = normalizeName(req.params.project);
    req.change = { action: 'delete', project, version: req.params.version };
    const deleted = await publisher.removeRelease(project, req.params.version, app.actorOf(req)).catch(notFound);
    req.change.files = deleted;
    return { project, deleted };
  });

  api.delete(ControlRoutes.file, { schema: { params: FileParamsSchema, response: { 200: DeleteResultSchema } } }, async (req) => {
    const project = normalizeName(req.params.project);
    req.change = { action: 'delete', project, files: [req.params.filename] };
    const deleted = await publisher.removeFile(project, req.params.filename, app.actorOf(req)).catch(notFound);
    return { project, deleted };
  });

  const yankRoute = async (req: FastifyRequest, params: Static<typeof ReleaseParamsSchema>, yanked: boolean, reason: string | null): Promise<YankResult> => {
    req.change = { action: yanked ? 'yank' : 'unyank', project: normalizeName(params.project), version: params.version };
    const r = await publisher.setYanked(params.project, params.version, yanked, reason, app.actorOf(req)).catch(notFound);
    return { ...r, yanked, yankedReason: reason };
  };

  api.post(ControlRoutes.yank, { schema: { params: ReleaseParamsSchema, body: YankRequestSchema, response: { 200: YankResultSchema } } }, (req) =>
    yankRoute(req, req.params, true, req.body.reason?.trim() || null),
  );

  api.post(ControlRoutes.unyank, { schema: { params: ReleaseParamsSchema, response: { 200: YankResultSchema } } }, (req) => yankRoute(req, req.params, false, null));

  // A consistent copy of the catalog for `pyrepo backup`, made in the data folder (the
  // daemon writes nowhere else), streamed, and removed once sent or abandoned.
  api.get(ControlRoutes.catalogSnapshot, async (req, reply) => {
    const path = join(opts.dataDir, `${SNAPSHOT_PREFIX}${randomBytes(6).toString('hex')}.sqlite`);
    try {
      await reader.snapshot(path);
      // Read through one buffer, hashed then sent (the snapshot is tens of MB at 60,000 files;
      // a stream's buffer per part would wait for a collection: file-parts.ts).
      const sha256 = createHash('sha256');
      const size = await eachPart(path, (part) => void sha256.update(part));
      const stream = new FilePartStream(openSync(path, 'r'), 0, size - 1);
      const cleanUp = () => void rm(path, { force: true });
      reply.raw.once('close', cleanUp);
      return reply
        .type('application/vnd.sqlite3')
        .header('content-length', String(size))
        .header(SNAPSHOT_SHA256_HEADER, sha256.digest('hex'))
        .header('cache-control', 'no-store')
        .send(stream);
    } catch (err) {
      await rm(path, { force: true });
      req.log.error({ err }, 'Could not take a snapshot of the catalog');
      throw err;
    }
  });

  // Snapshots left by a daemon that stopped while sending one.
  app.addHook('onReady', async () => {
    const names = await readdir(opts.dataDir).catch(() => [] as string[]);
    await Promise.all(names.filter((n) => n.startsWith(SNAPSHOT_PREFIX)).map((n) => rm(join(opts.dataDir, n), { force: true })));
  });

  api.get(ControlRoutes.activity, { schema: { querystring: ActivityQuerySchema, response: { 200: ActivityListSchema } } }, async (req) => {
    const project = req.query.project === undefined ? undefined : normalizeName(req.query.project);
    return { entries: await reader.activity({ ...(project ? { project } : {}), limit: req.query.limit ?? 100 }) };
  });

  // Owners: a project need not have files yet, so that a name can be given to a team
  // before its first upload; the user must exist, so that a typo does not go unnoticed.
  const ownersOf = async (project: string): Promise<OwnerList> => ({ project, owners: await reader.owners(project) });
  const projectName = (name: string): string => {
    if (!isValidProjectName(name)) throw new BadRequest(`'${name}' is not a valid project name.`);
    return normalizeName(name);
  };

  api.get(ControlRoutes.owners, { schema: { params: ProjectParamsSchema, response: { 200: OwnerListSchema } } }, (req) => ownersOf(projectName(req.params.project)));

  api.put(ControlRoutes.owner, { schema: { params: OwnerParamsSchema, body: OwnerRequestSchema, response: { 200: OwnerListSchema } } }, async (req) => {
    const project = projectName(req.params.project);
    if (!app.identities.has(req.params.user)) throw new NotFound(`There is no user '${req.params.user}'; add them first (pyrepo user add).`);
    await publisher.addOwner(project, req.params.user, req.body.role);
    return ownersOf(project);
  });

  // A user's projects, for `pyrepo user remove`: see OwnershipRemovalSchema for what goes and what stays.
  api.get(ControlRoutes.userOwnerships, { schema: { params: UserParamsSchema, response: { 200: OwnershipsSchema } } }, async (req) => ({
    user: req.params.user,
    projects: await reader.ownershipsOf(req.params.user),
  }));

  api.delete(ControlRoutes.userOwnerships, { schema: { params: UserParamsSchema, response: { 200: OwnershipRemovalSchema } } }, async (req) => {
    const { user } = req.params;
    const removed = [];
    const kept = [];
    // One ownership at a time, each decided on what the owners are when it is removed.
    for (const p of await reader.ownershipsOf(user)) {
      const others = (await reader.owners(p.project)).filter((o) => o.user !== user);
      // Without them the project would have no owner (or nobody at all, open to be claimed).
      if (others.length === 0 || (p.role === 'owner' && !others.some((o) => o.role === 'owner'))) {
        kept.push(p);
      } else {
        await publisher.removeOwner(p.project, user);
        removed.push(p);
      }
    }
    return { user, removed, kept };
  });

  api.delete(ControlRoutes.owner, { schema: { params: OwnerParamsSchema, response: { 200: OwnerListSchema } } }, async (req) => {
    const project = projectName(req.params.project);
    if (!(await publisher.removeOwner(project, req.params.user))) throw new NotFound(`'${req.params.user}' is not an owner or maintainer of ${project}.`);
    return ownersOf(project);
  });
}
