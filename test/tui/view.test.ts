/** What each key does to the view, alone: the keymap, moving, filtering, sorting, panes, tabs and the admin dialogs. */
import { describe, expect, it } from 'vitest';
import { bindingFor, helpSections, hintsFor, KEYMAP, keyName, keyPresses, type KeyPress } from '../../src/tui/keymap.js';
import { handleKey, initialView, selectedName, type KeyResult, type ViewContext, type ViewState } from '../../src/tui/state/view.js';
import { detail } from './helpers/fake-daemon.js';

const k = (name: string): KeyPress => ({ name, text: name.length === 1 ? name : '' });
const names = Array.from({ length: 30 }, (_, i) => `p${String(i).padStart(2, '0')}`);
const d = detail('p00', ['2.0', '1.0']);
const ctx: ViewContext = { rows: names, listHeight: 10, detail: d, detailHeight: 5, feedLength: 20, feedHeight: 4, feedTopSeq: 77, readonly: false };

/** Presses keys in order; the last result. */
function press(keys: (string | KeyPress)[], from: ViewState = initialView, c: ViewContext = ctx): KeyResult {
  let r: KeyResult = { view: from };
  for (const key of keys) r = handleKey(r.view, typeof key === 'string' ? k(key) : key, c);
  return r;
}
const type = (text: string): KeyPress[] => [...text].map((ch) => ({ name: ch, text: ch }));

describe('the keymap', () => {
  it('binds no key twice where it applies', () => {
    for (const scope of ['projects', 'detail', 'feed'] as const) {
      const keys = KEYMAP.filter((b) => b.scopes.includes(scope) || b.scopes.includes('global')).flatMap((b) => b.keys);
      expect(keys.length, scope).toBe(new Set(keys).size);
    }
  });

  it('generates the help from every binding once; read-only leaves the admin keys out', () => {
    const all = helpSections(false).flatMap((s) => s.rows.map((r) => r.keys));
    expect(all.sort()).toEqual(KEYMAP.map((b) => b.keys.join(' ')).sort());
    const ro = helpSections(true).flatMap((s) => s.rows.map((r) => r.keys));
    expect(ro).not.toContain('y');
    expect(ro).not.toContain('d');
    expect(hintsFor('detail', true).map((h) => h.key)).not.toContain('y');
    expect(hintsFor('detail', false).map((h) => h.key)).toEqual(expect.arrayContaining(['y', 'd', '?', 'q']));
  });

  it("names Ink's keys, and takes apart keys that arrive together", () => {
    expect(keyName('', { tab: true, shift: true }).name).toBe('shift-tab');
    expect(keyName('c', { ctrl: true }).name).toBe('ctrl-c');
    expect(keyName('', { delete: true }).name).toBe('backspace');
    expect(keyName('', { pageDown: true }).name).toBe('pgdn');
    expect(keyName('G', { shift: true })).toEqual({ name: 'G', text: 'G' });
    expect(keyPresses('jj\r', {}).map((p) => p.name)).toEqual(['j', 'j', 'enter']);
    expect(keyPresses('ab\u007f', {}).map((p) => p.name)).toEqual(['a', 'b', 'backspace']);
    expect(keyPresses('j', {}).map((p) => p.name)).toEqual(['j']);
    expect(bindingFor('j', 'feed')?.command).toBe('down');
    expect(bindingFor('y', 'projects')).toBeUndefined();
  });
});

describe('moving in the list', () => {
  it('arrows, j/k, pages, g/G, clamped at both ends, with the window following', () => {
    expect(press(['j', 'j', 'down']).view.selected).toBe('p03');
    expect(press(['k']).view.selected).toBe(undefined);
    expect(selectedName(press(['k']).view, names)).toBe('p00');
    const page = press(['pgdn']).view;
    expect(page.selected).toBe('p09');
    expect(press(['pgdn', 'pgdn']).view).toMatchObject({ selected: 'p18', listOffset: 9 });
    expect(press(['G']).view).toMatchObject({ selected: 'p29', listOffset: 20 });
    expect(press(['G', 'j']).view.selected).toBe('p29');
    expect(press(['G', 'g']).view).toMatchObject({ selected: 'p00', listOffset: 0 });
    expect(press(['end', 'home', 'pgup']).view.selected).toBe('p00');
  });

  it('keeps the selected project when the list re-sorts, and falls back to the first row when it is filtered out', () => {
    const v = press(['j', 'j']).view;
    const reversed = [...names].reverse();
    expect(selectedName(v, reversed)).toBe('p02');
    expect(press(['j'], v, { ...ctx, rows: reversed }).view.selected).toBe('p01');
    expect(selectedName(v, ['p10', 'p11'])).toBe('p10');
  });

  it('a new project starts its detail from the top', () => {
    const inDetail = press(['tab', 'j']).view;
    expect(inDetail.detailCursor).toBe(1);
    expect(press(['shift-tab', 'j'], inDetail).view.detailCursor).toBe(0);
  });
});

describe('filter and sort', () => {
  it('/ types a filter the list follows; enter keeps it, esc clears it', () => {
    const typing = press(['/', ...type('!p1q')]);
    expect(typing.view).toMatchObject({ mode: { kind: 'filter' }, filter: '!p1q' });
    expect(typing.effect).toBeUndefined();
    const kept = press(['backspace', 'enter'], typing.view).view;
    expect(kept).toMatchObject({ mode: { kind: 'normal' }, filter: '!p1' });
    expect(press(['/', 'esc'], kept).view).toMatchObject({ mode: { kind: 'normal' }, filter: '' });
    // From the detail or the feed too: the list takes the focus.
    expect(press(['tab', 'tab', '/', 'x']).view).toMatchObject({ focus: 'projects', mode: { kind: 'filter' }, filter: 'x' });
    expect(press(['esc'], kept).view.filter).toBe('');
  });

  it('< > choose the column, r reverses', () => {
    expect(press(['>']).view.sort).toEqual({ column: 'latest', descending: true });
    expect(press(['<', '<']).view.sort).toEqual({ column: 'uploaded', descending: true });
    expect(press(['>', '>', '>', '>', 'r']).view.sort).toEqual({ column: 'downloads', descending: false });
  });
});

describe('panes and tabs', () => {
  it('tab and shift-tab cycle the panes; esc comes back to the projects; enter opens the detail', () => {
    expect(press(['tab']).view.focus).toBe('detail');
    expect(press(['tab', 'tab', 'tab']).view.focus).toBe('projects');
    expect(press(['shift-tab']).view.focus).toBe('feed');
    expect(press(['tab', 'tab', 'esc']).view.focus).toBe('projects');
    expect(press(['enter']).view.focus).toBe('detail');
  });

  it('[ ] and 1–4 choose the detail tab, from the list or the detail', () => {
    expect(press([']']).view.tab).toBe('files');
    expect(press(['[']).view.tab).toBe('install');
    expect(press(['enter', '3']).view.tab).toBe('downloads');
    expect(press(['tab', 'j', '2']).view).toMatchObject({ tab: 'files', detailCursor: 0 });
  });

  it('the feed scrolls, and p pauses it at the newest line and resumes', () => {
    const paused = press(['tab', 'tab', 'p']).view;
    expect(paused.feedAnchor).toBe(77);
    expect(press(['j', 'j', 'G'], paused).view.feedOffset).toBe(16);
    expect(press(['p'], paused).view.feedAnchor).toBeUndefined();
  });

  it('? opens the help, esc or ? closes it; ctrl-c quits from anywhere, q only outside text fields', () => {
    expect(press(['?']).view.mode.kind).toBe('help');
    expect(press(['?', 'j', '?']).view.mode.kind).toBe('normal');
    expect(press(['?', 'esc']).view.mode.kind).toBe('normal');
    expect(press(['q']).effect).toEqual({ kind: 'quit' });
    expect(press(['/', 'ctrl-c']).effect).toEqual({ kind: 'quit' });
    expect(press(['/', 'q']).effect).toBeUndefined();
    expect(press(['R']).effect).toEqual({ kind: 'refresh' });
  });
});

describe('admin keys', () => {
  it('y on a release asks for a reason and yanks with it on enter', () => {
    const asking = press(['enter', 'j', 'y']).view;
    expect(asking.mode).toEqual({ kind: 'confirm', action: { kind: 'yank', project: 'p00', version: '1.0' }, reason: '' });
    const r = press([...type('brokn'), 'backspace', ...type('en wheel '), 'enter'], asking);
    expect(r.effect).toEqual({ kind: 'admin', action: { kind: 'yank', project: 'p00', version: '1.0' }, reason: 'broken wheel' });
    expect(r.view.mode.kind).toBe('normal');
    expect(press(['enter', 'y', 'enter']).effect).toEqual({ kind: 'admin', action: { kind: 'yank', project: 'p00', version: '2.0' } });
  });

  it('y on a yanked release unyanks, after y', () => {
    const yanked = { ...d, releases: d.releases.map((r, i) => (i === 0 ? { ...r, yanked: true, yankedReason: 'x' } : r)) };
    const c = { ...ctx, detail: yanked };
    const asking = press(['enter', 'y'], initialView, c).view;
    expect(asking.mode).toMatchObject({ action: { kind: 'unyank', version: '2.0' } });
    expect(press(['x', 'enter'], asking, c).effect).toBeUndefined();
    expect(press(['y'], asking, c).effect).toEqual({ kind: 'admin', action: { kind: 'unyank', project: 'p00', version: '2.0' } });
  });

  it('d deletes the release under the cursor, or the file in the Files tab; n and esc cancel', () => {
    expect(press(['enter', 'd', 'y']).effect).toEqual({ kind: 'admin', action: { kind: 'delete-release', project: 'p00', version: '2.0', files: 1 } });
    expect(press(['enter', '2', 'j', 'd', 'y']).effect).toEqual({ kind: 'admin', action: { kind: 'delete-file', project: 'p00', filename: 'p00-1.0-py3-none-any.whl' } });
    const cancelled = press(['enter', 'd', 'n']);
    expect(cancelled.effect).toBeUndefined();
    expect(cancelled.view.status?.text).toContain('nothing was changed');
    expect(press(['enter', 'd', 'esc']).effect).toBeUndefined();
  });

  it('outside the Releases and Files tabs, or with no detail yet, say what to choose', () => {
    const r = press(['enter', '3', 'y']);
    expect(r.view.mode.kind).toBe('normal');
    expect(r.view.status?.text).toMatch(/Choose a release/);
    const noDetail = { ...ctx };
    delete noDetail.detail;
    expect(press(['enter', 'd'], initialView, noDetail).view.status?.text).toMatch(/Choose what to delete/);
  });

  it('--readonly refuses them and says why', () => {
    const r = press(['enter', 'y'], initialView, { ...ctx, readonly: true });
    expect(r.view.mode.kind).toBe('normal');
    expect(r.view.status).toEqual({ text: 'Read-only: the dashboard was started with --readonly.', tone: 'error' });
  });
});
