/**
 * `.pypirc` as twine reads it (twine/utils.py: get_config, get_repository_from_config):
 * only listed sections, the built-in pypi/testpypi URLs, [server-login] and [DEFAULT]
 * defaults, and a precise error for every way a name can be missing.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError } from '../../src/cli/errors.js';
import {
  PYPI_UPLOAD_URL,
  TESTPYPI_UPLOAD_URL,
  defaultPypircPath,
  parsePypirc,
  pypircRepository,
  readPypirc,
} from '../../src/cli/services/pypirc.js';

const FILE = '/home/someone/.pypirc';

/** The AbortError that `fn` throws (fails the test when it throws nothing or something else). */
function abortOf(fn: () => unknown): AbortError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AbortError);
    return err as AbortError;
  }
  throw new Error('expected an AbortError, nothing was thrown');
}

describe('parsePypirc', () => {
  it('reads a listed section with its URL and credentials', () => {
    const config = parsePypirc(
      ['[distutils]', 'index-servers =', '    pypi', '    pyrepo', '', '[pyrepo]', 'repository = http://127.0.0.1:8645/legacy/', 'username = admin', 'password = s3cr%t # not a comment', ''].join('\n'),
      FILE,
    );
    expect(config.indexServers).toEqual(['pypi', 'pyrepo']);
    expect(pypircRepository(config, 'pyrepo')).toEqual({
      name: 'pyrepo',
      url: 'http://127.0.0.1:8645/legacy/',
      username: 'admin',
      // configparser: no inline comments and no interpolation, so this is the whole value.
      password: 's3cr%t # not a comment',
    });
  });

  it('gives pypi its URL always, testpypi only when listed (default list: pypi testpypi)', () => {
    const none = parsePypirc('', FILE);
    expect(none.indexServers).toEqual(['pypi', 'testpypi']);
    expect(pypircRepository(none, 'pypi').url).toBe(PYPI_UPLOAD_URL);
    expect(pypircRepository(none, 'testpypi').url).toBe(TESTPYPI_UPLOAD_URL);

    const onlyOurs = parsePypirc('[distutils]\nindex-servers = ours\n[ours]\nrepository = https://x.example/legacy/\n', FILE);
    expect(pypircRepository(onlyOurs, 'pypi').url).toBe(PYPI_UPLOAD_URL);
    expect(() => pypircRepository(onlyOurs, 'testpypi')).toThrow(AbortError);
  });

  it('lets a section override the built-in pypi URL and keeps keys case-insensitive', () => {
    const config = parsePypirc('[pypi]\nRepository = https://mirror.example/legacy/\nUSERNAME = __token__\nPassword = pypi-abc\n', FILE);
    expect(pypircRepository(config, 'pypi')).toEqual({
      name: 'pypi',
      url: 'https://mirror.example/legacy/',
      username: '__token__',
      password: 'pypi-abc',
    });
  });

  it('takes default credentials from [server-login] and values from [DEFAULT]', () => {
    const config = parsePypirc(
      ['[DEFAULT]', 'username = fromdefault', '[server-login]', 'password = old', '[distutils]', 'index-servers = a', '[a]', 'repository = http://a.example/legacy/'].join('\n'),
      FILE,
    );
    expect(pypircRepository(config, 'a')).toEqual({ name: 'a', url: 'http://a.example/legacy/', username: 'fromdefault', password: 'old' });
  });

  it('refuses a section that is not listed in index-servers, naming the file and the list', () => {
    const config = parsePypirc('[distutils]\nindex-servers = pypi\n[private]\nrepository = http://p.example/legacy/\n', FILE);
    const err = abortOf(() => pypircRepository(config, 'private'));
    expect(err.message).toContain(FILE);
    expect(err.message).toMatch(/index-servers does not list it/);
    expect(err.nextStep).toMatch(/Add private to index-servers/);
  });

  it('refuses a listed name whose section is absent', () => {
    const config = parsePypirc('[distutils]\nindex-servers = pypi ghost\n', FILE);
    const err = abortOf(() => pypircRepository(config, 'ghost'));
    expect(err.message).toBe(`Missing 'ghost' section from ${FILE}: [distutils] index-servers lists it, but the file has no [ghost] section.`);
  });

  it('refuses a name that appears nowhere, listing what there is', () => {
    const config = parsePypirc('[distutils]\nindex-servers = pypi ours\n[ours]\nrepository = http://o.example/legacy/\n', FILE);
    const err = abortOf(() => pypircRepository(config, 'nope'));
    expect(err.message).toContain(`Missing 'nope' section from ${FILE}`);
    expect(err.message).toContain('pypi, ours');
  });

  it('refuses a listed section without repository, and one whose URL is not http(s)', () => {
    const noUrl = parsePypirc('[distutils]\nindex-servers = x\n[x]\nusername = u\n', FILE);
    expect(abortOf(() => pypircRepository(noUrl, 'x')).message).toBe(`[x] in ${FILE} has no repository = <upload URL>.`);
    const badUrl = parsePypirc('[distutils]\nindex-servers = x\n[x]\nrepository = ftp://x.example/\n', FILE);
    expect(abortOf(() => pypircRepository(badUrl, 'x')).message).toMatch(/not an http\(s\) URL/);
  });
});

describe('readPypirc', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pyrepo-pypirc-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('treats a missing default file as empty, and says so when a name is asked for', async () => {
    const file = defaultPypircPath(dir);
    expect(file).toBe(join(dir, '.pypirc'));
    const config = await readPypirc(file);
    expect(config.exists).toBe(false);
    expect(pypircRepository(config, 'pypi').url).toBe(PYPI_UPLOAD_URL);
    const err = abortOf(() => pypircRepository(config, 'pyrepo'));
    expect(err.message).toContain(`${file} does not exist`);
  });

  it('refuses a missing file named explicitly (--config-file)', async () => {
    const file = join(dir, 'nowhere.pypirc');
    await expect(readPypirc(file, true)).rejects.toThrow(`The config file ${file} does not exist.`);
  });

  it('reports a line configparser would refuse, with the file and line number', async () => {
    const file = join(dir, 'broken.pypirc');
    await writeFile(file, '[distutils]\nindex-servers = pypi\nthis is not ini\n');
    const err = await readPypirc(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).message).toContain(file);
    expect((err as AbortError).message).toMatch(/line 3/);
  });

  it('reads a real file with CRLF line endings and a continued index-servers list', async () => {
    const file = join(dir, 'crlf.pypirc');
    await writeFile(file, '[distutils]\r\nindex-servers =\r\n  pypi\r\n  pyrepo\r\n\r\n[pyrepo]\r\nrepository = http://127.0.0.1:1/legacy/\r\n');
    const config = await readPypirc(file, true);
    expect(pypircRepository(config, 'pyrepo').url).toBe('http://127.0.0.1:1/legacy/');
  });
});
