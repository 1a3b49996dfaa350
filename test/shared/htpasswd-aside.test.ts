/**
 * The bcrypt check on a thread of its own (verifyPasswordAside) runs in the daemon's process
 * once it listens (`pyrepo serve`): starting a thread resets V8's flags, so it must apply the
 * daemon's heap sizing again, as every thread the daemon starts does. Without it the young
 * generation grew to 32 MB: 25 MB more at the peak and project pages 30% slower.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it, vi } from 'vitest';
import type * as HeapLimits from '../../src/shared/heap-limits.js';

const threads: Worker[] = [];
// The threads started the way that keeps the heap sizing (heap-limits.test.ts checks that it does).
vi.mock('../../src/shared/heap-limits.js', async (importOriginal) => {
  const actual = await importOriginal<typeof HeapLimits>();
  return {
    ...actual,
    startThread: (...args: Parameters<typeof actual.startThread>) => {
      const worker = actual.startThread(...args);
      threads.push(worker);
      return worker;
    },
  };
});

const { hashPassword, verifyPasswordAside } = await import('../../src/shared/htpasswd.js');

describe('verifyPasswordAside', () => {
  it('keeps the heap sizing for the thread it starts, and answers as verifyPassword does', async () => {
    const hash = await hashPassword('pw', 4);
    expect(await verifyPasswordAside('pw', hash)).toBe(true);
    expect(await verifyPasswordAside('other', hash)).toBe(false);
    expect(threads).toHaveLength(2);
    for (const t of threads) expect(t).toBeInstanceOf(Worker);
  });
});
