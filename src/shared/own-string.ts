/**
 * Strings kept for long that were cut from larger ones.
 */

/**
 * A copy of `s` that holds its own characters. V8 keeps a string cut from a larger one (a
 * project name sliced from a request head, a header value, a digest's first characters) as
 * a view of the whole, and a string built with `+` as a tree of its parts. Kept as a key of
 * the page cache, each 16-character project name held on to its 200-500-byte request head:
 * 2.5-5 MB at 10,000 cached project pages. Costs a copy: for strings kept, not for each request.
 */
export function ownString(s: string): string {
  // Through latin1 a one-byte string stays one byte a character; any other goes through
  // utf16le, which copies every code unit as it is (utf8 would turn a lone surrogate into
  // U+FFFD, and the copy would no longer find what the original was stored under).
  return /[\u0100-\uffff]/.test(s) ? Buffer.from(s, 'utf16le').toString('utf16le') : Buffer.from(s, 'latin1').toString('latin1');
}
