/** The digests pyrepo keeps for every file: sha256 (the index's), md5 and blake2b-256 (PyPI parity). */
import { createHash, type Hash } from 'node:crypto';
import { blake2b256Hex, createBlake2b256, type Blake2b256 } from '../../shared/blake2b.js';
import { eachPart } from './file-parts.js';

export interface Digests {
  sha256: string;
  md5: string;
  blake2b256: string;
}

/** Hashes a stream of chunks incrementally. */
export class MultiHasher {
  private readonly sha256: Hash = createHash('sha256');
  private readonly md5: Hash = createHash('md5');
  size = 0;

  private constructor(private readonly blake: Blake2b256) {}

  static async create(): Promise<MultiHasher> {
    return new MultiHasher(await createBlake2b256());
  }

  update(chunk: Buffer): void {
    this.size += chunk.length;
    this.sha256.update(chunk);
    this.md5.update(chunk);
    this.blake.update(chunk);
  }

  digest(): Digests {
    return { sha256: this.sha256.digest('hex'), md5: this.md5.digest('hex'), blake2b256: this.blake.digestHex() };
  }
}

/** Files up to this size are read, hashed and inspected in memory: one read instead of several. */
export const IN_MEMORY_LIMIT = 4 * 1024 * 1024;

/** Hashes bytes already in memory. */
export async function hashBytes(bytes: Buffer): Promise<Digests & { size: number }> {
  return {
    sha256: sha256Hex(bytes),
    md5: createHash('md5').update(bytes).digest('hex'),
    blake2b256: await blake2b256Hex(bytes),
    size: bytes.length,
  };
}

/** The digests and size of the file at `path`, read through one buffer (file-parts.ts). */
export async function hashFile(path: string): Promise<Digests & { size: number }> {
  const hasher = await MultiHasher.create();
  await eachPart(path, (part) => hasher.update(part));
  return { ...hasher.digest(), size: hasher.size };
}

/** sha256 of a buffer, hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
