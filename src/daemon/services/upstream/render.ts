/**
 * The simple pages pyrepo serves for an upstream project: the same shape as its own pages
 * (pages.ts: escaping, relative `/packages/` links, the same HTML frame), with what upstream
 * pages carry and catalog records do not: a yank per file, `core-metadata: true` without a
 * hash, a PEP 792 status, and files whose size upstream did not give (HTML upstreams). Every
 * link points at pyrepo, so a cached project installs with upstream unreachable.
 *
 * The cooldown (`upstream-min-age`) is applied here: a file younger than it by its upload
 * time is left out, and so is a file whose upload time upstream did not give (a guard that
 * cannot tell must not let it through).
 */
import { compareVersions, releaseKey } from '../../../shared/versions.js';
import { escapeHtml, fileUrlFromSimple } from '../pages.js';
import { SIMPLE_JSON, type SimpleFormat } from '../negotiate.js';
import type { UpstreamFile, UpstreamProject } from './parse.js';

/** The files shown now, and when the first hidden one comes out of its cooldown (ms since the epoch; Infinity: never). */
export interface Visible {
  files: UpstreamFile[];
  hidden: number;
  changesAt: number;
}

/** The files of `project` that the cooldown lets through at `now`. */
export function visibleFiles(project: UpstreamProject, minAgeMs: number, now: number): Visible {
  if (minAgeMs <= 0) return { files: project.files, hidden: 0, changesAt: Infinity };
  const files: UpstreamFile[] = [];
  let hidden = 0;
  let changesAt = Infinity;
  for (const f of project.files) {
    const uploaded = f.uploadTime === null ? Number.NaN : Date.parse(f.uploadTime);
    if (Number.isFinite(uploaded) && now - uploaded >= minAgeMs) {
      files.push(f);
    } else {
      hidden += 1;
      if (Number.isFinite(uploaded)) changesAt = Math.min(changesAt, uploaded + minAgeMs);
    }
  }
  return { files, hidden, changesAt };
}

/** The simple API version a page can claim: 1.1 needs every file's size (PEP 700), 1.4 adds the status (PEP 792). */
function apiVersion(project: UpstreamProject, files: UpstreamFile[]): string {
  if (!files.every((f) => f.size !== null)) return '1.0';
  return project.status ? '1.4' : '1.1';
}

function sortFiles(files: UpstreamFile[]): UpstreamFile[] {
  return [...files].sort((a, b) => compareVersions(a.version, b.version) || (a.filename < b.filename ? -1 : 1));
}

/** PEP 700 versions: those of the files shown, and those upstream lists without any file. */
function versionsOf(project: UpstreamProject, shown: UpstreamFile[]): string[] {
  const withFiles = new Set(project.files.map((f) => releaseKey(f.version)));
  const out = new Map<string, string>();
  for (const f of shown) out.set(releaseKey(f.version), f.version);
  for (const v of project.versions ?? []) {
    const key = releaseKey(v);
    if (!withFiles.has(key) && !out.has(key)) out.set(key, v);
  }
  return [...out.values()].sort(compareVersions);
}

export function renderUpstreamJson(project: UpstreamProject, shown: UpstreamFile[]): string {
  const files = sortFiles(shown);
  return JSON.stringify({
    meta: { 'api-version': apiVersion(project, files) },
    name: project.name,
    ...(project.status ? { 'project-status': { status: project.status.status, ...(project.status.reason ? { reason: project.status.reason } : {}) } } : {}),
    versions: versionsOf(project, files),
    files: files.map((f) => ({
      filename: f.filename,
      url: fileUrlFromSimple(f.filename),
      hashes: { sha256: f.sha256 },
      ...(f.requiresPython ? { 'requires-python': f.requiresPython } : {}),
      // Never `dist-info-metadata` in JSON: pip 22.3–23.1 crash on it (PEP 714).
      'core-metadata': typeof f.coreMetadata === 'string' ? { sha256: f.coreMetadata } : f.coreMetadata,
      yanked: f.yanked,
      ...(f.size !== null ? { size: f.size } : {}),
      ...(f.uploadTime !== null ? { 'upload-time': f.uploadTime } : {}),
    })),
  });
}

export function renderUpstreamHtml(project: UpstreamProject, shown: UpstreamFile[]): string {
  const title = `Links for ${escapeHtml(project.name)}`;
  const status = project.status
    ? `    <meta name="pypi:project-status" content="${escapeHtml(project.status.status)}">\n` +
      (project.status.reason ? `    <meta name="pypi:project-status-reason" content="${escapeHtml(project.status.reason)}">\n` : '')
    : '';
  const links = sortFiles(shown)
    .map((f) => {
      let attrs = ` href="${fileUrlFromSimple(f.filename)}#sha256=${f.sha256}"`;
      if (f.requiresPython) attrs += ` data-requires-python="${escapeHtml(f.requiresPython)}"`;
      if (f.coreMetadata !== false) {
        const value = typeof f.coreMetadata === 'string' ? `sha256=${f.coreMetadata}` : 'true';
        attrs += ` data-core-metadata="${value}" data-dist-info-metadata="${value}"`;
      }
      if (f.yanked !== false) attrs += ` data-yanked="${escapeHtml(f.yanked === true ? '' : f.yanked)}"`;
      return `    <a${attrs}>${escapeHtml(f.filename)}</a><br>\n`;
    })
    .join('');
  return (
    `<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="${apiVersion(project, shown)}">\n${status}` +
    `    <title>${title}</title>\n  </head>\n  <body>\n    <h1>${title}</h1>\n${links}  </body>\n</html>\n`
  );
}

/** The page of `project` in `format`, showing `shown`. */
export function renderUpstreamPage(project: UpstreamProject, shown: UpstreamFile[], format: SimpleFormat): string {
  return format === SIMPLE_JSON ? renderUpstreamJson(project, shown) : renderUpstreamHtml(project, shown);
}
