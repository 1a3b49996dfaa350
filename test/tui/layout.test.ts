/** Where the panes go, from 80×24 up. */
import { describe, expect, it } from 'vitest';
import { computeLayout, listRows, WIDE_COLUMNS } from '../../src/tui/state/layout.js';

describe('computeLayout', () => {
  it('stacks the panes at 80×24, filling the screen, and gives the focused pane the room', () => {
    for (const focus of ['projects', 'detail', 'feed'] as const) {
      const l = computeLayout({ columns: 80, rows: 24 }, focus, 2);
      expect(l.kind).toBe('stacked');
      expect(l.header + l.projects.height + l.detail.height + l.feed.height + l.footer).toBe(24);
      const tallest = Math.max(l.projects.height, l.detail.height, l.feed.height);
      expect(l[focus].height).toBe(tallest);
    }
    expect(listRows(computeLayout({ columns: 80, rows: 24 }, 'projects', 2))).toBeGreaterThanOrEqual(8);
  });

  it('puts the detail and the feed beside the list on wide terminals', () => {
    const l = computeLayout({ columns: 160, rows: 48 }, 'projects', 3);
    expect(l.kind).toBe('wide');
    expect(l.projects.width + 1 + l.detail.width).toBe(160);
    expect(l.projects.height).toBe(48 - 3 - 1);
    expect(l.detail.height + l.feed.height).toBe(l.projects.height);
    expect(computeLayout({ columns: WIDE_COLUMNS - 1, rows: 48 }, 'projects', 2).kind).toBe('stacked');
  });

  it('asks for a bigger terminal below 60×16', () => {
    expect(computeLayout({ columns: 59, rows: 24 }, 'projects', 2).kind).toBe('too-small');
    expect(computeLayout({ columns: 80, rows: 15 }, 'projects', 2).kind).toBe('too-small');
  });
});
