/**
 * pyrepo's settings: one typed schema with defaults. The settings file holds
 * {@link StoredSettings}: `pyrepo init`, `start` and `restart` save their flags there and
 * `pyrepo config` changes it; `serve`'s flags override it for one run; the daemon receives
 * the resolved {@link DaemonSettings} (and records them in its state file).
 */
import { Type, type Static } from '@sinclair/typebox';

/** Default TCP port of the index. */
export const DEFAULT_PORT = 8645;
/** Default upload size limit: 100 MiB, like PyPI's default per-file limit. */
export const DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024;
/** The admin identity `pyrepo init` creates unless told another name. */
export const DEFAULT_ADMIN_USER = 'admin';

const LogLevelSchema = Type.Union(
  [Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('silent')],
  { default: 'info', description: 'Least severe log level written.' },
);

/** Actions that can be made to need credentials (`admin`, the control API, always does). */
export const AuthActionSchema = Type.Union([Type.Literal('list'), Type.Literal('download'), Type.Literal('upload')]);
export type AuthAction = Static<typeof AuthActionSchema>;

/** The settings that mean the same in the settings file and in the daemon. */
const shared = {
  host: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Address to listen on.' }),
  port: Type.Integer({ minimum: 0, maximum: 65535, default: DEFAULT_PORT, description: 'TCP port (0 picks a free one).' }),
  overwrite: Type.Boolean({ default: false, description: 'Allow an upload to replace a file with different content.' }),
  maxUploadBytes: Type.Integer({ minimum: 1, default: DEFAULT_MAX_UPLOAD_BYTES, description: 'Largest accepted upload, in bytes.' }),
  publicUrl: Type.Optional(Type.String({ pattern: '^https?://[^/\\s]+', description: 'Base URL to show in pages when behind a proxy.' })),
  watch: Type.Boolean({ default: true, description: 'Pick up files added to or removed from the packages folder while running.' }),
  logLevel: LogLevelSchema,
  accessLog: Type.Boolean({ default: true, description: 'Log one line per request.' }),
  authenticate: Type.Array(AuthActionSchema, {
    uniqueItems: true,
    default: ['upload'],
    description: 'Actions that need credentials: list (index pages), download (files), upload. The control API always does.',
  }),
  allowAnonymousLanUploads: Type.Boolean({
    default: false,
    description: 'Accept uploads without credentials while listening beyond loopback (anyone on the network could replace packages).',
  }),
  tlsCert: Type.Optional(Type.String({ minLength: 1, description: 'PEM certificate for HTTPS.' })),
  tlsKey: Type.Optional(Type.String({ minLength: 1, description: 'PEM private key for HTTPS.' })),
  htpasswdFile: Type.Optional(Type.String({ minLength: 1, description: 'An adopted htpasswd file (pypiserver, Apache), read in place besides pyrepo\'s own users.' })),
  // The shared mode (both or neither): several daemons on one PostgreSQL catalog and one bucket.
  catalog: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', description: 'PostgreSQL catalog shared with other daemons (postgres://…; the password from PGPASSWORD or ~/.pgpass); not set: the data folder\'s own.' })),
  storage: Type.Optional(Type.String({ pattern: '^s3://', description: 'S3-compatible bucket for the files of a shared catalog (s3://bucket/prefix; endpoint and credentials from the AWS environment).' })),
};

/** PyPI's simple API: what `upstream` means when it is switched on without a URL. */
export const PYPI_SIMPLE_URL = 'https://pypi.org/simple/';
/** How long an upstream page is used before it is revalidated: 10 minutes. */
export const DEFAULT_UPSTREAM_TTL_SECONDS = 600;
/** The upstream file cache's size cap: 5 GiB (proxpi's default). */
export const DEFAULT_UPSTREAM_CACHE_BYTES = 5 * 1024 ** 3;
/** Upstream files not downloaded for this long are pruned: 90 days. */
export const DEFAULT_UPSTREAM_CACHE_MAX_AGE_SECONDS = 90 * 86_400;

/**
 * The upstream proxy's settings (off while `upstream` is not set). Names are patterns
 * matched against normalized project names, `*` for any run of characters.
 */
const upstreamSettings = {
  upstream: Type.Optional(Type.String({ pattern: '^https?://[^/\\s]+', description: 'Simple index that projects not on this index come from (PyPI: https://pypi.org/simple/); not set: none.' })),
  private: Type.Array(Type.String({ minLength: 1 }), {
    default: [],
    description: 'Name patterns that are never looked up upstream, like acme-* (names on this index, or that were, never are either).',
  }),
  upstreamAllow: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'Only these upstream names are served (empty: all but the denied).' }),
  upstreamDeny: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'Upstream names that are refused.' }),
  upstreamMinAge: Type.Integer({ minimum: 0, default: 0, description: 'Upstream files younger than this many seconds (by upload time) are hidden: a cooldown.' }),
  upstreamTtl: Type.Integer({ minimum: 0, default: DEFAULT_UPSTREAM_TTL_SECONDS, description: 'Seconds an upstream page is used before it is revalidated.' }),
  upstreamCacheSize: Type.Integer({ minimum: 0, default: DEFAULT_UPSTREAM_CACHE_BYTES, description: 'Size cap of the upstream file cache, in bytes (least recently used files go first).' }),
  upstreamCacheMaxAge: Type.Integer({ minimum: 0, default: DEFAULT_UPSTREAM_CACHE_MAX_AGE_SECONDS, description: 'Seconds after its last download that an upstream file is pruned (0: never).' }),
  upstreamFileHosts: Type.Array(Type.String({ minLength: 1 }), {
    default: [],
    description: "Hosts besides the upstream's own that its file links may point at (files.pythonhosted.org is implied for PyPI).",
  }),
};

/** Schema of the settings file. */
export const StoredSettingsSchema = Type.Object({
  ...shared,
  ...upstreamSettings,
  packagesDir: Type.Optional(Type.String({ minLength: 1, description: 'Folder holding the distribution files (default: <data folder>/packages).' })),
  adminUser: Type.String({ minLength: 1, pattern: '^[^:\\s]+$', default: DEFAULT_ADMIN_USER, description: 'Name of the admin identity.' }),
});

/** The settings file's contents, defaults applied. */
export type StoredSettings = Static<typeof StoredSettingsSchema>;

/** Schema of the settings the daemon runs with. */
export const DaemonSettingsSchema = Type.Object({
  ...shared,
  // Optional here: a daemon started without them (or by an older CLI) has no upstream.
  ...Type.Partial(Type.Object(upstreamSettings)).properties,
  dataDir: Type.String({ description: 'Folder for the catalog and daemon state.' }),
  packagesDir: Type.String({ description: 'Folder holding the distribution files.' }),
});

/** Daemon settings. */
export type DaemonSettings = Static<typeof DaemonSettingsSchema>;
