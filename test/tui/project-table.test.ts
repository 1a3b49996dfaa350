/** The project list's filter, sorts, columns and scrolling, alone. */
import { describe, expect, it } from 'vitest';
import { columnsFor, GAP, moveSort, parseFilter, scrollOffset, SORT_COLUMNS, tableRows, type Sort } from '../../src/tui/state/project-table.js';
import { project } from './helpers/fake-daemon.js';

const rows = [
  project('requests-extra', { displayName: 'Requests_Extra', latestVersion: '1.10', versions: 3, files: 6, downloads: 5, lastUpload: '2026-11-20T00:00:00Z', downloads30d: [1, 1], lastUploadedBy: 'bob' }),
  project('alpha', { latestVersion: '1.9', versions: 1, files: 2, downloads: 50, lastUpload: '2026-11-21T00:00:00Z', downloads30d: [9, 9], lastUploadedBy: 'ann' }),
  project('beta', { latestVersion: '2.0rc1', versions: 2, files: 2, downloads: 5, lastUpload: null }),
  project('gamma', { latestVersion: null, versions: 1, files: 1, downloads: 0, lastUpload: '2026-11-22T00:00:00Z' }),
];
const names = (filter: string, sort: Sort) => tableRows(rows, filter, sort).map((p) => p.name);
const by = (column: Sort['column'], descending = false): Sort => ({ column, descending });

describe('filter', () => {
  it('keeps names containing the text, in any case and spelling as shown', () => {
    expect(names('', by('name'))).toEqual(['alpha', 'beta', 'gamma', 'requests-extra']);
    expect(names('ET', by('name'))).toEqual(['beta']);
    expect(names('requests_', by('name'))).toEqual(['requests-extra']);
    expect(names('  ', by('name'))).toHaveLength(4);
  });

  it('inverts with a leading !', () => {
    expect(names('!a', by('name'))).toEqual([]);
    expect(names('!ta', by('name'))).toEqual(['alpha', 'gamma', 'requests-extra']);
    expect(parseFilter('!')).toBeUndefined();
    expect(parseFilter('!X')).toEqual({ text: 'x', invert: true });
  });
});

describe('sort', () => {
  it('by each column, ties by name', () => {
    expect(names('', by('downloads', true))).toEqual(['alpha', 'beta', 'requests-extra', 'gamma']);
    expect(names('', by('downloads'))).toEqual(['gamma', 'beta', 'requests-extra', 'alpha']);
    expect(names('', by('versions', true))).toEqual(['requests-extra', 'beta', 'alpha', 'gamma']);
    expect(names('', by('files', true))).toEqual(['requests-extra', 'alpha', 'beta', 'gamma']);
    expect(names('', by('uploaded', true))).toEqual(['gamma', 'alpha', 'requests-extra', 'beta']);
    expect(names('', by('trend', true))).toEqual(['alpha', 'requests-extra', 'beta', 'gamma']);
    expect(names('', by('uploader'))).toEqual(['beta', 'gamma', 'alpha', 'requests-extra']);
  });

  it('versions by PEP 440, not as text (1.10 after 1.9; a pre-release before its release); none first', () => {
    expect(names('', by('latest'))).toEqual(['gamma', 'alpha', 'requests-extra', 'beta']);
    expect(names('', by('latest', true))).toEqual(['beta', 'requests-extra', 'alpha', 'gamma']);
  });

  it('< and > move through every column and wrap, each in its natural direction', () => {
    let s: Sort = { column: 'name', descending: false };
    const seen: string[] = [];
    for (let i = 0; i < SORT_COLUMNS.length; i++) {
      s = moveSort(s, 1);
      seen.push(`${s.column}${s.descending ? '▼' : '▲'}`);
    }
    expect(seen).toEqual(['latest▼', 'versions▼', 'files▼', 'downloads▼', 'trend▼', 'uploaded▼', 'uploader▲', 'name▲']);
    expect(moveSort({ column: 'name', descending: false }, -1).column).toBe('uploader');
  });
});

describe('scrolling', () => {
  it('moves the window as little as it can to keep the cursor on screen', () => {
    expect(scrollOffset(100, 0, 10, 0)).toBe(0);
    expect(scrollOffset(100, 10, 10, 0)).toBe(1);
    expect(scrollOffset(100, 5, 10, 3)).toBe(3);
    expect(scrollOffset(100, 2, 10, 3)).toBe(2);
    expect(scrollOffset(100, 99, 10, 0)).toBe(90);
    expect(scrollOffset(100, 50, 10, 95)).toBe(50);
    expect(scrollOffset(5, 4, 10, 3)).toBe(0);
  });
});

describe('columns', () => {
  const width = (w: number) => columnsFor(w).reduce((a, c) => a + c.width, 0) + GAP * (columnsFor(w).length - 1);

  it('all fit 78 columns, and never more than the width', () => {
    expect(columnsFor(78).map((c) => c.id)).toEqual(['name', 'latest', 'versions', 'files', 'downloads', 'trend', 'uploaded', 'uploader']);
    for (const w of [30, 50, 60, 78, 100, 160]) expect(width(w)).toBeLessThanOrEqual(w);
  });

  it('drop the least missed first when narrow; the name and then the 30-day trend take spare room', () => {
    expect(columnsFor(50).map((c) => c.id)).toEqual(['name', 'latest', 'files', 'downloads', 'uploaded']);
    const wide = columnsFor(150);
    expect(wide.find((c) => c.id === 'name')?.width).toBe(40);
    expect(wide.find((c) => c.id === 'trend')?.width).toBe(30);
  });
});
