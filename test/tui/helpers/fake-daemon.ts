/**
 * An in-memory daemon for the dashboard's tests: the control API calls it makes, an
 * event stream the test drives (emit, break, refuse), and a record of what was asked
 * (Last-Event-ID values, yanks, deletions). Events are numbered as the daemon numbers
 * them, and its answers say the newest id they reflect: set the data the way the events
 * say, as the daemon would have it.
 */
import { RECENT_DAYS, type DeleteResult, type FileDownloads, type Health, type IndexEvent, type Installer, type ProjectDetail, type ProjectList, type ProjectSummary, type WatchInfo, type WatchList, type YankResult } from '../../../src/shared/api.js';
import { DaemonRequestError, type EventStreamOptions } from '../../../src/shared/client.js';
import type { Connect, DaemonApi, DaemonLink } from '../../../src/tui/live/link.js';

export const T0 = '2026-11-22T10:00:00.000Z';

export function health(overrides: Partial<Health> = {}): Health {
  return {
    status: 'ok',
    version: '0.1.0',
    pid: 4242,
    startedAt: '2026-11-22T09:00:00.000Z',
    uptimeSeconds: 3600,
    projects: 0,
    files: 0,
    dataDir: '/data',
    packagesDir: '/data/packages',
    indexing: false,
    problems: [],
    access: 'open to anyone who can connect: index pages, downloads; credentials needed for uploads, the control API',
    authenticate: ['upload'],
    ...overrides,
  };
}

export function project(name: string, overrides: Partial<ProjectSummary> = {}): ProjectSummary {
  return {
    name,
    displayName: name,
    latestVersion: '1.0',
    versions: 1,
    files: 2,
    downloads: 0,
    downloads30d: new Array<number>(RECENT_DAYS).fill(0),
    lastUpload: T0,
    lastUploadedBy: null,
    ...overrides,
  };
}

/** A `downloads` event of files of one project, `n` downloads each, all by one installer (today, as the daemon sends them). */
export function downloads(project: string, filenames: string[], n = 1, installer: Installer = 'pip', ci = 0, time = new Date().toISOString()): IndexEvent {
  const files: FileDownloads[] = filenames.map((filename) => ({ project, filename, downloads: n, installers: [{ installer, downloads: n, ci }] }));
  return { type: 'downloads', time, files };
}

/** A detail with one file per release (a wheel), newest release first. */
export function detail(name: string, versions: string[], overrides: Partial<ProjectDetail> = {}): ProjectDetail {
  const mod = name.replace(/-/g, '_');
  return {
    name,
    displayName: name,
    latestVersion: versions[0] ?? null,
    downloads: 0,
    downloadsByDay: [],
    downloadsByInstaller: [],
    lastEventId: '0',
    releases: versions.map((version) => ({
      version,
      yanked: false,
      yankedReason: null,
      yankedBy: null,
      yankedFrom: null,
      summary: null,
      downloads: 0,
      files: [
        {
          filename: `${mod}-${version}-py3-none-any.whl`,
          packagetype: 'bdist_wheel' as const,
          size: 1234,
          sha256: 'a'.repeat(64),
          uploadTime: T0,
          requiresPython: '>=3.8',
          downloads: 0,
          source: 'upload' as const,
          uploadedBy: null,
          uploadedFrom: null,
          url: `/packages/${mod}-${version}-py3-none-any.whl`,
        },
      ],
    })),
    ...overrides,
  };
}

interface OpenStream {
  options: EventStreamOptions;
  end: (err?: Error) => void;
}

export class FakeDaemon implements DaemonApi {
  url = 'http://127.0.0.1:9999';
  healthValue = health();
  projects: ProjectSummary[] = [];
  details = new Map<string, ProjectDetail>();
  /** The watched build folders `watches()` answers. */
  watchList: WatchInfo[] = [];
  /** The newest event id given (the answers reflect every event up to it). */
  eventId = 0;
  /** When set, connect() fails with this message (the daemon is not running). */
  down: string | undefined;
  /** When set, admin calls fail with this refusal. */
  refuse: { status: number; message: string } | undefined;
  readonly calls: string[] = [];
  /** `Last-Event-ID` of every stream opened (undefined when none was sent). */
  readonly lastEventIds: (string | undefined)[] = [];
  snapshots = 0;
  private stream: OpenStream | undefined;

  connect: Connect = async () => {
    if (this.down) throw new Error(this.down);
    return this.link();
  };

  link(): DaemonLink {
    return { url: this.url, api: this };
  }

  get streamOpen(): boolean {
    return this.stream !== undefined;
  }

  /** Sends an event on the open stream, numbered after the last one unless `id` says otherwise; returns its id. */
  emit(event: IndexEvent, id = String(this.eventId + 1)): string {
    if (!this.stream) throw new Error('no stream is open');
    if (/^\d+$/.test(id)) this.eventId = Math.max(this.eventId, Number(id));
    this.stream.options.onEvent(structuredClone(event), id);
    return id;
  }

  /** Sends an event of a type the client does not know. */
  emitUnknown(type: string, data: unknown, id?: string): void {
    if (!this.stream) throw new Error('no stream is open');
    this.stream.options.onUnknown?.(type, data, id);
  }

  /** Ends the open stream as a daemon that went away does. */
  breakStream(message = 'The daemon closed the event stream.'): void {
    const s = this.stream;
    this.stream = undefined;
    s?.end(new Error(message));
  }

  events(options: EventStreamOptions): Promise<void> {
    this.lastEventIds.push(options.lastEventId);
    return new Promise<void>((resolve, reject) => {
      const stream: OpenStream = {
        options,
        end: (err) => {
          if (this.stream === stream) this.stream = undefined;
          if (err) reject(err);
          else resolve();
        },
      };
      this.stream = stream;
      options.signal.addEventListener('abort', () => stream.end(), { once: true });
      queueMicrotask(() => options.onOpen?.());
    });
  }

  async health(): Promise<Health> {
    this.snapshots += 1;
    return { ...this.healthValue, projects: this.projects.length };
  }

  async watches(): Promise<WatchList> {
    return { watches: structuredClone(this.watchList) };
  }

  async listProjects(): Promise<ProjectList> {
    return { projects: structuredClone(this.projects), lastEventId: String(this.eventId) };
  }

  async project(name: string): Promise<ProjectDetail> {
    const d = this.details.get(name);
    if (!d) throw new DaemonRequestError(`No project named '${name}'.`, 404, 'PYREPO_NOT_FOUND');
    return { ...structuredClone(d), lastEventId: String(this.eventId) };
  }

  private admin(call: string): void {
    this.calls.push(call);
    if (this.refuse) throw new DaemonRequestError(this.refuse.message, this.refuse.status, 'PYREPO_REFUSED');
  }

  async yank(project: string, version: string, reason?: string): Promise<YankResult> {
    this.admin(`yank ${project} ${version} ${reason ?? '(no reason)'}`);
    return { project, version, yanked: true, yankedReason: reason ?? null };
  }

  async unyank(project: string, version: string): Promise<YankResult> {
    this.admin(`unyank ${project} ${version}`);
    return { project, version, yanked: false, yankedReason: null };
  }

  async deleteRelease(project: string, version: string): Promise<DeleteResult> {
    this.admin(`delete-release ${project} ${version}`);
    return { project, deleted: [`${project}-${version}.tar.gz`, `${project}-${version}-py3-none-any.whl`] };
  }

  async deleteFile(project: string, filename: string): Promise<DeleteResult> {
    this.admin(`delete-file ${project} ${filename}`);
    return { project, deleted: [filename] };
  }
}
