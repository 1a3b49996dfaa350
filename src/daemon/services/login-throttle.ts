/**
 * Slows down password guessing. Failed logins are counted per (client address, user name)
 * pair, and more loosely per address (one machine trying many names) and per user (many
 * machines trying one name). Past a few failures, further attempts are refused with 429
 * for a time that doubles with each failure, up to a bound.
 *
 * The pair is what locks first: on a laptop every tool talks from 127.0.0.1, and one
 * script with a stale password must not lock out the person's other tools or other users.
 * A success clears its pair only, so a valid account cannot be used to reset the
 * address's count between guesses at others. Memory stays bounded (oldest entries go first).
 */

/** Failures allowed before attempts are refused, per kind of key. */
const FREE_FAILURES = { pair: 5, ip: 25, user: 25 } as const;
/** First lock-out, doubled per further failure, capped. */
const BASE_LOCK_MS = 1000;
const MAX_LOCK_MS = 5 * 60 * 1000;
/** A key's failures are forgotten after this much quiet. */
const FORGET_MS = 15 * 60 * 1000;
const MAX_KEYS = 10_000;

interface Failures {
  count: number;
  last: number;
  lockedUntil: number;
}

type Kind = keyof typeof FREE_FAILURES;

export class LoginThrottle {
  private readonly keys = new Map<string, Failures>();

  constructor(private readonly now: () => number = Date.now) {}

  private static keysOf(ip: string, user: string): [Kind, string][] {
    return [
      ['pair', `pair:${ip}\0${user}`],
      ['ip', `ip:${ip}`],
      ['user', `user:${user}`],
    ];
  }

  private get(key: string): Failures | undefined {
    const f = this.keys.get(key);
    if (f && this.now() - f.last > FORGET_MS) {
      this.keys.delete(key);
      return undefined;
    }
    return f;
  }

  /** Seconds to wait before another attempt from `ip` as `user`; 0 when one may go ahead. */
  retryAfter(ip: string, user: string): number {
    const t = this.now();
    const until = Math.max(...LoginThrottle.keysOf(ip, user).map(([, key]) => this.get(key)?.lockedUntil ?? 0));
    return until > t ? Math.ceil((until - t) / 1000) : 0;
  }

  /** Records a failed attempt. */
  failed(ip: string, user: string): void {
    const t = this.now();
    for (const [kind, key] of LoginThrottle.keysOf(ip, user)) {
      const f = this.get(key) ?? { count: 0, last: t, lockedUntil: 0 };
      f.count++;
      f.last = t;
      const over = f.count - FREE_FAILURES[kind];
      if (over > 0) f.lockedUntil = t + Math.min(BASE_LOCK_MS * 2 ** (over - 1), MAX_LOCK_MS);
      this.keys.delete(key);
      this.keys.set(key, f);
      if (this.keys.size > MAX_KEYS) this.keys.delete(this.keys.keys().next().value as string);
    }
  }

  /** Records a success: that address and user start afresh (the address's and the user's own counts stay). */
  succeeded(ip: string, user: string): void {
    this.keys.delete(`pair:${ip}\0${user}`);
  }
}
