import { describe, expect, it } from 'vitest';
import { PROJECT_NAME_RE, filenameEscapedName, isValidProjectName, normalizeName } from '../../src/shared/names.js';

describe('normalizeName (PEP 503)', () => {
  it.each([
    ['Django', 'django'],
    ['friendly-bard', 'friendly-bard'],
    ['Friendly-Bard', 'friendly-bard'],
    ['FRIENDLY-BARD', 'friendly-bard'],
    ['friendly.bard', 'friendly-bard'],
    ['friendly_bard', 'friendly-bard'],
    ['friendly--bard', 'friendly-bard'],
    ['FrIeNdLy-._.-bArD', 'friendly-bard'],
    ['zope.interface', 'zope-interface'],
    ['a', 'a'],
    ['A1_B2', 'a1-b2'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeName(input)).toBe(expected);
  });

  it('is idempotent', () => {
    for (const n of ['Foo.Bar_baz', 'x--y', 'A']) expect(normalizeName(normalizeName(n))).toBe(normalizeName(n));
  });
});

describe('filenameEscapedName', () => {
  it.each([
    ['Hello.World', 'hello_world'],
    ['foo-bar', 'foo_bar'],
    ['Foo__Bar', 'foo_bar'],
    ['simple', 'simple'],
  ])('%s → %s', (input, expected) => {
    expect(filenameEscapedName(input)).toBe(expected);
  });
});

describe('isValidProjectName', () => {
  it.each(['a', 'A', '0', 'foo', 'Foo-Bar', 'foo.bar', 'foo_bar', 'a1', '1a', 'a-._-b', 'Django'])('accepts %j', (name) => {
    expect(isValidProjectName(name)).toBe(true);
  });

  it.each([
    '',
    '-foo',
    'foo-',
    '.foo',
    'foo.',
    '_foo',
    'foo_',
    'foo bar',
    'foo/bar',
    'föö',
    'foo\n',
    '\nfoo',
    'foo\r\n',
    ' foo',
    'foo ',
    'foo\0',
    'foo+bar',
  ])('rejects %j', (name) => {
    expect(isValidProjectName(name)).toBe(false);
  });

  it('rejects a trailing newline (the spec regex ends in \\Z)', () => {
    expect(PROJECT_NAME_RE.test('requests\n')).toBe(false);
    expect(isValidProjectName('requests\n')).toBe(false);
    expect(isValidProjectName('requests')).toBe(true);
  });
});
