/**
 * BLAKE2b-256, the `blake2_256_digest` of the upload API and PyPI's third digest. Node's
 * crypto has only BLAKE2b-512, and BLAKE2b-256 is not a truncation of it (the digest length
 * is part of the parameter block). hash-wasm's WebAssembly build hashes at about 1 GB/s on
 * one core, where a JavaScript one manages 40 MB/s: indexing a folder spent more time on
 * this digest than on reading the files.
 *
 * One WebAssembly instance is compiled once (some 15 ms, so it is loaded when first asked
 * for, or ahead of time with {@link loadBlake2b}) and shared: a streaming hash keeps its own
 * state between chunks and puts it back into the instance for each one, so any number of
 * them can run interleaved.
 */
import type { IHasher } from 'hash-wasm';
import { createBLAKE2b } from 'hash-wasm/dist/blake2b.umd.min.js';

let loading: Promise<IHasher> | undefined;

/** Compiles the hasher if it is not yet; resolves once it is ready. */
export function loadBlake2b(): Promise<void> {
  return instance().then(() => undefined);
}

function instance(): Promise<IHasher> {
  loading ??= createBLAKE2b(256);
  return loading;
}

/** A BLAKE2b-256 hash fed chunk by chunk; several may be fed interleaved. */
export class Blake2b256 {
  private constructor(
    private readonly wasm: IHasher,
    private state: Uint8Array,
  ) {}

  /** A new hash (waits for the hasher to be compiled the first time). */
  static async create(): Promise<Blake2b256> {
    const wasm = await instance();
    return new Blake2b256(wasm, wasm.init().save());
  }

  update(chunk: Uint8Array): void {
    this.state = this.wasm.load(this.state).update(chunk).save();
  }

  /** The digest as lowercase hex; the hash cannot be fed afterwards. */
  digestHex(): string {
    return this.wasm.load(this.state).digest('hex');
  }
}

/** BLAKE2b-256 of bytes in memory, as lowercase hex. */
export async function blake2b256Hex(bytes: Uint8Array): Promise<string> {
  const wasm = await instance();
  return wasm.init().update(bytes).digest('hex');
}
