/**
 * Where the panes go for a terminal size. Wide terminals put the detail and the
 * activity feed beside the project list; narrower ones stack the three panes and give
 * the focused one the room, as lazygit does. Heights include each pane's title line.
 */
import type { Pane } from './view.js';

export interface Size {
  columns: number;
  rows: number;
}

export interface Box {
  width: number;
  height: number;
}

export interface Layout {
  kind: 'wide' | 'stacked' | 'too-small';
  header: number;
  footer: number;
  projects: Box;
  detail: Box;
  feed: Box;
}

/** Smaller than this, the dashboard asks for a bigger terminal instead of drawing. */
export const MIN_SIZE: Size = { columns: 60, rows: 16 };
/** From this width on, the detail and the feed sit beside the list. */
export const WIDE_COLUMNS = 140;

const FOOTER = 1;

export function computeLayout(size: Size, focus: Pane, headerLines: number): Layout {
  const { columns, rows } = size;
  const zero = { width: 0, height: 0 };
  if (columns < MIN_SIZE.columns || rows < MIN_SIZE.rows) {
    return { kind: 'too-small', header: 0, footer: 0, projects: zero, detail: zero, feed: zero };
  }
  const body = rows - headerLines - FOOTER;
  if (columns >= WIDE_COLUMNS) {
    const listWidth = Math.max(80, Math.floor(columns * 0.52));
    // The right side starts with a one-column rule.
    const right = columns - listWidth - 1;
    const feed = Math.max(5, Math.floor(body * (focus === 'feed' ? 0.6 : 0.35)));
    return {
      kind: 'wide',
      header: headerLines,
      footer: FOOTER,
      projects: { width: listWidth, height: body },
      detail: { width: right, height: body - feed },
      feed: { width: right, height: feed },
    };
  }
  const small = { projects: 5, detail: 6, feed: 4 };
  const heights = { ...small };
  if (focus === 'projects') heights.detail = Math.max(small.detail, Math.floor(body * 0.3));
  heights[focus] = body - (Object.keys(heights) as Pane[]).filter((p) => p !== focus).reduce((a, p) => a + heights[p], 0);
  return {
    kind: 'stacked',
    header: headerLines,
    footer: FOOTER,
    projects: { width: columns, height: heights.projects },
    detail: { width: columns, height: heights.detail },
    feed: { width: columns, height: heights.feed },
  };
}

/** Rows of projects the list shows (its title and column header take two lines). */
export function listRows(layout: Layout): number {
  return Math.max(1, layout.projects.height - 2);
}

/** Rows of a detail tab (under the title-and-tabs line and the column header). */
export function detailRows(layout: Layout): number {
  return Math.max(1, layout.detail.height - 2);
}

/** Lines of the activity feed under its title. */
export function feedRows(layout: Layout): number {
  return Math.max(1, layout.feed.height - 1);
}
