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
  activity: '/-/api/activity',
  userOwnerships: '/-/api/users/:user/ownerships',
  catalogSnapshot: '/-/api/catalog-snapshot',
  watches: '/-/api/watches',
  watch: '/-/api/watches/:id',
  upstream: '/-/api/upstream',
  upstreamPrune: '/-/api/upstream/prune',
  upstreamCache: '/-/api/upstream/cache',
  upstreamProjectCache: '/-/api/upstream/cache/:project',
  events: '/-/events',
} as const;

/**
 * The header the CLI sends `/-/health` with: the state file's `instance`, which proves
 * that the caller can read the daemon's own state file (the same account, or root).
 */
export const INSTANCE_HEADER = 'x-pyrepo-instance';

/**
 * `GET /-/api/catalog-snapshot` answers with a consistent copy of the whole catalog
 * (an SQLite file, taken while uploads go on) and its sha256 in this header, so that the
 * receiver can tell a complete copy from a cut-off one. `pyrepo backup` uses it: the
 * daemon never writes outside its data folder, the CLI writes the backup.
 */
export const SNAPSHOT_SHA256_HEADER = 'x-pyrepo-sha256';

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
   * A random id made at each start, known only to whoever can read this file (mode 0600):
   * sent as {@link INSTANCE_HEADER}, it gets the full `/-/health` from a daemon whose reads
   * need credentials. Absent in state files of daemons before it existed.
   */
  instance: Type.Optional(Type.String({ minLength: 32, maxLength: 64 })),
  /**
   * The settings it runs with (DaemonSettings): `status` compares them with the saved ones and
   * a failed restart brings them back. Loosely typed here so that a daemon of another version
   * never makes the whole state file invalid; readers check it against DaemonSettingsSchema.
   */
  settings: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type DaemonState = Static<typeof DaemonStateSchema>;

/**
 * The installers downloads are counted by, told apart by their User-Agent: pip's JSON user
 * agent names the installer (pip, uv; pipenv installs with pip), poetry (1.7 and later) and
 * pdm send their own; `mip` and `upip` are MicroPython boards (by the route they ask); `other`
 * is anything else (curl, browsers, poetry before 1.7, which sends python-requests').
 */
export const INSTALLERS = ['pip', 'uv', 'poetry', 'pdm', 'mip', 'upip', 'other'] as const;
export const InstallerSchema = Type.Union([
  Type.Literal('pip'),
  Type.Literal('uv'),
  Type.Literal('poetry'),
  Type.Literal('pdm'),
  Type.Literal('mip'),
  Type.Literal('upip'),
  Type.Literal('other'),
]);
export type Installer = (typeof INSTALLERS)[number];

/** Downloads by one installer, and how many of them said they ran in CI (pip's and uv's user agents tell). */
export const InstallerCountSchema = Type.Object({ installer: InstallerSchema, downloads: Type.Integer(), ci: Type.Integer() });
export type InstallerCount = Static<typeof InstallerCountSchema>;

/**
 * `GET /-/api/upstream`: the upstream proxy's cache (also in `/-/health` as `upstream`). Hits
 * are pages, files and core metadata answered from the cache; misses waited for upstream.
 */
export const UpstreamStatusSchema = Type.Object({
  url: Type.String({ description: 'the upstream simple index' }),
  files: Type.Integer({ description: 'files kept' }),
  bytes: Type.Integer({ description: 'their size' }),
  capBytes: Type.Integer({ description: 'the size cap (0: none)' }),
  maxAgeSeconds: Type.Integer({ description: 'files not downloaded for this long are pruned (0: never)' }),
  projects: Type.Integer({ description: 'project pages kept' }),
  hits: Type.Integer(),
  misses: Type.Integer(),
  /** hits / (hits + misses) since the daemon started; null before the first request. */
  hitRate: Type.Union([Type.Number(), Type.Null()]),
  /** Requests to upstream that failed since the daemon started. */
  failures: Type.Integer(),
  /** Downloads of cached files, by installer. */
  downloads: Type.Array(InstallerCountSchema),
});
export type UpstreamStatus = Static<typeof UpstreamStatusSchema>;

/** What `pyrepo cache prune | purge` removed. */
export const CacheRemovalSchema = Type.Object({ files: Type.Integer(), bytes: Type.Integer() });
export type CacheRemoval = Static<typeof CacheRemovalSchema>;

/**
 * `GET /-/health` as anyone gets it from a daemon whose reads need credentials: that it
 * is up, and nothing else.
 */
export const PublicHealthSchema = Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false });
export type PublicHealth = Static<typeof PublicHealthSchema>;

/**
 * `GET /-/health`: 200 once the daemon serves the index. This whole answer goes to the
 * admin (credentials sent with the request), to the daemon's own CLI (the state file's
 * instance id), and to anyone when reads are open; otherwise {@link PublicHealthSchema}.
 */
/** The shared mode's state in `/-/health` and `pyrepo status`. */
export const SharedStatusSchema = Type.Object({
  /** The PostgreSQL catalog (its password hidden) and the bucket. */
  catalog: Type.String(),
  storage: Type.String(),
  /** False while PostgreSQL cannot be reached: reads go on from this daemon's copy, changes answer 503. */
  connected: Type.Boolean(),
  /** Since when it cannot be reached (ISO 8601), when it cannot. */
  lostSince: Type.Optional(Type.String()),
  /** The daemons sharing the catalog that sent a heartbeat lately, this one included (empty while PostgreSQL is away). */
  daemons: Type.Array(
    Type.Object({ url: Type.String(), host: Type.String(), pid: Type.Integer(), version: Type.String(), startedAt: Type.String(), seenAt: Type.String(), self: Type.Boolean() }),
  ),
});
export type SharedStatus = Static<typeof SharedStatusSchema>;

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
  /**
   * The folders the daemon watches to publish new builds from (`pyrepo watch`): absolute
   * paths, in the order they were registered; empty when none. Each one's state is in
   * `GET /-/api/watches`. Absent from daemons without auto-publish.
   */
  watchedFolders: Type.Optional(Type.Array(Type.String())),
  /** The upstream proxy's cache (`GET /-/api/upstream`); absent when no upstream is set. */
  upstream: Type.Optional(UpstreamStatusSchema),
  /** The shared mode (PostgreSQL + S3); absent for a daemon on its own data folder. */
  shared: Type.Optional(SharedStatusSchema),
});
export type Health = Static<typeof HealthSchema>;


/**
 * The position in `/-/events` an answer reflects: every event up to this id (and none after
 * it) is counted in it. A client that applies only events with a greater id, and resumes the
 * stream from it (`Last-Event-ID`), neither misses nor double-counts anything.
 */
const lastEventId = Type.String({ description: 'id of the newest event this answer reflects' });

/** How many days `downloads30d` covers. */
export const RECENT_DAYS = 30;

export const ProjectSummarySchema = Type.Object({
  name: Type.String({ description: 'normalized name' }),
  displayName: Type.String(),
  latestVersion: Type.Union([Type.String(), Type.Null()]),
  versions: Type.Integer(),
  files: Type.Integer(),
  downloads: Type.Integer(),
  /** Downloads of each of the last 30 UTC days, oldest first, today last. */
  downloads30d: Type.Array(Type.Integer(), { minItems: RECENT_DAYS, maxItems: RECENT_DAYS }),
  lastUpload: Type.Union([Type.String(), Type.Null()]),
  /** Who uploaded the newest file (as {@link FileInfoSchema} `uploadedBy`); null for anonymous uploads and files found in the packages folder. */
  lastUploadedBy: Type.Union([Type.String(), Type.Null()]),
});
export type ProjectSummary = Static<typeof ProjectSummarySchema>;

export const ProjectListSchema = Type.Object({ projects: Type.Array(ProjectSummarySchema), lastEventId });
export type ProjectList = Static<typeof ProjectListSchema>;

export const FileInfoSchema = Type.Object({
  filename: Type.String(),
  packagetype: Type.Union([Type.Literal('sdist'), Type.Literal('bdist_wheel')]),
  size: Type.Integer(),
  sha256: Type.String(),
  uploadTime: Type.String(),
  /**
   * How the file arrived: `upload` through the upload API, `watch` published from a watched
   * build folder (`pyrepo watch`; `uploadedFrom` names the folder), `folder` found in the
   * packages folder (nobody uploaded it), or null when the catalog predates this record.
   */
  source: Type.Union([Type.Literal('upload'), Type.Literal('watch'), Type.Literal('folder'), Type.Null()]),
  /**
   * Who uploaded the file: a user name, or for an API token its user, id and name, as in
   * `alice (token ab12cd34 "ci")` (never the secret). Null when nobody signed in (uploads
   * open to anyone) and for files found in the packages folder (`source: 'folder'`).
   */
  uploadedBy: Type.Union([Type.String(), Type.Null()]),
  /**
   * The address the upload came from, as the daemon saw it; for a build published from a
   * watched folder, that folder; null for files found in the packages folder.
   */
  uploadedFrom: Type.Union([Type.String(), Type.Null()]),
  requiresPython: Type.Union([Type.String(), Type.Null()]),
  downloads: Type.Integer(),
  url: Type.String({ description: 'path of the file on this server' }),
});
export type FileInfo = Static<typeof FileInfoSchema>;

export const ReleaseInfoSchema = Type.Object({
  version: Type.String(),
  yanked: Type.Boolean(),
  yankedReason: Type.Union([Type.String(), Type.Null()]),
  /** Who yanked it (as {@link FileInfoSchema} `uploadedBy` names people); null when not yanked or not recorded. */
  yankedBy: Type.Union([Type.String(), Type.Null()]),
  /** The address the yank came from; null when not yanked or not recorded. */
  yankedFrom: Type.Union([Type.String(), Type.Null()]),
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
  /**
   * Downloads by installer, most first. Downloads counted before pyrepo recorded installers
   * are in `downloads` but in no installer.
   */
  downloadsByInstaller: Type.Array(InstallerCountSchema),
  releases: Type.Array(ReleaseInfoSchema, { description: 'newest first' }),
  lastEventId,
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

/** `GET /-/api/activity?project=&limit=`: uploads, deletions, yanks and unyanks made through the API, newest first. */
export const ActivityQuerySchema = Type.Object({
  project: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 100 })),
});
export type ActivityQuery = Static<typeof ActivityQuerySchema>;

export const ActivityEntrySchema = Type.Object({
  time: Type.String({ description: 'ISO 8601' }),
  action: Type.Union([Type.Literal('upload'), Type.Literal('delete'), Type.Literal('yank'), Type.Literal('unyank')]),
  project: Type.String({ description: 'normalized name' }),
  version: Type.Union([Type.String(), Type.Null()]),
  /** The file uploaded or deleted; null for yanks. */
  filename: Type.Union([Type.String(), Type.Null()]),
  /** Who did it (as {@link FileInfoSchema} `uploadedBy`); null when nobody signed in. */
  user: Type.Union([Type.String(), Type.Null()]),
  /** The address it came from (for a build published from a watched folder, that folder). */
  address: Type.Union([Type.String(), Type.Null()]),
  /** The reason given for a yank; for an upload that replaced a file of the same name, that it did. */
  reason: Type.Union([Type.String(), Type.Null()]),
});
export type ActivityEntry = Static<typeof ActivityEntrySchema>;

export const ActivityListSchema = Type.Object({ entries: Type.Array(ActivityEntrySchema) });
export type ActivityList = Static<typeof ActivityListSchema>;

export const UserParamsSchema = Type.Object({ user: Type.String({ minLength: 1, maxLength: 255 }) });

const OwnershipSchema = Type.Object({ project: Type.String({ description: 'normalized name' }), role: OwnerRoleSchema });

/** `GET /-/api/users/:user/ownerships`: the projects a user owns or maintains. */
export const OwnershipsSchema = Type.Object({ user: Type.String(), projects: Type.Array(OwnershipSchema) });
export type Ownerships = Static<typeof OwnershipsSchema>;

/**
 * `DELETE /-/api/users/:user/ownerships`, for a user being removed: takes them off every
 * project that keeps an owner without them (`removed`), and keeps them on the projects
 * they alone own, or alone maintain (`kept`). A project nobody owns goes to whoever
 * uploads it next; kept, those stay closed to everyone but admins (and their other
 * maintainers) until they are handed over with `pyrepo owner add`.
 */
export const OwnershipRemovalSchema = Type.Object({
  user: Type.String(),
  removed: Type.Array(OwnershipSchema),
  kept: Type.Array(OwnershipSchema),
});
export type OwnershipRemoval = Static<typeof OwnershipRemovalSchema>;

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

/**
 * Who made a change and from where, on uploads, deletions, yanks and unyanks: `user` as
 * {@link FileInfoSchema} `uploadedBy` names people (null when nobody signed in, or when
 * the change was a file put into or taken out of the packages folder by hand), `address`
 * the client's address (null for the folder). Absent from daemons that did not record it.
 */
const who = {
  user: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  address: Type.Optional(Type.Union([Type.String(), Type.Null()])),
};

/**
 * On the events that change the catalog (uploads, deletions, yanks, unyanks): the daemon's
 * catalog serial once the change is in it: a JSON page whose `meta._last-serial` is at least
 * this shows the change. Serials only grow, so a client can order changes it heard of by them.
 * Absent from daemons from before it was added.
 */
const serial = { serial: Type.Optional(Type.Integer({ minimum: 0 })) };

/** The downloads of one file in a `downloads` event. */
export const FileDownloadsSchema = Type.Object({
  project: Type.String(),
  filename: Type.String(),
  downloads: Type.Integer({ minimum: 1 }),
  /** The same downloads by installer, most first. */
  installers: Type.Array(InstallerCountSchema),
});
export type FileDownloads = Static<typeof FileDownloadsSchema>;

/** Why `/-/events` cannot replay what a client missed (see {@link IndexEventSchema} `resync`). */
export const ResyncReasonSchema = Type.Union([
  /** The id is from before this daemon started: a restart, perhaps with other data. */
  Type.Literal('restarted'),
  /** The events after it are no longer kept. */
  Type.Literal('expired'),
  /** Not an id this daemon gave. */
  Type.Literal('unknown'),
]);

/**
 * Events on `/-/events`; the SSE `event:` field is the `type`, and the `id:` field an
 * increasing number (increasing across restarts too). Downloads come batched: one
 * `downloads` event every quarter second at most, with the counts of each file downloaded
 * since the last one. A client that reconnects with `Last-Event-ID` gets the events it
 * missed, or, when the daemon no longer has them (or restarted since), one `resync` event:
 * it takes a fresh snapshot of the control API, whose answers say the `lastEventId` they
 * reflect.
 */
export const IndexEventSchema = Type.Union([
  Type.Object({
    type: Type.Literal('upload'),
    ...eventBase,
    ...serial,
    version: Type.String(),
    filename: Type.String(),
    size: Type.Integer(),
    /**
     * `upload` for the upload API, `watch` for a build published from a watched folder,
     * `folder` for files that appeared in the packages folder.
     */
    source: Type.Union([Type.Literal('upload'), Type.Literal('watch'), Type.Literal('folder')]),
    /** For `source: 'watch'`: the watched folder the build was published from (`user` is who registered the watch). */
    watch: Type.Optional(Type.String()),
    /** True when the file replaced one of the same name with other content (`pyrepo watch --replace`, or the overwrite setting). */
    replaced: Type.Optional(Type.Boolean()),
    /** What the uploader was told besides success, such as a file MicroPython boards cannot install. */
    warnings: Type.Optional(Type.Array(Type.String())),
    ...who,
  }),
  /**
   * A build in a watched folder that was not published, with why and what to do about it
   * (a rebuild of a version already on the index: bump the version). `project` is the one
   * the filename names ('' when it names none).
   */
  Type.Object({
    type: Type.Literal('refused'),
    ...eventBase,
    version: Type.Optional(Type.String()),
    filename: Type.String(),
    source: Type.Literal('watch'),
    /** The watched folder. */
    watch: Type.String(),
    reason: Type.String(),
    /** The next step, when there is one. */
    fix: Type.Union([Type.String(), Type.Null()]),
    ...who,
  }),
  /**
   * A watched folder changed state: it went missing (deleted, unmounted) or came back,
   * watching failed, or polling took over. `project` is the folder's project ('' when not known yet).
   */
  Type.Object({
    type: Type.Literal('watch'),
    ...eventBase,
    watch: Type.String(),
    state: Type.Union([Type.Literal('watching'), Type.Literal('missing'), Type.Literal('error')]),
    /** What happened, in words. */
    detail: Type.String(),
  }),
  Type.Object({ type: Type.Literal('downloads'), time: eventBase.time, files: Type.Array(FileDownloadsSchema, { minItems: 1 }) }),
  Type.Object({ type: Type.Literal('delete'), ...eventBase, ...serial, filename: Type.String(), ...who }),
  Type.Object({
    type: Type.Literal('yank'),
    ...eventBase,
    ...serial,
    version: Type.String(),
    reason: Type.Union([Type.String(), Type.Null()]),
    ...who,
  }),
  Type.Object({ type: Type.Literal('unyank'), ...eventBase, ...serial, version: Type.String(), ...who }),
  Type.Object({ type: Type.Literal('resync'), time: eventBase.time, reason: ResyncReasonSchema }),
]);
export type IndexEvent = Static<typeof IndexEventSchema>;

/** How a watched folder is doing: `watching`, `missing` (deleted or unmounted; resumes when it is back), `error` (see its detail). */
export const WatchStateSchema = Type.Union([Type.Literal('watching'), Type.Literal('missing'), Type.Literal('error')]);
export type WatchState = Static<typeof WatchStateSchema>;

/** A file of a watched folder that was not published, and why. */
export const WatchRefusalSchema = Type.Object({
  filename: Type.String(),
  reason: Type.String(),
  /** The next step, when there is one (bump the version, ask an owner). */
  fix: Type.Union([Type.String(), Type.Null()]),
  time: Type.String({ description: 'ISO 8601' }),
});
export type WatchRefusal = Static<typeof WatchRefusalSchema>;

/** One watched build folder (`pyrepo watch`), as `GET /-/api/watches` lists it. */
export const WatchInfoSchema = Type.Object({
  /** Stable id of the watch (derived from its folder), for `DELETE /-/api/watches/:id`. */
  id: Type.String(),
  /** The watched folder, absolute. */
  dir: Type.String(),
  /** The project it builds: as registered (from pyproject.toml), then as its last publish named it; null when not known yet. */
  project: Type.Union([Type.String(), Type.Null()]),
  /** Who its builds are published as (the uploader recorded, whose ownership rules apply). */
  user: Type.String(),
  /** A rebuild may replace a file of the same version (`--replace`, for a development loop). */
  replace: Type.Boolean(),
  /** Polling was asked for (`--poll`, for network filesystems). */
  poll: Type.Boolean(),
  /** How changes are noticed now: filesystem events, or polling (asked for, or because events failed: see `modeReason`). */
  mode: Type.Union([Type.Literal('events'), Type.Literal('polling')]),
  /** Why polling took over when it was not asked for (the system's watch limit); null otherwise. */
  modeReason: Type.Union([Type.String(), Type.Null()]),
  state: WatchStateSchema,
  /** What the state means here, in words (why it is missing or failed); null when watching. */
  stateDetail: Type.Union([Type.String(), Type.Null()]),
  /** The `python -m build --report` file used as the signal that a build is complete. */
  report: Type.String(),
  createdAt: Type.String({ description: 'ISO 8601' }),
  /** The last file published from it; null before the first. */
  lastPublish: Type.Union([
    Type.Object({
      filename: Type.String(),
      project: Type.String(),
      version: Type.String(),
      time: Type.String({ description: 'ISO 8601' }),
      /** `replaced`: it replaced a file of the same name (`--replace`). */
      status: Type.Union([Type.Literal('created'), Type.Literal('replaced')]),
    }),
    Type.Null(),
  ]),
  /** Files it holds that were not published, with the reason; each goes when the file is published or deleted. */
  refusals: Type.Array(WatchRefusalSchema),
  /** Files seen but not published yet (being written, waiting to be complete). */
  pending: Type.Array(Type.String()),
});
export type WatchInfo = Static<typeof WatchInfoSchema>;

/** `GET /-/api/watches`. */
export const WatchListSchema = Type.Object({ watches: Type.Array(WatchInfoSchema) });
export type WatchList = Static<typeof WatchListSchema>;

/** `POST /-/api/watches`: watch a build folder (registering one already watched updates its options). */
export const WatchRequestSchema = Type.Object({
  /** The folder, absolute. It may not exist yet (a project before its first build): it is watched for. */
  dir: Type.String({ minLength: 1, maxLength: 4096 }),
  /** The project it builds, when the caller knows it (shown until the first publish names it). */
  project: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  /** Publish as this user (default: the admin registering it); their ownership rules apply. */
  as: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  /** Leave the files already in the folder alone; publish only what is built from now on. */
  newOnly: Type.Optional(Type.Boolean()),
  /** Let a rebuild replace a file of the same version (a local development loop). */
  replace: Type.Optional(Type.Boolean()),
  /** Poll instead of filesystem events (network filesystems). */
  poll: Type.Optional(Type.Boolean()),
  /** The `python -m build --report` file to follow (default `<dir>/build-report.json`). */
  report: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
});
export type WatchRequest = Static<typeof WatchRequestSchema>;

/** The answer to `POST /-/api/watches`. */
export const WatchRegistrationSchema = Type.Object({
  /** False when the folder was watched already (its options were updated). */
  created: Type.Boolean(),
  /** Files already in the folder that will be published (none with `newOnly`). */
  existing: Type.Array(Type.String()),
  watch: WatchInfoSchema,
});
export type WatchRegistration = Static<typeof WatchRegistrationSchema>;

export const WatchParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/** The answer to `DELETE /-/api/watches/:id`. */
export const WatchRemovalSchema = Type.Object({ removed: WatchInfoSchema });
export type WatchRemoval = Static<typeof WatchRemovalSchema>;
