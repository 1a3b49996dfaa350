/**
 * What the user looks at, as pure state: the focused pane, the selected project, the
 * filter, the sort, the detail tab and its cursor, the feed's scroll and pause, and the
 * overlay (help, a filter being typed, a confirmation). `handleKey` turns one key press
 * into the next state and, when the key asks the world for something (quit, a fresh
 * snapshot, a yank), an effect for the app to carry out.
 */
import { bindingFor, type KeyPress } from '../keymap.js';
import type { ProjectDetail } from '../../shared/api.js';
import { DEFAULT_SORT, moveSort, scrollOffset, type Sort } from './project-table.js';

export const PANES = ['projects', 'detail', 'feed'] as const;
export type Pane = (typeof PANES)[number];

export const DETAIL_TABS = ['releases', 'files', 'downloads', 'install'] as const;
export type DetailTab = (typeof DETAIL_TABS)[number];

/** What an admin key asks for, confirmed in a dialog before it is sent. */
export type AdminAction =
  | { kind: 'yank'; project: string; version: string }
  | { kind: 'unyank'; project: string; version: string }
  | { kind: 'delete-release'; project: string; version: string; files: number }
  | { kind: 'delete-file'; project: string; filename: string };

export type Mode =
  | { kind: 'normal' }
  /** Typing a filter; the list follows as it is typed. */
  | { kind: 'filter' }
  | { kind: 'help' }
  /** A confirmation; a yank also takes its reason here. */
  | { kind: 'confirm'; action: AdminAction; reason: string };

export interface Status {
  text: string;
  tone: 'info' | 'ok' | 'error';
}

export interface ViewState {
  focus: Pane;
  /** The selected project's name (it stays selected when the list re-sorts). */
  selected?: string;
  listOffset: number;
  filter: string;
  sort: Sort;
  tab: DetailTab;
  detailCursor: number;
  detailOffset: number;
  feedOffset: number;
  /** The newest feed line shown while the feed is paused. */
  feedAnchor?: number;
  mode: Mode;
  status?: Status;
}

export const initialView: ViewState = {
  focus: 'projects',
  listOffset: 0,
  filter: '',
  sort: DEFAULT_SORT,
  tab: 'releases',
  detailCursor: 0,
  detailOffset: 0,
  feedOffset: 0,
  mode: { kind: 'normal' },
};

/** A row of the detail pane a key can act on. */
export type DetailTarget =
  | { kind: 'release'; version: string; yanked: boolean; files: number }
  | { kind: 'file'; version: string; filename: string };

/** The rows of a detail tab that the cursor moves over (tabs of plain text have none). */
export function detailTargets(detail: ProjectDetail | undefined, tab: DetailTab): DetailTarget[] {
  if (!detail) return [];
  if (tab === 'releases') return detail.releases.map((r) => ({ kind: 'release', version: r.version, yanked: r.yanked, files: r.files.length }));
  if (tab === 'files') return detail.releases.flatMap((r) => r.files.map((f) => ({ kind: 'file' as const, version: r.version, filename: f.filename })));
  return [];
}

/** What the key handler needs to know of the screen as it is. */
export interface ViewContext {
  /** Project names in list order (filtered and sorted). */
  rows: readonly string[];
  /** Rows the list shows at once. */
  listHeight: number;
  /** The selected project's detail, when it has arrived. */
  detail?: ProjectDetail;
  detailHeight: number;
  feedLength: number;
  feedHeight: number;
  /** The newest feed line's number (for pausing). */
  feedTopSeq?: number;
  readonly: boolean;
}

export type Effect = { kind: 'quit' } | { kind: 'refresh' } | { kind: 'admin'; action: AdminAction; reason?: string };

export interface KeyResult {
  view: ViewState;
  effect?: Effect;
}

/** The selected project as shown: the remembered one while it is in the list, else the first row. */
export function selectedName(view: ViewState, rows: readonly string[]): string | undefined {
  return view.selected !== undefined && rows.includes(view.selected) ? view.selected : rows[0];
}

const clamp = (n: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, n));

/** Longest yank reason the daemon takes. */
export const MAX_REASON = 1000;

export function handleKey(view: ViewState, key: KeyPress, ctx: ViewContext): KeyResult {
  const mode = view.mode;
  if (key.name === 'ctrl-c') return { view, effect: { kind: 'quit' } };
  switch (mode.kind) {
    case 'help':
      return ['esc', '?', 'q', 'enter'].includes(key.name) ? { view: { ...view, mode: { kind: 'normal' } } } : { view };
    case 'filter':
      return { view: filterKey(view, key) };
    case 'confirm':
      return confirmKey(view, mode, key);
    case 'normal':
      return normalKey(view, key, ctx);
  }
}

function filterKey(view: ViewState, key: KeyPress): ViewState {
  if (key.name === 'enter') return { ...view, mode: { kind: 'normal' }, listOffset: 0 };
  if (key.name === 'esc') return { ...view, mode: { kind: 'normal' }, filter: '', listOffset: 0 };
  if (key.name === 'backspace') return { ...view, filter: view.filter.slice(0, -1), listOffset: 0 };
  if (key.text) return { ...view, filter: view.filter + key.text, listOffset: 0 };
  return view;
}

function confirmKey(view: ViewState, mode: Mode & { kind: 'confirm' }, key: KeyPress): KeyResult {
  const normal = { ...view, mode: { kind: 'normal' } as const };
  if (key.name === 'esc') return { view: { ...normal, status: { text: 'Cancelled; nothing was changed.', tone: 'info' } } };
  if (mode.action.kind === 'yank') {
    // The yank dialog is a text field: enter confirms, every other key types the reason.
    if (key.name === 'enter') {
      const reason = mode.reason.trim();
      return { view: normal, effect: { kind: 'admin', action: mode.action, ...(reason ? { reason } : {}) } };
    }
    if (key.name === 'backspace') return { view: { ...view, mode: { ...mode, reason: mode.reason.slice(0, -1) } } };
    if (key.text) return { view: { ...view, mode: { ...mode, reason: (mode.reason + key.text).slice(0, MAX_REASON) } } };
    return { view };
  }
  if (key.name === 'y' || key.name === 'Y') return { view: normal, effect: { kind: 'admin', action: mode.action } };
  if (key.name === 'n' || key.name === 'N' || key.name === 'q') return { view: { ...normal, status: { text: 'Cancelled; nothing was changed.', tone: 'info' } } };
  return { view };
}

function normalKey(view: ViewState, key: KeyPress, ctx: ViewContext): KeyResult {
  const binding = bindingFor(key.name, view.focus);
  if (!binding) return { view };
  if (binding.admin && ctx.readonly) return { view: { ...view, status: { text: 'Read-only: the dashboard was started with --readonly.', tone: 'error' } } };
  const v: ViewState = { ...view, status: undefined };
  switch (binding.command) {
    case 'quit':
      return { view, effect: { kind: 'quit' } };
    case 'help':
      return { view: { ...v, mode: { kind: 'help' } } };
    case 'refresh':
      return { view: { ...v, status: { text: 'Taking a fresh snapshot…', tone: 'info' } }, effect: { kind: 'refresh' } };
    case 'next-pane':
    case 'prev-pane': {
      const step = binding.command === 'next-pane' ? 1 : PANES.length - 1;
      return { view: { ...v, focus: PANES[(PANES.indexOf(view.focus) + step) % PANES.length] as Pane } };
    }
    case 'back':
      if (view.focus !== 'projects') return { view: { ...v, focus: 'projects' } };
      if (view.filter) return { view: { ...v, filter: '', listOffset: 0 } };
      return { view: v };
    case 'open':
      return { view: { ...v, focus: 'detail' } };
    case 'filter':
      return { view: { ...v, focus: 'projects', mode: { kind: 'filter' } } };
    case 'sort-prev':
    case 'sort-next':
      return { view: { ...v, sort: moveSort(view.sort, binding.command === 'sort-prev' ? -1 : 1) } };
    case 'reverse':
      return { view: { ...v, sort: { ...view.sort, descending: !view.sort.descending } } };
    case 'prev-tab':
    case 'next-tab': {
      const step = binding.command === 'next-tab' ? 1 : DETAIL_TABS.length - 1;
      return { view: withTab(v, DETAIL_TABS[(DETAIL_TABS.indexOf(view.tab) + step) % DETAIL_TABS.length] as DetailTab) };
    }
    case 'tab-n':
      return { view: withTab(v, DETAIL_TABS[Number(key.name) - 1] ?? view.tab) };
    case 'pause':
      return {
        view:
          view.feedAnchor === undefined
            ? { ...v, feedAnchor: ctx.feedTopSeq ?? 0, status: { text: 'Activity paused; p resumes.', tone: 'info' } }
            : { ...v, feedAnchor: undefined, feedOffset: 0 },
      };
    case 'yank':
    case 'delete':
      return adminKey(v, binding.command, ctx);
    default:
      return { view: move(v, binding.command, ctx) };
  }
}

function withTab(view: ViewState, tab: DetailTab): ViewState {
  return { ...view, tab, detailCursor: 0, detailOffset: 0 };
}

/** Arrows, pages, top and bottom, in the focused pane. */
function move(view: ViewState, command: string, ctx: ViewContext): ViewState {
  const target = (index: number, count: number, height: number): number => {
    const page = Math.max(1, height - 1);
    switch (command) {
      case 'up':
        return index - 1;
      case 'down':
        return index + 1;
      case 'page-up':
        return index - page;
      case 'page-down':
        return index + page;
      case 'top':
        return 0;
      default:
        return count - 1;
    }
  };
  if (view.focus === 'projects') {
    if (ctx.rows.length === 0) return view;
    const current = Math.max(0, ctx.rows.indexOf(selectedName(view, ctx.rows) as string));
    const next = clamp(target(current, ctx.rows.length, ctx.listHeight), 0, ctx.rows.length - 1);
    const selected = ctx.rows[next] as string;
    const listOffset = scrollOffset(ctx.rows.length, next, ctx.listHeight, view.listOffset);
    // Another project: its detail starts from the top.
    return selected === selectedName(view, ctx.rows)
      ? { ...view, listOffset }
      : { ...view, selected, listOffset, detailCursor: 0, detailOffset: 0 };
  }
  if (view.focus === 'detail') {
    const count = detailTargets(ctx.detail, view.tab).length;
    if (count === 0) return view;
    const next = clamp(target(view.detailCursor, count, ctx.detailHeight), 0, count - 1);
    return { ...view, detailCursor: next, detailOffset: scrollOffset(count, next, ctx.detailHeight, view.detailOffset) };
  }
  const max = Math.max(0, ctx.feedLength - ctx.feedHeight);
  return { ...view, feedOffset: clamp(target(view.feedOffset, max + 1, ctx.feedHeight), 0, max) };
}

function adminKey(view: ViewState, command: 'yank' | 'delete', ctx: ViewContext): KeyResult {
  const project = ctx.detail?.name;
  const target = detailTargets(ctx.detail, view.tab)[view.detailCursor];
  if (!project || !target) {
    const text =
      command === 'yank' ? 'Choose a release to yank: Releases or Files tab (1, 2), then y.' : 'Choose what to delete: a release (Releases tab, 1) or a file (Files tab, 2), then d.';
    return { view: { ...view, status: { text, tone: 'info' } } };
  }
  let action: AdminAction;
  if (command === 'yank') {
    const yanked = ctx.detail?.releases.find((r) => r.version === target.version)?.yanked ?? false;
    action = { kind: yanked ? 'unyank' : 'yank', project, version: target.version };
  } else if (target.kind === 'release') {
    action = { kind: 'delete-release', project, version: target.version, files: target.files };
  } else {
    action = { kind: 'delete-file', project, filename: target.filename };
  }
  return { view: { ...view, mode: { kind: 'confirm', action, reason: '' } } };
}

/** The dialog's question for an action. */
export function describeAction(action: AdminAction): string {
  switch (action.kind) {
    case 'yank':
      return `Yank ${action.project} ${action.version}? Installers skip a yanked release unless it is pinned with ==.`;
    case 'unyank':
      return `Unyank ${action.project} ${action.version}? Installers will choose it again.`;
    case 'delete-release':
      return `Delete ${action.project} ${action.version} and its ${action.files} file${action.files === 1 ? '' : 's'}? This cannot be undone.`;
    case 'delete-file':
      return `Delete the file ${action.filename}? This cannot be undone.`;
  }
}
