/** The login throttle on a fake clock: pairs lock first, addresses and users more loosely, locks double and expire. */
import { describe, expect, it } from 'vitest';
import { LoginThrottle } from '../../src/daemon/services/login-throttle.js';

function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('login throttle', () => {
  it('locks an address and user after five failures, for a time that doubles, without locking others', () => {
    const c = clock();
    const th = new LoginThrottle(c.now);
    for (let i = 0; i < 5; i++) {
      expect(th.retryAfter('10.0.0.1', 'ann')).toBe(0);
      th.failed('10.0.0.1', 'ann');
    }
    expect(th.retryAfter('10.0.0.1', 'ann')).toBe(0);
    th.failed('10.0.0.1', 'ann');
    expect(th.retryAfter('10.0.0.1', 'ann')).toBe(1);
    th.failed('10.0.0.1', 'ann');
    expect(th.retryAfter('10.0.0.1', 'ann')).toBe(2);
    // The same machine as another user, and the same user elsewhere, may go on.
    expect(th.retryAfter('10.0.0.1', 'bob')).toBe(0);
    expect(th.retryAfter('10.0.0.2', 'ann')).toBe(0);
    c.advance(2000);
    expect(th.retryAfter('10.0.0.1', 'ann')).toBe(0);
  });

  it('locks an address that tries many names, and a name tried from many addresses', () => {
    const c = clock();
    const th = new LoginThrottle(c.now);
    for (let i = 0; i < 26; i++) th.failed('10.0.0.9', `user${i}`);
    expect(th.retryAfter('10.0.0.9', 'someone-new')).toBeGreaterThan(0);
    expect(th.retryAfter('10.0.0.8', 'someone-new')).toBe(0);
    for (let i = 0; i < 26; i++) th.failed(`10.1.0.${i}`, 'carl');
    expect(th.retryAfter('10.2.0.1', 'carl')).toBeGreaterThan(0);
  });

  it('a success clears its own pair only; quiet for 15 minutes forgets everything; locks are capped at 5 minutes', () => {
    const c = clock();
    const th = new LoginThrottle(c.now);
    for (let i = 0; i < 4; i++) th.failed('10.0.0.1', 'ann');
    th.succeeded('10.0.0.1', 'ann');
    for (let i = 0; i < 5; i++) th.failed('10.0.0.1', 'ann');
    expect(th.retryAfter('10.0.0.1', 'ann')).toBe(0);
    for (let i = 0; i < 30; i++) th.failed('10.0.0.1', 'ann');
    expect(th.retryAfter('10.0.0.1', 'ann')).toBe(300);
    c.advance(15 * 60 * 1000 + 1);
    expect(th.retryAfter('10.0.0.1', 'ann')).toBe(0);
  });
});
