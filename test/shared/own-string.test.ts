/** ownString copies a string cut from a larger one, so that the larger one can go (own-string.ts). */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ownString } from '../../src/shared/own-string.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap bytes still used after keeping `keep(head)` for 200 request-head-like strings of 100 KB. */
function heapKept(keep: (s: string) => string): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  const heads = Array.from({ length: 200 }, (_, i) => `GET /simple/project-${String(i).padStart(5, '0')}/ HTTP/1.1\r\n`.padEnd(100_000, 'x'));
  const kept = heads.map((head) => keep(head.slice(12, 30)));
  heads.length = 0;
  gc();
  const used = process.memoryUsage().heapUsed - before;
  expect(kept[7]).toBe('project-00007/ HTT');
  return used;
}

describe('ownString', () => {
  it('is equal to what it copies, in any script', () => {
    for (const s of ['', 'a', 'bench-proj-00042', 'naïve-ünïcode-€-𝄞', 'x'.repeat(5000), 'lone-\ud800-surrogate', 'ÿ-latin1']) expect(ownString(s)).toBe(s);
  });

  it('lets the string it was cut from go, where the cut piece keeps all of it', () => {
    const slices = heapKept((s) => s);
    const copies = heapKept(ownString);
    // 200 × 100 KB kept through the slices; the copies keep a few kilobytes.
    expect(slices).toBeGreaterThan(15_000_000);
    expect(copies).toBeLessThan(2_000_000);
  });
});
