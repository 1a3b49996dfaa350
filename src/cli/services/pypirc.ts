/**
 * Repositories from `~/.pypirc`, read with twine's rules (`twine/utils.py: get_config` and
 * `get_repository_from_config`), so that `pyrepo publish -r NAME` uploads where
 * `twine upload -r NAME` would:
 *
 * - only the sections listed in `[distutils] index-servers` count (default "pypi testpypi");
 * - `pypi` always has https://upload.pypi.org/legacy/, `testpypi` has
 *   https://test.pypi.org/legacy/ when listed; a section's own `repository` wins;
 * - per section: `repository`, `username`, `password`; `[server-login]` (obsolete) gives
 *   default credentials; `[DEFAULT]` applies to every section, as configparser does;
 * - a missing file is an empty one at the default location, an error when named explicitly.
 *
 * The file is parsed by client-config/ini.ts, which follows configparser exactly (no inline
 * comments, `%` literal, continuation lines joined).
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AbortError } from '../errors.js';
import { IniSyntaxError, iniGet, iniSection, parseIni, type IniDocument } from '../client-config/ini.js';

/** twine's `DEFAULT_REPOSITORY`. */
export const PYPI_UPLOAD_URL = 'https://upload.pypi.org/legacy/';
/** twine's `TEST_REPOSITORY`. */
export const TESTPYPI_UPLOAD_URL = 'https://test.pypi.org/legacy/';
/** twine's default for `[distutils] index-servers`. */
export const DEFAULT_INDEX_SERVERS = ['pypi', 'testpypi'] as const;

/** One usable repository of a `.pypirc`. */
export interface PypircRepository {
  /** The section name (`-r NAME`). */
  name: string;
  /** Upload URL, when the section (or a built-in default) gives one. */
  url?: string;
  username?: string;
  password?: string;
}

/** What a `.pypirc` offers. */
export interface PypircConfig {
  /** The file read (or that would have been read). */
  file: string;
  /** False when the file does not exist (only the built-in repositories are then known). */
  exists: boolean;
  /** `[distutils] index-servers`, split on whitespace. */
  indexServers: string[];
  /** The repositories twine would know, by name. */
  repositories: Map<string, PypircRepository>;
  /** Section names present in the file (for telling "not listed" from "absent"). */
  sections: string[];
}

/** `~/.pypirc` of `home` (default: the user's home folder). */
export function defaultPypircPath(home: string = homedir()): string {
  return join(home, '.pypirc');
}

/** Interprets `.pypirc` text as twine does; throws IniSyntaxError where configparser would. */
export function parsePypirc(text: string, file: string): PypircConfig {
  const doc: IniDocument = parseIni(text);
  const indexServers = (iniGet(doc, 'distutils', 'index-servers') ?? DEFAULT_INDEX_SERVERS.join(' ')).split(/\s+/).filter(Boolean);
  // The obsolete [server-login] section still supplies default credentials in twine.
  const loginUser = iniGet(doc, 'server-login', 'username');
  const loginPassword = iniGet(doc, 'server-login', 'password');
  const repositories = new Map<string, PypircRepository>();
  const entry = (name: string): PypircRepository => {
    let repo = repositories.get(name);
    if (!repo) {
      repo = { name };
      if (loginUser !== undefined) repo.username = loginUser;
      if (loginPassword !== undefined) repo.password = loginPassword;
      repositories.set(name, repo);
    }
    return repo;
  };
  // twine gives pypi its URL whether or not it is listed, testpypi only when listed.
  entry('pypi').url = PYPI_UPLOAD_URL;
  if (indexServers.includes('testpypi')) entry('testpypi').url = TESTPYPI_UPLOAD_URL;
  for (const name of indexServers) {
    // configparser's has_option is false for a section that does not exist, even with [DEFAULT].
    if (!iniSection(doc, name)) continue;
    const repository = iniGet(doc, name, 'repository');
    const username = iniGet(doc, name, 'username');
    const password = iniGet(doc, name, 'password');
    if (repository === undefined && username === undefined && password === undefined) {
      // twine only creates an entry when the section sets one of its keys.
      if (!repositories.has(name)) entry(name);
      continue;
    }
    const repo = entry(name);
    if (repository !== undefined) repo.url = repository;
    if (username !== undefined) repo.username = username;
    if (password !== undefined) repo.password = password;
  }
  return { file, exists: true, indexServers, repositories, sections: doc.sections.map((s) => s.name) };
}

/**
 * Reads a `.pypirc`. `explicit` says the user named the file (`--config-file`): then a
 * missing file is an error, as in twine; the default file may be absent.
 */
export async function readPypirc(file: string, explicit = false): Promise<PypircConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) {
      const empty = parsePypirc('', file);
      return { ...empty, exists: false };
    }
    if (code === 'ENOENT') throw new AbortError(`The config file ${file} does not exist.`, 'Check the path given to --config-file.');
    throw new AbortError(`Cannot read ${file}: ${(err as Error).message}`, 'Check its permissions.');
  }
  try {
    return parsePypirc(text, file);
  } catch (err) {
    if (err instanceof IniSyntaxError) {
      throw new AbortError(`${file} cannot be read as twine reads it: ${err.message}.`, `Fix that line of ${file}.`);
    }
    throw err;
  }
}

/** Whether a string is an http(s) URL with a host (twine's `_validate_repository_url`). */
export function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

/**
 * The repository `-r NAME` means, with a precise error when the file does not list it,
 * lists it without the section, or has a section without a usable `repository` URL.
 */
export function pypircRepository(config: PypircConfig, name: string): PypircRepository & { url: string } {
  const repo = config.repositories.get(name);
  const { file } = config;
  if (!repo) {
    const listed = config.indexServers.includes(name);
    const inFile = config.sections.includes(name);
    const available = [...config.repositories.keys()].join(', ');
    if (!config.exists) {
      throw new AbortError(
        `There is no repository '${name}': ${file} does not exist (only ${available} are known without it).`,
        `Create ${file} with a [${name}] section (repository = <upload URL>) listed in [distutils] index-servers, or pass --repository-url.`,
      );
    }
    if (listed) {
      throw new AbortError(
        `Missing '${name}' section from ${file}: [distutils] index-servers lists it, but the file has no [${name}] section.`,
        `Add [${name}] with repository = <upload URL> to ${file}.`,
      );
    }
    if (inFile) {
      throw new AbortError(
        `${file} has a [${name}] section, but [distutils] index-servers does not list it, so twine (and pyrepo) ignore it.`,
        `Add ${name} to index-servers in ${file} (now: ${config.indexServers.join(' ') || 'empty'}).`,
      );
    }
    throw new AbortError(
      `Missing '${name}' section from ${file}; the repositories it offers are: ${available}.`,
      `Use one of those with -r, add a [${name}] section listed in [distutils] index-servers, or pass --repository-url.`,
    );
  }
  if (repo.url === undefined) {
    throw new AbortError(`[${name}] in ${file} has no repository = <upload URL>.`, `Add it, e.g. repository = http://127.0.0.1:8645/legacy/`);
  }
  if (!isHttpUrl(repo.url)) {
    throw new AbortError(`[${name}] in ${file} has repository = ${repo.url}, which is not an http(s) URL.`, 'Fix it to the full upload URL, e.g. http://127.0.0.1:8645/legacy/');
  }
  return { ...repo, url: repo.url };
}
