/**
 * An in-memory daemon for the dashboard's tests: the control API calls it makes, an
 * event stream the test drives (emit, break, refuse), and a record of what was asked
 * (Last-Event-ID values, yanks, deletions).
 */
import type { DeleteResult, YankResult } from '../../../src/shared/api.js';
import { DaemonRequestError } from '../../../src/shared/client.js';
import type { FollowOptions } from '../../../src/tui/live/event-stream.js';
import type { Connect, DaemonApi, DaemonLink } from '../../../src/tui/live/link.js';
import type { DetailView, HealthView, ProjectView } from '../../../src/tui/state/model.js';

export const T0 = '2026-11-22T10:00:00.000Z';

export function health(overrides: Partial<HealthView> = {}): HealthView {
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

export function project(name: string, overrides: Partial<ProjectView> = {}): ProjectView {
  return { name, displayName: name, latestVersion: '1.0', versions: 1, files: 2, downloads: 0, lastUpload: T0, ...overrides };
}

/** A detail with one file per release (a wheel), newest release first. */
export function detail(name: string, versions: string[], overrides: Partial<DetailView> = {}): DetailView {
  const mod = name.replace(/-/g, '_');
  return {
    name,
    displayName: name,
    latestVersion: versions[0] ?? null,
    downloads: 0,
    downloadsByDay: [],
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
  options: FollowOptions;
  end: (err?: Error) => void;
}

export class FakeDaemon implements DaemonApi {
  url = 'http://127.0.0.1:9999';
  healthValue = health();
  projects: ProjectView[] = [];
  details = new Map<string, DetailView>();
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
    return { url: this.url, api: this, follow: (options) => this.follow(options) };
  }

  get streamOpen(): boolean {
    return this.stream !== undefined;
  }

  /** Sends an event on the open stream (its JSON as the daemon writes it). */
  emit(event: object, id?: string): void {
    if (!this.stream) throw new Error('no stream is open');
    this.stream.options.onMessage({ event: (event as { type: string }).type, data: JSON.stringify(event), ...(id !== undefined ? { id } : {}) });
  }

  /** Ends the open stream as a daemon that went away does. */
  breakStream(message = 'The daemon closed the event stream.'): void {
    const s = this.stream;
    this.stream = undefined;
    s?.end(new Error(message));
  }

  private follow(options: FollowOptions): Promise<void> {
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

  async health(): Promise<HealthView> {
    this.snapshots += 1;
    return { ...this.healthValue, projects: this.projects.length };
  }

  async listProjects(): Promise<{ projects: ProjectView[] }> {
    return { projects: this.projects.map((p) => ({ ...p })) };
  }

  async project(name: string): Promise<DetailView> {
    const d = this.details.get(name);
    if (!d) throw new DaemonRequestError(`No project named '${name}'.`, 404, 'PYREPO_NOT_FOUND');
    return structuredClone(d);
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
