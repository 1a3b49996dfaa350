/**
 * reStructuredText to HTML, for the part of it that READMEs use: section titles,
 * paragraphs, bullet and enumerated lists, literal blocks (`::` and `.. code-block::`),
 * block quotes, transitions, admonitions (`.. note::`), images (as links: badges, mostly),
 * inline emphasis, strong, literals and links (`` `text <url>`_ ``, named references with
 * `.. _name: url` targets, bare URLs). Anything else (tables, other directives, field
 * lists) is shown as preformatted text, as written.
 *
 * Why by hand: the JavaScript world has no maintained reStructuredText renderer (the
 * `restructured` package is unmaintained since 2017), and docutils is Python. This subset
 * covers what PyPI descriptions mostly hold; the output is sanitised like Markdown's.
 * Every piece of text is escaped here; only the tags written below are produced.
 */
import { escapeHtml } from './pages.js';

/** Characters docutils accepts for section adornments. */
const ADORNMENT = /^([!-/:-@[-`{-~])\1+\s*$/;
const BULLET = /^([-*+\u2022])( +)(.*)$/;
const ENUMERATED = /^(\(?)(\d+|#)([.)])( +)(.*)$/;
const DIRECTIVE = /^\.\.\s+([A-Za-z][\w-]*)::\s*(.*)$/;
const TARGET = /^\.\.\s+_([^:]+|`[^`]+`):\s*(\S*)\s*$/;
const ANONYMOUS_TARGET = /^__\s+(\S+)\s*$/;
const CODE_DIRECTIVES = new Set(['code', 'code-block', 'sourcecode']);
const ADMONITIONS = new Set(['note', 'warning', 'tip', 'important', 'attention', 'caution', 'danger', 'error', 'hint', 'seealso']);

interface Context {
  /** Named hyperlink targets (`.. _name: url`), by normalised name. */
  targets: Map<string, string>;
  /** Title styles in order of first use: their level is their index. */
  titleStyles: string[];
  /** How deep blocks nest (lists in lists, quotes in quotes) at this point. */
  depth: number;
}

/** Deeper nesting is shown as written: `* * * * …` must not exhaust the stack. */
const MAX_DEPTH = 16;

function refName(name: string): string {
  return name.replace(/^`|`$/g, '').trim().replace(/\s+/g, ' ').toLowerCase();
}

/** Only web and mail links become links; anything else stays text. */
function safeUrl(url: string): string | undefined {
  return /^(https?:\/\/|mailto:|#|\/)/i.test(url) ? url : undefined;
}

function link(url: string, text: string): string {
  const safe = safeUrl(url);
  return safe ? `<a href="${escapeHtml(safe)}">${text}</a>` : text;
}

/** Inline markup of one paragraph's text. */
function inline(text: string, ctx: Context): string {
  const pattern =
    /``([\s\S]+?)``|`([^`<]*?)\s*<([^`>]+)>`__?|`([^`]+)`__?(?![\w])|:[\w.-]+:`([^`]+)`|`([^`]+)`(?::[\w.-]+:)?|\*\*([\s\S]+?)\*\*|\*([^*\s](?:[\s\S]*?[^*\s])?)\*|(https?:\/\/[^\s<>"]*[^\s<>".,;:!?)\]'])|\b([\w-]+)__?(?![\w])|\\([\s\S])/g;
  let out = '';
  let at = 0;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    out += escapeHtml(text.slice(at, m.index));
    at = m.index + m[0].length;
    const [whole, literal, linkText, url, refText, role, interpreted, strong, emphasis, bare, word, escaped] = m;
    if (literal !== undefined) out += `<code>${escapeHtml(literal)}</code>`;
    else if (url !== undefined) {
      const target = url.trim();
      const label = linkText?.trim() || target;
      // `text <name_>`_ points at a named target.
      const resolved = target.endsWith('_') ? ctx.targets.get(refName(target.slice(0, -1))) : target;
      if (linkText && !target.endsWith('_')) ctx.targets.set(refName(linkText), target);
      out += resolved ? link(resolved, escapeHtml(label)) : escapeHtml(label);
    } else if (refText !== undefined) {
      const target = ctx.targets.get(refName(refText));
      out += target ? link(target, escapeHtml(refText)) : escapeHtml(refText);
    } else if (role !== undefined) out += `<code>${escapeHtml(role)}</code>`;
    else if (interpreted !== undefined) out += `<cite>${escapeHtml(interpreted)}</cite>`;
    else if (strong !== undefined) out += `<strong>${escapeHtml(strong)}</strong>`;
    else if (emphasis !== undefined) out += `<em>${escapeHtml(emphasis)}</em>`;
    else if (bare !== undefined) out += link(bare, escapeHtml(bare));
    else if (word !== undefined) {
      const target = ctx.targets.get(refName(word));
      out += target ? link(target, escapeHtml(word)) : escapeHtml(whole);
    } else if (escaped !== undefined) out += escapeHtml(escaped);
  }
  return out + escapeHtml(text.slice(at));
}

const indentOf = (line: string) => line.length - line.trimStart().length;
const isBlank = (line: string | undefined) => line === undefined || line.trim() === '';

/** Lines from `start` that are blank or indented more than `indent`, trailing blanks dropped. */
function indentedBlock(lines: string[], start: number, indent: number): { block: string[]; end: number } {
  let end = start;
  while (end < lines.length && (isBlank(lines[end]) || indentOf(lines[end] as string) > indent)) end++;
  let last = end;
  while (last > start && isBlank(lines[last - 1])) last--;
  const block = lines.slice(start, last);
  const cut = Math.min(...block.filter((l) => !isBlank(l)).map(indentOf), Infinity);
  return { block: block.map((l) => (isBlank(l) ? '' : l.slice(cut === Infinity ? 0 : cut))), end: last };
}

function pre(lines: string[], language?: string): string {
  const cls = language ? ` class="language-${escapeHtml(language)}"` : '';
  return `<pre><code${cls}>${escapeHtml(lines.join('\n'))}</code></pre>\n`;
}

/** Heading level of a title style, in order of first use (h1 for the first). */
function titleLevel(ctx: Context, style: string): number {
  let level = ctx.titleStyles.indexOf(style);
  if (level === -1) level = ctx.titleStyles.push(style) - 1;
  return Math.min(level + 1, 6);
}

/** The list item texts starting at `start` (marker lines at indent 0), each with its continuation lines. */
function listItems(lines: string[], start: number, marker: RegExp): { items: string[][]; end: number } {
  const items: string[][] = [];
  let i = start;
  while (i < lines.length) {
    const m = marker.exec(lines[i] as string);
    if (!m) break;
    const body = m[m.length - 1] as string;
    const width = (lines[i] as string).length - body.length;
    const item = [body];
    i++;
    while (i < lines.length && (isBlank(lines[i]) || indentOf(lines[i] as string) >= width)) {
      item.push(isBlank(lines[i]) ? '' : (lines[i] as string).slice(width));
      i++;
    }
    while (item.length > 1 && item[item.length - 1] === '') item.pop();
    items.push(item);
    // Items may be separated by one blank line; another construct ends the list.
    while (i < lines.length && isBlank(lines[i])) i++;
  }
  return { items, end: i };
}

function blocks(lines: string[], ctx: Context): string {
  if (ctx.depth >= MAX_DEPTH) return pre(lines);
  ctx.depth++;
  try {
    return blocksAtDepth(lines, ctx);
  } finally {
    ctx.depth--;
  }
}

function blocksAtDepth(lines: string[], ctx: Context): string {
  let html = '';
  let i = 0;
  let literalNext = false;
  while (i < lines.length) {
    const line = lines[i] as string;
    if (isBlank(line)) {
      i++;
      continue;
    }
    const indent = indentOf(line);
    if (indent > 0) {
      const { block, end } = indentedBlock(lines, i, 0);
      html += literalNext ? pre(block) : `<blockquote>\n${blocks(block, ctx)}</blockquote>\n`;
      literalNext = false;
      i = end;
      continue;
    }
    literalNext = false;
    const next = lines[i + 1];
    const third = lines[i + 2];
    // Overlined title: adornment, text, the same adornment.
    if (ADORNMENT.test(line) && next !== undefined && !isBlank(next) && third !== undefined && third.trim() === line.trim()) {
      const level = titleLevel(ctx, `over${line.trim()[0]}`);
      html += `<h${level}>${inline(next.trim(), ctx)}</h${level}>\n`;
      i += 3;
      continue;
    }
    // Transition: an adornment line of four or more on its own.
    if (ADORNMENT.test(line) && line.trim().length >= 4 && isBlank(next) && (i === 0 || isBlank(lines[i - 1]))) {
      html += '<hr>\n';
      i++;
      continue;
    }
    // Underlined title.
    if (next !== undefined && ADORNMENT.test(next) && next.trim().length >= Math.min(line.trim().length, 4) && !ADORNMENT.test(line)) {
      const level = titleLevel(ctx, next.trim()[0] as string);
      html += `<h${level}>${inline(line.trim(), ctx)}</h${level}>\n`;
      i += 2;
      continue;
    }
    if (TARGET.test(line) || ANONYMOUS_TARGET.test(line)) {
      i++;
      continue;
    }
    const directive = DIRECTIVE.exec(line);
    if (directive) {
      const name = (directive[1] as string).toLowerCase();
      const { block, end } = indentedBlock(lines, i + 1, 0);
      if (ADMONITIONS.has(name)) {
        const title = name === 'seealso' ? 'See also' : `${name[0]?.toUpperCase()}${name.slice(1)}`;
        const first = (directive[2] as string).trim();
        html += `<blockquote>\n<p><strong>${escapeHtml(title)}:</strong>${first ? ` ${inline(first, ctx)}` : ''}</p>\n${blocks(block, ctx)}</blockquote>\n`;
      } else if (name === 'image' || name === 'figure') {
        // Badges mostly: a link to where the image points (or to the image), never the image itself.
        const src = (directive[2] as string).trim();
        const option = (key: string) => block.map((l) => new RegExp(`^:${key}:\\s*(.*)$`).exec(l)?.[1]).find((v) => v !== undefined);
        html += `<p>${link(option('target') ?? src, escapeHtml(`[image: ${option('alt') ?? src}]`))}</p>\n`;
      } else if (CODE_DIRECTIVES.has(name)) {
        // Options (`:linenos:`) come first, then a blank line, then the code.
        let from = 0;
        while (from < block.length && /^:[\w-]+:/.test(block[from] as string)) from++;
        while (from < block.length && block[from] === '') from++;
        html += pre(block.slice(from), (directive[2] as string).trim() || undefined);
      } else {
        html += pre([line, ...block.map((l) => (l === '' ? '' : `   ${l}`))]);
      }
      i = end;
      continue;
    }
    if (/^\.\.(\s|$)/.test(line)) {
      // A comment, with whatever is indented under it.
      i = indentedBlock(lines, i + 1, 0).end;
      continue;
    }
    if (BULLET.test(line)) {
      const { items, end } = listItems(lines, i, BULLET);
      html += `<ul>\n${items.map((item) => `<li>${listItem(item, ctx)}</li>\n`).join('')}</ul>\n`;
      i = end;
      continue;
    }
    if (ENUMERATED.test(line) && (next === undefined || isBlank(next) || ENUMERATED.test(next) || indentOf(next) > 0)) {
      const { items, end } = listItems(lines, i, ENUMERATED);
      html += `<ol>\n${items.map((item) => `<li>${listItem(item, ctx)}</li>\n`).join('')}</ol>\n`;
      i = end;
      continue;
    }
    // Simple and grid tables, field lists, doctest blocks: kept as written.
    if (/^\+[-=+]+\+\s*$/.test(line) || /^=+( +=+)+\s*$/.test(line) || /^:[^:]+:(\s|$)/.test(line) || line.startsWith('>>>')) {
      let end = i;
      while (end < lines.length && !isBlank(lines[end])) end++;
      html += pre(lines.slice(i, end));
      i = end;
      continue;
    }
    // A paragraph: lines up to a blank one or a change of indentation.
    let end = i;
    while (end < lines.length && !isBlank(lines[end]) && indentOf(lines[end] as string) === 0) end++;
    let text = lines.slice(i, end).join('\n');
    if (text.endsWith('::')) {
      literalNext = true;
      // `Paragraph::` shows one colon; `Paragraph ::` and a lone `::` show none.
      text = text === '::' ? '' : /\s::$/.test(text) ? text.slice(0, -3) : text.slice(0, -1);
    }
    if (text.trim() !== '') html += `<p>${inline(text, ctx)}</p>\n`;
    i = end;
  }
  return html;
}

/** A list item: a single paragraph inline, anything more as blocks. */
function listItem(item: string[], ctx: Context): string {
  const simple = item.every((l) => l !== '' && indentOf(l) === 0) && !item.some((l) => BULLET.test(l) || ENUMERATED.test(l));
  return simple ? inline(item.join('\n'), ctx) : blocks(item, ctx).trimEnd();
}

/** Renders reStructuredText (the subset above) to HTML; unknown constructs come out preformatted. */
export function renderRst(source: string): string {
  const lines = source.replace(/\r\n?/g, '\n').replace(/\t/g, '        ').split('\n');
  const ctx: Context = { targets: new Map(), titleStyles: [], depth: 0 };
  // Targets may come after the references that use them.
  for (const line of lines) {
    const target = TARGET.exec(line.trim());
    if (target && target[2]) ctx.targets.set(refName(target[1] as string), target[2]);
  }
  return blocks(lines, ctx);
}
