/**
 * Renders the simple index (PEP 503 HTML, PEP 691/700 JSON) and the PyPI JSON API.
 * Pure functions of catalog data; the index service caches their output per change.
 * Simple pages use relative file URLs, so one rendering serves every Host name.
 */
import type { FileRecord, ProjectRecord, ReleaseState } from './catalog.js';
import type { CoreMetadata } from '../../shared/metadata.js';

/** The simple API version these pages implement: 1.1 (PEP 700 `versions`, `size`, `upload-time`). */
export const API_VERSION = '1.1';

/** Everything the pages of one project are made of. */
export interface ProjectView {
  project: ProjectRecord;
  /** Sorted oldest version first, then by filename. */
  files: FileRecord[];
  states: Map<string, ReleaseState>;
  serial: number;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);
}

/** Path of a file relative to a `/simple/<project>/` page. */
export function fileUrlFromSimple(filename: string): string {
  return `../../packages/${encodeURIComponent(filename)}`;
}

function yankOf(view: ProjectView, file: FileRecord): ReleaseState {
  return view.states.get(file.releaseKey) ?? { yanked: false, reason: null };
}

export function renderRootHtml(projects: ProjectRecord[]): string {
  const links = projects
    .map((p) => `    <a href="/simple/${encodeURIComponent(p.name)}/">${escapeHtml(p.displayName)}</a><br>\n`)
    .join('');
  return (
    `<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="${API_VERSION}">\n` +
    `    <title>Simple index</title>\n  </head>\n  <body>\n${links}  </body>\n</html>\n`
  );
}

export function renderRootJson(projects: ProjectRecord[], serial: number): string {
  return JSON.stringify({
    meta: { 'api-version': API_VERSION, '_last-serial': serial },
    projects: projects.map((p) => ({ name: p.displayName })),
  });
}

export function renderProjectHtml(view: ProjectView): string {
  const title = `Links for ${escapeHtml(view.project.name)}`;
  const links = view.files
    .map((f) => {
      let attrs = ` href="${fileUrlFromSimple(f.filename)}#sha256=${f.sha256}"`;
      if (f.requiresPython) attrs += ` data-requires-python="${escapeHtml(f.requiresPython)}"`;
      if (f.metadataSha256) {
        // PEP 714: data-core-metadata, and the legacy name for pip < 23.2 with the same value.
        attrs += ` data-core-metadata="sha256=${f.metadataSha256}" data-dist-info-metadata="sha256=${f.metadataSha256}"`;
      }
      const yank = yankOf(view, f);
      if (yank.yanked) attrs += ` data-yanked="${escapeHtml(yank.reason ?? '')}"`;
      return `    <a${attrs}>${escapeHtml(f.filename)}</a><br>\n`;
    })
    .join('');
  return (
    `<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="${API_VERSION}">\n` +
    `    <title>${title}</title>\n  </head>\n  <body>\n    <h1>${title}</h1>\n${links}  </body>\n</html>\n`
  );
}

/** Upload time in the PEP 700 form: UTC with a `Z`. */
function uploadTime(iso: string): string {
  return iso.endsWith('Z') ? iso : new Date(iso).toISOString();
}

export function renderProjectJson(view: ProjectView): string {
  // One entry per release: `1.0` and `1.0.0` are the same version (PEP 440).
  const versions = [...new Map(view.files.map((f) => [f.releaseKey, f.version] as const)).values()];
  return JSON.stringify({
    meta: { 'api-version': API_VERSION, '_last-serial': view.serial },
    name: view.project.name,
    versions,
    files: view.files.map((f) => {
      const yank = yankOf(view, f);
      return {
        filename: f.filename,
        url: fileUrlFromSimple(f.filename),
        hashes: { sha256: f.sha256 },
        ...(f.requiresPython ? { 'requires-python': f.requiresPython } : {}),
        // Never `dist-info-metadata` in JSON: pip 22.3–23.1 crash on it (PEP 714).
        'core-metadata': f.metadataSha256 ? { sha256: f.metadataSha256 } : false,
        yanked: yank.yanked ? yank.reason || true : false,
        size: f.size,
        'upload-time': uploadTime(f.uploadTime),
      };
    }),
  });
}

/** One release in the PyPI JSON API's shape. */
function pypiFile(f: FileRecord, state: ReleaseState, baseUrl: string): Record<string, unknown> {
  const time = uploadTime(f.uploadTime);
  return {
    filename: f.filename,
    packagetype: f.packagetype,
    python_version: f.pythonVersion,
    comment_text: '',
    md5_digest: f.md5,
    digests: { md5: f.md5, sha256: f.sha256, blake2b_256: f.blake2b256 },
    'core-metadata': f.metadataSha256 ? { sha256: f.metadataSha256 } : false,
    size: f.size,
    upload_time: time.slice(0, 19),
    upload_time_iso_8601: time,
    url: `${baseUrl}/packages/${encodeURIComponent(f.filename)}`,
    requires_python: f.requiresPython,
    yanked: state.yanked,
    yanked_reason: state.yanked ? state.reason : null,
    has_sig: false,
    downloads: -1,
  };
}

/** Input of the PyPI JSON API renderer. */
export interface PypiJsonInput {
  view: ProjectView;
  /** The release `info` describes: the latest, or the one asked for. */
  releaseKey: string;
  metadata: CoreMetadata;
  baseUrl: string;
  /** Include `releases` (project endpoint only). */
  withReleases: boolean;
  /** Release keys, newest first. */
  order: string[];
}

export function renderPypiJson(input: PypiJsonInput): string {
  const { view, metadata: m, baseUrl } = input;
  const byRelease = new Map<string, FileRecord[]>();
  for (const f of view.files) {
    const list = byRelease.get(f.releaseKey) ?? [];
    list.push(f);
    byRelease.set(f.releaseKey, list);
  }
  const stateOf = (key: string) => view.states.get(key) ?? { yanked: false, reason: null };
  const files = byRelease.get(input.releaseKey) ?? [];
  const state = stateOf(input.releaseKey);
  const version = files[0]?.version ?? m.version;
  const projectUrl = `${baseUrl}/pypi/${view.project.name}/`;
  const info = {
    name: view.project.displayName,
    version,
    summary: m.summary,
    description: m.description ?? '',
    description_content_type: m.descriptionContentType,
    keywords: m.keywords,
    license: m.license,
    license_expression: m.licenseExpression,
    license_files: m.licenseFiles.length > 0 ? m.licenseFiles : null,
    classifiers: m.classifiers,
    author: m.author,
    author_email: m.authorEmail,
    maintainer: m.maintainer,
    maintainer_email: m.maintainerEmail,
    home_page: m.homePage,
    download_url: m.downloadUrl,
    platform: m.platforms[0] ?? null,
    requires_python: m.requiresPython,
    requires_dist: m.requiresDist.length > 0 ? m.requiresDist : null,
    provides_extra: m.providesExtra.length > 0 ? m.providesExtra : null,
    project_urls: Object.keys(m.projectUrls).length > 0 ? m.projectUrls : null,
    dynamic: m.dynamic.length > 0 ? m.dynamic : null,
    yanked: state.yanked,
    yanked_reason: state.yanked ? state.reason : null,
    package_url: projectUrl,
    project_url: projectUrl,
    release_url: `${projectUrl}${version}/`,
    docs_url: null,
    bugtrack_url: null,
    downloads: { last_day: -1, last_week: -1, last_month: -1 },
  };
  const body: Record<string, unknown> = { info, last_serial: view.serial };
  if (input.withReleases) {
    const releases: Record<string, unknown[]> = {};
    for (const key of [...input.order].reverse()) {
      const list = byRelease.get(key) ?? [];
      releases[list[0]?.version ?? key] = list.map((f) => pypiFile(f, stateOf(key), baseUrl));
    }
    body.releases = releases;
  }
  body.urls = files.map((f) => pypiFile(f, state, baseUrl));
  body.vulnerabilities = [];
  return JSON.stringify(body);
}

/** One file of the flat `/packages/` listing. */
export interface ListedFile {
  relpath: string;
  sha256: string;
  requiresPython: string | null;
  yanked: ReleaseState;
}

/** The start of `/packages/`, before the links ({@link renderPackagesLinks}). */
export const PACKAGES_LISTING_HEAD =
  '<!DOCTYPE html>\n<html lang="en">\n  <head>\n    <meta charset="utf-8">\n    <title>Index of packages</title>\n  </head>\n' +
  '  <body>\n    <h1>Index of packages</h1>\n';
/** The end of `/packages/`, after the links. */
export const PACKAGES_LISTING_FOOT = '  </body>\n</html>\n';

/**
 * Links of `/packages/`, the page pypiserver serves there (pip's and buildout's `--find-links`
 * read it): each file with its hash and the attributes of the simple pages. The page is the
 * head, the links of every file, then the foot: written in parts, it is never whole in memory.
 */
export function renderPackagesLinks(files: ListedFile[]): string {
  let links = '';
  for (const f of files) {
    let attrs = ` href="${f.relpath.split('/').map(encodeURIComponent).join('/')}#sha256=${f.sha256}"`;
    if (f.requiresPython) attrs += ` data-requires-python="${escapeHtml(f.requiresPython)}"`;
    if (f.yanked.yanked) attrs += ` data-yanked="${escapeHtml(f.yanked.reason ?? '')}"`;
    links += `    <a${attrs}>${escapeHtml(f.relpath)}</a><br>\n`;
  }
  return links;
}
