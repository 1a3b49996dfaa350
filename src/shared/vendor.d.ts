// Types for the small untyped packages pyrepo uses (each exports one function).
declare module 'apache-md5' {
  /** MD5-crypt: `$apr1$` (Apache) or `$1$`; with `salt` a full hash, returns the hash of `password` with that salt. */
  export default function md5(password: string, salt?: string): string;
}
declare module 'apache-crypt' {
  /** Traditional DES crypt(3), as `htpasswd -d` writes. */
  export default function crypt(password: string, salt?: string): string;
}
declare module 'hash-wasm/dist/blake2b.umd.min.js' {
  /**
   * hash-wasm's BLAKE2b on its own: the package's main entry bundles the WebAssembly of every
   * algorithm it has (22, some 270 KB), which a bundler cannot drop.
   */
  import type { createBLAKE2b } from 'hash-wasm';
  const blake2b: { createBLAKE2b: typeof createBLAKE2b };
  export default blake2b;
}
