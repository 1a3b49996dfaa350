// Types for the small untyped packages pyrepo uses (each exports one function).
declare module 'apache-md5' {
  /** MD5-crypt: `$apr1$` (Apache) or `$1$`; with `salt` a full hash, returns the hash of `password` with that salt. */
  export default function md5(password: string, salt?: string): string;
}
declare module 'apache-crypt' {
  /** Traditional DES crypt(3), as `htpasswd -d` writes. */
  export default function crypt(password: string, salt?: string): string;
}
