import { compare as libraryCompare } from '@renovatebot/pep440';
import { describe, expect, it } from 'vitest';
import { compareVersions, isPrerelease, isValidVersion, normalizeVersion, releaseKey } from '../../src/shared/versions.js';

describe('normalizeVersion', () => {
  it.each([
    ['1.0', '1.0'],
    ['1.1RC1', '1.1rc1'],
    ['v1.0', '1.0'],
    ['1.0-r4', '1.0.post4'],
    ['1.0-1', '1.0.post1'],
    ['1.2.dev', '1.2.dev0'],
    ['1.2a', '1.2a0'],
    ['1.2.post', '1.2.post0'],
    ['00.09000', '0.9000'],
    ['1.0c1', '1.0rc1'],
    ['1.0.post-2', '1.0.post2'],
    ['1.0-alpha.1', '1.0a1'],
    ['1.0beta2', '1.0b2'],
    ['1.0preview3', '1.0rc3'],
    ['1.0rev5', '1.0.post5'],
    ['1!2.0', '1!2.0'],
    ['  1.0\n', '1.0'],
    ['1.0+ubuntu.1', '1.0+ubuntu.1'],
    ['1.0+ubuntu-1', '1.0+ubuntu.1'],
    ['1.0+Ubuntu_1', '1.0+ubuntu.1'],
    ['2.0.post1+local.7', '2.0.post1+local.7'],
    ['1.0+abc.5.xyz', '1.0+abc.5.xyz'],
  ])('%j → %s', (input, expected) => {
    expect(normalizeVersion(input)).toBe(expected);
  });

  it('never joins local segments with commas', () => {
    expect(normalizeVersion('1.0+ubuntu.1')).not.toContain(',');
    expect(normalizeVersion('3.4.5+a.b.c.1')).toBe('3.4.5+a.b.c.1');
  });

  it.each(['', 'abc', '1.0-', '1.0+', '1..0', '1.0+-x', 'x1.0', '1.0 2', '1.0++a'])('returns null for %j', (input) => {
    expect(normalizeVersion(input)).toBeNull();
    expect(isValidVersion(input)).toBe(false);
  });

  it('isValidVersion accepts what normalizeVersion normalizes', () => {
    for (const v of ['1.0', 'v1.0', '1.0-1', '1.0+local', '1!0.1.dev2']) expect(isValidVersion(v)).toBe(true);
  });
});

describe('releaseKey', () => {
  it('treats 1.0, 1.0.0 and 1 as the same release', () => {
    expect(releaseKey('1.0')).toBe(releaseKey('1.0.0'));
    expect(releaseKey('1')).toBe(releaseKey('1.0'));
    expect(releaseKey('1.0.0.0')).toBe(releaseKey('1'));
    expect(releaseKey('1.0')).toBe('1');
  });

  it('keeps non-trailing zeros', () => {
    expect(releaseKey('1.0.1')).toBe('1.0.1');
    expect(releaseKey('0.0.1')).toBe('0.0.1');
    expect(releaseKey('1.0.1')).not.toBe(releaseKey('1.1'));
    expect(releaseKey('0')).toBe('0');
  });

  it('keeps epoch, pre-release and local parts', () => {
    expect(releaseKey('1!1.0.0')).toBe('1!1');
    expect(releaseKey('1.0a1')).toBe('1a1');
    expect(releaseKey('1.0.0rc2')).toBe('1rc2');
    expect(releaseKey('1.0+abc.5')).toBe('1+abc.5');
    expect(releaseKey('1.0.0+abc.5')).toBe(releaseKey('1.0+abc.5'));
  });

  it('matches packaging.utils.canonicalize_version for post and dev releases', () => {
    expect(releaseKey('1.0.post1')).toBe('1.post1');
    expect(releaseKey('1.0.0.post1')).toBe('1.post1');
    expect(releaseKey('1.0.dev3')).toBe('1.dev3');
    expect(releaseKey('2.0.post1.dev2')).toBe('2.post1.dev2');
    expect(releaseKey('1.0a1.dev4')).toBe('1a1.dev4');
  });

  it('keeps different post and dev releases apart', () => {
    expect(releaseKey('1.0.post1')).not.toBe(releaseKey('1.0.post2'));
    expect(releaseKey('1.0.dev1')).not.toBe(releaseKey('1.0.dev2'));
    expect(releaseKey('1.0.post1')).not.toBe(releaseKey('1.0'));
    expect(releaseKey('1.0.dev0')).not.toBe(releaseKey('1.0'));
  });

  it('normalizes spellings of one version to one key', () => {
    expect(releaseKey('1.0-r4')).toBe(releaseKey('1.0.post4'));
    expect(releaseKey('1.0RC1')).toBe(releaseKey('1.0rc1'));
    expect(releaseKey('v1.0')).toBe(releaseKey('1'));
  });

  it('returns strings that are not versions unchanged', () => {
    expect(releaseKey('not a version')).toBe('not a version');
  });
});

describe('isPrerelease', () => {
  it.each([
    ['1.0a1', true],
    ['1.0rc1', true],
    ['1.0.dev0', true],
    ['1.0.post1.dev1', true],
    ['1.0', false],
    ['1.0.post1', false],
    ['1.0+local', false],
    ['junk', false],
  ])('%s → %s', (v, expected) => {
    expect(isPrerelease(v)).toBe(expected);
  });
});

describe('compareVersions', () => {
  // The example ordering from the PEP 440 / version-specifiers spec.
  const SPEC_ORDER = [
    '1.dev0',
    '1.0.dev456',
    '1.0a1',
    '1.0a2.dev456',
    '1.0a12.dev456',
    '1.0a12',
    '1.0b1.dev456',
    '1.0b2',
    '1.0b2.post345.dev456',
    '1.0b2.post345',
    '1.0rc1.dev456',
    '1.0rc1',
    '1.0',
    '1.0+abc.5',
    '1.0+abc.7',
    '1.0+5',
    '1.0.post456.dev34',
    '1.0.post456',
    '1.0.15',
    '1.1.dev1',
  ];

  it('orders every adjacent pair of the spec list', () => {
    for (let i = 0; i + 1 < SPEC_ORDER.length; i++) {
      const a = SPEC_ORDER[i] as string;
      const b = SPEC_ORDER[i + 1] as string;
      expect(compareVersions(a, b), `${a} < ${b}`).toBeLessThan(0);
      expect(compareVersions(b, a), `${b} > ${a}`).toBeGreaterThan(0);
    }
  });

  it('sorts a shuffled copy of the spec list back into spec order', () => {
    const shuffled = [...SPEC_ORDER].reverse();
    shuffled.push(shuffled.shift() as string);
    expect(shuffled.sort(compareVersions)).toEqual(SPEC_ORDER);
  });

  it('treats equal versions as equal', () => {
    expect(compareVersions('1.0', '1.0.0')).toBe(0);
    expect(compareVersions('1.0', '1')).toBe(0);
    expect(compareVersions('1.0RC1', '1.0rc1')).toBe(0);
    expect(compareVersions('1.0-1', '1.0.post1')).toBe(0);
  });

  it('orders epochs before everything', () => {
    expect(compareVersions('1!0.1', '2.0')).toBeGreaterThan(0);
    expect(compareVersions('10.0', '9.0')).toBeGreaterThan(0);
    expect(compareVersions('1.10', '1.9')).toBeGreaterThan(0);
  });

  it('sorts strings that are not versions before every version, by text', () => {
    expect(compareVersions('junk', '0.0.1')).toBeLessThan(0);
    expect(compareVersions('0.0.1', 'junk')).toBeGreaterThan(0);
    expect(compareVersions('abc', 'abd')).toBeLessThan(0);
    expect(compareVersions('abc', 'abc')).toBe(0);
  });

  it('orders releases of numbers only as the library does, without it, and hands every other form to it', () => {
    // A deterministic spread of numeric releases: trailing and leading zeros, lengths 1-5, big numbers.
    let seed = 42;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const numbers = ['0', '00', '1', '01', '2', '9', '10', '11', '99', '100', '2024', '123456789012345', '999999999999999'];
    const numeric = Array.from({ length: 300 }, () => Array.from({ length: 1 + next(5) }, () => numbers[next(numbers.length)]).join('.'));
    // Forms the fast path must leave alone: what it would get wrong is the library's to answer.
    const others = ['1.0a1', '1.0.post1', '1.0.dev1', '1!1.0', '1.0+local', 'v1.0', ' 1.0 ', '1.', '.1', '1..0', '', 'junk', '1234567890123456', '1.1234567890123456', '1.0rc1', '2.0.0-1'];
    const all = [...numeric, ...others];
    const sign = (n: number) => Math.sign(n) + 0;
    for (const a of all) {
      for (const b of [...numbers, ...others, ...numeric.slice(0, 60)]) {
        const expected = isValidVersion(a) && isValidVersion(b) ? sign(libraryCompare(a.trim(), b.trim())) : undefined;
        if (expected !== undefined) expect(sign(compareVersions(a, b)), `${a} vs ${b}`).toBe(expected);
      }
    }
    expect(compareVersions('1.0.0', '1')).toBe(0);
    expect(compareVersions('1.01', '1.1')).toBe(0);
    expect(compareVersions('1.0.1', '1.0.0.0.0')).toBe(1);
    expect(compareVersions('123456789012345', '123456789012344')).toBe(1);
    // Not numeric releases, so not equal by the fast path: '1.' is not a version, '1.0' is.
    expect(compareVersions('1.', '1.0')).toBeLessThan(0);
    expect(isPrerelease('2024.1.0')).toBe(false);
    expect(isPrerelease('2024.1.0rc1')).toBe(true);
  });
});
