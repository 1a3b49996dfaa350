/**
 * TOML config files (poetry, pdm, uv) edited by patching text, never by re-serialising:
 * pyrepo appends whole tables it owns (`[repositories.pyrepo]`, `[[index]]` named
 * pyrepo) and removes exactly those tables again. smol-toml only reads: to find what is
 * there, to refuse a malformed file with its line, and to check every result parses.
 */
import { parse, TomlError } from 'smol-toml';

/** A TOML file that does not parse, or an edit that would break it. */
export class TomlEditError extends Error {
  override readonly name = 'TomlEditError';
  constructor(
    message: string,
    /** 1-based line, when known. */
    readonly line?: number,
  ) {
    super(message);
  }
}

/** Parses TOML text; a TomlEditError names the line of the first problem. */
export function readToml(text: string): Record<string, unknown> {
  try {
    return parse(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) throw new TomlEditError(`line ${err.line}: ${err.message.split('\n')[0] ?? 'invalid TOML'}`, err.line);
    throw err;
  }
}

/** The value at a dotted path of parsed TOML (`['repositories', 'pyrepo', 'url']`). */
export function tomlValue(doc: Record<string, unknown>, path: string[]): unknown {
  let at: unknown = doc;
  for (const key of path) {
    if (at === null || typeof at !== 'object' || Array.isArray(at)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

/** A TOML basic string: quotes, backslashes and control characters escaped. */
export function tomlString(value: string): string {
  // eslint-disable-next-line no-control-regex
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

/** A table as text: header line and `key = "value"` lines. */
export function tomlTable(header: string, values: [string, string | boolean][]): string[] {
  return [header, ...values.map(([k, v]) => `${k} = ${typeof v === 'boolean' ? String(v) : tomlString(v)}`)];
}

function eolOf(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function isBlank(line: string | undefined): boolean {
  return line !== undefined && line.trim() === '';
}

/** Lines joined back with the file's line ending; a final one only if the file had one (or was empty). */
function joinLines(text: string, lines: string[]): string {
  if (lines.length === 0) return '';
  return lines.join(eolOf(text)) + (text === '' || text.endsWith('\n') ? eolOf(text) : '');
}

/**
 * Adds a block of lines at the end of the content, after one blank line; the file's own
 * trailing blank lines stay after it, and a file without a final newline still ends
 * without one. Removing the table takes exactly that blank line and the block out again.
 */
export function appendTomlLines(text: string, block: string[]): string {
  const lines = splitLines(text);
  let end = lines.length;
  while (end > 0 && isBlank(lines[end - 1])) end--;
  const content = lines.slice(0, end);
  return joinLines(text, [...content, ...(content.length > 0 ? [''] : []), ...block, ...lines.slice(end)]);
}

const HEADER = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/;

/**
 * Line ranges [start, end] of tables whose header is `header` (`repositories.pyrepo`, or
 * `[[index]]` → 'index'): from the header to its last line that is neither blank nor a
 * comment (blank lines and comments after it belong to what follows).
 */
function tableRanges(lines: string[], header: string, arrayTable: boolean): [number, number][] {
  const ranges: [number, number][] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const m = HEADER.exec(line);
    if (!m || (m[1] as string).replace(/\s*\.\s*/g, '.') !== header || line.trim().startsWith('[[') !== arrayTable) continue;
    let end = i;
    for (let j = i + 1; j < lines.length && !HEADER.test(lines[j] as string); j++) end = j;
    while (end > i && (isBlank(lines[end]) || /^\s*#/.test(lines[end] as string))) end--;
    ranges.push([i, end]);
  }
  return ranges;
}

/**
 * The text without the lines [start, end] and the blank line before them (the one
 * appendTomlLines puts there); at the top of the file, without the blank lines after them
 * when more follows.
 */
function removeRange(text: string, lines: string[], [start, end]: [number, number]): string {
  let [from, to] = [start, end];
  if (start > 0) {
    if (isBlank(lines[start - 1])) from--;
  } else {
    while (isBlank(lines[to + 1])) to++;
    if (to + 1 >= lines.length) to = end;
  }
  const out = [...lines];
  out.splice(from, to - from + 1);
  return joinLines(text, out);
}

/** Removes the table `[header]` with everything in it; a no-op when it is not there. */
export function removeTomlTable(text: string, header: string): string {
  const lines = splitLines(text);
  const range = tableRanges(lines, header, false)[0];
  return range ? removeRange(text, lines, range) : text;
}

/** Removes the `[[header]]` entry whose `name` is `name` (uv's `[[index]]`). */
export function removeTomlArrayEntry(text: string, header: string, name: string): string {
  const lines = splitLines(text);
  for (const range of tableRanges(lines, header, true)) {
    const body = lines.slice(range[0] + 1, range[1] + 1).join('\n');
    const m = /^\s*name\s*=\s*(["'])(.*?)\1/m.exec(body);
    if (m && m[2] === name) return removeRange(text, lines, range);
  }
  return text;
}

/** Checks that `text` parses and `check` holds on the result; the edit is refused otherwise. */
export function verifyToml(text: string, check: (doc: Record<string, unknown>) => boolean, what: string): string {
  let doc: Record<string, unknown>;
  try {
    doc = readToml(text);
  } catch (err) {
    throw new TomlEditError(`Adding ${what} would make the file invalid TOML (${(err as Error).message}); it was left unchanged.`);
  }
  if (!check(doc)) throw new TomlEditError(`Adding ${what} did not give the expected result; the file was left unchanged.`);
  return text;
}

/** A table pyrepo owns in a TOML file: `[header]`, or with `arrayName` the `[[header]]` entry with that name. */
export interface OwnedTable {
  header: string;
  values: [string, string | boolean][];
  /** For arrays of tables: the entry's `name` (which is also among `values`). */
  arrayName?: string;
  /** For messages: "poetry's repository 'pyrepo'". */
  what: string;
}

/** The table's current values in `doc`, or undefined when it is not there. */
function currentTable(doc: Record<string, unknown>, table: OwnedTable): Record<string, unknown> | undefined {
  if (table.arrayName === undefined) {
    const t = tomlValue(doc, table.header.split('.'));
    return t && typeof t === 'object' && !Array.isArray(t) ? (t as Record<string, unknown>) : t === undefined ? undefined : {};
  }
  const list = tomlValue(doc, table.header.split('.'));
  if (!Array.isArray(list)) return undefined;
  return list.find((e) => (e as Record<string, unknown>).name === table.arrayName) as Record<string, unknown> | undefined;
}

/** Someone else's table by this name (different values, not written by pyrepo). */
export class TomlConflictError extends TomlEditError {}

/**
 * Makes the file hold exactly `table`: unchanged when it already does; replaced when
 * `owned` (pyrepo wrote it earlier); else a TomlConflictError, never touching the user's own.
 */
export function ensureTomlTable(text: string, table: OwnedTable, owned: boolean): string {
  const doc = readToml(text);
  const current = currentTable(doc, table);
  const same = current !== undefined && Object.keys(current).length === table.values.length && table.values.every(([k, v]) => current[k] === v);
  if (same) return text;
  let base = text;
  if (current !== undefined) {
    if (!owned) throw new TomlConflictError(`The file already has ${table.what} with other settings; pyrepo leaves it alone.`);
    base = dropTomlTable(text, table);
  }
  const header = table.arrayName === undefined ? `[${table.header}]` : `[[${table.header}]]`;
  const out = appendTomlLines(base, tomlTable(header, table.values));
  return verifyToml(out, (d) => {
    const t = currentTable(d, table);
    return t !== undefined && table.values.every(([k, v]) => t[k] === v);
  }, table.what);
}

/** Removes `table` if it is there. */
export function dropTomlTable(text: string, table: OwnedTable): string {
  return table.arrayName === undefined ? removeTomlTable(text, table.header) : removeTomlArrayEntry(text, table.header, table.arrayName);
}
