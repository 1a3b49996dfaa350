/**
 * The dashboard's own picture of the daemon's data. It starts from the control API's
 * schemas and adds, as optional fields, what the daemon does not send yet (downloads by
 * installer, 30-day counts in the project list, uploaders, event ids): the screen shows
 * them when they are there and "—" when they are not, so newer daemons fill them in
 * without a change to the reducers.
 */
import type { FileInfo, Health, ProjectDetail, ProjectSummary, ReleaseInfo } from '../../shared/api.js';

/** The installers downloads are counted by (from the User-Agent), in display order. */
export const INSTALLERS = ['pip', 'uv', 'poetry', 'pdm', 'mip', 'upip', 'other'] as const;
export type Installer = (typeof INSTALLERS)[number];

/** Downloads split by installer, with the part that came from CI. */
export interface InstallerCounts {
  byInstaller: Partial<Record<Installer, number>>;
  /** Of all counted downloads, how many said they ran in CI. */
  ci?: number;
}

export interface HealthView extends Health {
  /** Folders the daemon watches for new builds to publish. */
  watchedFolders?: string[];
}

export interface ProjectView extends ProjectSummary {
  /** Downloads of each of the last 30 UTC days, oldest first (today last). */
  downloads30d?: number[];
  /** Who uploaded `lastUpload`. */
  lastUploader?: string | null;
}

export interface FileView extends FileInfo {
  uploader?: string | null;
}

export interface ReleaseView extends Omit<ReleaseInfo, 'files'> {
  files: FileView[];
  uploader?: string | null;
}

export interface DetailView extends Omit<ProjectDetail, 'releases'> {
  releases: ReleaseView[];
  installers?: InstallerCounts;
}

interface EventCommon {
  time: string;
  project: string;
  /** The SSE `id:` of the event, when the daemon numbers them. */
  id?: string;
}

/**
 * An event of `/-/events` as the dashboard reads it: today's events, plus the fields a
 * newer daemon adds (a count on batched downloads, the installer, the uploader) and any
 * event type it does not know yet (shown in the feed and answered with a fresh snapshot).
 */
export type LiveEvent =
  | (EventCommon & {
      type: 'upload';
      version: string;
      filename: string;
      size: number;
      source: 'upload' | 'folder' | 'watch';
      warnings?: string[];
      uploader?: string | null;
    })
  | (EventCommon & {
      type: 'download';
      filename: string;
      /** Downloads this event stands for (a batch); 1 when absent. */
      count?: number;
      installer?: Installer;
      ci?: boolean;
    })
  | (EventCommon & { type: 'delete'; filename: string })
  | (EventCommon & { type: 'yank'; version: string; reason: string | null })
  | (EventCommon & { type: 'unyank'; version: string })
  | (EventCommon & { type: 'other'; name: string; summary: string });

const KNOWN = new Set(['upload', 'download', 'delete', 'yank', 'unyank']);
const INSTALLER_SET: ReadonlySet<string> = new Set(INSTALLERS);

const str = (v: unknown): v is string => typeof v === 'string';

/**
 * Reads one event's JSON tolerantly: the known types with their required fields, any
 * other type as `other`. Undefined for what is not an event at all.
 */
export function readLiveEvent(data: unknown, id?: string): LiveEvent | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const o = data as Record<string, unknown>;
  if (!str(o.type) || !str(o.project) || !str(o.time)) return undefined;
  const common = { time: o.time, project: o.project, ...(id !== undefined && id !== '' ? { id } : {}) };
  if (!KNOWN.has(o.type)) {
    const detail = [o.version, o.filename].filter(str).join(' ');
    return { ...common, type: 'other', name: o.type, summary: detail };
  }
  switch (o.type) {
    case 'upload':
      if (!str(o.version) || !str(o.filename)) return undefined;
      return {
        ...common,
        type: 'upload',
        version: o.version,
        filename: o.filename,
        size: typeof o.size === 'number' ? o.size : 0,
        source: o.source === 'folder' || o.source === 'watch' ? o.source : 'upload',
        ...(Array.isArray(o.warnings) ? { warnings: o.warnings.filter(str) } : {}),
        ...(str(o.uploader) || o.uploader === null ? { uploader: o.uploader } : {}),
      };
    case 'download': {
      if (!str(o.filename)) return undefined;
      const count = typeof o.count === 'number' && Number.isInteger(o.count) && o.count > 0 ? o.count : undefined;
      return {
        ...common,
        type: 'download',
        filename: o.filename,
        ...(count !== undefined ? { count } : {}),
        ...(str(o.installer) ? { installer: (INSTALLER_SET.has(o.installer) ? o.installer : 'other') as Installer } : {}),
        ...(typeof o.ci === 'boolean' ? { ci: o.ci } : {}),
      };
    }
    case 'delete':
      return str(o.filename) ? { ...common, type: 'delete', filename: o.filename } : undefined;
    case 'yank':
      return str(o.version) ? { ...common, type: 'yank', version: o.version, reason: str(o.reason) ? o.reason : null } : undefined;
    default:
      return str(o.version) ? { ...common, type: 'unyank', version: o.version } : undefined;
  }
}
