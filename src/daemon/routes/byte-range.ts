/**
 * The Range header as RFC 9110 §14 reads it, for a file of known size. @fastify/send gets
 * two forms wrong: a suffix range longer than the file (`bytes=-100000` on a 6 KB wheel,
 * which pip's and uv's lazy wheel readers send) must be the whole file, not 416; and a
 * ranges-specifier that is not valid (`bytes=5-2`, `bytes=abc`) must be ignored (200), not
 * refused. This module decides; the route hands send one plain `first-last` range or none.
 */

/** What to answer to a Range header. */
export type RangeDecision =
  /** No Range, a unit other than bytes, an invalid specifier or several ranges: the whole file, 200. */
  | { kind: 'whole' }
  /** One satisfiable range, inclusive, already clamped to the file: 206. */
  | { kind: 'part'; first: number; last: number }
  /** No range overlaps the file: 416, with the size in Content-Range. */
  | { kind: 'unsatisfiable' };

const WHOLE: RangeDecision = { kind: 'whole' };
const INT_RANGE = /^(\d+)-(\d*)$/;
const SUFFIX_RANGE = /^-(\d+)$/;

/**
 * Decides a `Range` header value for `size` bytes. Several satisfiable ranges are answered
 * with the whole file (200), which §14.2 allows ("a server MAY ignore the Range header
 * field") and every client handles; unsatisfiable ones next to a satisfiable one are dropped.
 */
export function decideRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return WHOLE;
  const eq = header.indexOf('=');
  if (eq === -1 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return WHOLE;
  // A list (§5.6.1): elements separated by commas with optional whitespace; empty ones do not count.
  const specs = header
    .slice(eq + 1)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (specs.length === 0) return WHOLE;
  const satisfiable: { first: number; last: number }[] = [];
  for (const spec of specs) {
    const int = INT_RANGE.exec(spec);
    if (int) {
      const first = Number(int[1]);
      const last = int[2] === '' ? Infinity : Number(int[2]);
      if (last < first) return WHOLE; // an invalid int-range makes the whole header invalid (§14.1.1)
      if (first < size) satisfiable.push({ first, last: Math.min(last, size - 1) });
      continue;
    }
    const suffix = SUFFIX_RANGE.exec(spec);
    if (!suffix) return WHOLE;
    const length = Number(suffix[1]);
    // A suffix longer than the file is the whole file (§14.1.2); a zero-length suffix is never satisfiable.
    if (length > 0 && size > 0) satisfiable.push({ first: Math.max(0, size - length), last: size - 1 });
  }
  if (satisfiable.length === 0) return { kind: 'unsatisfiable' };
  if (satisfiable.length > 1) return WHOLE;
  const [only] = satisfiable as [{ first: number; last: number }];
  return { kind: 'part', ...only };
}

/** True when `If-None-Match` lists `etag` (weak comparison, §13.1.2) or is `*`. */
export function noneMatch(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === opaque);
}

/**
 * True when `If-Range` lets a range through (§13.1.5): a strong entity tag equal to the
 * file's, or exactly its Last-Modified date. Anything else (a weak tag, another date)
 * means the client's copy differs, so it gets the whole file.
 */
export function rangeStillValid(ifRange: string | undefined, etag: string, lastModified: string): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === etag && !etag.startsWith('W/');
  return value === lastModified;
}
