import { describe, expect, it } from 'vitest';
import {
  assertSafeFilename,
  hasDistExtension,
  parseDistFilename,
  parseSdistFilename,
  parseWheelFilename,
} from '../../src/shared/distfiles.js';
import { DistFilenameError } from '../../src/shared/errors.js';

describe('parseWheelFilename', () => {
  it('parses a plain wheel name', () => {
    const d = parseWheelFilename('hello_world-1.0.0-py3-none-any.whl');
    expect(d).toEqual({
      filename: 'hello_world-1.0.0-py3-none-any.whl',
      kind: 'wheel',
      packagetype: 'bdist_wheel',
      rawName: 'hello_world',
      project: 'hello-world',
      rawVersion: '1.0.0',
      version: '1.0.0',
      pythonVersion: 'py3',
      archive: 'zip',
    });
    expect(d).not.toHaveProperty('buildTag');
  });

  it('parses a build tag', () => {
    const d = parseWheelFilename('foo-1.0-1-py3-none-any.whl');
    expect(d.buildTag).toBe('1');
    expect(d.version).toBe('1.0');
    expect(d.pythonVersion).toBe('py3');
    expect(parseWheelFilename('foo-1.0-12abc-cp312-cp312-linux_x86_64.whl').buildTag).toBe('12abc');
  });

  it('accepts compressed tag sets', () => {
    const d = parseWheelFilename('foo-2.1-py2.py3-none-any.whl');
    expect(d.pythonVersion).toBe('py2.py3');
    const m = parseWheelFilename(
      'numpy-2.0.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
    );
    expect(m.project).toBe('numpy');
    expect(m.pythonVersion).toBe('cp312');
  });

  it('normalizes legacy names and versions (dots, uppercase, unnormalized versions)', () => {
    const d = parseWheelFilename('Zope.Interface-5.0RC1-py3-none-any.whl');
    expect(d.rawName).toBe('Zope.Interface');
    expect(d.project).toBe('zope-interface');
    expect(d.rawVersion).toBe('5.0RC1');
    expect(d.version).toBe('5.0rc1');
  });

  it('accepts local versions', () => {
    expect(parseWheelFilename('foo-1.0+local.1-py3-none-any.whl').version).toBe('1.0+local.1');
  });

  it.each([
    ['foo-1.0-py3-none.whl', 'too few dashes'],
    ['foo-1.0-py3.whl', 'far too few dashes'],
    ['foo-1.0-1-2-py3-none-any.whl', 'too many dashes'],
    ['foo-bar-1.0-py3-none-any.whl', 'dash inside the name (5 dashes, bad build tag)'],
    ['foo__bar-1.0-py3-none-any.whl', "'__' in the name"],
    ['foo-1.0-x1-py3-none-any.whl', 'build tag not starting with a digit'],
    ['foo-notaversion-py3-none-any.whl', 'invalid version'],
    ['-1.0-py3-none-any.whl', 'empty name'],
    ['foo-1.0-py3-none-.whl', 'empty platform tag'],
    ['foo-1.0-py3-no!ne-any.whl', 'bad characters in a tag'],
    ['foo bar-1.0-py3-none-any.whl', 'space in the name'],
    ['foo-1.0-py3-none-any.zip', 'wrong suffix'],
  ])('rejects %s (%s)', (filename) => {
    expect(() => parseWheelFilename(filename)).toThrow(DistFilenameError);
  });

  it('gives a readable message naming the file', () => {
    expect(() => parseWheelFilename('foo-1.0-py3-none.whl')).toThrow(/foo-1\.0-py3-none\.whl/);
  });
});

describe('parseSdistFilename', () => {
  it('parses a PEP 625 name', () => {
    expect(parseSdistFilename('hello_world-1.0.0.tar.gz')).toEqual({
      filename: 'hello_world-1.0.0.tar.gz',
      kind: 'sdist',
      packagetype: 'sdist',
      rawName: 'hello_world',
      project: 'hello-world',
      rawVersion: '1.0.0',
      version: '1.0.0',
      pythonVersion: 'source',
      archive: 'tar.gz',
    });
  });

  it('parses legacy names with dashes in the project name', () => {
    const d = parseSdistFilename('Foo-Bar-1.0.tar.gz');
    expect(d.rawName).toBe('Foo-Bar');
    expect(d.project).toBe('foo-bar');
    expect(d.rawVersion).toBe('1.0');
    expect(d.version).toBe('1.0');
  });

  it('parses a legacy post-release version with a dash', () => {
    const d = parseSdistFilename('foo-1.0-1.tar.gz');
    expect(d.project).toBe('foo');
    expect(d.rawVersion).toBe('1.0-1');
    expect(d.version).toBe('1.0.post1');
  });

  it('parses .zip sdists', () => {
    const d = parseSdistFilename('foo-2.0.zip');
    expect(d.archive).toBe('zip');
    expect(d.kind).toBe('sdist');
    expect(d.version).toBe('2.0');
    expect(parseSdistFilename('Foo-Bar-1.0.zip').project).toBe('foo-bar');
  });

  it('normalizes the version', () => {
    expect(parseSdistFilename('foo-1.0RC1.tar.gz').version).toBe('1.0rc1');
    expect(parseSdistFilename('foo-1.0+ubuntu.1.tar.gz').version).toBe('1.0+ubuntu.1');
  });

  it.each([
    'foo.tar.gz',
    'foo-.tar.gz',
    'foo-bar.tar.gz',
    '-1.0.tar.gz',
    'foo-1.0.tar.bz2',
    'foo-1.0.tgz',
    'foo-1.0.tar',
    'foo -1.0.tar.gz',
    'foo- 1.0.tar.gz',
  ])('rejects %s', (filename) => {
    expect(() => parseSdistFilename(filename)).toThrow(DistFilenameError);
  });
});

describe('parseDistFilename', () => {
  it('dispatches on the extension', () => {
    expect(parseDistFilename('foo-1.0-py3-none-any.whl').kind).toBe('wheel');
    expect(parseDistFilename('foo-1.0.tar.gz').kind).toBe('sdist');
    expect(parseDistFilename('foo-1.0.zip').kind).toBe('sdist');
  });

  it.each(['x.exe', 'foo-1.0.egg', 'foo-1.0.msi', 'foo-1.0.tar.bz2', 'foo-1.0'])('rejects the extension of %s', (f) => {
    expect(() => parseDistFilename(f)).toThrow(DistFilenameError);
    expect(() => parseDistFilename(f)).toThrow(/extension|\.whl|\.tar\.gz/);
  });

  it.each([
    ['../x.whl'],
    ['../evil-1.0.tar.gz'],
    ['a/b'],
    ['a/b-1.0.tar.gz'],
    ['/abs-1.0.tar.gz'],
    ['a\\b'],
    ['a\\b-1.0.tar.gz'],
    ['foo\u0000-1.0.tar.gz'],
    ['foo-1.0.tar.gz\u0000.exe'],
    ['foo\n-1.0.tar.gz'],
    ['.hidden-1.0.tar.gz'],
    ['.foo-1.0-py3-none-any.whl'],
    ['C:x'],
    ['C:foo-1.0.tar.gz'],
    ['..'],
    ['.'],
    [''],
  ])('rejects the unsafe name %j', (f) => {
    expect(() => parseDistFilename(f)).toThrow(DistFilenameError);
    expect(() => assertSafeFilename(f)).toThrow(DistFilenameError);
  });

  it('rejects names longer than 255 characters', () => {
    const long = `${'a'.repeat(250)}-1.0.tar.gz`;
    expect(() => assertSafeFilename(long)).toThrow(DistFilenameError);
  });

  it('accepts safe names', () => {
    for (const f of ['foo-1.0.tar.gz', 'x.exe', 'a.b-c_d', 'foo-1.0-py3-none-any.whl']) {
      expect(() => assertSafeFilename(f)).not.toThrow();
    }
  });
});

describe('hasDistExtension', () => {
  it.each([
    ['foo-1.0-py3-none-any.whl', true],
    ['foo-1.0.tar.gz', true],
    ['foo-1.0.zip', true],
    ['foo-1.0.tar.bz2', false],
    ['README.txt', false],
    ['foo-1.0.whl.part', false],
  ])('%s → %s', (f, expected) => {
    expect(hasDistExtension(f)).toBe(expected);
  });
});
