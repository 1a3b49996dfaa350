/** The dashboard header's upstream cache: size and hit rate from /-/health, nothing without an upstream. */
import { describe, expect, it } from 'vitest';
import { upstreamText } from '../../src/tui/components/Header.js';
import { initialLiveIndex } from '../../src/tui/state/live-index.js';
import { health } from './helpers/fake-daemon.js';

const upstream = { url: 'http://127.0.0.1:9/simple/', files: 3, bytes: 5 * 1024 * 1024, capBytes: 0, maxAgeSeconds: 0, projects: 2, hits: 9, misses: 1, failures: 0, downloads: [] };

describe('upstreamText', () => {
  it('shows the cache size and hit rate', () => {
    expect(upstreamText({ ...initialLiveIndex, health: health({ upstream: { ...upstream, hitRate: 0.9 } }) })).toBe('upstream cache 5 MiB, 90% hits');
    expect(upstreamText({ ...initialLiveIndex, health: health({ upstream: { ...upstream, hitRate: null } }) })).toBe('upstream cache 5 MiB');
  });

  it('is empty without an upstream', () => {
    expect(upstreamText({ ...initialLiveIndex, health: health() })).toBe('');
  });
});
