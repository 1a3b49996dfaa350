/**
 * A project's long description as HTML, chosen by its `Description-Content-Type` the way
 * PyPI chooses: `text/markdown` through marked, `text/x-rst` (and no type at all, PyPI's
 * default) through the reStructuredText subset of rst.ts, `text/plain` and anything else
 * as preformatted text. Whatever comes out passes sanitize-html with an allow-list, so no
 * script, event handler, `javascript:` URL, style or frame survives, from raw HTML in
 * Markdown or anywhere else. Images become links: a page of this index never fetches
 * from another host when it is opened.
 */
import { Marked } from 'marked';
import sanitizeHtml from 'sanitize-html';
import { escapeHtml } from './pages.js';
import { renderRst } from './rst.js';

export type DescriptionFormat = 'markdown' | 'rst' | 'plain';

/** The format a `Description-Content-Type` asks for (PyPI: none means reStructuredText). */
export function descriptionFormat(contentType: string | null): DescriptionFormat {
  const type = (contentType ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
  if (type === 'text/markdown') return 'markdown';
  if (type === '' || type === 'text/x-rst') return 'rst';
  return 'plain';
}

const markdown = new Marked({ gfm: true, async: false });

/** Headings inside a description sit under the page's h1 and its h2 "Description". */
function shiftHeading(tagName: string, attribs: sanitizeHtml.Attributes): sanitizeHtml.Tag {
  const level = Math.min(Number(tagName.slice(1)) + 2, 6);
  return { tagName: `h${level}`, attribs };
}

const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: [
    'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'p', 'br', 'hr', 'blockquote', 'pre', 'code', 'kbd', 'samp', 'var',
    'em', 'strong', 'b', 'i', 'u', 's', 'del', 'ins', 'sub', 'sup', 'small', 'mark', 'cite', 'abbr', 'q',
    'a', 'ul', 'ol', 'li', 'dl', 'dt', 'dd', 'table', 'thead', 'tbody', 'tfoot', 'tr', 'th', 'td', 'caption',
    'details', 'summary', 'div', 'span', 'input',
  ],
  allowedAttributes: {
    a: ['href', 'title', 'rel'],
    abbr: ['title'],
    code: ['class'],
    ol: ['start', 'reversed'],
    li: ['value'],
    th: ['align', 'colspan', 'rowspan'],
    td: ['align', 'colspan', 'rowspan'],
    details: ['open'],
    // GitHub task lists: `- [x] done` becomes a disabled checkbox.
    input: ['type', 'checked', 'disabled'],
  },
  allowedClasses: { code: ['language-*'] },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesAppliedToAttributes: ['href'],
  allowProtocolRelative: false,
  // Dropped with their content, not just their tags.
  nonTextTags: ['script', 'style', 'textarea', 'option', 'noscript', 'iframe', 'object', 'embed', 'template', 'svg', 'math', 'title', 'select'],
  exclusiveFilter: (frame) => frame.tag === 'input' && frame.attribs.type !== 'checkbox',
  transformTags: {
    a: (tagName, attribs) => ({ tagName, attribs: { ...attribs, rel: 'nofollow noopener' } }),
    img: (_tagName, attribs) => ({
      tagName: 'a',
      attribs: { ...(attribs.src ? { href: attribs.src } : {}), rel: 'nofollow noopener' },
      text: `[image: ${attribs.alt || attribs.title || attribs.src || 'no description'}]`,
    }),
    input: (tagName, attribs) => ({ tagName, attribs: { ...attribs, disabled: '' } }),
    h1: shiftHeading,
    h2: shiftHeading,
    h3: shiftHeading,
    h4: shiftHeading,
    h5: shiftHeading,
    h6: shiftHeading,
  },
};

/** Sanitises HTML from a description renderer with the allow-list above. */
export function sanitizeDescription(html: string): string {
  return sanitizeHtml(html, SANITIZE);
}

/**
 * Longer descriptions are shown as plain text: rendering and sanitising cost about 10 ms
 * per KiB, and a page is rendered on the request that follows a change, so a huge
 * description must not hold the daemon for seconds.
 */
export const MAX_RENDERED_DESCRIPTION = 256 * 1024;

/**
 * Containers (quotes, lists, indentation) deeper than this are shown as plain text: marked
 * re-reads nested content once per level, so thousands of levels cost seconds, then the stack.
 */
const MAX_NESTING = 64;

/** True when some line opens more than MAX_NESTING containers (`> > - …`), or is indented past 4 spaces a level. */
function nestsTooDeep(text: string): boolean {
  const marker = /^[ \t]*(?:[>*+-]|\d{1,9}[.)])(?:[ \t]+|$)/;
  for (const line of text.split('\n')) {
    if (line.length - line.trimStart().length > MAX_NESTING * 4) return true;
    let rest = line;
    for (let depth = 0; marker.test(rest); depth++) {
      if (depth >= MAX_NESTING) return true;
      rest = rest.replace(marker, '');
    }
  }
  return false;
}

function plain(text: string): string {
  return `<pre class="plain">${escapeHtml(text.trimEnd())}</pre>\n`;
}

/** Renders a description to safe HTML by its content type; empty for none. */
export function renderDescription(text: string | null, contentType: string | null): { html: string; format: DescriptionFormat } {
  const format = descriptionFormat(contentType);
  if (!text || text.trim() === '' || text.trim() === 'UNKNOWN') return { html: '', format };
  if (format === 'plain') return { html: plain(text), format };
  if (text.length > MAX_RENDERED_DESCRIPTION) {
    return { html: `<p class="muted">This description is longer than ${MAX_RENDERED_DESCRIPTION / 1024} KiB, so it is shown as plain text.</p>\n${plain(text)}`, format: 'plain' };
  }
  if (nestsTooDeep(text)) {
    return { html: `<p class="muted">This description nests more than ${MAX_NESTING} levels deep, so it is shown as plain text.</p>\n${plain(text)}`, format: 'plain' };
  }
  try {
    const raw = format === 'markdown' ? (markdown.parse(text) as string) : renderRst(text);
    return { html: sanitizeDescription(raw), format };
  } catch {
    // marked recurses per nesting level: `> > > …` thousands deep exhausts the stack.
    return { html: `<p class="muted">This description could not be rendered, so it is shown as plain text.</p>\n${plain(text)}`, format: 'plain' };
  }
}
