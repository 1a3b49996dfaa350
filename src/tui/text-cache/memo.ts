/**
 * A bounded memo for the text measurements Ink repeats on every frame.
 *
 * Ink measures and tokenizes every text of the screen again for each frame (its caches
 * live for one frame), and a line with one character beyond ASCII (a sparkline bar, `›`,
 * `—`) takes string-width's slow path through Intl.Segmenter. Most lines are the same from
 * one frame to the next: remembered across frames, they cost a map lookup. The build
 * (esbuild.config.js) hands these modules to Ink and its helpers in place of string-width,
 * slice-ansi and @alcalzone/ansi-tokenize; their answers are the same.
 */

/** Entries each memo keeps before it starts afresh: a few screens of distinct lines. */
const MAX_ENTRIES = 20_000;

export class Memo<K, V> {
  private readonly map = new Map<K, V>();

  get(key: K, compute: () => V): V {
    let value = this.map.get(key);
    if (value === undefined) {
      value = compute();
      // Dropping everything at once is cheaper than an LRU, and a screenful refills it in one frame.
      if (this.map.size >= MAX_ENTRIES) this.map.clear();
      this.map.set(key, value);
    }
    return value;
  }
}
