/** "Did you mean …?": the names closest to a mistyped one. */

/** Edit distance with adjacent transpositions (optimal string alignment): `pyrpeo` is one edit from `pyrepo`. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number) => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The candidates close to `word` (case-insensitive), best first, at most `limit`: a few
 * edits away (more for longer words), or starting with it.
 */
export function closestNames(word: string, candidates: readonly string[], limit = 3): string[] {
  const w = word.toLowerCase();
  const allowed = Math.max(1, Math.floor(w.length / 3));
  return candidates
    .map((name) => {
      const n = name.toLowerCase();
      const distance = editDistance(w, n);
      const prefix = w.length >= 3 && n.startsWith(w);
      return { name, score: distance <= allowed ? distance : prefix ? allowed + 0.5 : Number.POSITIVE_INFINITY };
    })
    .filter((c) => c.score !== Number.POSITIVE_INFINITY && c.name.toLowerCase() !== w)
    .sort((a, b) => a.score - b.score || a.name.localeCompare(b.name))
    .slice(0, limit)
    .map((c) => c.name);
}
