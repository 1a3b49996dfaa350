/**
 * The pip.conf entries pyrepo owns: the index URL in `[global]`, as `extra-index-url`
 * (PyPI stays primary) or, with `primary`, as `index-url` (the value it replaces is
 * returned so that unconfigure can put it back); and `trusted-host` for a plain-http
 * index on another machine, which pip otherwise refuses (never for loopback, which pip
 * trusts by itself).
 */
import { iniGet, iniSection, parseIni } from './ini.js';
import { addIniListValue, iniListValues, removeIniListValue, removeIniOption, removeIniSection, setIniOption } from './ini-edit.js';

export interface PipEntry {
  /** The simple index URL, with its trailing slash. */
  url: string;
  primary: boolean;
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
  const added = trusted !== undefined && !iniListValues(iniGet(doc, 'global', 'trusted-host')).includes(trusted) ? trusted : undefined;
  const withTrust = (t: string) => (added ? addIniListValue(t, 'global', 'trusted-host', added) : t);
  const extra = added ? { createdGlobal, trustedHost: added } : { createdGlobal };
  const current = iniGet(doc, 'global', 'index-url');
  if (!entry.primary) {
    // Already the index-url: an extra-index-url too would make pip ask the index twice for every project.
    const out = current === entry.url ? text : addIniListValue(text, 'global', 'extra-index-url', entry.url);
    return { text: withTrust(out), ...extra, setIndexUrl: false };
  }
  let out = withTrust(setIniOption(text, 'global', 'index-url', entry.url));
  // Listed both ways, pip would ask the index twice for every project.
  out = removeIniListValue(out, 'global', 'extra-index-url', entry.url);
  const setIndexUrl = current !== entry.url;
  return current !== undefined && current !== entry.url ? { text: out, replacedIndexUrl: current, ...extra, setIndexUrl } : { text: out, ...extra, setIndexUrl };
}

/**
 * Undoes configurePip: removes the URL, restores a replaced index-url (an index-url pyrepo
 * did not write stays; records without `setIndexUrl` predate it and take any that is the
 * URL), drops a `[global]` pyrepo created if it is empty.
 */
export function unconfigurePip(text: string, url: string, opts: { replacedIndexUrl?: string; createdGlobal: boolean; trustedHost?: string; setIndexUrl?: boolean }): string {
  let out = removeIniListValue(text, 'global', 'extra-index-url', url);
  if (opts.trustedHost) out = removeIniListValue(out, 'global', 'trusted-host', opts.trustedHost);
  const doc = parseIni(out);
  if ((opts.setIndexUrl ?? true) && iniGet(doc, 'global', 'index-url') === url) {
    out = opts.replacedIndexUrl !== undefined ? setIniOption(out, 'global', 'index-url', opts.replacedIndexUrl) : removeIniOption(out, 'global', 'index-url');
  }
  if (opts.createdGlobal && iniSection(parseIni(out), 'global')?.options.length === 0) out = removeIniSection(out, 'global');
  return out;
}

/** Whether pip.conf text already points at `url` (either way). */
export function pipUses(text: string, url: string): boolean {
  const doc = parseIni(text);
  const index = iniGet(doc, 'global', 'index-url');
  return [...(index !== undefined ? [index] : []), ...iniListValues(iniGet(doc, 'global', 'extra-index-url'))].some((u) => withoutUserInfo(u) === url);
}

/** A URL without `user:password@` (configure writes credentials into pip's URL when reads need them). */
function withoutUserInfo(url: string): string {
  return url.replace(/^(https?:\/\/)[^/@\s]*@/i, '$1');
}
