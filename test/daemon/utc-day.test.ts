/** The UTC day downloads are counted under, made once per day (utc-day.ts): right on each side of midnight, forwards and back. */
import { describe, expect, it } from 'vitest';
import { utcDay, utcDayAt } from '../../src/daemon/services/utc-day.js';

describe('utcDayAt', () => {
  it('names the UTC day of any time, whichever day it made last', () => {
    const times = ['2026-03-04T23:59:59.999Z', '2026-03-05T00:00:00.000Z', '2026-03-04T00:00:00.000Z', '2026-03-03T23:59:59.999Z', '1970-01-01T00:00:00.000Z', '2026-12-31T12:00:00.000Z', '2026-03-05T00:00:00.001Z'];
    for (const t of times) expect([t, utcDayAt(Date.parse(t))]).toEqual([t, t.slice(0, 10)]);
    expect(utcDay(new Date('2026-03-05T10:00:00Z'))).toBe('2026-03-05');
    // The same string for every time of a day.
    expect(utcDayAt(Date.parse('2026-03-05T01:00:00Z'))).toBe(utcDayAt(Date.parse('2026-03-05T22:00:00Z')));
  });
});
