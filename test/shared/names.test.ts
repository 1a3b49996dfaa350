import { describe, expect, it } from 'vitest';
import { PROJECT_NAME_RE, filenameEscapedName, isNormalizedValidName, isValidProjectName, normalizeName } from '../../src/shared/names.js';

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

describe('isNormalizedValidName', () => {
  it('says whether a name is valid and normalizeName leaves it as it is', () => {
    // Every string of up to four characters from an alphabet with each kind of character in it.
    const alphabet = ['a', 'Z', '0', '-', '_', '.', '/', ' ', 'é', 'İ'];
    let names = [''];
    const all: string[] = [''];
    for (let length = 1; length <= 4; length++) {
      names = names.flatMap((n) => alphabet.map((c) => n + c));
      all.push(...names);
    }
    all.push('bench-proj-00001', 'django', 'zope-interface', 'Zope.Interface', 'a--b', 'a-b-', 'x\n');
    let normalized = 0;
    for (const name of all) {
      const expected = isValidProjectName(name) && normalizeName(name) === name;
      if (expected) normalized++;
      expect(isNormalizedValidName(name), JSON.stringify(name)).toBe(expected);
    }
    // Enough of both answers: 'a' and '0' in runs joined by single dashes are normalized names.
    expect(normalized).toBeGreaterThan(40);
    expect(all.length - normalized).toBeGreaterThan(10_000);
  });
});
