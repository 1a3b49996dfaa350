/**
 * The project list as a table: which rows a filter keeps, in which order a column sorts
 * them, which columns fit a width, and which rows are on screen. All pure; the list
 * component renders only the rows `visibleWindow` returns, so 10,000 projects cost what
 * a screenful does.
 */
import { compareVersions } from '../../shared/versions.js';
import type { ProjectSummary } from '../../shared/api.js';

export const SORT_COLUMNS = ['name', 'latest', 'versions', 'files', 'downloads', 'trend', 'uploaded', 'uploader'] as const;
export type SortColumn = (typeof SORT_COLUMNS)[number];

export interface Sort {
  column: SortColumn;
  descending: boolean;
}

export const DEFAULT_SORT: Sort = { column: 'name', descending: false };

/** Names and text sort A→Z first; numbers and times largest, newest first. */
const NATURALLY_DESCENDING: ReadonlySet<SortColumn> = new Set(['versions', 'files', 'downloads', 'trend', 'uploaded', 'latest']);

/** The sort after `<` (-1) or `>` (+1): the neighbouring column, in its natural direction. */
export function moveSort(sort: Sort, step: -1 | 1): Sort {
  const i = SORT_COLUMNS.indexOf(sort.column);
  const column = SORT_COLUMNS[(i + step + SORT_COLUMNS.length) % SORT_COLUMNS.length] as SortColumn;
  return { column, descending: NATURALLY_DESCENDING.has(column) };
}

export interface ParsedFilter {
  text: string;
  invert: boolean;
}

/** `/text` keeps names containing text (any case); `/!text` keeps the others. */
export function parseFilter(filter: string): ParsedFilter | undefined {
  const invert = filter.startsWith('!');
  const text = (invert ? filter.slice(1) : filter).trim().toLowerCase();
  return text === '' ? undefined : { text, invert };
}

export function matchesFilter(p: ProjectSummary, filter: ParsedFilter | undefined): boolean {
  if (!filter) return true;
  const hit = p.name.includes(filter.text) || p.displayName.toLowerCase().includes(filter.text);
  return hit !== filter.invert;
}

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

/**
 * What a row sorts by in `column`, computed once per row rather than once per comparison:
 * a number, or text. Versions are ranked by sorting the distinct ones (PEP 440 comparisons
 * parse both versions each time; 10,000 rows make ~140,000 comparisons).
 */
function sortKeys(rows: readonly ProjectSummary[], column: SortColumn): (number | string)[] {
  switch (column) {
    case 'name':
      return rows.map((p) => p.name);
    case 'latest': {
      const distinct = [...new Set(rows.map((p) => p.latestVersion).filter((v): v is string => v !== null))].sort(compareVersions);
      const rank = new Map(distinct.map((v, i) => [v, i]));
      return rows.map((p) => (p.latestVersion === null ? -1 : (rank.get(p.latestVersion) as number)));
    }
    case 'versions':
      return rows.map((p) => p.versions);
    case 'files':
      return rows.map((p) => p.files);
    case 'downloads':
      return rows.map((p) => p.downloads);
    case 'trend':
      return rows.map((p) => sum(p.downloads30d));
    case 'uploaded':
      return rows.map((p) => p.lastUpload ?? '');
    case 'uploader':
      return rows.map((p) => p.lastUploadedBy ?? '');
  }
}

/** The rows of the list: filtered, then sorted (ties by name, A→Z). */
export function tableRows(projects: Iterable<ProjectSummary>, filter: string, sort: Sort): ProjectSummary[] {
  const parsed = parseFilter(filter);
  const rows: ProjectSummary[] = [];
  for (const p of projects) if (matchesFilter(p, parsed)) rows.push(p);
  const keys = sortKeys(rows, sort.column);
  const sign = sort.descending ? -1 : 1;
  const order = rows.map((_, i) => i);
  order.sort((i, j) => {
    const a = keys[i] as number | string;
    const b = keys[j] as number | string;
    const byColumn = typeof a === 'number' ? a - (b as number) : a < b ? -1 : a > b ? 1 : 0;
    if (byColumn !== 0) return sign * byColumn;
    const na = (rows[i] as ProjectSummary).name;
    const nb = (rows[j] as ProjectSummary).name;
    return na < nb ? -1 : na > nb ? 1 : 0;
  });
  return order.map((i) => rows[i] as ProjectSummary);
}

/** The first row on screen so that `cursor` is visible, moving as little as possible from `offset`. */
export function scrollOffset(count: number, cursor: number, height: number, offset: number): number {
  if (height <= 0 || count <= height) return 0;
  let top = Math.min(Math.max(0, offset), count - height);
  if (cursor < top) top = cursor;
  else if (cursor >= top + height) top = cursor - height + 1;
  return Math.max(0, Math.min(top, count - height));
}

export interface TableColumn {
  id: SortColumn;
  title: string;
  width: number;
  align: 'left' | 'right';
}

/** Columns in order of how much they are missed when the width runs out (last dropped first). */
const COLUMNS: readonly (TableColumn & { priority: number })[] = [
  { id: 'name', title: 'project', width: 14, align: 'left', priority: 0 },
  { id: 'latest', title: 'latest', width: 10, align: 'left', priority: 1 },
  { id: 'versions', title: 'vers', width: 4, align: 'right', priority: 5 },
  { id: 'files', title: 'files', width: 5, align: 'right', priority: 4 },
  { id: 'downloads', title: 'dls', width: 6, align: 'right', priority: 2 },
  { id: 'trend', title: '30 days', width: 10, align: 'left', priority: 6 },
  { id: 'uploaded', title: 'uploaded', width: 8, align: 'right', priority: 3 },
  { id: 'uploader', title: 'by', width: 8, align: 'left', priority: 7 },
];

/** Space between two columns. */
export const GAP = 1;

/**
 * The columns that fit `width`: the least missed are dropped until the rest fit; the
 * name takes what is left over (up to 40), then the trend.
 */
export function columnsFor(width: number): TableColumn[] {
  let chosen = [...COLUMNS];
  const need = (cols: readonly TableColumn[]) => cols.reduce((a, c) => a + c.width, 0) + GAP * (cols.length - 1);
  while (chosen.length > 1 && need(chosen) > width) {
    const drop = chosen.reduce((worst, c) => (c.priority > worst.priority ? c : worst));
    chosen = chosen.filter((c) => c !== drop);
  }
  let spare = Math.max(0, width - need(chosen));
  return chosen.map(({ priority: _priority, ...c }) => {
    if (c.id === 'name') {
      const extra = Math.min(spare, 40 - c.width);
      spare -= extra;
      return { ...c, width: c.width + extra };
    }
    return c;
  }).map((c) => {
    if (c.id === 'trend' && spare > 0) {
      const extra = Math.min(spare, 20);
      spare -= extra;
      return { ...c, width: c.width + extra };
    }
    return c;
  });
}
