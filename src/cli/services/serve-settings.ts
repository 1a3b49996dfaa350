/** Turns `pyrepo serve` flags into daemon settings, with defaults from the paths module. */
import { resolve } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { dataLayout, resolvePaths } from '../../shared/paths.js';
import { DaemonSettingsSchema, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_PORT, type DaemonSettings } from '../../shared/settings.js';
import { AbortError } from '../errors.js';

export interface ServeFlags {
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

export function resolveServeSettings(flags: ServeFlags, env: NodeJS.ProcessEnv = process.env): DaemonSettings {
  const dataDir = resolve(flags.dataDir ?? resolvePaths(env).dataDir);
  const settings = {
    host: flags.host ?? '127.0.0.1',
    port: flags.port ?? DEFAULT_PORT,
    dataDir,
    packagesDir: resolve(flags.packagesDir ?? dataLayout(dataDir).defaultPackagesDir),
    overwrite: flags.overwrite ?? false,
    maxUploadBytes: flags.maxUploadSize ? parseSize(flags.maxUploadSize) : DEFAULT_MAX_UPLOAD_BYTES,
    watch: flags.watch ?? true,
    logLevel: flags.logLevel ?? 'info',
    accessLog: flags.accessLog ?? true,
    ...(flags.publicUrl ? { publicUrl: flags.publicUrl } : {}),
  };
  if (flags.publicUrl && !/^https?:\/\/[^/\s]+/.test(flags.publicUrl)) {
    throw new AbortError(`--public-url '${flags.publicUrl}' is not an http(s) URL.`, 'Example: --public-url https://pypi.example.lan');
  }
  if (!Value.Check(DaemonSettingsSchema, settings)) {
    const first = [...Value.Errors(DaemonSettingsSchema, settings)][0];
    throw new AbortError(`Invalid setting ${first?.path.slice(1) ?? ''}: ${first?.message ?? 'unknown problem'}.`);
  }
  return settings;
}
