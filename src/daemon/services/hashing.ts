/** The digests pyrepo keeps for every file: sha256 (the index's), md5 and blake2b-256 (PyPI parity). */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { blake2b } from '@noble/hashes/blake2b';

export interface Digests {
  sha256: string;
  md5: string;
  blake2b256: string;
}

/** Hashes a stream of chunks incrementally. */
export class MultiHasher {
  private readonly sha256: Hash = createHash('sha256');
  private readonly md5: Hash = createHash('md5');
  // Node's crypto has only BLAKE2b-512; PyPI's blake2_256 is BLAKE2b with a 32-byte digest.
  private readonly blake = blake2b.create({ dkLen: 32 });
  size = 0;

  update(chunk: Buffer): void {
    this.size += chunk.length;
    this.sha256.update(chunk);
    this.md5.update(chunk);
    this.blake.update(chunk);
  }

  digest(): Digests {
    return {
      sha256: this.sha256.digest('hex'),
      md5: this.md5.digest('hex'),
      blake2b256: Buffer.from(this.blake.digest()).toString('hex'),
    };
  }
}

/** Files up to this size are read, hashed and inspected in memory: one read instead of several. */
export const IN_MEMORY_LIMIT = 4 * 1024 * 1024;

/** Hashes bytes already in memory. */
export function hashBytes(bytes: Buffer): Digests & { size: number } {
  const hasher = new MultiHasher();
  hasher.update(bytes);
  return { ...hasher.digest(), size: hasher.size };
}

/** Hashes a whole file. */
export function hashFile(path: string): Promise<Digests & { size: number }> {
  return hashStream(createReadStream(path, { highWaterMark: 256 * 1024 }));
}

/** Hashes every byte a stream gives. */
export async function hashStream(stream: AsyncIterable<unknown>): Promise<Digests & { size: number }> {
  const hasher = new MultiHasher();
  for await (const chunk of stream) hasher.update(chunk as Buffer);
  return { ...hasher.digest(), size: hasher.size };
}

/** sha256 of a buffer, hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
