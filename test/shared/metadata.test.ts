import { describe, expect, it } from 'vitest';
import { DistContentError } from '../../src/shared/errors.js';
import { decodeMetadata, parseCoreMetadata, parseRawMetadata } from '../../src/shared/metadata.js';

const BASIC = [
  'Metadata-Version: 2.1',
  'Name: Hello_World',
  'Version: 1.0.0',
  'Summary: Says hello',
  'Requires-Python: >=3.8',
  'Requires-Dist: requests>=2',
  'Requires-Dist: click; extra == "cli"',
  'Provides-Extra: cli',
  'Classifier: Programming Language :: Python :: 3',
  'Classifier: License :: OSI Approved :: MIT License',
  'Project-URL: Homepage, https://example.org',
  'Project-URL: Source, https://example.org/src',
  'Home-page: https://example.org/home',
  'Author: Ada',
  'Author-email: ada@example.org',
  'License: MIT',
  'Keywords: a,b,c',
  'Description-Content-Type: text/markdown',
  '',
  '# Hello',
  '',
  'Long text.',
  '',
].join('\n');

describe('parseRawMetadata', () => {
  it('keeps repeated headers in order, lowercases keys, and splits off the body', () => {
    const raw = parseRawMetadata(BASIC);
    expect(raw.headers.get('requires-dist')).toEqual(['requests>=2', 'click; extra == "cli"']);
    expect(raw.headers.get('name')).toEqual(['Hello_World']);
    expect(raw.body).toBe('# Hello\n\nLong text.\n');
  });

  it('joins continuation lines', () => {
    const raw = parseRawMetadata('Metadata-Version: 2.1\nName: x\nSummary: first\n  second\n\tthird\nVersion: 1\n');
    expect(raw.headers.get('summary')).toEqual(['first\n  second\n\tthird']);
    expect(raw.headers.get('version')).toEqual(['1']);
  });

  it('accepts CRLF line ends', () => {
    const raw = parseRawMetadata('Metadata-Version: 2.1\r\nName: x\r\nVersion: 1\r\n\r\nbody\r\n');
    expect(raw.headers.get('name')).toEqual(['x']);
    expect(raw.body).toBe('body\n');
  });
});

describe('parseCoreMetadata', () => {
  it('reads the fields pyrepo uses', () => {
    const m = parseCoreMetadata(BASIC);
    expect(m.metadataVersion).toBe('2.1');
    expect(m.name).toBe('Hello_World');
    expect(m.version).toBe('1.0.0');
    expect(m.summary).toBe('Says hello');
    expect(m.requiresPython).toBe('>=3.8');
    expect(m.requiresDist).toEqual(['requests>=2', 'click; extra == "cli"']);
    expect(m.providesExtra).toEqual(['cli']);
    expect(m.classifiers).toEqual(['Programming Language :: Python :: 3', 'License :: OSI Approved :: MIT License']);
    expect(m.projectUrls).toEqual({ Homepage: 'https://example.org', Source: 'https://example.org/src' });
    expect(m.homePage).toBe('https://example.org/home');
    expect(m.author).toBe('Ada');
    expect(m.authorEmail).toBe('ada@example.org');
    expect(m.license).toBe('MIT');
    expect(m.keywords).toBe('a,b,c');
    expect(m.descriptionContentType).toBe('text/markdown');
    expect(m.description).toBe('# Hello\n\nLong text.\n');
  });

  it('takes the description from the header when there is no body, undoing the |-continuation', () => {
    const text = 'Metadata-Version: 1.1\nName: x\nVersion: 1\nDescription: Line one\n        |Line two\n        |Line three\n';
    const m = parseCoreMetadata(text);
    expect(m.description).toBe('Line one\nLine two\nLine three');
  });

  it('prefers the body over a Description header', () => {
    const m = parseCoreMetadata('Metadata-Version: 2.1\nName: x\nVersion: 1\nDescription: header\n\nbody text\n');
    expect(m.description).toBe('body text\n');
  });

  it('returns null for an absent description and for a body of blank lines', () => {
    expect(parseCoreMetadata('Metadata-Version: 2.1\nName: x\nVersion: 1\n').description).toBeNull();
    expect(parseCoreMetadata('Metadata-Version: 2.1\nName: x\nVersion: 1\n\n\n\n').description).toBeNull();
  });

  it('drops UNKNOWN and empty values (distutils legacy)', () => {
    const m = parseCoreMetadata(
      'Metadata-Version: 1.0\nName: x\nVersion: 1\nSummary: UNKNOWN\nHome-page: UNKNOWN\nLicense: \nPlatform: UNKNOWN\nPlatform: linux\nAuthor: UNKNOWN\n',
    );
    expect(m.summary).toBeNull();
    expect(m.homePage).toBeNull();
    expect(m.license).toBeNull();
    expect(m.author).toBeNull();
    expect(m.platforms).toEqual(['linux']);
  });

  it('reads multi-use fields as arrays and keeps the first of a repeated single field', () => {
    const m = parseCoreMetadata('Metadata-Version: 2.4\nName: x\nVersion: 1\nSummary: one\nSummary: two\nLicense-File: A\nLicense-File: B\nDynamic: Requires-Dist\n');
    expect(m.summary).toBe('one');
    expect(m.licenseFiles).toEqual(['A', 'B']);
    expect(m.dynamic).toEqual(['Requires-Dist']);
  });

  it('is case-insensitive for header names', () => {
    const m = parseCoreMetadata('metadata-version: 2.1\nNAME: x\nversion: 3\nrequires-python: >=3\n');
    expect(m.name).toBe('x');
    expect(m.version).toBe('3');
    expect(m.requiresPython).toBe('>=3');
  });

  it.each([
    ['Metadata-Version: 2.1\nVersion: 1\n', /Name/],
    ['Metadata-Version: 2.1\nName: x\n', /Version/],
    ['Metadata-Version: 2.1\nName: UNKNOWN\nVersion: 1\n', /Name/],
    ['Metadata-Version: 2.1\nName: x\nVersion: \n', /Version/],
    ['Name: x\nVersion: 1\n', /Metadata-Version/],
    ['', /Name/],
  ])('rejects missing required fields (%j)', (text, message) => {
    expect(() => parseCoreMetadata(text)).toThrow(DistContentError);
    expect(() => parseCoreMetadata(text)).toThrow(message);
  });

  it('names where the metadata came from in the error', () => {
    expect(() => parseCoreMetadata('Metadata-Version: 2.1\nVersion: 1\n', 'foo.whl: METADATA')).toThrow(/foo\.whl: METADATA/);
  });

  it('rejects a greater major Metadata-Version', () => {
    expect(() => parseCoreMetadata('Metadata-Version: 3.0\nName: x\nVersion: 1\n')).toThrow(DistContentError);
    expect(() => parseCoreMetadata('Metadata-Version: 3.0\nName: x\nVersion: 1\n')).toThrow(/3\.0/);
  });

  it('accepts every 1.x and 2.x Metadata-Version', () => {
    for (const v of ['1.0', '1.1', '1.2', '2.1', '2.2', '2.3', '2.4', '2.5', '2.6']) {
      expect(parseCoreMetadata(`Metadata-Version: ${v}\nName: x\nVersion: 1\n`).metadataVersion).toBe(v);
    }
  });

  it('rejects a Metadata-Version that is not a number', () => {
    expect(() => parseCoreMetadata('Metadata-Version: abc\nName: x\nVersion: 1\n')).toThrow(DistContentError);
  });
});

describe('decodeMetadata', () => {
  it('decodes UTF-8', () => {
    expect(decodeMetadata(Buffer.from('Author: Zoë', 'utf8'))).toBe('Author: Zoë');
  });

  it('falls back to Latin-1 for bytes that are not UTF-8', () => {
    expect(decodeMetadata(Buffer.from([0x41, 0x3a, 0x20, 0xe9]))).toBe('A: é');
  });
});
