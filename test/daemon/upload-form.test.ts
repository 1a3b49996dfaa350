/**
 * Upload forms read whole (routes/upload-form.ts): cut into the parts busboy would give,
 * every byte of a file kept, and a form that is cut off, malformed or past the limits
 * refused with the catalogue's words. Forms that arrive as a stream go through busboy; the
 * upload tests send both ways (upload-body.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { dispositionParams, FORM_LIMITS, parseForm, type FormPart } from '../../src/daemon/routes/upload-form.js';

const B = '----pyrepoFormBoundaryX1';

/** A form of `parts` (each its raw header lines and its bytes), closed unless `closed` is false. */
function form(parts: [head: string, data: string | Buffer][], opts: { preamble?: string; epilogue?: string; closed?: boolean } = {}): Buffer {
  const chunks: Buffer[] = [Buffer.from(opts.preamble ?? '')];
  for (const [head, data] of parts) chunks.push(Buffer.from(`--${B}\r\n${head}\r\n\r\n`), Buffer.from(data), Buffer.from('\r\n'));
  if (opts.closed !== false) chunks.push(Buffer.from(`--${B}--\r\n${opts.epilogue ?? ''}`));
  return Buffer.concat(chunks);
}

const field = (name: string) => `Content-Disposition: form-data; name="${name}"`;
const file = (name: string, filename: string) => `Content-Disposition: form-data; name="${name}"; filename="${filename}"\r\nContent-Type: application/octet-stream`;
const plain = (parts: FormPart[]) => parts.map((p) => ({ ...p, data: p.data.toString('latin1') }));

describe('a whole upload form', () => {
  it('gives its fields and its file in order, every byte of the file as sent', () => {
    // Bytes a boundary search must not stop at: CRLFs, dashes, a part of the boundary.
    const bytes = Buffer.concat([Buffer.from(`\r\nPK\r\n--\r\n--${B.slice(0, 10)}\r\n`), Buffer.from([0, 255, 13, 10, 45, 45])]);
    const parts = parseForm(form([[field(':action'), 'file_upload'], [field('name'), 'demo'], [file('content', 'demo-1.0-py3-none-any.whl'), bytes], [field('version'), '1.0']]), B);
    expect(parts.map((p) => [p.name, p.filename])).toEqual([[':action', undefined], ['name', undefined], ['content', 'demo-1.0-py3-none-any.whl'], ['version', undefined]]);
    expect(Buffer.compare(parts[2]?.data as Buffer, bytes)).toBe(0);
    expect(parts[3]?.data.toString()).toBe('1.0');
  });

  it('ignores a preamble and an epilogue, takes padding after a boundary, and keeps empty values', () => {
    const body = Buffer.concat([Buffer.from(`preamble\r\n--${B} \t\r\n${field('a')}\r\n\r\n\r\n--${B}\r\n${field('b')}\r\n\r\nx\r\n--${B}--`), Buffer.from('\r\nepilogue')]);
    expect(plain(parseForm(body, B))).toEqual([
      { name: 'a', data: '' },
      { name: 'b', data: 'x' },
    ]);
  });

  it('reads header names in any case, a folded header, quoted escapes and RFC 5987 names', () => {
    const parts = parseForm(
      form([
        ['content-disposition: FORM-DATA;\r\n\tname="content"; filename="a\\"b\\\\c.whl"', 'x'],
        [`Content-Disposition: form-data; name=content2; filename="ascii.whl"; filename*=UTF-8''na%C3%AFve.whl`, 'y'],
        ['Content-Disposition: form-data; Name="upper"', 'z'],
        // urllib3 sends a Windows path's backslashes as they are: kept, for the upload to refuse.
        ['Content-Disposition: form-data; name="content3"; filename="dist\\demo-1.0.tar.gz"', 'w'],
        [`Content-Disposition: form-data; name*=utf-8''caf%C3%A9`, 'v'],
      ]),
      B,
    );
    expect(parts.map((p) => [p.name, p.filename])).toEqual([
      ['content', 'a"b\\c.whl'],
      ['content2', 'naïve.whl'],
      ['upper', undefined],
      ['content3', 'dist\\demo-1.0.tar.gz'],
      ['café', undefined],
    ]);
  });

  it('reads an empty form, and an empty body as cut off', () => {
    expect(parseForm(Buffer.from(`--${B}--\r\n`), B)).toEqual([]);
    expect(() => parseForm(Buffer.alloc(0), B)).toThrow(/after 0 bytes, without its closing boundary/);
  });

  it('keeps a path in a filename whole, for the upload to refuse', () => {
    expect(parseForm(form([[file('content', '../../evil.whl'), 'x']]), B)[0]?.filename).toBe('../../evil.whl');
  });

  it('skips a part that is not a form field (no Content-Disposition, another type, no name)', () => {
    const parts = parseForm(form([['Content-Type: text/plain', 'a'], ['Content-Disposition: attachment; name="x"', 'b'], ['Content-Disposition: form-data', 'c'], [field('kept'), 'd']]), B);
    expect(plain(parts)).toEqual([{ name: 'kept', data: 'd' }]);
  });
});

describe('an upload form refused', () => {
  const whole = form([[field('name'), 'demo'], [file('content', 'demo-1.0.tar.gz'), 'x'.repeat(100)]]);

  it.each([
    ['with no boundary at all', Buffer.from('garbage'), /after 7 bytes, without its closing boundary/],
    ['inside the first boundary line', whole.subarray(0, 10), /without its closing boundary/],
    ['inside a part header', whole.subarray(0, whole.indexOf('name="name"') - 5), /without its closing boundary/],
    ['inside a field', whole.subarray(0, whole.indexOf('demo') + 2), /without its closing boundary/],
    ['inside the file', whole.subarray(0, whole.length - 40), /before the file was complete/],
    ['without its closing boundary', whole.subarray(0, whole.length - `--${B}--\r\n`.length), /before the file was complete/],
    ['right after the last boundary', whole.subarray(0, whole.length - 4), /without its closing boundary/],
  ])('as cut off %s', (_where, body, message) => {
    expect(() => parseForm(body, B)).toThrow(message);
    expect(() => parseForm(body, B)).toThrow(/^The multipart body ended .*: the upload was cut off/);
  });

  it('when its body uses another boundary than its Content-Type', () => {
    expect(() => parseForm(whole, 'another-boundary')).toThrow(/without its closing boundary/);
  });

  it("when a part's headers do not end before the next boundary", () => {
    const body = Buffer.from(`--${B}\r\n${field('a')}\r\n--${B}\r\n${field('b')}\r\n\r\nx\r\n--${B}--\r\n`);
    expect(() => parseForm(body, B)).toThrow(/could not be read: a part's headers do not end/);
  });

  it('when a boundary line has more than padding after it', () => {
    const body = Buffer.from(`--${B}junk\r\n${field('a')}\r\n\r\nx\r\n--${B}--\r\n`);
    expect(() => parseForm(body, B)).toThrow(/could not be read: a boundary line/);
  });

  it.each([
    ['files', Array.from({ length: FORM_LIMITS.files + 1 }, (_, i) => [file('content', `f${i}.whl`), 'x'] as [string, string]), /more than 4 files/],
    ['fields', Array.from({ length: FORM_LIMITS.fields + 1 }, (_, i) => [field(`f${i}`), 'x'] as [string, string]), /more than 500 fields/],
    ['header lines', [[Array.from({ length: FORM_LIMITS.headerPairs + 1 }, () => 'X-A: b').join('\r\n'), 'x'] as [string, string]], /more than 100 header lines/],
    // Parts that are no form field count too, as busboy counts them.
    ['parts', Array.from({ length: FORM_LIMITS.parts + 1 }, () => ['Content-Type: text/plain', 'x'] as [string, string]), /more than 600 parts/],
  ])('past the limit of %s', (_what, parts, message) => {
    expect(() => parseForm(form(parts), B)).toThrow(/^The upload form has too many parts/);
    expect(() => parseForm(form(parts), B)).toThrow(message);
  });

  it('up to the limits', () => {
    const parts = [
      ...Array.from({ length: FORM_LIMITS.files }, (_, i) => [file('content', `f${i}.whl`), 'x'] as [string, string]),
      ...Array.from({ length: FORM_LIMITS.fields }, (_, i) => [field(`f${i}`), 'x'] as [string, string]),
    ];
    expect(parseForm(form(parts), B)).toHaveLength(FORM_LIMITS.files + FORM_LIMITS.fields);
  });
});

describe('Content-Disposition parameters', () => {
  it('are read for form-data only, names in lower case, the last of a repeated one kept (as busboy keeps it)', () => {
    expect(dispositionParams('attachment; filename="a"')).toBeUndefined();
    expect(Object.fromEntries(dispositionParams(' form-data ; NAME = "a;b" ; filename=c.whl; name="again"') ?? [])).toEqual({ name: 'again', filename: 'c.whl' });
    expect(dispositionParams('form-data; name="a;b"')?.get('name')).toBe('a;b');
  });

  it('skip an RFC 5987 value in a charset it cannot read, or not encoded as one', () => {
    expect(Object.fromEntries(dispositionParams(`form-data; name="a"; filename*=shift_jis''%82%A0; filename="b.whl"`) ?? [])).toEqual({ name: 'a', filename: 'b.whl' });
    expect(Object.fromEntries(dispositionParams(`form-data; name="a"; filename*=plain`) ?? [])).toEqual({ name: 'a' });
    expect(Object.fromEntries(dispositionParams(`form-data; name="a"; filename*=iso-8859-1''caf%E9.whl`) ?? [])).toEqual({ name: 'a', 'filename*': 'café.whl' });
  });
});
