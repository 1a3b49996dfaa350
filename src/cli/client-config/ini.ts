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
 * The rules followed, from CPython's `configparser.RawConfigParser._read` (and checked
 * against it by test/cli/ini.test.ts):
 * - lines end at "\r\n", "\r" or "\n" (pip and twine open files with universal newlines);
 *   "blank" and "stripped" mean Python's whitespace (str.isspace), not JavaScript's;
 * - a line whose first non-blank character is `#` or `;` is a comment, also inside a
 *   multi-line value; there are no inline comments;
 * - `[name]` starts a section; names are case-sensitive and kept verbatim (`[ a ]` is
 *   " a "); `[DEFAULT]` supplies defaults to every section, and a second `[DEFAULT]`
 *   header adds to them;
 * - `key = value` or `key: value`, split at the first `=` or `:`; keys are lowercased and
 *   stripped, values stripped;
 * - a line indented deeper than its option's line continues the value (joined with
 *   "\n"), blank lines included, trailing blank lines dropped;
 * - duplicate sections or options, an option before any section, or a line that is none
 *   of these are errors (configparser's `strict` default), reported with a line number
 *   and configparser's exception; like configparser, an unreadable line is reported only
 *   if no duplicate follows it;
 * - a byte order mark is not whitespace: a file that starts with one has no section
 *   header before its first line, and pip and twine refuse it.
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
  eol: '\n' | '\r\n' | '\r';
  sections: IniSection[];
  /** `[DEFAULT]`'s options, if the file has that section. */
  defaults?: IniSection;
}

/** configparser's exception for each refusal. */
export type IniErrorKind = 'MissingSectionHeaderError' | 'DuplicateSectionError' | 'DuplicateOptionError' | 'ParsingError';

/** A line configparser would refuse; `line` is 1-based, as Python reports it. */
export class IniSyntaxError extends Error {
  override readonly name = 'IniSyntaxError';
  constructor(
    message: string,
    readonly line: number,
    /** The exception configparser raises there. */
    readonly kind: IniErrorKind = 'ParsingError',
  ) {
    super(`line ${line}: ${message}`);
  }
}

/** What Python's str.isspace() and re's \s call whitespace (JavaScript's \s differs: it has U+FEFF, lacks U+001C–U+001F and U+0085). */
const WS = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const STRIP = new RegExp(`^[${WS}]+|[${WS}]+$`, 'g');
const RSTRIP = new RegExp(`[${WS}]+$`);
const NON_SPACE = new RegExp(`[^${WS}]`);
// The `s` flag: Python's `.` matches everything but "\n", JavaScript's also stops at "\r", U+2028 and U+2029.
const SECTION = /^\[(.+)\]/s;
const OPTION = new RegExp(`^(.*?)[${WS}]*([=:])[${WS}]*(.*)$`, 's');

/** Python's str.strip(). */
function pyStrip(s: string): string {
  return s.replace(STRIP, '');
}

function indentOf(line: string): number {
  const m = NON_SPACE.exec(line);
  return m ? m.index : 0;
}

/** Parses INI text as configparser does; throws IniSyntaxError where configparser would fail. */
export function parseIni(text: string): IniDocument {
  // Line breaks as Python's universal newlines see them.
  const eol = text.includes('\r\n') ? '\r\n' : !text.includes('\n') && text.includes('\r') ? '\r' : '\n';
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const doc: IniDocument = { lines, eol, sections: [] };
  let section: IniSection | undefined;
  let option: IniOption | undefined;
  let parts: string[] = [];
  let optionIndent = 0;
  const seen = new Set<string>();
  /** configparser reports a line it cannot read only at the end, unless another error comes first. */
  let firstBadLine: IniSyntaxError | undefined;

  const finishOption = () => {
    if (!option) return;
    while (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
    option.value = parts.join('\n');
  };

  lines.forEach((raw, i) => {
    const trimmed = pyStrip(raw);
    const isComment = trimmed.startsWith('#') || trimmed.startsWith(';');
    if (trimmed === '' || isComment) {
      // A blank line inside a value is part of it (configparser's empty_lines_in_values).
      if (!isComment && option?.key) parts.push('');
      return;
    }
    const indent = indentOf(raw);
    // configparser tests the option's name for truth: after `= x` (no name) nothing continues.
    if (option?.key && indent > optionIndent) {
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
      if (name === 'DEFAULT') {
        // Every [DEFAULT] adds to the one set of defaults; it is never a duplicate section.
        section = doc.defaults ??= { name, line: i, endLine: i, options: [] };
        return;
      }
      if (seen.has(name)) throw new IniSyntaxError(`section [${name}] appears twice`, i + 1, 'DuplicateSectionError');
      seen.add(name);
      section = { name, line: i, endLine: i, options: [] };
      doc.sections.push(section);
      return;
    }
    if (!section) {
      const why = i === 0 && raw.startsWith('\uFEFF')
        ? 'the file starts with a byte order mark (BOM), which pip and twine do not accept; save it as UTF-8 without a BOM'
        : `'${trimmed}' comes before any [section] header`;
      throw new IniSyntaxError(why, i + 1, 'MissingSectionHeaderError');
    }
    const m = OPTION.exec(trimmed);
    if (!m) {
      firstBadLine ??= new IniSyntaxError(`'${trimmed}' is not a section header or a 'key = value' line`, i + 1);
      return;
    }
    const key = (m[1] as string).replace(RSTRIP, '').toLowerCase();
    // configparser records a nameless option as an error but still keeps it (as '').
    if (!key) firstBadLine ??= new IniSyntaxError(`'${trimmed}' has no option name before its '${m[2]}'`, i + 1);
    if (section.options.some((o) => o.key === key)) throw new IniSyntaxError(`'${key}' appears twice in [${section.name}]`, i + 1, 'DuplicateOptionError');
    finishOption();
    option = { key, value: '', line: i, endLine: i };
    parts = [pyStrip(m[3] as string)];
    section.options.push(option);
    section.endLine = i;
  });
  finishOption();
  if (firstBadLine) throw firstBadLine;
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
  const section = sectionName === 'DEFAULT' ? doc.defaults : iniSection(doc, sectionName);
  if (!section) return undefined;
  const k = key.toLowerCase();
  return (section.options.find((o) => o.key === k) ?? doc.defaults?.options.find((o) => o.key === k))?.value;
}
