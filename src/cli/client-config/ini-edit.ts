/**
 * Surgical edits of INI text read with ini.ts: each function changes only the lines of
 * the option or section it names and returns the new text; every other byte (comments,
 * spacing, key case, line endings, other sections) stays as it was. Each is a no-op when
 * the file already says what is asked, so running it twice changes nothing.
 */
import { iniSection, parseIni, type IniDocument, type IniOption } from './ini.js';

function join(doc: IniDocument, lines: string[], hadFinalNewline: boolean): string {
  if (lines.length === 0) return '';
  return lines.join(doc.eol) + (hadFinalNewline ? doc.eol : '');
}

function endsWithNewline(text: string): boolean {
  return text === '' || text.endsWith('\n');
}

function option(doc: IniDocument, section: string, key: string): IniOption | undefined {
  return iniSection(doc, section)?.options.find((o) => o.key === key.toLowerCase());
}

/** The text with `section` appended at the end, separated by one blank line. */
function appendSection(text: string, doc: IniDocument, section: string, body: string[]): string {
  const lines = [...doc.lines];
  while (lines.length > 0 && lines[lines.length - 1]?.trim() === '') lines.pop();
  const kept = doc.lines.length - lines.length;
  // Keep the file's own trailing blank lines only if they are there: never add more than one.
  const sep = lines.length === 0 ? [] : kept > 0 ? doc.lines.slice(lines.length, lines.length + 1) : [''];
  return join(doc, [...lines, ...sep, `[${section}]`, ...body], true);
}

/**
 * Sets `key = value` in `section`: replaces the option's lines if it exists (keeping
 * the key's spelling and delimiter style), else adds it after the section's last
 * option, else appends the section.
 */
export function setIniOption(text: string, section: string, key: string, value: string): string {
  const doc = parseIni(text);
  const sec = iniSection(doc, section);
  const lines = [...doc.lines];
  if (!sec) return appendSection(text, doc, section, [`${key} = ${value}`]);
  const existing = option(doc, section, key);
  if (existing) {
    if (existing.value === value && existing.line === existing.endLine) return text;
    const original = lines[existing.line] as string;
    const m = /^(\s*)(.*?)(\s*[=:]\s*)/.exec(original);
    const line = m ? `${m[1]}${m[2]}${m[3]}${value}` : `${key} = ${value}`;
    lines.splice(existing.line, existing.endLine - existing.line + 1, line);
    return join(doc, lines, endsWithNewline(text));
  }
  lines.splice(sec.endLine + 1, 0, `${key} = ${value}`);
  return join(doc, lines, endsWithNewline(text) || sec.endLine + 1 < doc.lines.length);
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
 * Removes `section`: its header, its options, and the comments and blank lines up to the
 * next section header, plus one blank line before it (the one appendSection adds).
 */
export function removeIniSection(text: string, section: string): string {
  const doc = parseIni(text);
  const sec = iniSection(doc, section);
  if (!sec) return text;
  const next = [...doc.sections, ...(doc.defaults ? [doc.defaults] : [])].map((s) => s.line).filter((l) => l > sec.line);
  let end = next.length > 0 ? Math.min(...next) - 1 : doc.lines.length - 1;
  // Comments just above the next header belong to it; only blank lines go with this section.
  while (end > sec.endLine && (doc.lines[end] as string).trim() !== '') end--;
  let start = sec.line;
  if (start > 0 && (doc.lines[start - 1] as string).trim() === '' && (end === doc.lines.length - 1 || next.length === 0)) start--;
  const lines = [...doc.lines];
  lines.splice(start, end - start + 1);
  return join(doc, lines, lines.length > 0 && endsWithNewline(text));
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
    lines[existing.line] = `${(lines[existing.line] as string).trimEnd()} ${value}`;
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
