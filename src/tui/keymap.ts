/**
 * Every key of the dashboard, in one table: the input handler resolves keys through it,
 * and the help overlay and the hint line are generated from it, so what the screen says
 * is always what the keys do. The keys follow what k9s, lazygit, htop and btop share.
 */

/** Where a key applies: everywhere, or in the pane that has the focus. */
export type Scope = 'global' | 'projects' | 'detail' | 'feed';

export type Command =
  | 'quit'
  | 'help'
  | 'next-pane'
  | 'prev-pane'
  | 'back'
  | 'up'
  | 'down'
  | 'page-up'
  | 'page-down'
  | 'top'
  | 'bottom'
  | 'filter'
  | 'sort-prev'
  | 'sort-next'
  | 'reverse'
  | 'open'
  | 'prev-tab'
  | 'next-tab'
  | 'tab-n'
  | 'yank'
  | 'delete'
  | 'refresh'
  | 'pause';

export interface Binding {
  command: Command;
  /** Key names as keyName() spells them; the first is the one shown in hints. */
  keys: readonly string[];
  scopes: readonly Scope[];
  /** For the help overlay. */
  description: string;
  /** Changes the index: hidden and refused with --readonly. */
  admin?: boolean;
  /** A short label for the hint line, when the key earns a place there. */
  hint?: string;
  /** The help section, when it is not the one its scopes imply. */
  section?: string;
}

const LISTS: readonly Scope[] = ['projects', 'detail', 'feed'];

export const KEYMAP: readonly Binding[] = [
  { command: 'help', keys: ['?'], scopes: ['global'], description: 'Show or hide this help', hint: 'help' },
  { command: 'quit', keys: ['q', 'ctrl-c'], scopes: ['global'], description: 'Quit', hint: 'quit' },
  { command: 'next-pane', keys: ['tab'], scopes: ['global'], description: 'Next pane', hint: 'pane' },
  { command: 'prev-pane', keys: ['shift-tab'], scopes: ['global'], description: 'Previous pane' },
  { command: 'back', keys: ['esc'], scopes: ['global'], description: 'Back; clear the filter' },
  { command: 'refresh', keys: ['R'], scopes: ['global'], description: 'Refresh now (or reconnect)' },
  { command: 'up', keys: ['up', 'k'], scopes: LISTS, description: 'Move up' },
  { command: 'down', keys: ['down', 'j'], scopes: LISTS, description: 'Move down' },
  { command: 'page-up', keys: ['pgup'], scopes: LISTS, description: 'One page up' },
  { command: 'page-down', keys: ['pgdn'], scopes: LISTS, description: 'One page down' },
  { command: 'top', keys: ['g', 'home'], scopes: LISTS, description: 'To the first row' },
  { command: 'bottom', keys: ['G', 'end'], scopes: LISTS, description: 'To the last row' },
  // From any pane: the filter is of the project list, which takes the focus.
  { command: 'filter', keys: ['/'], scopes: LISTS, section: 'Projects', description: 'Filter (!text inverts)', hint: 'filter' },
  { command: 'sort-prev', keys: ['<'], scopes: ['projects'], description: 'Sort by the column left' },
  { command: 'sort-next', keys: ['>'], scopes: ['projects'], description: 'Sort by the column right', hint: 'sort' },
  { command: 'reverse', keys: ['r'], scopes: ['projects'], description: 'Reverse the sort order', hint: 'reverse' },
  { command: 'open', keys: ['enter'], scopes: ['projects'], description: "Open the project's detail", hint: 'detail' },
  { command: 'prev-tab', keys: ['['], scopes: ['projects', 'detail'], description: 'Previous detail tab' },
  { command: 'next-tab', keys: [']'], scopes: ['projects', 'detail'], description: 'Next detail tab', hint: 'tab' },
  { command: 'tab-n', keys: ['1', '2', '3', '4'], scopes: ['projects', 'detail'], description: 'Releases, Files, Downloads, Install' },
  { command: 'yank', keys: ['y'], scopes: ['detail'], description: 'Yank (asks a reason), unyank', admin: true, hint: 'yank' },
  { command: 'delete', keys: ['d'], scopes: ['detail'], description: 'Delete the release or file', admin: true, hint: 'delete' },
  { command: 'pause', keys: ['p'], scopes: ['feed'], description: 'Pause or resume the feed', hint: 'pause' },
];

/** The subset of Ink's key flags keyName() reads. */
export interface KeyFlags {
  upArrow?: boolean;
  downArrow?: boolean;
  leftArrow?: boolean;
  rightArrow?: boolean;
  pageUp?: boolean;
  pageDown?: boolean;
  home?: boolean;
  end?: boolean;
  return?: boolean;
  escape?: boolean;
  ctrl?: boolean;
  shift?: boolean;
  tab?: boolean;
  backspace?: boolean;
  delete?: boolean;
  meta?: boolean;
}

/** One key press: its name for the keymap, and the text it types (for text fields). */
export interface KeyPress {
  name: string;
  text: string;
}

/** Names a key press from Ink's `useInput` arguments. */
export function keyName(input: string, key: KeyFlags): KeyPress {
  const named = (name: string): KeyPress => ({ name, text: '' });
  if (key.ctrl && input === 'c') return named('ctrl-c');
  if (key.tab) return named(key.shift ? 'shift-tab' : 'tab');
  if (key.escape) return named('esc');
  if (key.return) return named('enter');
  if (key.upArrow) return named('up');
  if (key.downArrow) return named('down');
  if (key.leftArrow) return named('left');
  if (key.rightArrow) return named('right');
  if (key.pageUp) return named('pgup');
  if (key.pageDown) return named('pgdn');
  if (key.home) return named('home');
  if (key.end) return named('end');
  // Ink 6 reports the Backspace key (0x7f) as `delete`.
  if (key.backspace || key.delete) return named('backspace');
  if (key.ctrl) return named(`ctrl-${input}`);
  // Pasted text arrives as one string; strip what is not printable.
  // eslint-disable-next-line no-control-regex
  const text = input.replace(/[\u0000-\u001f\u007f]/g, '');
  return { name: text.length === 1 ? text : '', text };
}

/**
 * The key presses in one read of the terminal. Keys typed faster than they are read
 * (or sent by a script) arrive together, and Ink hands them over as one string, as it
 * does a paste: they are taken apart here, one key per character.
 */
export function keyPresses(input: string, key: KeyFlags): KeyPress[] {
  // One key, or an escape sequence (arrows, pages), which is one key too.
  if (input.length <= 1 || input.includes('\u001b') || key.ctrl) return [keyName(input, key)];
  return [...input].map((ch) => {
    if (ch === '\r' || ch === '\n') return { name: 'enter', text: '' };
    if (ch === '\t') return { name: 'tab', text: '' };
    if (ch === '\u007f' || ch === '\b') return { name: 'backspace', text: '' };
    return keyName(ch, {});
  });
}

/** The binding a key has in `scope` (a pane's own keys first, then the global ones). */
export function bindingFor(name: string, scope: Exclude<Scope, 'global'>): Binding | undefined {
  if (name === '') return undefined;
  return (
    KEYMAP.find((b) => b.scopes.includes(scope) && b.keys.includes(name)) ??
    KEYMAP.find((b) => b.scopes.includes('global') && b.keys.includes(name))
  );
}

/** Which help section a binding belongs to. */
function sectionOf(b: Binding): string {
  if (b.section) return b.section;
  if (b.scopes.includes('global')) return 'Everywhere';
  if (b.scopes.length === LISTS.length) return 'In a pane';
  if (b.scopes.includes('detail')) return 'Detail';
  if (b.scopes.includes('projects')) return 'Projects';
  return 'Activity';
}

const SECTIONS = ['Everywhere', 'In a pane', 'Projects', 'Detail', 'Activity'];

/** The help overlay's sections, from the keymap (admin keys left out when read-only). */
export function helpSections(readonly: boolean): { title: string; rows: { keys: string; description: string }[] }[] {
  return SECTIONS.map((title) => ({
    title,
    rows: KEYMAP.filter((b) => sectionOf(b) === title && !(readonly && b.admin)).map((b) => ({ keys: b.keys.join(' '), description: b.description })),
  }));
}

/** The hint line for a pane: its hinted keys, then the global ones. */
export function hintsFor(scope: Exclude<Scope, 'global'>, readonly: boolean): { key: string; label: string }[] {
  const mine = KEYMAP.filter((b) => b.hint && b.scopes.includes(scope) && !b.scopes.includes('global') && !(readonly && b.admin) && (scope === 'projects' || b.command !== 'filter'));
  const global = KEYMAP.filter((b) => b.hint && b.scopes.includes('global'));
  return [...mine, ...global].map((b) => ({ key: b.keys[0] as string, label: b.hint as string }));
}
