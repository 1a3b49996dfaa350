/** The control API under `/-/` used by the CLI and the dashboard; schemas from src/shared/api.ts. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Static } from '@sinclair/typebox';
import {
  ActivityListSchema,
  ActivityQuerySchema,
  ControlRoutes,
  DeleteResultSchema,
  FileParamsSchema,
  HealthSchema,
  OwnerListSchema,
  OwnerParamsSchema,
  OwnerRequestSchema,
  ProjectDetailSchema,
  ProjectListSchema,
  ProjectParamsSchema,
  ReleaseParamsSchema,
  YankRequestSchema,
  YankResultSchema,
  type Health,
  type OwnerList,
  type YankResult,
} from '../../shared/api.js';
import { describeAccess } from '../../shared/access-policy.js';
import { isValidProjectName, normalizeName } from '../../shared/names.js';
import type { AuthAction } from '../../shared/settings.js';
import { PYREPO_VERSION } from '../../shared/version.js';
import { BadRequest, NotFound } from '../errors.js';
import { NotOnIndexError } from '../services/index-service.js';

export interface ControlRouteOptions {
  /** What needs credentials (the settings' `authenticate`). */
  authenticate: AuthAction[];
  dataDir: string;
  packagesDir: string;
  startedAt: Date;
}

function notFound(err: unknown): never {
  if (err instanceof NotOnIndexError) throw new NotFound(err.message);
  throw err;
}

export default async function controlRoutes(app: FastifyInstance, opts: ControlRouteOptions): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const index = app.index;

  api.get(ControlRoutes.health, { schema: { response: { 200: HealthSchema } } }, async (): Promise<Health> => {
    const counts = index.catalog.counts();
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
      indexing: index.indexing,
      problems: await app.folderProblems(),
      access: describeAccess({ authenticate: opts.authenticate }),
      authenticate: opts.authenticate,
    };
  });

  api.get(ControlRoutes.projects, { schema: { response: { 200: ProjectListSchema } } }, () => ({
    projects: index.projectSummaries(),
  }));

  api.get(ControlRoutes.project, { schema: { params: ProjectParamsSchema, response: { 200: ProjectDetailSchema } } }, (req) => {
    const detail = index.projectDetail(normalizeName(req.params.project));
    if (!detail) throw new NotFound(`No project named '${req.params.project}' on this index.`);
    return detail;
  });

  api.delete(ControlRoutes.release, { schema: { params: ReleaseParamsSchema, response: { 200: DeleteResultSchema } } }, async (req) => {
    const project = normalizeName(req.params.project);
    req.change = { action: 'delete', project, version: req.params.version };
    const deleted = await index.removeRelease(project, req.params.version, app.actorOf(req)).catch(notFound);
    req.change.files = deleted;
    return { project, deleted };
  });

  api.delete(ControlRoutes.file, { schema: { params: FileParamsSchema, response: { 200: DeleteResultSchema } } }, async (req) => {
    const project = normalizeName(req.params.project);
    req.change = { action: 'delete', project, files: [req.params.filename] };
    const deleted = await index.removeFile(project, req.params.filename, app.actorOf(req)).catch(notFound);
    return { project, deleted };
  });

  const yankRoute = (req: FastifyRequest, params: Static<typeof ReleaseParamsSchema>, yanked: boolean, reason: string | null): YankResult => {
    req.change = { action: yanked ? 'yank' : 'unyank', project: normalizeName(params.project), version: params.version };
    try {
      const r = index.setYanked(params.project, params.version, yanked, reason, app.actorOf(req));
      return { ...r, yanked, yankedReason: reason };
    } catch (err) {
      return notFound(err);
    }
  };

  api.post(ControlRoutes.yank, { schema: { params: ReleaseParamsSchema, body: YankRequestSchema, response: { 200: YankResultSchema } } }, (req) =>
    yankRoute(req, req.params, true, req.body.reason?.trim() || null),
  );

  api.post(ControlRoutes.unyank, { schema: { params: ReleaseParamsSchema, response: { 200: YankResultSchema } } }, (req) => yankRoute(req, req.params, false, null));

  api.get(ControlRoutes.activity, { schema: { querystring: ActivityQuerySchema, response: { 200: ActivityListSchema } } }, (req) => {
    const project = req.query.project === undefined ? undefined : normalizeName(req.query.project);
    return { entries: index.catalog.activity({ ...(project ? { project } : {}), limit: req.query.limit ?? 100 }) };
  });

  // Owners: a project need not have files yet, so that a name can be given to a team
  // before its first upload; the user must exist, so that a typo does not go unnoticed.
  const ownersOf = (project: string): OwnerList => ({ project, owners: index.catalog.owners(project) });
  const projectName = (name: string): string => {
    if (!isValidProjectName(name)) throw new BadRequest(`'${name}' is not a valid project name.`);
    return normalizeName(name);
  };

  api.get(ControlRoutes.owners, { schema: { params: ProjectParamsSchema, response: { 200: OwnerListSchema } } }, (req) => ownersOf(projectName(req.params.project)));

  api.put(ControlRoutes.owner, { schema: { params: OwnerParamsSchema, body: OwnerRequestSchema, response: { 200: OwnerListSchema } } }, (req) => {
    const project = projectName(req.params.project);
    if (!app.identities.has(req.params.user)) throw new NotFound(`There is no user '${req.params.user}'; add them first (pyrepo user add).`);
    index.catalog.addOwner(project, req.params.user, req.body.role);
    return ownersOf(project);
  });

  api.delete(ControlRoutes.owner, { schema: { params: OwnerParamsSchema, response: { 200: OwnerListSchema } } }, (req) => {
    const project = projectName(req.params.project);
    if (!index.catalog.removeOwner(project, req.params.user)) throw new NotFound(`'${req.params.user}' is not an owner or maintainer of ${project}.`);
    return ownersOf(project);
  });
}
