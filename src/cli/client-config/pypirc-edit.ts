/**
 * The `.pypirc` entries pyrepo owns (twine, flit): a `[<name>]` section with the upload
 * URL and user name, listed in `[distutils] index-servers`.
 */
import { iniGet, iniSection, parseIni } from './ini.js';
import { addIniListValue, iniListValues, removeIniListValue, removeIniSection, setIniOption } from './ini-edit.js';

export interface PypircEntry {
  /** Section name (`pyrepo`). */
  name: string;
  /** Upload URL, byte for byte what twine will use as the keyring service. */
  repository: string;
  username: string;
  /** Only when no keychain holds it. */
  password?: string;
}

/** twine's list when `index-servers` is absent: adding a list must not drop these. */
const IMPLICIT_SERVERS = ['pypi', 'testpypi'];

/** A section with this name that pyrepo did not write (it points somewhere else). */
export function foreignPypircSection(text: string, entry: PypircEntry): string | undefined {
  const doc = parseIni(text);
  if (!iniSection(doc, entry.name)) return undefined;
  const repo = iniGet(doc, entry.name, 'repository');
  return repo === entry.repository ? undefined : (repo ?? '(no repository)');
}

/** Adds (or updates) pyrepo's section and lists it in index-servers. */
export function configurePypirc(text: string, entry: PypircEntry): string {
  let out = text;
  const doc = parseIni(out);
  const hadList = iniGet(doc, 'distutils', 'index-servers') !== undefined;
  out = addIniListValue(out, 'distutils', 'index-servers', entry.name, hadList ? [entry.name] : [...IMPLICIT_SERVERS, entry.name]);
  out = setIniOption(out, entry.name, 'repository', entry.repository);
  out = setIniOption(out, entry.name, 'username', entry.username);
  if (entry.password !== undefined) out = setIniOption(out, entry.name, 'password', entry.password);
  return out;
}

/** Whether configurePypirc would create `[distutils]` (unconfigure then removes it again). */
export function pypircNeedsDistutils(text: string): boolean {
  return !iniSection(parseIni(text), 'distutils');
}

/**
 * Takes pyrepo's entries out again: its section and its name in index-servers; with
 * `createdDistutils`, also `[distutils]` if only the implicit servers are left in it.
 */
export function unconfigurePypirc(text: string, name: string, createdDistutils: boolean): string {
  let out = removeIniSection(text, name);
  out = removeIniListValue(out, 'distutils', 'index-servers', name);
  if (!createdDistutils) return out;
  const doc = parseIni(out);
  const distutils = iniSection(doc, 'distutils');
  const servers = iniListValues(iniGet(doc, 'distutils', 'index-servers'));
  const onlyImplicit = servers.length === IMPLICIT_SERVERS.length && servers.every((s, i) => s === IMPLICIT_SERVERS[i]);
  if (distutils && distutils.options.length === 1 && onlyImplicit) out = removeIniSection(out, 'distutils');
  return out;
}
