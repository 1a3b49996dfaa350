/**
 * Reads INI files (~/.pypirc, pip.conf) exactly the way Python's
 * `configparser.RawConfigParser` does, keeping where every section and option sits in
 * the file so that edits can touch only their own lines.
 *
 * Not the `ini` package: it treats `;` and `#` after a value as a comment (configparser
 * keeps them: `index-url = http://x # no` is the whole value to pip), it does not join
 * indented continuation lines (so `index-servers =\n    pypi\n    pyrepo` loses its
 * entries), it accepts `:` only as part of a key, and it re-serialises the whole file.
 *
 * The rules followed, from CPython's `configparser.RawConfigParser._read`:
 * - a line whose first non-blank character is `#` or `;` is a comment, also inside a
 *   multi-line value; there are no inline comments;
 * - `[name]` starts a section; names are case-sensitive and kept verbatim (`[ a ]` is
 *   " a "); `[DEFAULT]` supplies defaults to every section;
 * - `key = value` or `key: value`, split at the first `=` or `:`; keys are lowercased and
 *   stripped, values stripped;
 * - a line indented deeper than its option's line continues the value (joined with
 *   "\n"), blank lines included, trailing blank lines dropped;
 * - duplicate sections or options, an option before any section, or a line that is none
 *   of these are errors (configparser's `strict` default), reported with a line number.
 */

/** One `key = value` entry, with the lines it spans (continuations included). */
export interface IniOption {
  /** Lowercased, as configparser's optionxform makes it. */
  key: string;
  /** The joined value; `\n` between continuation lines. */
  value: string;
  /** 0-based line of `key = …`. */
  line: number;
  /** 0-based last line that belongs to the value (the key line when single-line). */
  endLine: number;
}

export interface IniSection {
  /** Verbatim, case-sensitive. */
  name: string;
  /** 0-based line of the `[name]` header. */
  line: number;
  /** 0-based last line of the section's content (trailing blanks and comments excluded). */
  endLine: number;
  options: IniOption[];
}

export interface IniDocument {
  /** The file split into lines, line endings removed. */
  lines: string[];
  /** The line ending the file uses (kept on edits). */
  eol: '\n' | '\r\n';
  sections: IniSection[];
  /** `[DEFAULT]`'s options, if the file has that section. */
  defaults?: IniSection;
}

/** A line configparser would refuse; `line` is 1-based, as Python reports it. */
export class IniSyntaxError extends Error {
  override readonly name = 'IniSyntaxError';
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
  }
}

const SECTION = /^\[(.+)\]/;
const OPTION = /^(.*?)\s*([=:])\s*(.*)$/;

function indentOf(line: string): number {
  const m = /\S/.exec(line);
  return m ? m.index : 0;
}

/** Parses INI text as configparser does; throws IniSyntaxError where configparser would fail. */
export function parseIni(text: string): IniDocument {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const eol = body.includes('\r\n') ? '\r\n' : '\n';
  const lines = body.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const doc: IniDocument = { lines, eol, sections: [] };
  let section: IniSection | undefined;
  let option: IniOption | undefined;
  let parts: string[] = [];
  let optionIndent = 0;
  const seen = new Set<string>();

  const finishOption = () => {
    if (!option) return;
    while (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
    option.value = parts.join('\n');
  };

  lines.forEach((raw, i) => {
    const trimmed = raw.trim();
    const isComment = trimmed.startsWith('#') || trimmed.startsWith(';');
    if (trimmed === '' || isComment) {
      // A blank line inside a value is part of it (configparser's empty_lines_in_values).
      if (!isComment && option) parts.push('');
      return;
    }
    const indent = indentOf(raw);
    if (option && indent > optionIndent) {
      parts.push(trimmed);
      option.endLine = i;
      if (section) section.endLine = i;
      return;
    }
    optionIndent = indent;
    const header = SECTION.exec(trimmed);
    if (header) {
      finishOption();
      option = undefined;
      const name = header[1] as string;
      if (seen.has(name)) throw new IniSyntaxError(`section [${name}] appears twice`, i + 1);
      seen.add(name);
      section = { name, line: i, endLine: i, options: [] };
      if (name === 'DEFAULT') doc.defaults = section;
      else doc.sections.push(section);
      return;
    }
    if (!section) throw new IniSyntaxError(`'${trimmed}' comes before any [section] header`, i + 1);
    const m = OPTION.exec(trimmed);
    const key = m?.[1]?.trimEnd().toLowerCase();
    if (!m || !key) throw new IniSyntaxError(`'${trimmed}' is not a section header or a 'key = value' line`, i + 1);
    if (section.options.some((o) => o.key === key)) throw new IniSyntaxError(`'${key}' appears twice in [${section.name}]`, i + 1);
    finishOption();
    option = { key, value: '', line: i, endLine: i };
    parts = [(m[3] ?? '').trim()];
    section.options.push(option);
    section.endLine = i;
  });
  finishOption();
  return doc;
}

/** A section by its exact name. */
export function iniSection(doc: IniDocument, name: string): IniSection | undefined {
  return doc.sections.find((s) => s.name === name);
}

/**
 * An option's value as configparser's `get(section, key)` returns it: the section's own
 * value, else `[DEFAULT]`'s; undefined when the section does not exist.
 */
export function iniGet(doc: IniDocument, sectionName: string, key: string): string | undefined {
  const section = iniSection(doc, sectionName);
  if (!section) return undefined;
  const k = key.toLowerCase();
  return (section.options.find((o) => o.key === k) ?? doc.defaults?.options.find((o) => o.key === k))?.value;
}
