/**
 * The daemon's settings as people type them: one table that gives, for each setting, its
 * flag (which is also its name in `pyrepo config`), its key in the settings file, and how
 * its text is read and written back. Flags of `start`, `restart` and `init` are saved in
 * the settings file; `serve`'s are for one run. Here too: what a change of settings is in
 * words, and the checks made before a daemon is stopped to start another.
 */
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { Errors } from '@sinclair/typebox/errors';
import { Check, Create } from '@sinclair/typebox/value';
import type { DaemonState } from '../../shared/api.js';
import { dataLayout, type PyrepoPaths } from '../../shared/paths.js';
import { anonymousLanUploadProblem, listenProblem, loadTlsFiles, SettingsProblem } from '../../shared/settings-checks.js';
import { normalizeName } from '../../shared/names.js';
import { redactUrl } from '../../shared/redact-url.js';
import { DaemonSettingsSchema, PYPI_SIMPLE_URL, StoredSettingsSchema, type AuthAction, type DaemonSettings, type StoredSettings } from '../../shared/settings.js';
import { AbortError, UsageError } from '../errors.js';

/** Exit status of a start that cannot happen (as when the daemon itself refuses). */
const EXIT_CANNOT_START = 2;

/** The daemon flags of `serve`, `start`, `restart` and `init` (all optional: unset means "as saved"). */
export interface DaemonFlags {
  host?: string;
  port?: number | string;
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
  upstream?: string;
  private?: string;
  upstreamAllow?: string;
  upstreamDeny?: string;
  upstreamMinAge?: string;
  upstreamTtl?: string;
  upstreamCacheSize?: string;
  upstreamCacheMaxAge?: string;
  upstreamFileHosts?: string;
  catalog?: string;
  storage?: string;
}

/** Keys of the settings file that a daemon setting has (all but the admin's name). */
export type SettingKey = Exclude<keyof StoredSettings, 'adminUser'>;

/** One daemon setting: its flag, its key, and how its text is read and shown. */
export interface SettingSpec {
  /** The flag without dashes; also its name in `pyrepo config`. */
  name: string;
  /** Its key in the settings file. */
  key: SettingKey;
  /** Its key among the parsed flags. */
  flag: keyof DaemonFlags;
  kind: 'boolean' | 'text';
  alias?: string;
  describe: string;
  /** The default as shown in help and `config list`. */
  defaultText?: string;
  choices?: readonly string[];
  /** Reads a value given as text; `label` is how messages name it (`--port`, or `port`). */
  parse(text: string, label: string): unknown;
  /** The value as text that parse() reads back ('' when unset). */
  format(value: unknown): string;
}

const AUTH_ACTIONS: AuthAction[] = ['list', 'download', 'upload'];
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'silent'] as const;

/** A value the user typed that cannot be a setting: a usage error. */
function badValue(message: string, next?: string): AbortError {
  return new UsageError(message, next);
}

/** Parses `list,upload` (or `none`) for --authenticate. */
export function parseAuthenticate(text: string, label = '--authenticate'): AuthAction[] {
  const words = text.split(/[\s,]+/).filter(Boolean).map((w) => w.toLowerCase());
  if (words.length === 1 && words[0] === 'none') return [];
  const bad = words.filter((w) => !AUTH_ACTIONS.includes(w as AuthAction));
  if (words.length === 0 || bad.length > 0) {
    throw badValue(`${label} takes list, download and upload (comma-separated), or none; not '${bad.join(',') || text}'.`, `Example: ${label} list,download,upload`);
  }
  return [...new Set(words as AuthAction[])];
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** Parses sizes like `100MB`, `512k`, `2GiB` or a plain byte count (binary units). */
export function parseSize(text: string, label = '--max-upload-size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) throw badValue(`${label} '${text}' is not a size.`, 'Write it like 100MB, 512KB or 2GB.');
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes < 1) throw badValue(`${label} '${text}' must be at least one byte.`);
  return bytes;
}

/** A size as parseSize() reads it back, in the largest unit that divides it (100MB, 1536KB, 1000). */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [['GB', 1024 ** 3], ['MB', 1024 ** 2], ['KB', 1024]] as const) if (bytes % size === 0) return `${bytes / size}${unit}`;
  return String(bytes);
}

const TRUE = ['true', 'yes', 'on', '1'];
const FALSE = ['false', 'no', 'off', '0'];

/** Reads `true`/`false` (or yes/no, on/off, 1/0). */
export function parseBoolean(text: string, label: string): boolean {
  const word = text.trim().toLowerCase();
  if (TRUE.includes(word)) return true;
  if (FALSE.includes(word)) return false;
  throw badValue(`${label} takes true or false, not '${text}'.`);
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

function parsePort(text: string, label: string): number {
  const trimmed = text.trim();
  const port = /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw badValue(`${label} must be a whole number from 0 to 65535, not '${text}'.`);
  if (FETCH_BLOCKED_PORTS.has(port)) {
    throw badValue(`Port ${port} is one that browsers and fetch refuse to connect to, so neither pyrepo's CLI nor your browser could reach the index there.`, `Choose another, e.g. ${label} 8645.`);
  }
  return port;
}

function parsePath(text: string, label: string): string {
  if (text.trim() === '') throw badValue(`${label} needs a path.`);
  return resolve(text);
}

const asText = (value: unknown) => (value === undefined ? '' : String(value));

const DURATION_UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** Parses durations like `3d`, `12h`, `10m`, `90s` or plain seconds; `0` is none. */
export function parseDuration(text: string, label: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$/i.exec(text);
  if (!m) throw badValue(`${label} '${text}' is not a duration.`, `Write it like 3d, 12h, 10m or 90s (0: none). Example: ${label} 3d`);
  return Math.round(Number(m[1]) * (DURATION_UNITS[(m[2] ?? '').toLowerCase()] as number));
}

/** A duration as parseDuration() reads it back, in the largest unit that divides it (3d, 10m, 0). */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0';
  for (const [unit, size] of [['w', 604_800], ['d', 86_400], ['h', 3600], ['m', 60]] as const) if (seconds % size === 0) return `${seconds / size}${unit}`;
  return `${seconds}s`;
}

/** `upstream`: an http(s) URL, or on/true/pypi for PyPI's simple API; off/false/none switches it off. */
function parseUpstream(text: string, label: string): string | undefined {
  const word = text.trim().toLowerCase();
  if ([...TRUE, 'pypi'].includes(word)) return PYPI_SIMPLE_URL;
  if ([...FALSE, 'none', ''].includes(word)) return undefined;
  if (!/^https?:\/\/[^/\s]+/.test(text.trim())) {
    throw badValue(`${label} '${text}' is not an http(s) URL.`, `Example: ${label} https://pypi.org/simple/ (or ${label} on for PyPI, off for none)`);
  }
  try {
    new URL(text.trim());
  } catch {
    throw badValue(`${label} '${text}' is not a URL.`);
  }
  return text.trim();
}

/** `catalog`: a postgres:// URL (off/none: the data folder's own catalog). */
function parseCatalogUrl(text: string, label: string): string | undefined {
  const value = text.trim();
  if ([...FALSE, 'none', ''].includes(value.toLowerCase())) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || !/^postgres(ql)?:$/.test(url.protocol) || !url.hostname) {
    throw badValue(`${label} '${redactUrl(value)}' is not a PostgreSQL URL.`, `Example: ${label} postgres://pyrepo@db.example.org:5432/pyrepo (the password from PGPASSWORD or ~/.pgpass)`);
  }
  return value;
}

/** `storage`: s3://bucket[/prefix] (off/none: the packages folder). */
function parseStorageUrl(text: string, label: string): string | undefined {
  const value = text.trim();
  if ([...FALSE, 'none', ''].includes(value.toLowerCase())) return undefined;
  const m = /^s3:\/\/([^/?#]+)(\/[^?#]*)?$/.exec(value);
  if (!m || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(m[1] as string)) {
    throw badValue(`${label} '${value}' is not an S3 location.`, `Example: ${label} s3://my-bucket/pyrepo (a bucket name: 3-63 lowercase letters, digits, dots and hyphens)`);
  }
  return value;
}

/** Name patterns: comma- or space-separated, letters, digits, `.`, `_`, `-` and `*`, kept normalized. */
function parseNamePatterns(text: string, label: string): string[] {
  const words = text.split(/[\s,]+/).filter(Boolean);
  if (words.length === 1 && words[0]?.toLowerCase() === 'none') return [];
  const bad = words.filter((w) => !/^[A-Za-z0-9._*-]+$/.test(w));
  if (bad.length > 0) throw badValue(`${label}: '${bad.join("', '")}' is not a project name pattern (letters, digits, ., _, - and * only).`, `Example: ${label} 'acme-*,internal-tools'`);
  return [...new Set(words.map(normalizeName))];
}

/** Host names (with a port if not the scheme's), comma- or space-separated. */
function parseHosts(text: string, label: string): string[] {
  const words = text.split(/[\s,]+/).filter(Boolean);
  if (words.length === 1 && words[0]?.toLowerCase() === 'none') return [];
  const bad = words.filter((w) => !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(w));
  if (bad.length > 0) throw badValue(`${label}: '${bad.join("', '")}' is not a host name (like files.example.org or 127.0.0.1:9000).`);
  return [...new Set(words.map((w) => w.toLowerCase()))];
}

const asList = (value: unknown) => (Array.isArray(value) ? value.join(',') : '');

/** Every daemon setting, in the order help and `config list` show them. */
export const SETTINGS: readonly SettingSpec[] = [
  {
    name: 'host',
    key: 'host',
    flag: 'host',
    kind: 'text',
    describe: 'Address to listen on',
    defaultText: '127.0.0.1 (loopback only)',
    parse: (text, label) => {
      if (text.trim() === '') throw badValue(`${label} needs an address, such as 127.0.0.1 or 0.0.0.0.`);
      return text.trim();
    },
    format: asText,
  },
  { name: 'port', key: 'port', flag: 'port', kind: 'text', alias: 'p', describe: 'TCP port (0 picks a free one)', defaultText: '8645', parse: parsePort, format: asText },
  {
    name: 'packages-dir',
    key: 'packagesDir',
    flag: 'packagesDir',
    kind: 'text',
    describe: 'Folder of distribution files (a pypiserver folder works)',
    defaultText: '<data folder>/packages',
    parse: parsePath,
    format: asText,
  },
  { name: 'overwrite', key: 'overwrite', flag: 'overwrite', kind: 'boolean', describe: 'Let an upload replace a file with different content', defaultText: 'false', parse: parseBoolean, format: asText },
  {
    name: 'max-upload-size',
    key: 'maxUploadBytes',
    flag: 'maxUploadSize',
    kind: 'text',
    describe: 'Largest accepted upload, e.g. 100MB',
    defaultText: '100MB',
    parse: parseSize,
    format: (value) => (typeof value === 'number' ? formatSize(value) : ''),
  },
  {
    name: 'public-url',
    key: 'publicUrl',
    flag: 'publicUrl',
    kind: 'text',
    describe: 'Base URL shown in pages when behind a proxy',
    parse: (text, label) => {
      if (!/^https?:\/\/[^/\s]+/.test(text)) throw badValue(`${label} '${text}' is not an http(s) URL.`, `Example: ${label} https://pypi.example.lan`);
      return text;
    },
    format: asText,
  },
  { name: 'watch', key: 'watch', flag: 'watch', kind: 'boolean', describe: 'Pick up files copied into or deleted from the packages folder', defaultText: 'true', parse: parseBoolean, format: asText },
  {
    name: 'log-level',
    key: 'logLevel',
    flag: 'logLevel',
    kind: 'text',
    describe: 'Least severe level written to the log',
    defaultText: 'info',
    choices: LOG_LEVELS,
    parse: (text, label) => {
      const level = text.trim().toLowerCase();
      if (!(LOG_LEVELS as readonly string[]).includes(level)) throw badValue(`${label} takes ${LOG_LEVELS.slice(0, -1).join(', ')} or silent; not '${text}'.`);
      return level;
    },
    format: asText,
  },
  { name: 'access-log', key: 'accessLog', flag: 'accessLog', kind: 'boolean', describe: 'Log one line per request', defaultText: 'true', parse: parseBoolean, format: asText },
  {
    name: 'authenticate',
    key: 'authenticate',
    flag: 'authenticate',
    kind: 'text',
    describe: 'What needs credentials: a list of list, download, upload, or none (the control API always does)',
    defaultText: 'upload',
    parse: parseAuthenticate,
    format: (value) => (Array.isArray(value) ? (value.length === 0 ? 'none' : value.join(',')) : ''),
  },
  {
    name: 'allow-anonymous-lan-uploads',
    key: 'allowAnonymousLanUploads',
    flag: 'allowAnonymousLanUploads',
    kind: 'boolean',
    describe: 'Accept uploads without credentials beyond loopback (anyone could replace packages)',
    defaultText: 'false',
    parse: parseBoolean,
    format: asText,
  },
  {
    name: 'htpasswd',
    key: 'htpasswdFile',
    flag: 'htpasswd',
    kind: 'text',
    describe: 'Also accept the users of this htpasswd file (a pypiserver or Apache one), read in place',
    parse: parsePath,
    format: asText,
  },
  { name: 'tls-cert', key: 'tlsCert', flag: 'tlsCert', kind: 'text', describe: 'PEM certificate: serve HTTPS (with --tls-key)', parse: parsePath, format: asText },
  { name: 'tls-key', key: 'tlsKey', flag: 'tlsKey', kind: 'text', describe: 'PEM private key for --tls-cert', parse: parsePath, format: asText },
  {
    name: 'catalog',
    key: 'catalog',
    flag: 'catalog',
    kind: 'text',
    describe: 'Share the index with other daemons: their PostgreSQL catalog (postgres://..., with --storage)',
    defaultText: 'the data folder',
    parse: parseCatalogUrl,
    format: asText,
  },
  {
    name: 'storage',
    key: 'storage',
    flag: 'storage',
    kind: 'text',
    describe: 'The shared index\'s files: an S3-compatible bucket (s3://bucket/prefix, with --catalog)',
    defaultText: 'the packages folder',
    parse: parseStorageUrl,
    format: asText,
  },
  {
    name: 'upstream',
    key: 'upstream',
    flag: 'upstream',
    kind: 'text',
    describe: 'Serve projects not on this index from this simple index (on: PyPI; off: none)',
    defaultText: 'off',
    parse: parseUpstream,
    format: asText,
  },
  {
    name: 'private',
    key: 'private',
    flag: 'private',
    kind: 'text',
    describe: 'Name patterns never looked up upstream, e.g. acme-* (names on the index never are)',
    parse: parseNamePatterns,
    format: asList,
  },
  { name: 'upstream-allow', key: 'upstreamAllow', flag: 'upstreamAllow', kind: 'text', describe: 'Serve only these upstream names (patterns)', defaultText: 'all', parse: parseNamePatterns, format: asList },
  { name: 'upstream-deny', key: 'upstreamDeny', flag: 'upstreamDeny', kind: 'text', describe: 'Refuse these upstream names (patterns)', parse: parseNamePatterns, format: asList },
  {
    name: 'upstream-min-age',
    key: 'upstreamMinAge',
    flag: 'upstreamMinAge',
    kind: 'text',
    describe: 'Hide upstream files younger than this (upload time), e.g. 3d',
    defaultText: '0',
    parse: parseDuration,
    format: (value) => (typeof value === 'number' ? formatDuration(value) : ''),
  },
  {
    name: 'upstream-ttl',
    key: 'upstreamTtl',
    flag: 'upstreamTtl',
    kind: 'text',
    describe: 'How long an upstream page is used before it is revalidated',
    defaultText: '10m',
    parse: parseDuration,
    format: (value) => (typeof value === 'number' ? formatDuration(value) : ''),
  },
  {
    name: 'upstream-cache-size',
    key: 'upstreamCacheSize',
    flag: 'upstreamCacheSize',
    kind: 'text',
    describe: 'Size cap of the upstream file cache, e.g. 5GB',
    defaultText: '5GB',
    parse: (text, label) => (text.trim() === '0' ? 0 : parseSize(text, label)),
    format: (value) => (typeof value === 'number' ? formatSize(value) : ''),
  },
  {
    name: 'upstream-cache-max-age',
    key: 'upstreamCacheMaxAge',
    flag: 'upstreamCacheMaxAge',
    kind: 'text',
    describe: 'Prune upstream files not downloaded for this long (0: never)',
    defaultText: '90d',
    parse: parseDuration,
    format: (value) => (typeof value === 'number' ? formatDuration(value) : ''),
  },
  {
    name: 'upstream-file-hosts',
    key: 'upstreamFileHosts',
    flag: 'upstreamFileHosts',
    kind: 'text',
    describe: "Hosts besides the upstream's own its file links may point at",
    defaultText: 'files.pythonhosted.org for PyPI',
    parse: parseHosts,
    format: asList,
  },
];

/** The setting called `name` (as the flag spells it), if there is one. */
export function settingNamed(name: string): SettingSpec | undefined {
  const wanted = name.replace(/^--/, '').toLowerCase();
  return SETTINGS.find((s) => s.name === wanted || s.key.toLowerCase() === wanted);
}

/** The setting stored under `key`. */
export function settingOf(key: SettingKey): SettingSpec {
  const spec = SETTINGS.find((s) => s.key === key);
  if (!spec) throw new Error(`No setting has the key ${key}`);
  return spec;
}

/** Reads the value of one setting given as text, as its flag would. */
export function parseSetting(spec: SettingSpec, text: string | boolean | number, label = `--${spec.name}`): unknown {
  if (spec.kind === 'boolean' && typeof text === 'boolean') return text;
  return spec.parse(String(text), label);
}

/** The flags given, as setting values (absent flags leave no keys, so they never override the file). */
export function settingsFromFlags(flags: DaemonFlags): Partial<StoredSettings> {
  const patch: Record<string, unknown> = {};
  for (const spec of SETTINGS) {
    const value = flags[spec.flag];
    if (value !== undefined) patch[spec.key] = parseSetting(spec, value as string | boolean | number);
  }
  if (flags.lan === true) {
    if (flags.host !== undefined && patch.host !== '0.0.0.0') throw badValue('--lan listens on every address; leave out --host, or use --host alone.');
    if (flags.authenticate !== undefined && !(patch.authenticate as AuthAction[]).includes('upload')) {
      throw badValue('--lan keeps uploads authenticated; --authenticate must include upload with it.');
    }
    patch.host = '0.0.0.0';
    // LAN mode is for boards, which cannot send credentials: reads open, uploads authenticated.
    patch.authenticate ??= ['upload'];
  } else if (flags.lan === false && flags.host === undefined) {
    // --no-lan undoes a saved --lan: back to loopback.
    patch.host = '127.0.0.1';
  }
  return patch as Partial<StoredSettings>;
}

/**
 * The settings that `patch` makes of `stored`, checked as a whole: schema, TLS files given
 * in pairs, and for `pyrepo config` no anonymous uploads beyond loopback. `names` says how
 * messages name settings.
 */
export function mergeSettings(stored: StoredSettings, patch: Partial<StoredSettings>, names: 'flags' | 'config' = 'flags'): StoredSettings {
  const next: Record<string, unknown> = { ...stored, ...patch };
  for (const key of Object.keys(next)) if (next[key] === undefined) delete next[key];
  if (!Check(StoredSettingsSchema, next)) {
    const first = [...Errors(StoredSettingsSchema, next)][0];
    throw badValue(`Invalid setting ${first?.path.slice(1) ?? ''}: ${first?.message ?? 'unknown problem'}.`);
  }
  const settings = next as StoredSettings;
  if ((settings.tlsCert === undefined) !== (settings.tlsKey === undefined)) {
    throw names === 'flags'
      ? badValue('HTTPS needs both --tls-cert and --tls-key.')
      : badValue('HTTPS needs both tls-cert and tls-key.', 'Set them together: `pyrepo config set tls-cert CERT.pem tls-key KEY.pem` (or unset both).');
  }
  if ((settings.catalog === undefined) !== (settings.storage === undefined)) {
    throw names === 'flags'
      ? badValue('The shared mode needs both --catalog postgres://… and --storage s3://bucket/prefix.')
      : badValue('The shared mode needs both catalog and storage.', 'Set them together: `pyrepo config set catalog postgres://… storage s3://bucket/prefix` (or unset both).');
  }
  // Flags meet this check where the daemon would refuse to start (checkBeforeStart, or
  // the daemon itself for `serve`); a setting to save is refused at once.
  const lan = names === 'config' ? anonymousLanUploadProblem(settings) : undefined;
  if (lan) throw badValue(lan.replace('--authenticate upload', 'authenticate upload').replace('--allow-anonymous-lan-uploads', 'allow-anonymous-lan-uploads true'));
  return settings;
}

/** The daemon's settings: the stored ones; the data folder from --data-dir or the paths module. */
export function daemonSettingsOf(stored: StoredSettings, paths: PyrepoPaths, dataDirFlag?: string): DaemonSettings {
  const dataDir = resolve(dataDirFlag ?? paths.dataDir);
  const settings: DaemonSettings = {
    host: stored.host,
    port: stored.port,
    dataDir,
    packagesDir: resolve(stored.packagesDir ?? dataLayout(dataDir).defaultPackagesDir),
    overwrite: stored.overwrite,
    maxUploadBytes: stored.maxUploadBytes,
    watch: stored.watch,
    logLevel: stored.logLevel,
    accessLog: stored.accessLog,
    authenticate: stored.authenticate,
    allowAnonymousLanUploads: stored.allowAnonymousLanUploads,
    ...(stored.publicUrl ? { publicUrl: stored.publicUrl } : {}),
    ...(stored.tlsCert ? { tlsCert: stored.tlsCert } : {}),
    ...(stored.tlsKey ? { tlsKey: stored.tlsKey } : {}),
    ...(stored.htpasswdFile ? { htpasswdFile: stored.htpasswdFile } : {}),
    ...(stored.upstream ? { upstream: stored.upstream } : {}),
    ...(stored.catalog ? { catalog: stored.catalog } : {}),
    ...(stored.storage ? { storage: stored.storage } : {}),
    private: stored.private,
    upstreamAllow: stored.upstreamAllow,
    upstreamDeny: stored.upstreamDeny,
    upstreamMinAge: stored.upstreamMinAge,
    upstreamTtl: stored.upstreamTtl,
    upstreamCacheSize: stored.upstreamCacheSize,
    upstreamCacheMaxAge: stored.upstreamCacheMaxAge,
    upstreamFileHosts: stored.upstreamFileHosts,
  };
  if (!Check(DaemonSettingsSchema, settings)) {
    const first = [...Errors(DaemonSettingsSchema, settings)][0];
    throw new AbortError(`Invalid setting ${first?.path.slice(1) ?? ''}: ${first?.message ?? 'unknown problem'}.`);
  }
  return settings;
}

/** The daemon's settings for one run: flags over the stored settings (nothing is saved). */
export function resolveDaemonSettings(flags: DaemonFlags, stored: StoredSettings, paths: PyrepoPaths): DaemonSettings {
  return daemonSettingsOf(mergeSettings(stored, settingsFromFlags(flags)), paths, flags.dataDir);
}

/** The settings a running daemon reported in its state file, when it did (daemons before 0.2 did not). */
export function runningSettings(state: DaemonState): DaemonSettings | undefined {
  return state.settings !== undefined && Check(DaemonSettingsSchema, state.settings) ? state.settings : undefined;
}

/** One setting that differs between two sets of settings, as text. */
export interface SettingChange {
  name: string;
  key: SettingKey;
  /** '' when unset. */
  before: string;
  after: string;
}

/** The daemon settings whose values differ between `before` and `after`, in table order. */
export function changedSettings(before: Partial<Record<SettingKey, unknown>>, after: Partial<Record<SettingKey, unknown>>): SettingChange[] {
  const changes: SettingChange[] = [];
  for (const spec of SETTINGS) {
    const a = spec.format(before[spec.key]);
    const b = spec.format(after[spec.key]);
    if (a !== b) changes.push({ name: spec.name, key: spec.key, before: a, after: b });
  }
  return changes;
}

/** `port 9000` or `tls-cert (not set)`: one setting's value in a sentence. */
export function describeValue(name: string, text: string): string {
  return text === '' ? `${name} (not set)` : `${name} ${text}`;
}

/** A value for a shell command line, quoted when it needs to be. */
export function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * The `pyrepo config` commands that put the `before` values of these changes back: `unset`
 * for values that were the defaults, `set` for the others.
 */
export function undoCommands(changes: readonly SettingChange[]): string[] {
  const defaults: Record<string, unknown> = Create(StoredSettingsSchema);
  const unset: string[] = [];
  const set: string[] = [];
  for (const c of changes) {
    if (c.before === '' || c.before === settingOf(c.key).format(defaults[c.key])) unset.push(c.name);
    else set.push(`${c.name} ${shellWord(c.before)}`);
  }
  return [...(set.length > 0 ? [`pyrepo config set ${set.join(' ')}`] : []), ...(unset.length > 0 ? [`pyrepo config unset ${unset.join(' ')}`] : [])];
}

/** Whether something other than `running` holds `host:port` (what listen() would say), without keeping it. */
function probeListen(host: string, port: number): Promise<string | undefined> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? 'ERROR'));
    server.listen({ host, port, exclusive: true }, () => server.close(() => done(undefined)));
  });
}

/**
 * What the daemon would refuse, checked before a running one is stopped for it: anonymous
 * uploads beyond loopback, TLS files that cannot serve, and a port another program holds
 * (the port the running daemon itself holds is not checked: it is about to be free).
 */
export async function checkBeforeStart(settings: DaemonSettings, running?: DaemonState, command: 'start' | 'restart' = 'restart'): Promise<void> {
  const refuse = (why: string, next?: string) => new AbortError(why, next, EXIT_CANNOT_START);
  const lan = anonymousLanUploadProblem(settings);
  if (lan) throw refuse(lan);
  if (settings.tlsCert && settings.tlsKey) {
    try {
      loadTlsFiles(settings.tlsCert, settings.tlsKey);
    } catch (err) {
      if (err instanceof SettingsProblem) throw refuse(err.message, 'Fix the file, or point tls-cert and tls-key at a working pair (`pyrepo config set tls-cert CERT tls-key KEY`).');
      throw err;
    }
  }
  if (settings.port !== 0 && settings.port !== running?.port) {
    const code = await probeListen(settings.host, settings.port);
    const problem = listenProblem(code, settings.host, settings.port);
    if (problem) throw refuse(problem.replace(/ Stop it, or choose another port with --port\.$/, ''), portAdvice(settings.port, command));
    if (code) throw refuse(`Cannot listen on ${settings.host}:${settings.port} (${code}).`);
  }
}

/** The next step when a port is taken. */
export function portAdvice(port: number, command: 'start' | 'restart' = 'restart'): string {
  return `Stop the program that holds it, or choose another port: \`pyrepo ${command} --port ${port === 65535 ? 8646 : port + 1}\` (saved for later starts).`;
}
