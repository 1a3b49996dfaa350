/**
 * The pip.conf entries pyrepo owns: the index URL in `[global]`, as `extra-index-url`
 * (PyPI stays primary) or, with `primary`, as `index-url` (the value it replaces is
 * returned so that unconfigure can put it back).
 */
import { iniGet, iniSection, parseIni } from './ini.js';
import { addIniListValue, iniListValues, removeIniListValue, removeIniOption, removeIniSection, setIniOption } from './ini-edit.js';

export interface PipEntry {
  /** The simple index URL, with its trailing slash. */
  url: string;
  primary: boolean;
}

export interface PipConfigured {
  text: string;
  /** The `index-url` that `primary` replaced, if there was one. */
  replacedIndexUrl?: string;
  createdGlobal: boolean;
}

export function configurePip(text: string, entry: PipEntry): PipConfigured {
  const doc = parseIni(text);
  const createdGlobal = !iniSection(doc, 'global');
  if (!entry.primary) return { text: addIniListValue(text, 'global', 'extra-index-url', entry.url), createdGlobal };
  const current = iniGet(doc, 'global', 'index-url');
  let out = setIniOption(text, 'global', 'index-url', entry.url);
  // Listed both ways, pip would ask the index twice for every project.
  out = removeIniListValue(out, 'global', 'extra-index-url', entry.url);
  return current !== undefined && current !== entry.url ? { text: out, replacedIndexUrl: current, createdGlobal } : { text: out, createdGlobal };
}

/** Undoes configurePip: removes the URL, restores a replaced index-url, drops a `[global]` pyrepo created if it is empty. */
export function unconfigurePip(text: string, url: string, opts: { replacedIndexUrl?: string; createdGlobal: boolean }): string {
  let out = removeIniListValue(text, 'global', 'extra-index-url', url);
  const doc = parseIni(out);
  if (iniGet(doc, 'global', 'index-url') === url) {
    out = opts.replacedIndexUrl !== undefined ? setIniOption(out, 'global', 'index-url', opts.replacedIndexUrl) : removeIniOption(out, 'global', 'index-url');
  }
  if (opts.createdGlobal && iniSection(parseIni(out), 'global')?.options.length === 0) out = removeIniSection(out, 'global');
  return out;
}

/** Whether pip.conf text already points at `url` (either way). */
export function pipUses(text: string, url: string): boolean {
  const doc = parseIni(text);
  return iniGet(doc, 'global', 'index-url') === url || iniListValues(iniGet(doc, 'global', 'extra-index-url')).includes(url);
}
