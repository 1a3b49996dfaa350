/** ReadAhead samples the disk and, when it is cold, reads the indexer's next files in the thread pool (read-ahead.ts). */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReadAhead } from '../../src/daemon/services/read-ahead.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
const FILES = 200;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pyrepo-read-ahead-'));
  for (let i = 0; i < FILES; i++) await writeFile(join(dir, `f${i}.whl`), `file ${i}`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A ReadAhead over the folder's files that records which files it asked the path of. */
function recorded(opts: ConstructorParameters<typeof ReadAhead>[2], pathOf = (i: number) => join(dir, `f${i}.whl`)) {
  const asked: number[] = [];
  const ahead = new ReadAhead(FILES, (i) => (asked.push(i), pathOf(i)), opts);
  return { ahead, asked };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('ReadAhead', () => {
  it('reads a sample of the next files and nothing ahead while they come quickly', () => {
    const { ahead, asked } = recorded({ coldMicros: Number.POSITIVE_INFINITY });
    for (let i = 0; i < FILES; i++) ahead.reach(i);
    expect(asked).toEqual(range(0, 16));
    expect(ahead.readingAhead).toBe(false);
    expect(ahead.pending).toBe(0);
  });

  it('once a sample is slow, keeps `depth` reads in flight up to `window` files past the reader', async () => {
    const { ahead, asked } = recorded({ coldMicros: -1, depth: 4, window: 40 });
    ahead.reach(0);
    expect(ahead.readingAhead).toBe(true);
    // The sample (0-15), then four reads at once from the file after it.
    expect(asked).toEqual(range(0, 20));
    expect(ahead.pending).toBe(4);
    await waitFor('the reads up to the window', () => ahead.pending === 0, 5_000);
    expect(asked).toEqual(range(0, 40));
    // The reader jumps ahead: reading resumes after it, never at the file it is at.
    ahead.reach(100);
    await waitFor('the reads past the reader', () => ahead.pending === 0, 5_000);
    expect(asked).toEqual([...range(0, 40), ...range(101, 140)]);
  });

  it('leaves a file it cannot open to the reader, and starts nothing once stopped', async () => {
    const { ahead, asked } = recorded({ coldMicros: -1, depth: 2, window: 30 }, (i) => join(dir, i % 2 ? `gone-${i}.whl` : `f${i}.whl`));
    expect(() => ahead.reach(0)).not.toThrow();
    await waitFor('the reads up to the window', () => ahead.pending === 0, 5_000);
    expect(asked).toEqual(range(0, 30));
    ahead.stop();
    ahead.reach(50);
    expect(asked).toEqual(range(0, 30));
  });
});
