/**
 * The settings a daemon runs with: flags given to this command, else the settings file,
 * else the defaults; folders from the paths module.
 */
import { resolve } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { dataLayout, type PyrepoPaths } from '../../shared/paths.js';
import { DaemonSettingsSchema, type AuthAction, type DaemonSettings, type StoredSettings } from '../../shared/settings.js';
import { AbortError } from '../errors.js';

/** The daemon flags of `serve`, `start`, `restart` and `init` (all optional: unset means "as configured"). */
export interface DaemonFlags {
  host?: string;
  port?: number;
  dataDir?: string;
  packagesDir?: string;
  overwrite?: boolean;
  maxUploadSize?: string;
  publicUrl?: string;
  watch?: boolean;
  logLevel?: string;
  accessLog?: boolean;
  authenticate?: string;
  lan?: boolean;
  allowAnonymousLanUploads?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  htpasswd?: string;
}

const AUTH_ACTIONS: AuthAction[] = ['list', 'download', 'upload'];

/** Parses `--authenticate list,upload` (or `none`). */
export function parseAuthenticate(text: string): AuthAction[] {
  const words = text.split(/[\s,]+/).filter(Boolean).map((w) => w.toLowerCase());
  if (words.length === 1 && words[0] === 'none') return [];
  const bad = words.filter((w) => !AUTH_ACTIONS.includes(w as AuthAction));
  if (words.length === 0 || bad.length > 0) {
    throw new AbortError(`--authenticate takes list, download and upload (comma-separated), or none; not '${bad.join(',') || text}'.`, 'Example: --authenticate list,download,upload');
  }
  return [...new Set(words as AuthAction[])];
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** Parses sizes like `100MB`, `512k`, `2GiB` or a plain byte count (binary units). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new AbortError(`'${text}' is not a size.`, 'Write it like 100MB, 512KB or 2GB.');
  }
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes < 1) throw new AbortError(`The size '${text}' must be at least one byte.`);
  return bytes;
}

/**
 * Ports the Fetch standard blocks (https://fetch.spec.whatwg.org/#port-blocking): fetch,
 * browsers, and so the CLI, refuse to connect to them, whatever listens there.
 */
const FETCH_BLOCKED_PORTS = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137,
  139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723,
  2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/** Checks the flags that yargs cannot (ranges, URL shapes) and turns them into setting values. */
export function settingsFromFlags(flags: DaemonFlags): Partial<StoredSettings> {
  if (flags.port !== undefined && (!Number.isInteger(flags.port) || flags.port < 0 || flags.port > 65535)) {
    throw new AbortError(`--port must be a whole number from 0 to 65535, not '${String(flags.port)}'.`);
  }
  if (flags.port !== undefined && FETCH_BLOCKED_PORTS.has(flags.port)) {
    throw new AbortError(`Port ${flags.port} is one that browsers and fetch refuse to connect to, so neither pyrepo's CLI nor your browser could reach the index there.`, 'Choose another, e.g. --port 8645.');
  }
  if (flags.publicUrl !== undefined && !/^https?:\/\/[^/\s]+/.test(flags.publicUrl)) {
    throw new AbortError(`--public-url '${flags.publicUrl}' is not an http(s) URL.`, 'Example: --public-url https://pypi.example.lan');
  }
  if (flags.host !== undefined && flags.host.trim() === '') throw new AbortError('--host needs an address, such as 127.0.0.1 or 0.0.0.0.');
  if (flags.lan && flags.host !== undefined && flags.host !== '0.0.0.0') throw new AbortError('--lan listens on every address; leave out --host, or use --host alone.');
  if (flags.lan && flags.authenticate !== undefined && !parseAuthenticate(flags.authenticate).includes('upload')) {
    throw new AbortError('--lan keeps uploads authenticated; --authenticate must include upload with it.');
  }
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new AbortError('HTTPS needs both --tls-cert and --tls-key.');
  const patch: Partial<StoredSettings> = {
    host: flags.lan ? '0.0.0.0' : flags.host,
    port: flags.port,
    // LAN mode is for boards, which cannot send credentials: reads open, uploads authenticated.
    authenticate: flags.authenticate !== undefined ? parseAuthenticate(flags.authenticate) : flags.lan ? ['upload'] : undefined,
    allowAnonymousLanUploads: flags.allowAnonymousLanUploads,
    tlsCert: flags.tlsCert === undefined ? undefined : resolve(flags.tlsCert),
    tlsKey: flags.tlsKey === undefined ? undefined : resolve(flags.tlsKey),
    htpasswdFile: flags.htpasswd === undefined ? undefined : resolve(flags.htpasswd),
    packagesDir: flags.packagesDir === undefined ? undefined : resolve(flags.packagesDir),
    overwrite: flags.overwrite,
    maxUploadBytes: flags.maxUploadSize === undefined ? undefined : parseSize(flags.maxUploadSize),
    publicUrl: flags.publicUrl,
    watch: flags.watch,
    logLevel: flags.logLevel as StoredSettings['logLevel'] | undefined,
    accessLog: flags.accessLog,
  };
  for (const key of Object.keys(patch) as (keyof StoredSettings)[]) if (patch[key] === undefined) delete patch[key];
  return patch;
}

/** The daemon's settings: flags over the stored settings; the data folder from --data-dir or the paths module. */
export function resolveDaemonSettings(flags: DaemonFlags, stored: StoredSettings, paths: PyrepoPaths): DaemonSettings {
  const merged = { ...stored, ...settingsFromFlags(flags) };
  const dataDir = resolve(flags.dataDir ?? paths.dataDir);
  const settings: DaemonSettings = {
    host: merged.host,
    port: merged.port,
    dataDir,
    packagesDir: resolve(merged.packagesDir ?? dataLayout(dataDir).defaultPackagesDir),
    overwrite: merged.overwrite,
    maxUploadBytes: merged.maxUploadBytes,
    watch: merged.watch,
    logLevel: merged.logLevel,
    accessLog: merged.accessLog,
    authenticate: merged.authenticate,
    allowAnonymousLanUploads: merged.allowAnonymousLanUploads,
    ...(merged.publicUrl ? { publicUrl: merged.publicUrl } : {}),
    ...(merged.tlsCert ? { tlsCert: merged.tlsCert } : {}),
    ...(merged.tlsKey ? { tlsKey: merged.tlsKey } : {}),
    ...(merged.htpasswdFile ? { htpasswdFile: merged.htpasswdFile } : {}),
  };
  if (!Value.Check(DaemonSettingsSchema, settings)) {
    const first = [...Value.Errors(DaemonSettingsSchema, settings)][0];
    throw new AbortError(`Invalid setting ${first?.path.slice(1) ?? ''}: ${first?.message ?? 'unknown problem'}.`);
  }
  return settings;
}
