/** A file read in parts through one buffer: every byte in order, hashed as if read whole. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eachPart, PART_BYTES } from '../../src/daemon/services/file-parts.js';
import { hashBytes, hashFile } from '../../src/daemon/services/hashing.js';

let dir: string;
let path: string;
const bytes = randomBytes(PART_BYTES * 3 + 5);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyrepo-parts-'));
  path = join(dir, 'big.tar.gz');
  writeFileSync(path, bytes);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('eachPart', () => {
  it('gives every byte in order, through one buffer, and the size', async () => {
    const copies: Buffer[] = [];
    const buffers = new Set<ArrayBufferLike>();
    const size = await eachPart(path, async (part) => {
      buffers.add(part.buffer);
      await new Promise((resolve) => setImmediate(resolve));
      copies.push(Buffer.from(part));
    });
    expect(size).toBe(bytes.length);
    expect(copies.map((c) => c.length)).toEqual([PART_BYTES, PART_BYTES, PART_BYTES, 5]);
    expect(Buffer.concat(copies).equals(bytes)).toBe(true);
    expect(buffers.size).toBe(1);
  });

  it('reads an empty file as no part', async () => {
    const empty = join(dir, 'empty');
    writeFileSync(empty, '');
    let parts = 0;
    expect(await eachPart(empty, () => void parts++)).toBe(0);
    expect(parts).toBe(0);
  });

  it('rejects with ENOENT for a missing file', async () => {
    await expect(eachPart(join(dir, 'nope'), () => undefined)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('hashFile', () => {
  it('hashes a file as its bytes read whole hash', async () => {
    expect(await hashFile(path)).toEqual(await hashBytes(bytes));
  });
});
