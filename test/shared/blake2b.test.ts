/**
 * BLAKE2b-256 (blake2b.ts): hash-wasm's WebAssembly instance, shared by hashes fed
 * interleaved, and the JavaScript implementation where Node has no WebAssembly. Every digest
 * is the one Python's `hashlib.blake2b(data, digest_size=32)` gives.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { blake2b256Hex, createBlake2b256 } from '../../src/shared/blake2b.js';
import { REPO_ROOT } from '../helpers/daemon.js';

const MEGABYTE = Buffer.from(Uint8Array.from({ length: 256 * 4096 }, (_, i) => i % 256));
const REPEATED = Buffer.from('pyrepo'.repeat(1000));
/** Input and digest, from hashlib. */
const VECTORS: [Buffer, string][] = [
  [Buffer.alloc(0), '0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8'],
  [Buffer.from('abc'), 'bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319'],
  [MEGABYTE, '0f3f8fd232671ccf3fa0b0ddd0ee656d7d6cd1fb370d8eb61031e89da48d77ee'],
  [REPEATED, 'f754f75b21388ad4af9a60d55bcdebd0cb9c2c786e27651928de7dcaae57ab5c'],
];

describe('BLAKE2b-256', () => {
  it('digests bytes in memory as hashlib does', async () => {
    for (const [input, digest] of VECTORS) expect(await blake2b256Hex(input)).toBe(digest);
  });

  it('keeps each streaming hash apart while they are fed interleaved, chunk by chunk', async () => {
    const [a, b] = await Promise.all([createBlake2b256(), createBlake2b256()]);
    for (let at = 0; at < MEGABYTE.length; at += 65_536) {
      a.update(MEGABYTE.subarray(at, at + 65_536));
      if (at < REPEATED.length) b.update(REPEATED.subarray(at, at + 65_536));
    }
    expect(a.digestHex()).toBe(VECTORS[2]?.[1]);
    expect(b.digestHex()).toBe(VECTORS[3]?.[1]);
  });

  it('gives the same digests where Node has no WebAssembly (node --jitless)', () => {
    // Whatever a Node version's --jitless keeps, there is no WebAssembly here.
    const script = `
      delete globalThis.WebAssembly;
      import('./src/shared/blake2b.ts').then(async ({ createBlake2b256, blake2b256Hex }) => {
        const hash = await createBlake2b256();
        hash.update(Buffer.from('pyrepo'.repeat(500)));
        hash.update(Buffer.from('pyrepo'.repeat(500)));
        console.log(JSON.stringify([typeof WebAssembly, await blake2b256Hex(Buffer.from('abc')), hash.digestHex()]));
      });`;
    const out = execFileSync(process.execPath, ['--jitless', '--import', 'tsx', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(JSON.parse(out)).toEqual(['undefined', VECTORS[1]?.[1], VECTORS[3]?.[1]]);
  });
});
