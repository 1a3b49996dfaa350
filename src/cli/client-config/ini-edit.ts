/**
 * Surgical edits of INI text read with ini.ts: each function changes only the lines of
 * the option or section it names and returns the new text; every other byte (comments,
 * spacing, key case, line endings, a missing final newline, other sections) stays as it
 * was. Each is a no-op when the file already says what is asked, so running it twice
 * changes nothing; and each addition has a removal that gives the text back byte for byte
 * (setIniOption/removeIniOption, a new section/removeIniSection,
 * addIniListValue/removeIniListValue), which is what unconfigure relies on.
 */
import { iniSection, parseIni, type IniDocument, type IniOption } from './ini.js';

function join(doc: IniDocument, lines: string[], hadFinalNewline: boolean): string {
  if (lines.length === 0) return '';
  return lines.join(doc.eol) + (hadFinalNewline ? doc.eol : '');
}

/** Whether the text ends with a line break (an empty text counts as one: edits of it end with one). */
function endsWithNewline(text: string): boolean {
  return text === '' || text.endsWith('\n') || text.endsWith('\r');
}

function isBlank(line: string | undefined): boolean {
  return line !== undefined && line.trim() === '';
}

function option(doc: IniDocument, section: string, key: string): IniOption | undefined {
  return iniSection(doc, section)?.options.find((o) => o.key === key.toLowerCase());
}

/** `key = value`; a value that starts on the next line (a list) leaves no blank after `=`. */
function optionLine(key: string, value: string): string {
  return value === '' || /^[\r\n]/.test(value) ? `${key} =${value}` : `${key} = ${value}`;
}

/**
 * The text with `section` added at the end, after one blank line; the file's own trailing
 * blank lines stay after it, and a file without a final newline still ends without one.
 * removeIniSection takes exactly that blank line and the section out again.
 */
function appendSection(text: string, doc: IniDocument, section: string, body: string[]): string {
  let end = doc.lines.length;
  while (end > 0 && isBlank(doc.lines[end - 1])) end--;
  const content = doc.lines.slice(0, end);
  const trailing = doc.lines.slice(end);
  return join(doc, [...content, ...(content.length > 0 ? [''] : []), `[${section}]`, ...body, ...trailing], endsWithNewline(text));
}

/**
 * Sets `key = value` in `section`: replaces the option's lines if it exists (keeping
 * the key's spelling, its delimiter style and any blanks after the value), else adds it
 * after the section's last option, else appends the section.
 */
export function setIniOption(text: string, section: string, key: string, value: string): string {
  const doc = parseIni(text);
  const sec = iniSection(doc, section);
  const lines = [...doc.lines];
  if (!sec) return appendSection(text, doc, section, [optionLine(key, value)]);
  const existing = option(doc, section, key);
  if (existing) {
    if (existing.value === value && existing.line === existing.endLine) return text;
    const original = lines[existing.line] as string;
    const m = /^(\s*)(.*?)(\s*[=:]\s*)/.exec(original);
    const after = m ? original.slice(m[0].length) : '';
    const trailing = existing.line === existing.endLine ? (/[ \t]*$/.exec(after)?.[0] ?? '') : '';
    const line = m ? `${m[1]}${m[2]}${m[3]}${value}${trailing}` : optionLine(key, value);
    lines.splice(existing.line, existing.endLine - existing.line + 1, line);
    return join(doc, lines, endsWithNewline(text));
  }
  lines.splice(sec.endLine + 1, 0, optionLine(key, value));
  return join(doc, lines, endsWithNewline(text));
}

/** Removes `key` (all its continuation lines) from `section`; a no-op if it is not there. */
export function removeIniOption(text: string, section: string, key: string): string {
  const doc = parseIni(text);
  const existing = option(doc, section, key);
  if (!existing) return text;
  const lines = [...doc.lines];
  lines.splice(existing.line, existing.endLine - existing.line + 1);
  return join(doc, lines, endsWithNewline(text));
}

/**
 * Removes `section`: its header and its options, with the blank line before it (the one
 * appendSection adds). Blank lines and comments after its last option stay: they belong to
 * what follows (the next header's comments, or the end of the file as it was); only a
 * section on the first line takes the blank lines between it and what follows.
 */
export function removeIniSection(text: string, section: string): string {
  const doc = parseIni(text);
  const sec = iniSection(doc, section);
  if (!sec) return text;
  const [start, end] = rangeWithSeparator(doc.lines, sec.line, sec.endLine);
  const lines = [...doc.lines];
  lines.splice(start, end - start + 1);
  return join(doc, lines, endsWithNewline(text));
}

/** [start, end] widened by the blank line before it, or at the top of the file by the blank lines after it when more follows. */
function rangeWithSeparator(lines: string[], start: number, end: number): [number, number] {
  if (start > 0) return [isBlank(lines[start - 1]) ? start - 1 : start, end];
  let after = end;
  while (isBlank(lines[after + 1])) after++;
  return [start, after + 1 < lines.length ? after : end];
}

/** The whitespace-separated values of a list option (index-servers, extra-index-url). */
export function iniListValues(value: string | undefined): string[] {
  return (value ?? '').split(/\s+/).filter(Boolean);
}

/**
 * Adds `value` to a whitespace-separated list option: as a new continuation line when the
 * list spans lines (indented like its last line), at the end of the line when it is
 * one line, or as a new option. A no-op when the value is already listed.
 */
export function addIniListValue(text: string, section: string, key: string, value: string, whenCreated: string[] = [value]): string {
  const doc = parseIni(text);
  const existing = option(doc, section, key);
  if (!existing) {
    if (whenCreated.length === 1) return setIniOption(text, section, key, whenCreated[0] as string);
    return setIniOption(text, section, key, ['', ...whenCreated.map((v) => `    ${v}`)].join(doc.eol));
  }
  if (iniListValues(existing.value).includes(value)) return text;
  const lines = [...doc.lines];
  if (existing.endLine > existing.line) {
    const last = lines[existing.endLine] as string;
    const indent = /^\s*/.exec(last)?.[0] ?? '    ';
    lines.splice(existing.endLine + 1, 0, `${indent}${value}`);
  } else {
    // After the last value, before any blanks that end the line (removeIniListValue takes " value" out again).
    const line = lines[existing.line] as string;
    const body = line.trimEnd();
    lines[existing.line] = `${body} ${value}${line.slice(body.length)}`;
  }
  return join(doc, lines, endsWithNewline(text));
}

/** `body` without the whitespace-separated word `value` (and the blank before it, or after it when first). */
function withoutWord(body: string, value: string): string {
  for (const m of body.matchAll(/\S+/g)) {
    if (m[0] !== value) continue;
    const start = m.index;
    const end = start + m[0].length;
    const before = /[ \t]*$/.exec(body.slice(0, start))?.[0].length ?? 0;
    if (before > 0 && body.slice(0, start - before).trim() !== '') return body.slice(0, start - before) + body.slice(end);
    const after = /^[ \t]*/.exec(body.slice(end))?.[0].length ?? 0;
    return body.slice(0, start) + body.slice(end + after);
  }
  return body;
}

/**
 * Removes `value` from a list option: its continuation line if it has one to itself,
 * else the word from its line; the whole option when nothing else is left.
 */
export function removeIniListValue(text: string, section: string, key: string, value: string): string {
  const doc = parseIni(text);
  const existing = option(doc, section, key);
  if (!existing || !iniListValues(existing.value).includes(value)) return text;
  if (iniListValues(existing.value).length === 1) return removeIniOption(text, section, key);
  const lines = [...doc.lines];
  for (let i = existing.endLine; i >= existing.line; i--) {
    const line = lines[i] as string;
    // On the key line only the part after the delimiter holds values.
    const cut = i === existing.line ? (/^[^=:]*[=:]/.exec(line)?.[0].length ?? 0) : 0;
    const body = line.slice(cut);
    if (!iniListValues(body).includes(value)) continue;
    if (i > existing.line && iniListValues(body).length === 1) lines.splice(i, 1);
    else lines[i] = line.slice(0, cut) + withoutWord(body, value);
    break;
  }
  return join(doc, lines, endsWithNewline(text));
}
