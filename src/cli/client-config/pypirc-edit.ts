/**
 * The `.pypirc` entries pyrepo owns (twine, flit): a `[<name>]` section with the upload
 * URL and user name, listed in `[distutils] index-servers`.
 */
import { iniGet, iniSection, parseIni } from './ini.js';
import { addIniListValue, iniListValues, removeIniListValue, removeIniOption, removeIniSection, setIniOption } from './ini-edit.js';

export interface PypircEntry {
  /** Section name (`pyrepo`). */
  name: string;
  /** Upload URL, byte for byte what twine will use as the keyring service. */
  repository: string;
  /** undefined: none known (twine then asks). */
  username?: string;
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

/** What configurePypirc adds to a file besides pyrepo's own section (unconfigure takes it out again). */
export interface PypircCreated {
  /** The file had no `[distutils]` section. */
  createdDistutils: boolean;
  /** `[distutils]` had no `index-servers` of its own (older records: same as createdDistutils). */
  createdIndexServers?: boolean;
}

/** The servers twine uses when `[distutils]` has no index-servers of its own ([DEFAULT]'s, else its built-in list). */
function inheritedServers(text: string): string[] {
  const defaults = parseIni(text).defaults?.options.find((o) => o.key === 'index-servers');
  return defaults ? iniListValues(defaults.value) : IMPLICIT_SERVERS;
}

/** Adds (or updates) pyrepo's section and lists it in index-servers. */
export function configurePypirc(text: string, entry: PypircEntry): string {
  let out = text;
  // A new list starts with what twine read before, so that no server disappears.
  const created = pypircCreates(out).createdIndexServers ? [...inheritedServers(out).filter((s) => s !== entry.name), entry.name] : [entry.name];
  out = addIniListValue(out, 'distutils', 'index-servers', entry.name, created);
  out = setIniOption(out, entry.name, 'repository', entry.repository);
  if (entry.username !== undefined) out = setIniOption(out, entry.name, 'username', entry.username);
  if (entry.password !== undefined) out = setIniOption(out, entry.name, 'password', entry.password);
  return out;
}

/** What configurePypirc would create in `text` (to record for unconfigure). */
export function pypircCreates(text: string): Required<PypircCreated> {
  const distutils = iniSection(parseIni(text), 'distutils');
  return { createdDistutils: !distutils, createdIndexServers: !distutils?.options.some((o) => o.key === 'index-servers') };
}

/**
 * Takes pyrepo's entries out again: its section and its name in index-servers; an
 * index-servers pyrepo created, when only the servers it started with are left in it; and
 * a `[distutils]` pyrepo created, when nothing is left in it.
 */
export function unconfigurePypirc(text: string, name: string, created: PypircCreated): string {
  let out = removeIniSection(text, name);
  out = removeIniListValue(out, 'distutils', 'index-servers', name);
  if (created.createdIndexServers ?? created.createdDistutils) {
    const own = iniSection(parseIni(out), 'distutils')?.options.find((o) => o.key === 'index-servers');
    const servers = iniListValues(own?.value);
    const inherited = inheritedServers(out).filter((s) => s !== name);
    if (own && servers.length === inherited.length && servers.every((s, i) => s === inherited[i])) out = removeIniOption(out, 'distutils', 'index-servers');
  }
  if (created.createdDistutils && iniSection(parseIni(out), 'distutils')?.options.length === 0) out = removeIniSection(out, 'distutils');
  return out;
}
