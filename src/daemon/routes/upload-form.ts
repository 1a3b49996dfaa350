/**
 * A multipart/form-data upload read whole: nearly every upload (a wheel or an sdist of a few
 * kilobytes to a few megabytes and its fields) fits in memory, and is then cut into its
 * parts at once, where busboy (through @fastify/multipart) makes a stream, a header parser
 * and events for every part of it. Profiled on a freshly started daemon at 60,000 files,
 * busboy's parts were 13% of an upload's time on the event loop. Read whole, 1,000 uploads
 * over one connection to a freshly started daemon were faster in 8 of 8 alternated pairs:
 * the first 500 at a median of 236 a second against 179, the next 500 at 264 against 216.
 * Larger bodies, and bodies of unknown length, still stream through busboy into a
 * temporary file (upload.ts).
 *
 * The form is read as RFC 7578 and RFC 2046 describe it, and as @fastify/busboy reads what
 * clients send: a part is a file when its Content-Disposition has a filename (kept whole, a
 * path in it too), a parameter's value may be quoted (`\"` and `\\` escaped) or RFC
 * 5987-encoded (`name*`, `filename*=UTF-8''…`), the last of a repeated parameter counts, and
 * the same limits apply (app.ts gives busboy these numbers). Where it differs it says more:
 * a part with over 100 header lines is refused, where busboy reads the first 100, and the
 * limits' messages name the limit.
 */
import { BadRequest, UploadCutOff } from '../errors.js';

/** One part of a form: a field (no filename) or a file. */
export interface FormPart {
  name: string;
  filename?: string;
  /** The part's bytes: a view of the body. */
  data: Buffer;
}

/** The form's limits, as busboy is given them (app.ts). */
export const FORM_LIMITS = { files: 4, fields: 500, parts: 600, headerPairs: 100 } as const;

/** Thrown for a form that ends early: busboy's "Unexpected end of multipart data", in the catalogue's words. */
function cutOff(body: Buffer, inFile: boolean): Error {
  return new UploadCutOff(inFile ? 'before the file was complete' : `after ${body.length} bytes, without its closing boundary`);
}

const CRLF = Buffer.from('\r\n', 'latin1');
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const DASH = 0x2d;
const SPACE = 0x20;
const TAB = 0x09;

/**
 * The parts of `body`, a whole multipart/form-data body with `boundary` (parts that are no
 * form field left out). Throws UploadCutOff for a body that ends before its closing
 * delimiter, BadRequest for one past the limits or malformed (a boundary line with more
 * than padding after it, a part whose headers do not end before the next boundary).
 */
export function parseForm(body: Buffer, boundary: string): FormPart[] {
  const delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  // The first delimiter may open the body, without the CRLF before it (no preamble).
  const opening = delimiter.subarray(2);
  let at: number;
  if (body.subarray(0, opening.length).equals(opening)) {
    at = opening.length;
  } else {
    const first = body.indexOf(delimiter);
    if (first === -1) throw cutOff(body, false);
    at = first + delimiter.length;
  }
  const parts: FormPart[] = [];
  let files = 0;
  /** Parts read, those skipped too (busboy's `parts` limit counts them). */
  let seen = 0;
  for (;;) {
    // After a delimiter: "--" closes the form (an epilogue is ignored), else padding and a CRLF.
    if (at + 2 > body.length) throw cutOff(body, false);
    if (body[at] === DASH && body[at + 1] === DASH) return parts;
    while (body[at] === SPACE || body[at] === TAB) at++;
    if (body.indexOf(CRLF, at) !== at) {
      if (at + 2 > body.length) throw cutOff(body, false);
      throw new BadRequest('The multipart body could not be read: a boundary line has more after it than padding. Nothing was stored.');
    }
    // The part's headers end with an empty line (a part without headers starts with it), before the next boundary.
    const headEnd = body.indexOf(HEAD_END, at);
    const next = body.indexOf(delimiter, at);
    if (headEnd === -1 && next === -1) throw cutOff(body, false);
    if (headEnd === -1 || (next !== -1 && headEnd > next)) {
      throw new BadRequest("The multipart body could not be read: a part's headers do not end with an empty line. Nothing was stored.");
    }
    const part = partOf(body.toString('utf8', at + 2, headEnd));
    const start = headEnd + 4;
    const end = body.indexOf(delimiter, start);
    if (end === -1) throw cutOff(body, part?.filename !== undefined);
    at = end + delimiter.length;
    if (++seen > FORM_LIMITS.parts) throw tooMany(`more than ${FORM_LIMITS.parts} parts`);
    // A part that is not form-data (no name) is skipped, as busboy skips it.
    if (!part) continue;
    if (part.filename !== undefined && ++files > FORM_LIMITS.files) throw tooMany(`more than ${FORM_LIMITS.files} files`);
    if (part.filename === undefined && parts.length - files >= FORM_LIMITS.fields) throw tooMany(`more than ${FORM_LIMITS.fields} fields`);
    parts.push({ ...part, data: body.subarray(start, end) });
  }
}

function tooMany(what: string): Error {
  return new BadRequest(`The upload form has too many parts (${what}).`);
}

/** A part's name and filename from its headers; undefined when it has no form-data disposition with a name. */
function partOf(head: string): { name: string; filename?: string } | undefined {
  // Header lines; a line starting with a space or tab continues the one before (obsolete folding).
  const lines = head === '' ? [] : head.split('\r\n');
  if (lines.length > FORM_LIMITS.headerPairs) throw tooMany(`a part with more than ${FORM_LIMITS.headerPairs} header lines`);
  let disposition: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const colon = line.indexOf(':');
    if (colon <= 0 || line.slice(0, colon).trim().toLowerCase() !== 'content-disposition') continue;
    disposition = line.slice(colon + 1);
    while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1] as string)) disposition += ` ${(lines[++i] as string).trim()}`;
  }
  if (disposition === undefined) return undefined;
  const params = dispositionParams(disposition);
  if (!params) return undefined;
  const name = params.get('name*') ?? params.get('name');
  if (name === undefined) return undefined;
  const filename = params.get('filename*') ?? params.get('filename');
  return filename === undefined ? { name } : { name, filename };
}

/**
 * The parameters of a `form-data` Content-Disposition (names in lower case, the last of a
 * repeated one; `name*` and `filename*` decoded from RFC 5987), or undefined for another
 * disposition type.
 */
export function dispositionParams(value: string): Map<string, string> | undefined {
  const type = /^\s*([^\s;]+)\s*/.exec(value);
  if (!type || (type[1] as string).toLowerCase() !== 'form-data') return undefined;
  const params = new Map<string, string>();
  const param = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]*))\s*/gy;
  param.lastIndex = type[0].length;
  for (let m = param.exec(value); m; m = param.exec(value)) {
    const key = (m[1] as string).toLowerCase();
    const quoted = m[2];
    // Only a quote and a backslash are escaped: urllib3 sends a Windows path's backslashes as they are.
    let v = quoted !== undefined ? quoted.replace(/\\(["\\])/g, '$1') : (m[3] as string);
    if (key.endsWith('*')) {
      const decoded = decodeExtValue(v);
      if (decoded === undefined) continue;
      v = decoded;
    }
    params.set(key, v);
  }
  return params;
}

/** An RFC 5987 value (`charset'language'percent-encoded`), in UTF-8 or ISO-8859-1; undefined when it is not one. */
function decodeExtValue(value: string): string | undefined {
  const m = /^([^']*)'[^']*'(.*)$/.exec(value);
  if (!m) return undefined;
  const charset = (m[1] as string).toLowerCase();
  const bytes: number[] = [];
  const text = m[2] as string;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '%' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(text.charCodeAt(i) & 0xff);
    }
  }
  if (charset === 'utf-8' || charset === 'utf8') return Buffer.from(bytes).toString('utf8');
  if (charset === 'iso-8859-1' || charset === 'latin1') return Buffer.from(bytes).toString('latin1');
  return undefined;
}
