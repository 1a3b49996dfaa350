/** Schemas of what commands print with `--json`, so scripts (and tests) can rely on them. */
import { Type, type Static } from '@sinclair/typebox';
import { SharedStatusSchema, UpstreamStatusSchema } from '../shared/api.js';

/** `pyrepo status --json`. */
export const StatusOutputSchema = Type.Object({
  running: Type.Boolean(),
  /** The daemon's process answers but /-/health did not. */
  responding: Type.Boolean(),
  pid: Type.Optional(Type.Integer()),
  url: Type.Optional(Type.String({ description: 'Simple index URL (pip --index-url)' })),
  uploadUrl: Type.Optional(Type.String({ description: 'Upload URL (twine --repository-url)' })),
  version: Type.Optional(Type.String()),
  startedAt: Type.Optional(Type.String()),
  uptimeSeconds: Type.Optional(Type.Number()),
  projects: Type.Optional(Type.Integer()),
  files: Type.Optional(Type.Integer()),
  indexing: Type.Optional(Type.Boolean()),
  /** What is open to anyone and what needs credentials. */
  access: Type.Optional(Type.String()),
  problems: Type.Array(Type.String()),
  /** The upstream proxy's cache (absent without an upstream). */
  upstream: Type.Optional(UpstreamStatusSchema),
  /** The shared mode: the catalog, the bucket, the connection and the daemons sharing them (absent on a daemon of its own). */
  shared: Type.Optional(SharedStatusSchema),
  dataDir: Type.String(),
  packagesDir: Type.String(),
  logFile: Type.String(),
  /** pid of a daemon that had died without cleaning up; its state file was removed. */
  stalePid: Type.Optional(Type.Integer()),
  /** Saved settings the running daemon does not use yet (changed since it started): `pyrepo restart` applies them. */
  unappliedSettings: Type.Optional(
    Type.Array(
      Type.Object({
        name: Type.String({ description: 'The setting, as its flag and `pyrepo config` name it' }),
        running: Type.String({ description: 'What the daemon runs with (empty: not set)' }),
        saved: Type.String({ description: 'What the settings file says (empty: not set)' }),
      }),
    ),
  ),
});
export type StatusOutput = Static<typeof StatusOutputSchema>;

/** `pyrepo doctor --json`. */
export const DoctorOutputSchema = Type.Object({
  checks: Type.Array(
    Type.Object({
      check: Type.String(),
      verdict: Type.Union([Type.Literal('ok'), Type.Literal('warn'), Type.Literal('fail'), Type.Literal('info')]),
      detail: Type.String(),
      fix: Type.Optional(Type.String()),
    }),
  ),
});
export type DoctorOutput = Static<typeof DoctorOutputSchema>;

/** How one file's upload ended in `pyrepo publish`. */
export const PublishResultSchema = Type.Union([
  /** Stored by the index. */
  Type.Literal('uploaded'),
  /** Stored, replacing a file of the same name with other content (a daemon with --overwrite). */
  Type.Literal('replaced'),
  /** The index already has this exact file: nothing was changed. */
  Type.Literal('identical'),
  /** The index has a different file under this name. */
  Type.Literal('conflict'),
  Type.Literal('failed'),
  /** Not sent, because an earlier answer (credentials, wrong URL, no connection) would repeat. */
  Type.Literal('not-attempted'),
]);

/** `pyrepo publish --json`: one entry per file, in upload order (sdists, then wheels). */
export const PublishOutputSchema = Type.Array(
  Type.Object({
    file: Type.String({ description: 'Distribution filename' }),
    path: Type.String({ description: 'Absolute path of the local file' }),
    size: Type.Integer({ minimum: 0 }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    project: Type.String({ description: 'PEP 503-normalized project name' }),
    version: Type.String(),
    filetype: Type.Union([Type.Literal('sdist'), Type.Literal('bdist_wheel')]),
    repositoryUrl: Type.String({ description: 'Upload URL (credentials never included)' }),
    result: PublishResultSchema,
    /** Why it conflicted or failed, in the index's words where it gave some. */
    message: Type.Optional(Type.String()),
    /** The index's HTTP status, when it answered. */
    httpStatus: Type.Optional(Type.Integer()),
    /** What the index accepted but noticed (pyrepo: a file MicroPython boards cannot install). */
    warnings: Type.Optional(Type.Array(Type.String())),
  }),
);
export type PublishOutput = Static<typeof PublishOutputSchema>;
export type PublishedFile = PublishOutput[number];
export type PublishResult = Static<typeof PublishResultSchema>;

/** `pyrepo board --json`: what to type on a MicroPython board, for each network address. */
export const BoardOutputSchema = Type.Object({
  /** The daemon's URL from this machine. */
  url: Type.String(),
  /** The address it listens on. */
  host: Type.String(),
  port: Type.Integer(),
  /** False when boards would not get through (loopback only, credentials needed, no network address). */
  reachable: Type.Boolean(),
  /** The project in the lines (`PACKAGE` when none was given). */
  project: Type.String(),
  /** That project's latest version on the index (absent when no project was given or it has none). */
  version: Type.Optional(Type.String()),
  warnings: Type.Array(Type.String()),
  addresses: Type.Array(
    Type.Object({
      address: Type.String({ description: 'IPv4 address of this machine' }),
      interface: Type.String({ description: 'Network interface name (empty when the daemon is bound to this one address)' }),
      baseUrl: Type.String(),
      /** REPL lines for mip (MicroPython 1.20 and later). */
      mip: Type.Array(Type.String()),
      /** REPL lines for upip (MicroPython 1.19 and older). */
      upip: Type.Array(Type.String()),
    }),
  ),
  /** The command that installs on a board connected to this computer. */
  mpremote: Type.String(),
});
export type BoardOutput = Static<typeof BoardOutputSchema>;
