/**
 * Keeps the dashboard connected: finds the daemon, opens `/-/events`, and takes a snapshot
 * once the stream is open (so nothing that happens meanwhile is missed). When the stream
 * breaks it tries again with growing waits, saying so in the header, and resumes with
 * `Last-Event-ID`: the daemon replays what was missed, and no snapshot is needed, unless
 * the daemon answers `resync` (it restarted, or the events are gone), which takes one. It
 * also takes a new snapshot when events say the list changed in ways only the daemon can
 * settle, follows the selected project's detail, and carries out admin actions.
 */
import type { IndexEvent } from '../../shared/api.js';
import { resumeFrom } from '../state/live-index.js';
import { unknownEvent } from '../state/model.js';
import type { AdminAction } from '../state/view.js';
import type { Connect, DaemonLink } from './link.js';
import type { LiveStore } from './store.js';

export interface ConnectionOptions {
  /** Waits between attempts to reconnect, in ms; the last one repeats. */
  backoffMs?: readonly number[];
  /** Shortest time between snapshots that events ask for. Default: 1,000. */
  resnapshotMs?: number;
  /** How long a selection must stay before its detail is fetched (scrolling fetches nothing). Default: 80. */
  detailDelayMs?: number;
  /** How long a silent event stream is trusted (see DaemonClient.events). */
  idleMs?: number;
  /**
   * A fresh snapshot this often while nothing else asks for one: health problems (a
   * deleted folder) show up, and counts the events cannot settle are set right. Default: 30,000.
   */
  refreshEveryMs?: number;
}

export const DEFAULT_BACKOFF_MS = [500, 1000, 2000, 4000, 8000] as const;

/** A message for the header or status line, from whatever went wrong. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class LiveConnection {
  private link: DaemonLink | undefined;
  private stopped = false;
  private streamAbort: AbortController | undefined;
  private wake: (() => void) | undefined;
  private snapshotRun: Promise<void> | undefined;
  private snapshotAgain = false;
  private lastSnapshotAt = 0;
  private snapshotTimer: NodeJS.Timeout | undefined;
  private selected: string | undefined;
  private detailTimer: NodeJS.Timeout | undefined;
  private detailLoading = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: () => void;
  private readonly backoffMs: readonly number[];
  private readonly resnapshotMs: number;
  private readonly detailDelayMs: number;

  constructor(
    private readonly connect: Connect,
    readonly store: LiveStore,
    private readonly options: ConnectionOptions = {},
  ) {
    this.backoffMs = options.backoffMs ?? DEFAULT_BACKOFF_MS;
    this.resnapshotMs = options.resnapshotMs ?? 1000;
    this.detailDelayMs = options.detailDelayMs ?? 80;
    this.unsubscribe = store.subscribe(() => this.followChanges());
  }

  /** Starts connecting (and reconnecting) until stop(). */
  start(): void {
    void this.run();
    this.refreshTimer = setInterval(() => {
      if (this.store.getState().connection.state === 'live' && Date.now() - this.lastSnapshotAt >= (this.options.refreshEveryMs ?? 30_000) / 2) {
        this.snapshot().catch(() => undefined);
      }
    }, this.options.refreshEveryMs ?? 30_000);
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    this.streamAbort?.abort();
    this.wake?.();
    clearTimeout(this.snapshotTimer);
    clearTimeout(this.detailTimer);
    clearInterval(this.refreshTimer);
  }

  /** `R`: a fresh snapshot now; while the daemon is away, the next attempt now. */
  refresh(): void {
    if (this.store.getState().connection.state === 'reconnecting') {
      this.wake?.();
      return;
    }
    this.snapshot().catch(() => undefined);
  }

  /** Follows the detail of `name` (fetched once the selection rests). */
  select(name: string | undefined): void {
    if (name === this.selected) return;
    this.selected = name;
    clearTimeout(this.detailTimer);
    if (name === undefined) return;
    this.store.dispatch({ type: 'detail-request', name });
    this.detailTimer = setTimeout(() => void this.loadDetail(), this.detailDelayMs);
  }

  /** Carries out a confirmed admin action; resolves with what to tell the user, rejects with the daemon's refusal. */
  async perform(action: AdminAction, reason?: string): Promise<string> {
    const link = this.link;
    if (!link || this.store.getState().connection.state !== 'live') throw new Error('The daemon is not connected; nothing was changed. Try again once it is back.');
    let done: string;
    switch (action.kind) {
      case 'yank': {
        const r = await link.api.yank(action.project, action.version, reason);
        done = `Yanked ${r.project} ${r.version}${r.yankedReason ? ` (${r.yankedReason})` : ''}.`;
        break;
      }
      case 'unyank': {
        const r = await link.api.unyank(action.project, action.version);
        done = `${r.project} ${r.version} is no longer yanked.`;
        break;
      }
      case 'delete-release': {
        const r = await link.api.deleteRelease(action.project, action.version);
        done = `Deleted ${action.project} ${action.version} (${r.deleted.length} file${r.deleted.length === 1 ? '' : 's'}).`;
        break;
      }
      case 'delete-file': {
        await link.api.deleteFile(action.project, action.filename);
        done = `Deleted ${action.filename}.`;
        break;
      }
    }
    // The events say the same, but do not wait for them.
    void this.loadDetail();
    this.snapshot().catch(() => undefined);
    return done;
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      const streamAbort = new AbortController();
      this.streamAbort = streamAbort;
      try {
        const link = await this.connect();
        if (this.stopped) return;
        this.link = link;
        let opened!: () => void;
        const open = new Promise<void>((resolve) => (opened = resolve));
        const resume = resumeFrom(this.store.getState());
        const stream = link.api.events({
          ...(resume !== undefined ? { lastEventId: resume } : {}),
          signal: streamAbort.signal,
          onOpen: opened,
          onEvent: (event, id) => this.onEvent(event, id),
          onUnknown: (type, data, id) => this.store.enqueue(unknownEvent(type, data, id)),
          ...(this.options.idleMs !== undefined ? { idleMs: this.options.idleMs } : {}),
        });
        stream.catch(() => undefined);
        await Promise.race([open, stream]);
        if (this.stopped) return;
        // Resuming, the daemon replays what was missed (or says resync, which takes a snapshot).
        if (resume === undefined) await this.snapshot();
        attempt = 0;
        this.store.dispatch({ type: 'connection', connection: { state: 'live', since: Date.now() } });
        void this.loadDetail();
        await stream;
      } catch (err) {
        streamAbort.abort();
        if (this.stopped) return;
        attempt += 1;
        const wait = this.backoffMs[Math.min(attempt, this.backoffMs.length) - 1] ?? 1000;
        this.store.dispatch({ type: 'connection', connection: { state: 'reconnecting', attempt, retryAt: Date.now() + wait, reason: messageOf(err) } });
        await this.sleep(wait);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private onEvent(event: IndexEvent, id: string | undefined): void {
    if (event.type === 'resync') {
      this.store.dispatch({ type: 'resync', id });
      this.snapshot().catch(() => undefined);
      void this.loadDetail();
      return;
    }
    this.store.enqueue(id !== undefined ? { ...event, id } : event);
  }

  /** Health and the project list, once at a time (a request meanwhile runs once more after). */
  private snapshot(): Promise<void> {
    if (this.snapshotRun) {
      this.snapshotAgain = true;
      return this.snapshotRun;
    }
    const link = this.link;
    if (!link) return Promise.resolve();
    this.snapshotRun = (async () => {
      try {
        do {
          this.snapshotAgain = false;
          this.store.dispatch({ type: 'sync-start' });
          const [health, list, watches] = await Promise.all([link.api.health(), link.api.listProjects(), link.api.watches?.().catch(() => undefined)]);
          this.lastSnapshotAt = Date.now();
          this.store.dispatch({
            type: 'snapshot',
            health,
            projects: list.projects,
            lastEventId: list.lastEventId,
            ...(watches ? { watches: watches.watches } : {}),
            url: link.url,
            at: this.lastSnapshotAt,
          });
        } while (this.snapshotAgain && !this.stopped);
      } catch (err) {
        this.store.dispatch({ type: 'sync-failed' });
        throw err;
      } finally {
        this.snapshotRun = undefined;
      }
    })();
    return this.snapshotRun;
  }

  /** Takes the snapshots and detail fetches that events asked for, spaced out. */
  private followChanges(): void {
    if (this.stopped) return;
    const s = this.store.getState();
    if (s.connection.state !== 'live') return;
    if (s.stale && !this.snapshotRun && !this.snapshotTimer) {
      const wait = Math.max(0, this.lastSnapshotAt + this.resnapshotMs - Date.now());
      this.snapshotTimer = setTimeout(() => {
        this.snapshotTimer = undefined;
        this.snapshot().catch(() => {
          // The stream reports a daemon that went away; otherwise wait longer before the next try.
          this.lastSnapshotAt = Date.now() + 4 * this.resnapshotMs;
        });
      }, wait);
    }
    if (s.detail?.stale && s.detail.name === this.selected && !this.detailLoading && !this.detailTimer) {
      this.detailTimer = setTimeout(() => void this.loadDetail(), Math.max(this.detailDelayMs, 200));
    }
  }

  private async loadDetail(): Promise<void> {
    clearTimeout(this.detailTimer);
    this.detailTimer = undefined;
    const name = this.selected;
    const link = this.link;
    if (name === undefined || !link || this.stopped) return;
    this.detailLoading = true;
    try {
      this.store.dispatch({ type: 'detail-request', name });
      const data = await link.api.project(name);
      if (!this.stopped) this.store.dispatch({ type: 'detail', name, data });
    } catch (err) {
      if (!this.stopped) this.store.dispatch({ type: 'detail-error', name, message: messageOf(err) });
    } finally {
      this.detailLoading = false;
    }
  }
}
