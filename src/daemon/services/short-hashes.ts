/**
 * Short sha256 prefixes for mip's `hashes` and `/file/{hh}/{hash}` URLs. micropython-lib
 * uses 8 hex digits and aborts its build on a collision; here a prefix is lengthened
 * instead, just enough to be unique among every file the index has handed a hash out for.
 * The full hashes are kept sorted, so a prefix's neighbours tell how long it must be.
 */

/** Shortest prefix ever handed out (micropython-lib's length). */
export const MIN_PREFIX = 8;

function commonPrefix(a: string | undefined, b: string): number {
  if (a === undefined) return 0;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return i;
}

export class ShortHashes {
  private readonly sorted: string[] = [];

  private lowerBound(value: string): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.sorted[mid] as string) < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  get size(): number {
    return this.sorted.length;
  }

  add(sha256: string): void {
    const at = this.lowerBound(sha256);
    if (this.sorted[at] !== sha256) this.sorted.splice(at, 0, sha256);
  }

  delete(sha256: string): void {
    const at = this.lowerBound(sha256);
    if (this.sorted[at] === sha256) this.sorted.splice(at, 1);
  }

  /** The shortest prefix (at least {@link MIN_PREFIX}) that no other known hash starts with. */
  short(sha256: string): string {
    const at = this.lowerBound(sha256);
    const before = this.sorted[at - 1];
    const after = this.sorted[this.sorted[at] === sha256 ? at + 1 : at];
    const needed = Math.max(commonPrefix(before, sha256), after === undefined ? 0 : commonPrefix(after, sha256)) + 1;
    return sha256.slice(0, Math.max(MIN_PREFIX, needed));
  }

  /** The one known hash that starts with `prefix`; undefined when none or several do. */
  resolve(prefix: string): string | undefined {
    const at = this.lowerBound(prefix);
    const first = this.sorted[at];
    if (first === undefined || !first.startsWith(prefix)) return undefined;
    const second = this.sorted[at + 1];
    return second !== undefined && second.startsWith(prefix) ? undefined : first;
  }
}
