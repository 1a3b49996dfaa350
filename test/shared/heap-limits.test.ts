/**
 * The daemon's heap sizing (heap-limits.ts): a young generation that does not grow, the old
 * generation collected once it grew by a fifth, and the sizing applied again after a worker
 * thread starts (Node resets V8's flags then).
 */
import { EventEmitter, once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it, vi } from 'vitest';

const flags: string[] = [];
vi.mock('node:v8', () => ({ setFlagsFromString: (flag: string) => flags.push(flag) }));

const { keepHeapSmall, keepHeapSmallAfter, startThread } = await import('../../src/shared/heap-limits.js');

const growth = () => flags.filter((f) => f.startsWith('--heap-growing-percent=')).at(-1);

describe('heap limits', () => {
  it('grow the old generation by a fifth, and again so after a worker starts', async () => {
    keepHeapSmall();
    expect(flags).toContain('--semi-space-growth-factor=1');
    expect(growth()).toBe('--heap-growing-percent=20');
    flags.length = 0;
    const worker = new EventEmitter() as unknown as Worker;
    keepHeapSmallAfter(worker);
    expect(flags).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(growth()).toBe('--heap-growing-percent=20');
    flags.length = 0;
    worker.emit('online');
    expect(growth()).toBe('--heap-growing-percent=20');
  });

  it('are applied again once a thread started with startThread runs', async () => {
    keepHeapSmall();
    flags.length = 0;
    const thread = startThread('', { eval: true });
    await once(thread, 'online');
    expect(flags).toContain('--semi-space-growth-factor=1');
    expect(growth()).toBe('--heap-growing-percent=20');
    await thread.terminate();
  });
});
