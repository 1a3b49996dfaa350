/**
 * PEP 691 content negotiation for the simple API. Offers are tried in Warehouse's
 * order (text/html, v1+html, v1+json) and ranked by the q-value of the most specific
 * matching Accept range, so pip, uv and poetry get JSON while browsers, `curl` and
 * clients without an Accept header get HTML.
 */
import { Memo } from '../../shared/memo.js';

export const SIMPLE_JSON = 'application/vnd.pypi.simple.v1+json';
export const SIMPLE_HTML = 'application/vnd.pypi.simple.v1+html';
export const TEXT_HTML = 'text/html';

export type SimpleFormat = typeof SIMPLE_JSON | typeof SIMPLE_HTML | typeof TEXT_HTML;

const OFFERS: SimpleFormat[] = [TEXT_HTML, SIMPLE_HTML, SIMPLE_JSON];

interface AcceptRange {
  type: string;
  subtype: string;
  q: number;
}

/** `latest` is an alias of the newest major version (PEP 691). */
function canonicalType(full: string): string {
  return full.replace(/^application\/vnd\.pypi\.simple\.latest\+/, 'application/vnd.pypi.simple.v1+');
}

function parseAccept(header: string): AcceptRange[] {
  const ranges: AcceptRange[] = [];
  for (const part of header.split(',')) {
    const [media, ...params] = part.split(';');
    const full = canonicalType((media ?? '').trim().toLowerCase());
    const slash = full.indexOf('/');
    if (slash <= 0) continue;
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split('=').map((s) => s.trim());
      if (k === 'q' && v !== undefined) {
        const n = Number(v);
        q = Number.isFinite(n) ? Math.min(Math.max(n, 0), 1) : 0;
      }
    }
    ranges.push({ type: full.slice(0, slash), subtype: full.slice(slash + 1), q });
  }
  return ranges;
}

function qualityOf(offer: string, ranges: AcceptRange[]): number {
  const [type, subtype] = offer.split('/') as [string, string];
  let best = -1;
  let specificity = -1;
  for (const r of ranges) {
    let s: number;
    if (r.type === type && r.subtype === subtype) s = 2;
    else if (r.type === type && r.subtype === '*') s = 1;
    else if (r.type === '*' && r.subtype === '*') s = 0;
    else continue;
    if (s > specificity) {
      specificity = s;
      best = r.q;
    }
  }
  return best;
}

/**
 * The format to answer with, or `null` when the client accepts none of them (406).
 * `format` is the `?format=` parameter, which takes precedence over Accept.
 */
export function negotiateSimple(accept: string | undefined, format?: string): SimpleFormat | null {
  if (format === undefined && accept !== undefined) return remembered.get(accept);
  if (format !== undefined) {
    const wanted = canonicalType(format.trim().toLowerCase());
    return (OFFERS as string[]).includes(wanted) ? (wanted as SimpleFormat) : null;
  }
  return negotiateAccept(accept);
}

/** Accept headers negotiated lately (clients send the same few over and over). */
const remembered = new Memo<SimpleFormat | null>(negotiateAccept);

function negotiateAccept(accept: string | undefined): SimpleFormat | null {
  if (!accept || accept.trim() === '') return TEXT_HTML;
  const ranges = parseAccept(accept);
  if (ranges.length === 0) return TEXT_HTML;
  let chosen: SimpleFormat | null = null;
  let chosenQ = 0;
  for (const offer of OFFERS) {
    const q = qualityOf(offer, ranges);
    if (q > chosenQ) {
      chosen = offer;
      chosenQ = q;
    }
  }
  return chosen;
}

/** The Content-Type header for a negotiated format. */
export function contentTypeOf(format: SimpleFormat): string {
  return format === TEXT_HTML ? 'text/html; charset=utf-8' : format;
}
