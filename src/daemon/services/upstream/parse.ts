/**
 * An upstream project page read into what pyrepo keeps of it: PEP 691 JSON (preferred) or
 * PEP 503 HTML. Pure and defensive: an upstream answer is input like an upload, so every
 * field is checked, and a file link that cannot be used safely (no sha256 to check the
 * bytes against, a filename of another project, a URL that is not http(s)) is dropped
 * with the reason, never passed on.
 */
import { parseDistFilename } from '../../../shared/distfiles.js';
import { normalizeName } from '../../../shared/names.js';

/** One file of an upstream project, as pyrepo keeps it. */
export interface UpstreamFile {
  filename: string;
  /** Where upstream serves it: absolute, fragment removed. */
  url: string;
  /** Lowercase hex; every file kept has one (its bytes are checked against it). */
  sha256: string;
  /** PEP 440 version, from the filename. */
  version: string;
  requiresPython: string | null;
  /** PEP 592: false, true, or the reason. */
  yanked: boolean | string;
  /** PEP 658/714: the `.metadata` file's sha256, true when upstream has one without a hash, false when none. */
  coreMetadata: string | boolean;
  /** PEP 700; null when upstream did not say (HTML pages never do). */
  size: number | null;
  /** PEP 700 upload time (UTC, ISO 8601 with Z); null when upstream did not say. */
  uploadTime: string | null;
}

/** PEP 792 status markers. */
export const PROJECT_STATUSES = ['active', 'archived', 'quarantined', 'deprecated'] as const;
export type ProjectStatus = (typeof PROJECT_STATUSES)[number];

/** An upstream project page, as pyrepo keeps it. */
export interface UpstreamProject {
  /** Normalized. */
  name: string;
  files: UpstreamFile[];
  /** PEP 700 `versions`, when upstream gave them. */
  versions: string[] | null;
  /** PEP 792, when upstream said. */
  status: { status: ProjectStatus; reason: string | null } | null;
}

/** What was read, and the links that were dropped, with why (for the log). */
export interface ParsedPage {
  project: UpstreamProject;
  dropped: string[];
}

/** An upstream answer that cannot be read as a project page. */
export class UpstreamPageError extends Error {
  override readonly name = 'UpstreamPageError';
}

const SHA256 = /^[0-9a-f]{64}$/;
const UPLOAD_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
/** Longest text field kept (requires-python, yank reasons, status reasons). */
const MAX_TEXT = 1000;

const text = (v: unknown): string | null => (typeof v === 'string' && v.length <= MAX_TEXT ? v : null);

/** A hash from `sha256=<hex>` (fragment or attribute form), lowercase, or null. */
function sha256From(value: string | null | undefined): string | null {
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(value ?? '');
  return m ? (m[1] as string).toLowerCase() : null;
}

/** An absolute http(s) URL of `href` against `base`, without its fragment; null when it is none. */
function absoluteUrl(href: string, base: string): string | null {
  try {
    const url = new URL(href, base);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    url.hash = '';
    return url.toString();
  } catch {
    return null;
  }
}

/** The checks every file link gets, whatever the format; the reason when it is dropped. */
function checkFile(project: string, filename: string, url: string | null, sha256: string | null): { version: string } | string {
  let version: string;
  try {
    const dist = parseDistFilename(filename);
    if (dist.project !== project) return `${filename}: a file of '${dist.project}', not of '${project}'`;
    version = dist.version;
  } catch (err) {
    return `${filename.slice(0, 200)}: ${(err as Error).message}`;
  }
  if (!url) return `${filename}: its URL is not an http(s) URL`;
  if (!sha256) return `${filename}: no sha256 to check its bytes against`;
  return { version };
}

/** Reads a PEP 691 JSON project page (any 1.x). `pageUrl` resolves relative file URLs. */
export function parseProjectJson(body: string, project: string, pageUrl: string): ParsedPage {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new UpstreamPageError('the JSON project page is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new UpstreamPageError('the JSON project page is not an object');
  const d = doc as Record<string, unknown>;
  const apiVersion = text((d.meta as Record<string, unknown> | undefined)?.['api-version']);
  if (apiVersion !== null && !apiVersion.startsWith('1.')) throw new UpstreamPageError(`the page speaks simple API ${apiVersion}, and pyrepo reads 1.x`);
  if (typeof d.name !== 'string' || normalizeName(d.name) !== project) throw new UpstreamPageError(`the page is not the page of '${project}' (its name is ${JSON.stringify(d.name)})`);
  if (!Array.isArray(d.files)) throw new UpstreamPageError('the page has no files list');
  const files: UpstreamFile[] = [];
  const dropped: string[] = [];
  for (const raw of d.files as unknown[]) {
    if (typeof raw !== 'object' || raw === null) {
      dropped.push('a file entry that is not an object');
      continue;
    }
    const f = raw as Record<string, unknown>;
    const filename = text(f.filename);
    if (!filename) {
      dropped.push('a file entry without a filename');
      continue;
    }
    const hashes = f.hashes as Record<string, unknown> | undefined;
    const sha256 = typeof hashes?.sha256 === 'string' && SHA256.test(hashes.sha256.toLowerCase()) ? hashes.sha256.toLowerCase() : null;
    const url = typeof f.url === 'string' ? absoluteUrl(f.url, pageUrl) : null;
    const checked = checkFile(project, filename, url, sha256);
    if (typeof checked === 'string') {
      dropped.push(checked);
      continue;
    }
    const meta = f['core-metadata'] ?? f['dist-info-metadata'];
    const metaHash = typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>).sha256 : undefined;
    const coreMetadata = typeof metaHash === 'string' && SHA256.test(metaHash.toLowerCase()) ? metaHash.toLowerCase() : meta === true || (typeof meta === 'object' && meta !== null);
    const yanked = f.yanked === true ? true : typeof f.yanked === 'string' && f.yanked !== '' ? (text(f.yanked) ?? true) : false;
    const size = typeof f.size === 'number' && Number.isSafeInteger(f.size) && f.size >= 0 ? f.size : null;
    const uploadTime = typeof f['upload-time'] === 'string' && UPLOAD_TIME.test(f['upload-time']) ? f['upload-time'] : null;
    files.push({ filename, url: url as string, sha256: sha256 as string, version: checked.version, requiresPython: text(f['requires-python']), yanked, coreMetadata, size, uploadTime });
  }
  const versions = Array.isArray(d.versions) ? (d.versions as unknown[]).filter((v): v is string => typeof v === 'string' && v.length <= 200) : null;
  const rawStatus = d['project-status'] as Record<string, unknown> | undefined;
  const status =
    typeof rawStatus?.status === 'string' && (PROJECT_STATUSES as readonly string[]).includes(rawStatus.status)
      ? { status: rawStatus.status as ProjectStatus, reason: text(rawStatus.reason) }
      : null;
  return { project: { name: project, files: status?.status === 'quarantined' ? [] : files, versions, status }, dropped };
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'" };

function decodeEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+\d*);/gi, (all, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : all;
    }
    return ENTITIES[name.toLowerCase()] ?? all;
  });
}

/** The attributes of one start tag (`name` → value; a bare attribute is ''), names lowercase. */
function attributesOf(tag: string): Map<string, string> {
  const attrs = new Map<string, string>();
  const re = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (const m of tag.matchAll(re)) attrs.set((m[1] as string).toLowerCase(), decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
  return attrs;
}

/** Reads a PEP 503 HTML project page. `pageUrl` resolves relative links. */
export function parseProjectHtml(body: string, project: string, pageUrl: string): ParsedPage {
  const files: UpstreamFile[] = [];
  const dropped: string[] = [];
  let status: UpstreamProject['status'] = null;
  let statusReason: string | null = null;
  for (const m of body.matchAll(/<meta\s([^>]*)>/gi)) {
    const attrs = attributesOf(m[1] as string);
    const name = attrs.get('name');
    const content = attrs.get('content') ?? '';
    if (name === 'pypi:project-status' && (PROJECT_STATUSES as readonly string[]).includes(content)) status = { status: content as ProjectStatus, reason: null };
    if (name === 'pypi:project-status-reason') statusReason = text(content);
  }
  if (status) status.reason = statusReason;
  for (const m of body.matchAll(/<a\s([^>]*)>([^<]*)<\/a\s*>/gi)) {
    const attrs = attributesOf(m[1] as string);
    const href = attrs.get('href');
    if (href === undefined) continue;
    const hashAt = href.indexOf('#');
    const url = absoluteUrl(href, pageUrl);
    const fromPath = decodeURIComponent(new URL(url ?? 'http://x/').pathname.split('/').pop() ?? '');
    const filename = decodeEntities(m[2] as string).trim() || fromPath;
    const checked = checkFile(project, filename, url, sha256From(hashAt === -1 ? null : href.slice(hashAt + 1)));
    if (typeof checked === 'string') {
      dropped.push(checked);
      continue;
    }
    const meta = attrs.get('data-core-metadata') ?? attrs.get('data-dist-info-metadata');
    const yanked = attrs.get('data-yanked');
    files.push({
      filename,
      url: url as string,
      sha256: sha256From(href.slice(hashAt + 1)) as string,
      version: checked.version,
      requiresPython: text(attrs.get('data-requires-python')),
      yanked: yanked === undefined ? false : yanked === '' ? true : (text(yanked) ?? true),
      coreMetadata: meta === undefined ? false : (sha256From(meta) ?? meta === 'true'),
      size: null,
      uploadTime: null,
    });
  }
  return { project: { name: project, files: status?.status === 'quarantined' ? [] : files, versions: null, status }, dropped };
}
