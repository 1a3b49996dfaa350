import { describe, expect, it } from 'vitest';
import {
  SIMPLE_HTML,
  SIMPLE_JSON,
  TEXT_HTML,
  contentTypeOf,
  negotiateSimple,
} from '../../src/daemon/services/negotiate.js';

const PIP = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01';
const UV = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01';
const POETRY = 'application/vnd.pypi.simple.v1+json, */*;q=0.1';

describe('negotiateSimple', () => {
  it('answers each Accept header for itself when they alternate', () => {
    const asked: [string | undefined, string | null][] = [
      [PIP, SIMPLE_JSON],
      ['text/html', TEXT_HTML],
      [PIP, SIMPLE_JSON],
      ['application/json', null],
      ['application/json', null],
      [undefined, TEXT_HTML],
      [PIP, SIMPLE_JSON],
    ];
    for (const [accept, format] of asked) expect(negotiateSimple(accept)).toBe(format);
  });

  it.each([
    ['pip 22.2+', PIP],
    ['uv', UV],
    ['poetry', POETRY],
  ])('gives %s JSON', (_client, accept) => {
    expect(negotiateSimple(accept)).toBe(SIMPLE_JSON);
    // A second call answers from the remembered result with the same value.
    expect(negotiateSimple(accept)).toBe(SIMPLE_JSON);
  });

  it.each([
    ['no Accept header', undefined],
    ['an empty Accept header', ''],
    ['*/*', '*/*'],
    ['text/html', 'text/html'],
    ['pip ≤ 22.1', 'text/html'],
    ['a browser', 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'],
    ['text/*', 'text/*'],
  ])('gives %s text/html', (_what, accept) => {
    expect(negotiateSimple(accept)).toBe(TEXT_HTML);
  });

  it('serves v1+html when asked for it explicitly', () => {
    expect(negotiateSimple('application/vnd.pypi.simple.v1+html')).toBe(SIMPLE_HTML);
    expect(negotiateSimple('application/vnd.pypi.simple.v1+html, text/html;q=0.5')).toBe(SIMPLE_HTML);
  });

  it('maps the latest meta-version to v1', () => {
    expect(negotiateSimple('application/vnd.pypi.simple.latest+json')).toBe(SIMPLE_JSON);
    expect(negotiateSimple('application/vnd.pypi.simple.latest+html')).toBe(SIMPLE_HTML);
  });

  it('ranks by q-value, not by order', () => {
    expect(negotiateSimple('text/html;q=0.5, application/vnd.pypi.simple.v1+json')).toBe(SIMPLE_JSON);
    expect(negotiateSimple('application/vnd.pypi.simple.v1+json;q=0.2, text/html;q=0.9')).toBe(TEXT_HTML);
  });

  it('keeps Warehouse offer order on ties (text/html first)', () => {
    expect(negotiateSimple('application/vnd.pypi.simple.v1+json;q=0.5, text/html;q=0.5')).toBe(TEXT_HTML);
  });

  it('is case-insensitive about media types', () => {
    expect(negotiateSimple('Application/Vnd.PyPI.Simple.V1+JSON')).toBe(SIMPLE_JSON);
  });

  it('excludes types with q=0', () => {
    expect(negotiateSimple('application/vnd.pypi.simple.v1+json;q=0, text/html')).toBe(TEXT_HTML);
    expect(negotiateSimple('application/vnd.pypi.simple.v1+json;q=0, */*')).toBe(TEXT_HTML);
    expect(negotiateSimple('text/html;q=0, application/vnd.pypi.simple.v1+json;q=0.1')).toBe(SIMPLE_JSON);
    expect(negotiateSimple('text/html;q=0')).toBeNull();
    expect(negotiateSimple('*/*;q=0')).toBeNull();
  });

  it('uses the most specific range for an offer', () => {
    // */* accepts everything, but text/html is explicitly refused.
    expect(negotiateSimple('*/*, text/html;q=0, application/vnd.pypi.simple.v1+html;q=0')).toBe(SIMPLE_JSON);
  });

  it('returns null when nothing offered is acceptable', () => {
    expect(negotiateSimple('application/xml')).toBeNull();
    expect(negotiateSimple('application/vnd.pypi.simple.v2+json')).toBeNull();
    expect(negotiateSimple('image/png, application/json')).toBeNull();
  });

  describe('?format=', () => {
    it('wins over Accept', () => {
      expect(negotiateSimple(PIP, 'text/html')).toBe(TEXT_HTML);
      expect(negotiateSimple('text/html', SIMPLE_JSON)).toBe(SIMPLE_JSON);
      expect(negotiateSimple(undefined, SIMPLE_HTML)).toBe(SIMPLE_HTML);
    });

    it('accepts the latest alias', () => {
      expect(negotiateSimple(undefined, 'application/vnd.pypi.simple.latest+json')).toBe(SIMPLE_JSON);
    });

    it('returns null for an unknown format', () => {
      expect(negotiateSimple(undefined, 'application/xml')).toBeNull();
      expect(negotiateSimple(PIP, 'json')).toBeNull();
      expect(negotiateSimple(undefined, '*/*')).toBeNull();
    });
  });
});

describe('contentTypeOf', () => {
  it('gives the exact PEP 691 content types', () => {
    expect(contentTypeOf(SIMPLE_JSON)).toBe('application/vnd.pypi.simple.v1+json');
    expect(contentTypeOf(SIMPLE_HTML)).toBe('application/vnd.pypi.simple.v1+html');
    expect(contentTypeOf(TEXT_HTML)).toBe('text/html; charset=utf-8');
  });
});
