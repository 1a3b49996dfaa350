/**
 * The upstream proxy's settings as the daemon uses them: defaults applied, the hosts that
 * may be fetched worked out. Off (undefined) while `upstream` is not set.
 */
import {
  DEFAULT_UPSTREAM_CACHE_BYTES,
  DEFAULT_UPSTREAM_CACHE_MAX_AGE_SECONDS,
  DEFAULT_UPSTREAM_TTL_SECONDS,
  type DaemonSettings,
} from './settings.js';

/** The upstream proxy, resolved. Times in milliseconds. */
export interface UpstreamConfig {
  /** The upstream simple index, ending in `/`. */
  url: string;
  /** Hosts (`host` or `host:port`, lowercase) that may be fetched: the index's own and the listed file hosts. */
  hosts: string[];
  private: string[];
  allow: string[];
  deny: string[];
  minAgeMs: number;
  ttlMs: number;
  cacheMaxBytes: number;
  /** 0: files are never pruned for age. */
  cacheMaxAgeMs: number;
}

/** PyPI's index host, whose files live on another host. */
const PYPI_HOSTS: Record<string, string> = { 'pypi.org': 'files.pythonhosted.org', 'pypi.python.org': 'files.pythonhosted.org' };

/** `host` or `host:port` of a URL or of a bare host name, lowercase. */
export function hostOf(urlOrHost: string): string {
  try {
    return new URL(urlOrHost.includes('://') ? urlOrHost : `http://${urlOrHost}`).host.toLowerCase();
  } catch {
    return urlOrHost.toLowerCase();
  }
}

/** The upstream proxy's settings, or undefined when it is off. */
export function upstreamConfigOf(settings: Partial<Pick<DaemonSettings, 'upstream' | 'private' | 'upstreamAllow' | 'upstreamDeny' | 'upstreamMinAge' | 'upstreamTtl' | 'upstreamCacheSize' | 'upstreamCacheMaxAge' | 'upstreamFileHosts'>>): UpstreamConfig | undefined {
  if (!settings.upstream) return undefined;
  const url = settings.upstream.endsWith('/') ? settings.upstream : `${settings.upstream}/`;
  const indexHost = hostOf(url);
  const implied = PYPI_HOSTS[new URL(url).hostname.toLowerCase()];
  const hosts = [...new Set([indexHost, ...(implied ? [implied] : []), ...(settings.upstreamFileHosts ?? []).map(hostOf)])];
  return {
    url,
    hosts,
    private: settings.private ?? [],
    allow: settings.upstreamAllow ?? [],
    deny: settings.upstreamDeny ?? [],
    minAgeMs: (settings.upstreamMinAge ?? 0) * 1000,
    ttlMs: (settings.upstreamTtl ?? DEFAULT_UPSTREAM_TTL_SECONDS) * 1000,
    cacheMaxBytes: settings.upstreamCacheSize ?? DEFAULT_UPSTREAM_CACHE_BYTES,
    cacheMaxAgeMs: (settings.upstreamCacheMaxAge ?? DEFAULT_UPSTREAM_CACHE_MAX_AGE_SECONDS) * 1000,
  };
}
