/**
 * Slows down password guessing: failed logins are counted per client address and per
 * user name; past a few failures, further attempts from that address or for that user
 * are refused with 429 for a time that doubles with each failure, up to a bound. A
 * success clears the address's count. Memory stays bounded (oldest entries go first).
 */

/** Failures allowed before attempts are refused. */
const FREE_FAILURES = 5;
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

export class LoginThrottle {
  private readonly keys = new Map<string, Failures>();

  constructor(private readonly now: () => number = Date.now) {}

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
    const until = Math.max(this.get(`ip:${ip}`)?.lockedUntil ?? 0, this.get(`user:${user}`)?.lockedUntil ?? 0);
    return until > t ? Math.ceil((until - t) / 1000) : 0;
  }

  /** Records a failed attempt. */
  failed(ip: string, user: string): void {
    for (const key of [`ip:${ip}`, `user:${user}`]) {
      const t = this.now();
      const f = this.get(key) ?? { count: 0, last: t, lockedUntil: 0 };
      f.count++;
      f.last = t;
      if (f.count > FREE_FAILURES) f.lockedUntil = t + Math.min(BASE_LOCK_MS * 2 ** (f.count - FREE_FAILURES - 1), MAX_LOCK_MS);
      this.keys.delete(key);
      this.keys.set(key, f);
      if (this.keys.size > MAX_KEYS) this.keys.delete(this.keys.keys().next().value as string);
    }
  }

  /** Records a success: the address starts afresh (the user's count stays, against guessing from many addresses). */
  succeeded(ip: string): void {
    this.keys.delete(`ip:${ip}`);
  }
}
