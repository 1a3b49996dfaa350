/**
 * `pyrepo cache`'s work without the printing: the upstream cache's state from the running
 * daemon, pruning and purging it, and the cache in a few words for `status`.
 */
import type { CacheRemoval, UpstreamStatus } from '../../shared/api.js';
import type { DaemonClient } from '../../shared/client.js';
import { formatBytes } from '../../shared/format.js';
import { asAbort } from './daemon-access.js';

/** The cache's state; an AbortError that says how to set an upstream when there is none. */
export async function cacheStatus(client: DaemonClient): Promise<UpstreamStatus> {
  return client.upstream().catch((err: unknown) => {
    throw asAbort(err);
  });
}

export async function pruneCache(client: DaemonClient): Promise<CacheRemoval> {
  return client.pruneUpstreamCache().catch((err: unknown) => {
    throw asAbort(err);
  });
}

export async function purgeCache(client: DaemonClient, project?: string): Promise<CacheRemoval> {
  return client.purgeUpstreamCache(project).catch((err: unknown) => {
    throw asAbort(err);
  });
}

/** `12.5 MiB in 40 files (cap 5 GiB), hit rate 93%`: the cache in one line. */
export function cacheSummary(s: UpstreamStatus): string {
  const cap = s.capBytes > 0 ? ` (cap ${formatBytes(s.capBytes)})` : '';
  const rate = s.hitRate === null ? 'no request yet' : `hit rate ${Math.round(s.hitRate * 100)}%`;
  return `${formatBytes(s.bytes)} in ${s.files} file${s.files === 1 ? '' : 's'}${cap}, ${rate}`;
}

/** What a prune or purge removed, in words. */
export function removalText(r: CacheRemoval, what: string): string {
  return r.files === 0 ? `Nothing to remove from ${what}.` : `Removed ${r.files} file${r.files === 1 ? '' : 's'} (${formatBytes(r.bytes)}) from ${what}.`;
}
