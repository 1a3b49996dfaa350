/**
 * One watched build folder on its own: polling when asked for, polling taking over when
 * filesystem events hit the system's watch limit (ENOSPC from inotify, injected here: the
 * real limit is machine-wide), and what holds a file back (size or mtime still moving).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DistWatcher, type CandidateFile, type DistWatcherHandlers, type WatchMode } from '../../src/daemon/services/dist-watcher.js';
import { waitFor } from '../helpers/daemon.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function folder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pyrepo-distwatch-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function recorder() {
  const offered: CandidateFile[] = [];
  const states: [string, string | null][] = [];
  const modes: [WatchMode, string | null][] = [];
  const handlers: DistWatcherHandlers = {
    candidate: async (file) => {
      offered.push(file);
      return 'handled';
    },
    seen: () => false,
    gone: () => undefined,
    state: (state, detail) => states.push([state, detail]),
    mode: (mode, reason) => modes.push([mode, reason]),
    pending: () => undefined,
  };
  return { offered, states, modes, handlers };
}

async function started(dir: string, poll: boolean, r: ReturnType<typeof recorder>): Promise<DistWatcher> {
  const w = new DistWatcher({ dir, report: join(dir, 'build-report.json'), poll, settleMs: 50, pollIntervalMs: 100 }, r.handlers);
  cleanups.push(() => w.close());
  await w.start();
  return w;
}

describe('DistWatcher', () => {
  it('polls when asked to (network filesystems), and says so', async () => {
    const dir = await folder();
    const r = recorder();
    const w = await started(dir, true, r);
    expect(r.modes).toEqual([['polling', null]]);
    expect(w.modeNow).toEqual({ mode: 'polling', reason: null });
    await writeFile(join(dir, 'polled-1.0-py3-none-any.whl'), 'x');
    await waitFor('the polled file', () => r.offered.some((f) => f.filename === 'polled-1.0-py3-none-any.whl'));
  });

  it('falls back to polling when filesystem events hit the watch limit, and goes on noticing builds', async () => {
    const dir = await folder();
    const r = recorder();
    const w = await started(dir, false, r);
    expect(w.modeNow.mode).toBe('events');
    const limit = Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), { code: 'ENOSPC' });
    w.eventSource?.emit('error', limit);
    await waitFor('polling', () => r.modes.length === 1);
    expect(r.modes[0]?.[0]).toBe('polling');
    expect(r.modes[0]?.[1]).toMatch(/ENOSPC.*watch limit.*fs\.inotify\.max_user_watches.*polling took over/);
    expect(w.modeNow.mode).toBe('polling');
    await waitFor('the new watcher', () => w.eventSource?.options.usePolling === true);
    await writeFile(join(dir, 'after-1.0-py3-none-any.whl'), 'x');
    await waitFor('the file after the fallback', () => r.offered.some((f) => f.filename === 'after-1.0-py3-none-any.whl'));
    expect(r.states.at(-1)?.[0]).toBe('watching');
  });

  it('reports another failure of filesystem events as an error of the folder', async () => {
    const dir = await folder();
    const r = recorder();
    const w = await started(dir, false, r);
    w.eventSource?.emit('error', Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
    await waitFor('the error', () => r.states.at(-1)?.[0] === 'error');
    expect(r.states.at(-1)?.[1]).toMatch(/Watching .* failed: EIO/);
    // The next look watches it again.
    await w.tick();
    expect(r.states.at(-1)?.[0]).toBe('watching');
  });

  it('offers a file only once its size and mtime hold still', async () => {
    const dir = await folder();
    const r = recorder();
    await started(dir, false, r);
    const path = join(dir, 'growing-1.0.tar.gz');
    const until = Date.now() + 600;
    let n = 0;
    while (Date.now() < until) {
      await writeFile(path, 'x'.repeat(++n));
      await new Promise((res) => setTimeout(res, 20));
    }
    await waitFor('the settled file', () => r.offered.length > 0);
    expect(r.offered).toHaveLength(1);
    expect(r.offered[0]?.size).toBe(n);
  });
});
