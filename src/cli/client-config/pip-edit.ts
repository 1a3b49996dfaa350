/**
 * The pip.conf entries pyrepo owns: the index URL in `[global]`, as `extra-index-url`
 * (PyPI stays primary) or, with `primary`, as `index-url` (the value it replaces is
 * returned so that unconfigure can put it back); and `trusted-host` for a plain-http
 * index on another machine, which pip otherwise refuses (never for loopback, which pip
 * trusts by itself).
 *
 * pip reads a key in any spelling: it lower-cases it, turns `_` into `-` and drops a
 * leading `--` (`extra_index_url`, `Extra-Index-Url` and `--extra-index-url` are one key),
 * and when a section holds two spellings it keeps the one read last. So pyrepo adds its URL
 * to the spelling pip really uses, never a second spelling beside it (which would silently
 * replace the user's extra index, or be replaced by it). A command's own section
 * (`[install]`, `[download]`…) overrides `[global]` for that command: an
 * `extra-index-url` there gets pyrepo's URL too.
 */
import { iniSection, parseIni, type IniDocument, type IniOption } from './ini.js';
import { addIniListValue, iniListValues, removeIniListValue, removeIniOption, removeIniSection, setIniOption } from './ini-edit.js';

export interface PipEntry {
  /** The simple index URL, with its trailing slash (and credentials, when reads need them). */
  url: string;
  primary: boolean;
}

/** pip's name for a config key (pip's `configuration._normalize_name`). */
export function pipOptionName(key: string): string {
  const name = key.toLowerCase().replace(/_/g, '-');
  return name.startsWith('--') ? name.slice(2) : name;
}

/** The options of `section` that pip reads as `name`, in file order. */
function pipOptions(doc: IniDocument, section: string, name: string): IniOption[] {
  return iniSection(doc, section)?.options.filter((o) => pipOptionName(o.key) === name) ?? [];
}

/** The option pip uses for `name` in `section`: of several spellings, the last one in the file. */
export function pipOption(doc: IniDocument, section: string, name: string): IniOption | undefined {
  return pipOptions(doc, section, name).at(-1);
}

/** The key to write `name` under in `section`: the spelling pip uses there, else pip's own. */
function keyFor(doc: IniDocument, section: string, name: string): string {
  return pipOption(doc, section, name)?.key ?? name;
}

/** The sections other than `[global]` that set their own `extra-index-url` (pip's per-command sections). */
function commandSectionsWithExtra(doc: IniDocument): string[] {
  return doc.sections.filter((s) => s.name !== 'global' && pipOption(doc, s.name, 'extra-index-url') !== undefined).map((s) => s.name);
}

/** `host:port` for pip's trusted-host when `url` is plain http to a host other than this machine. */
export function trustedHostFor(url: string): string | undefined {
  const u = new URL(url);
  if (u.protocol !== 'http:') return undefined;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1' || /^127\./.test(host)) return undefined;
  return u.host;
}

export interface PipConfigured {
  text: string;
  /** The `index-url` that `primary` replaced, if there was one. */
  replacedIndexUrl?: string;
  createdGlobal: boolean;
  /** The trusted-host entry pyrepo added (not one the file had already). */
  trustedHost?: string;
  /** pyrepo wrote `index-url` (`primary`, and the file did not say so already): unconfigure takes it back. */
  setIndexUrl: boolean;
}

export function configurePip(text: string, entry: PipEntry): PipConfigured {
  const doc = parseIni(text);
  const createdGlobal = !iniSection(doc, 'global');
  const trusted = trustedHostFor(entry.url);
  const trustKey = keyFor(doc, 'global', 'trusted-host');
  const added = trusted !== undefined && !iniListValues(pipOption(doc, 'global', 'trusted-host')?.value).includes(trusted) ? trusted : undefined;
  const withTrust = (t: string) => (added ? addIniListValue(t, 'global', trustKey, added) : t);
  const extra = added ? { createdGlobal, trustedHost: added } : { createdGlobal };
  const current = pipOption(doc, 'global', 'index-url')?.value;
  const extraKey = keyFor(doc, 'global', 'extra-index-url');
  if (!entry.primary) {
    // Already the index-url: an extra-index-url too would make pip ask the index twice for every project.
    let out = text;
    if (current !== entry.url) {
      out = addIniListValue(out, 'global', extraKey, entry.url);
      // A command's own list replaces [global]'s for that command: pyrepo's URL goes there too.
      for (const section of commandSectionsWithExtra(doc)) out = addIniListValue(out, section, keyFor(doc, section, 'extra-index-url'), entry.url);
    }
    return { text: withTrust(out), ...extra, setIndexUrl: false };
  }
  let out = withTrust(setIniOption(text, 'global', keyFor(doc, 'global', 'index-url'), entry.url));
  // Listed both ways, pip would ask the index twice for every project.
  out = removeIniListValue(out, 'global', extraKey, entry.url);
  const setIndexUrl = current !== entry.url;
  return current !== undefined && current !== entry.url ? { text: out, replacedIndexUrl: current, ...extra, setIndexUrl } : { text: out, ...extra, setIndexUrl };
}

/**
 * Undoes configurePip: removes the URL (from every list, whatever its spelling), restores a
 * replaced index-url (an index-url pyrepo did not write stays; records without
 * `setIndexUrl` predate it and take any that is the URL), drops a `[global]` pyrepo
 * created if it is empty.
 */
export function unconfigurePip(text: string, url: string, opts: { replacedIndexUrl?: string; createdGlobal: boolean; trustedHost?: string; setIndexUrl?: boolean }): string {
  let out = text;
  for (const section of parseIni(out).sections) {
    for (const option of pipOptions(parseIni(out), section.name, 'extra-index-url')) out = removeIniListValue(out, section.name, option.key, url);
  }
  if (opts.trustedHost) out = removeIniListValue(out, 'global', keyFor(parseIni(out), 'global', 'trusted-host'), opts.trustedHost);
  const doc = parseIni(out);
  const index = pipOption(doc, 'global', 'index-url');
  if ((opts.setIndexUrl ?? true) && index?.value === url) {
    out = opts.replacedIndexUrl !== undefined ? setIniOption(out, 'global', index.key, opts.replacedIndexUrl) : removeIniOption(out, 'global', index.key);
  }
  if (opts.createdGlobal && iniSection(parseIni(out), 'global')?.options.length === 0) out = removeIniSection(out, 'global');
  return out;
}

/** The indexes `pip install` uses with this pip.conf (its `[install]` section over `[global]`, as pip reads them). */
export interface PipIndexes {
  /** undefined: pip's default, PyPI. */
  indexUrl?: string;
  extraIndexUrls: string[];
}

/** What `pip install` reads from pip.conf text. */
export function pipIndexes(text: string): PipIndexes {
  const doc = parseIni(text);
  const get = (name: string) => pipOption(doc, 'install', name)?.value || pipOption(doc, 'global', name)?.value || undefined;
  const indexUrl = get('index-url');
  return { ...(indexUrl !== undefined ? { indexUrl } : {}), extraIndexUrls: iniListValues(get('extra-index-url')) };
}

/** Whether pip.conf text already points at `url` (either way, with or without credentials in the URL). */
export function pipUses(text: string, url: string): boolean {
  const { indexUrl, extraIndexUrls } = pipIndexes(text);
  return [...(indexUrl !== undefined ? [indexUrl] : []), ...extraIndexUrls].some((u) => withoutUserInfo(u) === url);
}

/** The entry of pip.conf text that is `url` (credentials included), if any. */
export function pipEntryFor(text: string, url: string): string | undefined {
  const { indexUrl, extraIndexUrls } = pipIndexes(text);
  return [...(indexUrl !== undefined ? [indexUrl] : []), ...extraIndexUrls].find((u) => withoutUserInfo(u) === url);
}

/** The sentence configure and doctor say when pyrepo is pip's extra index beside PyPI. */
export const DEPENDENCY_CONFUSION =
  "pip asks PyPI and pyrepo for every package and takes the highest version, so anyone who uploads one of your private project names to PyPI gets their code installed (dependency confusion); `pyrepo configure --pip --primary` makes pyrepo pip's only index.";

/**
 * Whether pip would ask PyPI and `url` both for every project (pyrepo an extra index beside
 * PyPI): then whoever uploads one of your private names to PyPI with a higher version gets
 * installed instead (dependency confusion).
 */
export function pipMixesWithPypi(text: string, url: string): boolean {
  const { indexUrl } = pipIndexes(text);
  const primaryIsPypi = indexUrl === undefined || /^https?:\/\/pypi\.(org|python\.org)\/simple\/?$/i.test(withoutUserInfo(indexUrl));
  return primaryIsPypi && pipUses(text, url) && (indexUrl === undefined || withoutUserInfo(indexUrl) !== url);
}

/** A URL without `user:password@` (configure writes credentials into pip's URL when reads need them). */
export function withoutUserInfo(url: string): string {
  return url.replace(/^(https?:\/\/)[^/@\s]*@/i, '$1');
}
