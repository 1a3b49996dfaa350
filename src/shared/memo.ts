/**
 * What a string means, worked out once per string: the same few User-Agent and Accept
 * headers come with every request, the same few versions with every file.
 */
import { ownString } from './own-string.js';

/**
 * A memo of `meaningOf` by its string argument, keeping at most `max` strings (the oldest goes
 * first) of at most `keptUpTo` characters. The string asked for last is compared first: a Map
 * hashes every character of a string it has not hashed before, and a header's value is a new
 * string at every request (for pip's User-Agent, over 300 characters, 0.65 µs a lookup where
 * the comparison took 0.03 µs). A string is kept as a copy of its own: a header's value is
 * cut from its request's head, which it would keep alive (own-string.ts). Callers never
 * change a meaning they are given back.
 */
export class Memo<V> {
  private readonly seen = new Map<string, V>();
  private lastKey: string | undefined;
  private lastMeaning: V | undefined;

  constructor(
    /** What a string means. */
    private readonly meaningOf: (key: string) => V,
    /** Strings kept at most; the oldest goes first. */
    private readonly max = 256,
    /** Longer strings are worked out each time, never kept (nobody sends one; a hostile client could). */
    private readonly keptUpTo = 2048,
  ) {}

  /** The meaning of `key`, worked out unless it is kept. */
  get(key: string): V {
    if (key === this.lastKey) return this.lastMeaning as V;
    let meaning = this.seen.get(key);
    if (meaning === undefined && !this.seen.has(key)) {
      meaning = this.meaningOf(key);
      if (key.length <= this.keptUpTo) {
        if (this.seen.size >= this.max) this.seen.delete(this.seen.keys().next().value as string);
        this.seen.set(ownString(key), meaning);
      }
    }
    this.lastKey = key;
    this.lastMeaning = meaning;
    return meaning as V;
  }
}
