/**
 * Whether a tool's configuration asks PyPI beside pyrepo: then the tool looks every project
 * up on both and may take a public project of a private name (dependency confusion). With an
 * upstream, pyrepo serves PyPI's projects itself and should be the tool's only index.
 * Pure readers of the files' text; pip's is in pip-edit.ts (pipMixesWithPypi).
 */
import { readToml, tomlValue } from './toml-edit.js';

const sameUrl = (a: unknown, b: string) => typeof a === 'string' && a.replace(/^(https?:\/\/)[^/@\s]*@/i, '$1').replace(/\/?$/, '/') === b.replace(/\/?$/, '/');

/**
 * uv.toml: uv asks PyPI unless an index is `default = true` (or `index-url` names another);
 * it mixes when it lists pyrepo (`[[index]]` or `extra-index-url`) and PyPI stays the default.
 */
export function uvMixesWithPypi(text: string, indexUrl: string): boolean {
  const doc = readToml(text);
  const indexes = (Array.isArray(doc.index) ? doc.index : []) as Record<string, unknown>[];
  const extra = (Array.isArray(doc['extra-index-url']) ? doc['extra-index-url'] : []) as unknown[];
  const usesPyrepo = indexes.some((i) => sameUrl(i.url, indexUrl)) || extra.some((u) => sameUrl(u, indexUrl)) || sameUrl(doc['index-url'], indexUrl);
  if (!usesPyrepo) return false;
  const pyrepoIsDefault = indexes.some((i) => i.default === true && sameUrl(i.url, indexUrl)) || sameUrl(doc['index-url'], indexUrl);
  return !pyrepoIsDefault;
}

/** pdm's config.toml: `[pypi] url` is the main index (PyPI when unset); `[pypi.<name>]` ones are asked beside it. */
export function pdmMixesWithPypi(text: string, indexUrl: string): boolean {
  const doc = readToml(text);
  const pypi = tomlValue(doc, ['pypi']);
  if (!pypi || typeof pypi !== 'object') return false;
  const table = pypi as Record<string, unknown>;
  const named = Object.values(table).some((v) => v !== null && typeof v === 'object' && sameUrl((v as Record<string, unknown>).url, indexUrl));
  return named && !sameUrl(table.url, indexUrl);
}

/** What to say when a tool asks PyPI beside pyrepo. */
export function mixingWarning(tool: string, hasUpstream: boolean): string {
  return (
    `${tool} asks PyPI beside pyrepo for every project, so anyone who uploads one of your private project names to PyPI can get their code installed (dependency confusion)` +
    (hasUpstream ? '; pyrepo serves PyPI\'s projects through its upstream, so it can be the only index.' : '; with an upstream (`pyrepo config set upstream on`), pyrepo serves PyPI\'s projects itself and can be the only index.')
  );
}
