/**
 * The contract of Locks (src/daemon/stores/locks.ts), run against every adapter (one today:
 * locks.ts says why the shared mode needs no other).
 */
import { describe, expect, it } from 'vitest';
import { ProcessLocks, type Locks } from '../../src/daemon/stores/locks.js';

const adapters: [string, () => Locks][] = [['process', () => new ProcessLocks()]];

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe.each(adapters)('Locks: %s', (_name, make) => {
  it('runs the holders of one name one at a time, in the order they asked', async () => {
    const locks = make();
    const log: string[] = [];
    let inside = 0;
    let most = 0;
    const work = (id: number) =>
      locks.run('a.whl', async () => {
        inside += 1;
        most = Math.max(most, inside);
        log.push(`start ${id}`);
        await tick();
        log.push(`end ${id}`);
        inside -= 1;
        return id;
      });
    expect(await Promise.all([work(1), work(2), work(3)])).toEqual([1, 2, 3]);
    expect(most).toBe(1);
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
    expect(locks.held).toBe(0);
  });

  it('lets work under other names go on meanwhile', async () => {
    const locks = make();
    let release!: () => void;
    const held = locks.run('a.whl', () => new Promise<void>((resolve) => (release = resolve)));
    await expect(locks.run('b.whl', async () => 'other')).resolves.toBe('other');
    expect(locks.held).toBe(1);
    release();
    await held;
    expect(locks.held).toBe(0);
  });

  it('passes a failure to its holder and lets the next one in', async () => {
    const locks = make();
    const failing = locks.run('a.whl', async () => {
      await tick();
      throw new Error('disk full');
    });
    const next = locks.run('a.whl', async () => 'next');
    await expect(failing).rejects.toThrow('disk full');
    await expect(next).resolves.toBe('next');
    expect(locks.held).toBe(0);
  });
});
