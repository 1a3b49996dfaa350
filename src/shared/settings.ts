/**
 * The daemon's settings: one typed schema with defaults, shared by `pyrepo serve`
 * flags, the settings file and the daemon itself.
 */
import { Type, type Static } from '@sinclair/typebox';

/** Default TCP port of the index. */
export const DEFAULT_PORT = 8645;
/** Default upload size limit: 100 MiB, like PyPI's default per-file limit. */
export const DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024;

/** Schema of the daemon settings. */
export const DaemonSettingsSchema = Type.Object({
  host: Type.String({ default: '127.0.0.1', description: 'Address to listen on.' }),
  port: Type.Integer({ minimum: 0, maximum: 65535, default: DEFAULT_PORT, description: 'TCP port (0 picks a free one).' }),
  dataDir: Type.String({ description: 'Folder for the catalog and daemon state.' }),
  packagesDir: Type.String({ description: 'Folder holding the distribution files.' }),
  overwrite: Type.Boolean({ default: false, description: 'Allow an upload to replace a file with different content.' }),
  maxUploadBytes: Type.Integer({ minimum: 1, default: DEFAULT_MAX_UPLOAD_BYTES, description: 'Largest accepted upload.' }),
  publicUrl: Type.Optional(Type.String({ description: 'Base URL to show in pages when behind a proxy.' })),
  watch: Type.Boolean({ default: true, description: 'Pick up files added to or removed from the packages folder while running.' }),
  logLevel: Type.Union(
    [Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('silent')],
    { default: 'info' },
  ),
  accessLog: Type.Boolean({ default: true, description: 'Log one line per request.' }),
});

/** Daemon settings. */
export type DaemonSettings = Static<typeof DaemonSettingsSchema>;
