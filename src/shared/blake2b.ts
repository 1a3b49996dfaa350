/**
 * BLAKE2b-256, the `blake2_256_digest` of the upload API and PyPI's third digest. Node's
 * crypto has only BLAKE2b-512, and BLAKE2b-256 is not a truncation of it (the digest length
 * is part of the parameter block). hash-wasm's WebAssembly build hashes at about 1 GB/s on
 * one core, where a JavaScript one manages 40 MB/s: indexing a folder spent more time on
 * this digest than on reading the files.
 *
 * One WebAssembly instance is compiled once (some 15 ms, so it is loaded when first asked
 * for) and shared: a streaming hash keeps its own state between chunks and puts it back into
 * the instance for each one, so any number of them can run interleaved. Where Node has no
 * WebAssembly (`--jitless`, or a policy that forbids compiling it), the JavaScript
 * implementation hashes instead, slowly but with the same digests.
 */
import type { IHasher } from 'hash-wasm';
// A CommonJS (UMD) file: its exports are read from the default export, which Node's ESM
// loader, the bundler and the test runner all give.
import hashWasmBlake2b from 'hash-wasm/dist/blake2b.umd.min.js';

const { createBLAKE2b } = hashWasmBlake2b;

/** A BLAKE2b-256 hash fed chunk by chunk; several may be fed interleaved. */
export interface Blake2b256 {
  update(chunk: Uint8Array): void;
  /** The digest as lowercase hex; the hash cannot be fed afterwards. */
  digestHex(): string;
}

/** The shared WebAssembly instance, or where there is none the JavaScript implementation's hashes. */
type Implementation = { wasm: IHasher } | { js: () => Blake2b256 };

let loading: Promise<Implementation> | undefined;

function implementation(): Promise<Implementation> {
  loading ??= createBLAKE2b(256).then(
    (wasm) => ({ wasm }),
    async () => {
      const { blake2b } = await import('@noble/hashes/blake2b');
      return {
        js: () => {
          const hash = blake2b.create({ dkLen: 32 });
          return { update: (chunk) => void hash.update(chunk), digestHex: () => Buffer.from(hash.digest()).toString('hex') };
        },
      };
    },
  );
  return loading;
}

/** A new hash (waits for the hasher to be compiled the first time). */
export async function createBlake2b256(): Promise<Blake2b256> {
  const found = await implementation();
  if ('js' in found) return found.js();
  const wasm = found.wasm;
  let state = wasm.init().save();
  return {
    update: (chunk) => {
      state = wasm.load(state).update(chunk).save();
    },
    digestHex: () => wasm.load(state).digest('hex'),
  };
}

/** BLAKE2b-256 of bytes in memory, as lowercase hex. */
export async function blake2b256Hex(bytes: Uint8Array): Promise<string> {
  const found = await implementation();
  // In one call nothing else can use the instance meanwhile: no state to keep.
  if ('wasm' in found) return found.wasm.init().update(bytes).digest('hex');
  const hash = found.js();
  hash.update(bytes);
  return hash.digestHex();
}
