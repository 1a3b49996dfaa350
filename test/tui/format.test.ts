/** The dashboard's cell formatters. */
import { describe, expect, it } from 'vitest';
import { ago, dailySeries, fit, formatCount, percent, sparkline } from '../../src/tui/state/format.js';

describe('formatters', () => {
  it('fit pads and cuts to the width, marking the cut', () => {
    expect(fit('abc', 5)).toBe('abc  ');
    expect(fit('abc', 5, 'right')).toBe('  abc');
    expect(fit('abcdef', 4)).toBe('abc…');
    expect(fit('abc', 0)).toBe('');
    expect(fit('abc', 1)).toBe('…');
  });

  it('counts stay within six columns', () => {
    expect(formatCount(99_999)).toBe('99999');
    expect(formatCount(123_456)).toBe('123.5k');
    expect(formatCount(12_345_678)).toBe('12.3M');
  });

  it('ago says how long ago, then the date', () => {
    const now = Date.parse('2026-11-22T10:00:00Z');
    expect(ago('2026-11-22T09:59:58Z', now)).toBe('now');
    expect(ago('2026-11-22T09:59:00Z', now)).toBe('1m ago');
    expect(ago('2026-11-22T09:59:30Z', now)).toBe('30s ago');
    expect(ago('2026-11-22T07:00:00Z', now)).toBe('3h ago');
    expect(ago('2026-11-12T10:00:00Z', now)).toBe('10d ago');
    expect(ago('2026-01-01T10:00:00Z', now)).toBe('2026-01-01');
    expect(ago(null, now)).toBe('—');
    expect(ago('not a time', now)).toBe('—');
  });

  it('sparklines scale from zero to the largest value and pad on the left', () => {
    expect(sparkline([0, 1, 2, 4, 8], 5)).toBe('▁▂▃▅█');
    expect(sparkline([0, 3], 4)).toBe('  ▁█');
    expect(sparkline([0, 0], 4)).toBe('    ');
    expect(sparkline([1, 2, 3, 4], 2)).toBe('▆█');
    expect(sparkline(undefined, 4)).toBe('—');
  });

  it('daily series fill the days without downloads', () => {
    const series = dailySeries(
      [
        { day: '2026-11-19', downloads: 4 },
        { day: '2026-11-22', downloads: 1 },
        { day: '2026-10-01', downloads: 99 },
      ],
      5,
      '2026-11-22',
    );
    expect(series).toEqual([0, 4, 0, 0, 1]);
  });

  it('percentages need a total', () => {
    expect(percent(1, 3)).toBe('33%');
    expect(percent(undefined, 3)).toBe('—');
    expect(percent(1, 0)).toBe('—');
  });
});
