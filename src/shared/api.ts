/**
 * The control API under `/-/`: route paths, request and response schemas, and the
 * events streamed on `/-/events`. The daemon validates with these schemas and the
 * typed client in `client.ts` checks responses against the same ones.
 */
import { Type, type Static } from '@sinclair/typebox';
import { AuthActionSchema } from './settings.js';

/** Route paths of the control API (fastify syntax). */
export const ControlRoutes = {
  health: '/-/health',
  projects: '/-/api/projects',
  project: '/-/api/projects/:project',
  release: '/-/api/projects/:project/releases/:version',
  yank: '/-/api/projects/:project/releases/:version/yank',
  unyank: '/-/api/projects/:project/releases/:version/unyank',
  file: '/-/api/projects/:project/files/:filename',
  owners: '/-/api/projects/:project/owners',
  owner: '/-/api/projects/:project/owners/:user',
  events: '/-/events',
} as const;

/** The state file (daemon.json) a running daemon keeps in its data folder. */
export const DaemonStateSchema = Type.Object({
  pid: Type.Integer({ minimum: 1 }),
  url: Type.String({ description: 'Base URL to reach the daemon from this machine' }),
  host: Type.String(),
  port: Type.Integer(),
  version: Type.String(),
  startedAt: Type.String(),
  dataDir: Type.String(),
  packagesDir: Type.String(),
  /** The certificate it serves HTTPS with: the CLI trusts it for this daemon. */
  tlsCert: Type.Optional(Type.String()),
  /**
   * The settings it runs with (DaemonSettings): `status` compares them with the saved ones and
   * a failed restart brings them back. Loosely typed here so that a daemon of another version
   * never makes the whole state file invalid; readers check it against DaemonSettingsSchema.
   */
  settings: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type DaemonState = Static<typeof DaemonStateSchema>;

/** `GET /-/health`: 200 once the daemon serves the index. */
export const HealthSchema = Type.Object({
  status: Type.Literal('ok'),
  version: Type.String({ description: 'pyrepo version' }),
  pid: Type.Integer(),
  startedAt: Type.String({ description: 'ISO 8601 time the daemon started' }),
  uptimeSeconds: Type.Number(),
  projects: Type.Integer(),
  files: Type.Integer(),
  dataDir: Type.String(),
  packagesDir: Type.String(),
  /** True while the first scan of the packages folder is still running. */
  indexing: Type.Boolean(),
  /** What is wrong with the daemon's folders (deleted, not writable); empty when all is well. */
  problems: Type.Array(Type.String()),
  /** What is open to anyone and what needs credentials, in one sentence. */
  access: Type.String(),
  /** The actions that need credentials (besides the control API, which always does). */
  authenticate: Type.Array(AuthActionSchema),
});
export type Health = Static<typeof HealthSchema>;

export const ProjectSummarySchema = Type.Object({
  name: Type.String({ description: 'normalized name' }),
  displayName: Type.String(),
  latestVersion: Type.Union([Type.String(), Type.Null()]),
  versions: Type.Integer(),
  files: Type.Integer(),
  downloads: Type.Integer(),
  lastUpload: Type.Union([Type.String(), Type.Null()]),
});
export type ProjectSummary = Static<typeof ProjectSummarySchema>;

export const ProjectListSchema = Type.Object({ projects: Type.Array(ProjectSummarySchema) });
export type ProjectList = Static<typeof ProjectListSchema>;

export const FileInfoSchema = Type.Object({
  filename: Type.String(),
  packagetype: Type.Union([Type.Literal('sdist'), Type.Literal('bdist_wheel')]),
  size: Type.Integer(),
  sha256: Type.String(),
  uploadTime: Type.String(),
  requiresPython: Type.Union([Type.String(), Type.Null()]),
  downloads: Type.Integer(),
  url: Type.String({ description: 'path of the file on this server' }),
});
export type FileInfo = Static<typeof FileInfoSchema>;

export const ReleaseInfoSchema = Type.Object({
  version: Type.String(),
  yanked: Type.Boolean(),
  yankedReason: Type.Union([Type.String(), Type.Null()]),
  summary: Type.Union([Type.String(), Type.Null()]),
  downloads: Type.Integer(),
  files: Type.Array(FileInfoSchema),
});
export type ReleaseInfo = Static<typeof ReleaseInfoSchema>;

export const ProjectDetailSchema = Type.Object({
  name: Type.String(),
  displayName: Type.String(),
  latestVersion: Type.Union([Type.String(), Type.Null()]),
  downloads: Type.Integer(),
  /** Downloads per UTC day (`YYYY-MM-DD`), oldest first. */
  downloadsByDay: Type.Array(Type.Object({ day: Type.String(), downloads: Type.Integer() })),
  releases: Type.Array(ReleaseInfoSchema, { description: 'newest first' }),
});
export type ProjectDetail = Static<typeof ProjectDetailSchema>;

export const ProjectParamsSchema = Type.Object({ project: Type.String({ minLength: 1, maxLength: 200 }) });
export const ReleaseParamsSchema = Type.Object({
  project: Type.String({ minLength: 1, maxLength: 200 }),
  version: Type.String({ minLength: 1, maxLength: 200 }),
});
export const FileParamsSchema = Type.Object({
  project: Type.String({ minLength: 1, maxLength: 200 }),
  filename: Type.String({ minLength: 1, maxLength: 255 }),
});

export const YankRequestSchema = Type.Object({
  reason: Type.Optional(Type.String({ maxLength: 1000 })),
});
export type YankRequest = Static<typeof YankRequestSchema>;

export const YankResultSchema = Type.Object({
  project: Type.String(),
  version: Type.String(),
  yanked: Type.Boolean(),
  yankedReason: Type.Union([Type.String(), Type.Null()]),
});
export type YankResult = Static<typeof YankResultSchema>;

export const DeleteResultSchema = Type.Object({
  project: Type.String(),
  deleted: Type.Array(Type.String(), { description: 'filenames removed' }),
});
export type DeleteResult = Static<typeof DeleteResultSchema>;

/** Who may upload to a project besides admins (the first uploader is its owner). */
export const OwnerRoleSchema = Type.Union([Type.Literal('owner'), Type.Literal('maintainer')]);
export type OwnerRole = Static<typeof OwnerRoleSchema>;

export const OwnerParamsSchema = Type.Object({
  project: Type.String({ minLength: 1, maxLength: 200 }),
  user: Type.String({ minLength: 1, maxLength: 255 }),
});

/** `PUT /-/api/projects/:project/owners/:user`. */
export const OwnerRequestSchema = Type.Object({ role: OwnerRoleSchema });
export type OwnerRequest = Static<typeof OwnerRequestSchema>;

/** A project's owners and maintainers (also the answer to adding or removing one). */
export const OwnerListSchema = Type.Object({
  project: Type.String({ description: 'normalized name' }),
  owners: Type.Array(Type.Object({ user: Type.String(), role: OwnerRoleSchema })),
});
export type OwnerList = Static<typeof OwnerListSchema>;

/** The error body of every control API failure. */
export const ApiErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String(),
});
export type ApiError = Static<typeof ApiErrorSchema>;

const eventBase = {
  time: Type.String({ description: 'ISO 8601' }),
  project: Type.String(),
};

/** Events on `/-/events`; the SSE `event:` field is the `type`. */
export const IndexEventSchema = Type.Union([
  Type.Object({
    type: Type.Literal('upload'),
    ...eventBase,
    version: Type.String(),
    filename: Type.String(),
    size: Type.Integer(),
    /** `upload` for the upload API, `folder` for files that appeared in the packages folder. */
    source: Type.Union([Type.Literal('upload'), Type.Literal('folder')]),
    /** What the uploader was told besides success, such as a file MicroPython boards cannot install. */
    warnings: Type.Optional(Type.Array(Type.String())),
  }),
  Type.Object({ type: Type.Literal('download'), ...eventBase, filename: Type.String() }),
  Type.Object({ type: Type.Literal('delete'), ...eventBase, filename: Type.String() }),
  Type.Object({
    type: Type.Literal('yank'),
    ...eventBase,
    version: Type.String(),
    reason: Type.Union([Type.String(), Type.Null()]),
  }),
  Type.Object({ type: Type.Literal('unyank'), ...eventBase, version: Type.String() }),
]);
export type IndexEvent = Static<typeof IndexEventSchema>;
