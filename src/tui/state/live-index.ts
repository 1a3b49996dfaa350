/**
 * The dashboard's live picture of the index, as a pure reducer: a snapshot from the
 * control API (health, the project list, the selected project's detail), kept current
 * by the events of `/-/events`, plus a bounded feed of recent activity in which bursts
 * of downloads of one file collapse into one line.
 *
 * Events arrive in batches (the connection applies what came in the last ~100 ms at
 * once), so a storm of downloads costs one copy of the project map per batch, not per
 * download. What an event cannot settle alone (a new latest version, a yank's effect on
 * it) marks the list stale, and the connection takes a fresh snapshot.
 */
import type { DetailView, HealthView, LiveEvent, ProjectView, ReleaseView } from './model.js';

/** How many recent events the activity feed keeps. */
export const FEED_LENGTH = 200;
/** Downloads of one file this close together share a feed line. */
export const DOWNLOAD_MERGE_MS = 10_000;
/** How many of the newest feed lines a download may join. */
const MERGE_DEPTH = 8;

export type Connection =
  | { state: 'connecting' }
  | { state: 'live'; since: number }
  /** Waiting to try again; `retryAt` is a `Date.now()` time. */
  | { state: 'reconnecting'; attempt: number; retryAt: number; reason: string };

/** One line of the activity feed: an event, or a burst of downloads of one file. */
export interface FeedItem {
  /** Increasing number of the line, for a paused feed to hold its place. */
  seq: number;
  event: LiveEvent;
  /** Downloads this line stands for (1 for other events). */
  count: number;
}

export interface DetailState {
  name: string;
  data?: DetailView;
  error?: string;
  /** An event changed this project: fetch it again. */
  stale: boolean;
}

export interface LiveIndexState {
  /** The daemon's base URL, as the last snapshot came from. */
  url?: string;
  health?: HealthView;
  /** `Date.now()` when `health` arrived (uptime counts on from there). */
  healthAt?: number;
  /** Projects by normalized name. */
  projects: ReadonlyMap<string, ProjectView>;
  /**
   * Counts changes of the project list other than download counts (projects added or
   * gone, files, upload times): the list re-sorts when it changes, while a storm of
   * downloads moves only `countsVersion`, which matters only to the download columns.
   */
  orderVersion: number;
  countsVersion: number;
  /** The first snapshot has arrived. */
  loaded: boolean;
  /**
   * A snapshot is on its way: downloads counted meanwhile wait in `deferred` and are added
   * to it (the daemon's list counts lag its downloads by up to a second, so a download
   * seen during the snapshot is more likely missing from it than in it).
   */
  syncing: boolean;
  deferred: readonly DownloadEvent[];
  /** Set when a change needs a fresh snapshot (a new project, a deletion, a yank). */
  stale: boolean;
  detail?: DetailState;
  /** Newest first, at most FEED_LENGTH. */
  feed: readonly FeedItem[];
  feedSeq: number;
  connection: Connection;
  /** The id of the newest event seen: sent as `Last-Event-ID` when reconnecting. */
  lastEventId?: string;
}

export type LiveIndexAction =
  | { type: 'sync-start' }
  /** The snapshot did not come: counts follow events again. */
  | { type: 'sync-failed' }
  | { type: 'snapshot'; projects: ProjectView[]; health?: HealthView; url?: string; at?: number }
  | { type: 'event'; event: LiveEvent }
  | { type: 'events'; events: readonly LiveEvent[] }
  | { type: 'connection'; connection: Connection }
  | { type: 'detail-request'; name: string }
  | { type: 'detail'; name: string; data: DetailView }
  | { type: 'detail-error'; name: string; message: string };

type DownloadEvent = LiveEvent & { type: 'download' };

export const initialLiveIndex: LiveIndexState = {
  projects: new Map(),
  orderVersion: 0,
  countsVersion: 0,
  loaded: false,
  syncing: false,
  deferred: [],
  stale: false,
  feed: [],
  feedSeq: 0,
  connection: { state: 'connecting' },
};

/** Whether an event id was already seen (ids are increasing integers where the daemon numbers events). */
export function alreadySeen(id: string | undefined, lastEventId: string | undefined): boolean {
  if (id === undefined || lastEventId === undefined) return false;
  if (/^\d+$/.test(id) && /^\d+$/.test(lastEventId)) return BigInt(id) <= BigInt(lastEventId);
  return id === lastEventId;
}

export function liveIndexReducer(state: LiveIndexState, action: LiveIndexAction): LiveIndexState {
  switch (action.type) {
    case 'sync-start':
      // The snapshot about to be asked for covers every change so far; changes that arrive
      // while it is on its way may be missing from it, and set `stale` again.
      return { ...state, syncing: true, stale: false };
    case 'sync-failed':
      return {
        ...state,
        syncing: false,
        stale: true,
        deferred: [],
        projects: withDownloads(state.projects, state.deferred),
        countsVersion: state.countsVersion + (state.deferred.length > 0 ? 1 : 0),
      };
    case 'snapshot': {
      // Another run of the daemon may number its events afresh: forget the old numbers.
      const restarted = action.health !== undefined && state.health !== undefined && action.health.startedAt !== state.health.startedAt;
      return {
        ...state,
        ...(restarted ? { lastEventId: undefined } : {}),
        projects: withDownloads(new Map(action.projects.map((p) => [p.name, p])), state.deferred),
        orderVersion: state.orderVersion + 1,
        countsVersion: state.countsVersion + 1,
        deferred: [],
        ...(action.health ? { health: action.health, healthAt: action.at ?? Date.now() } : {}),
        ...(action.url ? { url: action.url } : {}),
        loaded: true,
        syncing: false,
      };
    }
    case 'connection':
      return { ...state, connection: action.connection };
    case 'detail-request':
      if (state.detail?.name === action.name) return { ...state, detail: { ...state.detail, stale: false } };
      return { ...state, detail: { name: action.name, stale: false } };
    case 'detail':
      if (state.detail?.name !== action.name) return state;
      return { ...state, detail: { name: action.name, data: action.data, stale: state.detail.stale } };
    case 'detail-error':
      if (state.detail?.name !== action.name) return state;
      return { ...state, detail: { ...state.detail, error: action.message } };
    case 'event':
      return applyEvents(state, [action.event]);
    case 'events':
      return applyEvents(state, action.events);
  }
}

/** Applies a batch of events: one copy of the project map for the whole batch. */
function applyEvents(state: LiveIndexState, events: readonly LiveEvent[]): LiveIndexState {
  let projects: Map<string, ProjectView> | undefined;
  const project = (name: string): ProjectView | undefined => (projects ?? state.projects).get(name);
  const setProject = (p: ProjectView) => {
    projects ??= new Map(state.projects);
    projects.set(p.name, p);
  };
  let { feed, feedSeq, stale, detail, lastEventId } = state;
  const countsWait = state.syncing;
  const deferred: DownloadEvent[] = [];
  let reorder = false;
  let recount = false;

  for (const event of events) {
    if (alreadySeen(event.id, lastEventId)) continue;
    if (event.id !== undefined) lastEventId = event.id;
    const d = detail?.name === event.project ? detail : undefined;
    switch (event.type) {
      case 'download': {
        const n = event.count ?? 1;
        ({ feed, feedSeq } = addDownloadToFeed(feed, feedSeq, event, n));
        // The detail is fetched on its own, not with the snapshot: it counts at once.
        if (d?.data) detail = { ...d, data: countDownload(d.data, event, n) };
        if (countsWait) {
          deferred.push(event);
          break;
        }
        const p = project(event.project);
        if (p) {
          setProject(withDownload(p, n));
          recount = true;
        }
        break;
      }
      case 'upload': {
        ({ feed, feedSeq } = addToFeed(feed, feedSeq, event));
        stale = true;
        if (d) detail = { ...d, stale: true };
        if (countsWait) break;
        reorder = true;
        const p = project(event.project);
        const uploader = 'uploader' in event ? { lastUploader: event.uploader ?? null } : {};
        // The latest version and the count of versions follow PEP 440 and yanks: the snapshot says.
        if (p) setProject({ ...p, files: p.files + 1, lastUpload: event.time, ...uploader });
        else {
          setProject({
            name: event.project,
            displayName: event.project,
            latestVersion: event.version,
            versions: 1,
            files: 1,
            downloads: 0,
            lastUpload: event.time,
            ...uploader,
          });
        }
        break;
      }
      case 'delete': {
        ({ feed, feedSeq } = addToFeed(feed, feedSeq, event));
        stale = true;
        if (d) detail = { ...d, stale: true, ...(d.data ? { data: withoutFile(d.data, event.filename) } : {}) };
        const p = project(event.project);
        if (p && !countsWait) {
          setProject({ ...p, files: Math.max(0, p.files - 1) });
          reorder = true;
        }
        break;
      }
      case 'yank':
      case 'unyank': {
        ({ feed, feedSeq } = addToFeed(feed, feedSeq, event));
        stale = true;
        if (d) {
          const yanked = event.type === 'yank';
          const reason = event.type === 'yank' ? event.reason : null;
          detail = { ...d, stale: true, ...(d.data ? { data: withRelease(d.data, event.version, (r) => ({ ...r, yanked, yankedReason: reason })) } : {}) };
        }
        break;
      }
      case 'other':
        ({ feed, feedSeq } = addToFeed(feed, feedSeq, event));
        stale = true;
        if (d) detail = { ...d, stale: true };
        break;
    }
  }
  return {
    ...state,
    projects: projects ?? state.projects,
    orderVersion: state.orderVersion + (reorder ? 1 : 0),
    countsVersion: state.countsVersion + (recount ? 1 : 0),
    feed,
    feedSeq,
    stale,
    lastEventId,
    ...(deferred.length > 0 ? { deferred: [...state.deferred, ...deferred] } : {}),
    ...(detail ? { detail } : {}),
  };
}

function withDownload(p: ProjectView, n: number): ProjectView {
  return { ...p, downloads: p.downloads + n, ...(p.downloads30d ? { downloads30d: bumpLast(p.downloads30d, n) } : {}) };
}

/** The projects with the downloads of `events` added (a copy when there are any). */
function withDownloads(projects: ReadonlyMap<string, ProjectView>, events: readonly DownloadEvent[]): ReadonlyMap<string, ProjectView> {
  if (events.length === 0) return projects;
  const next = new Map(projects);
  for (const e of events) {
    const p = next.get(e.project);
    if (p) next.set(p.name, withDownload(p, e.count ?? 1));
  }
  return next;
}

function addToFeed(feed: readonly FeedItem[], feedSeq: number, event: LiveEvent): { feed: readonly FeedItem[]; feedSeq: number } {
  const seq = feedSeq + 1;
  return { feed: [{ seq, event, count: 1 }, ...feed].slice(0, FEED_LENGTH), feedSeq: seq };
}

/** A download joins a recent line of the same file (which moves to the top), or starts one. */
function addDownloadToFeed(feed: readonly FeedItem[], feedSeq: number, event: LiveEvent & { type: 'download' }, n: number) {
  const t = Date.parse(event.time);
  const at = feed.slice(0, MERGE_DEPTH).findIndex(
    (f) => f.event.type === 'download' && f.event.filename === event.filename && Math.abs(t - Date.parse(f.event.time)) <= DOWNLOAD_MERGE_MS,
  );
  if (at === -1) {
    const seq = feedSeq + 1;
    return { feed: [{ seq, event, count: n }, ...feed].slice(0, FEED_LENGTH), feedSeq: seq };
  }
  const merged = feed[at] as FeedItem;
  const seq = feedSeq + 1;
  const rest = [...feed.slice(0, at), ...feed.slice(at + 1)];
  return { feed: [{ seq, event, count: merged.count + n }, ...rest], feedSeq: seq };
}

/** The last bucket is today's (the snapshot's day; a new snapshot realigns after midnight). */
function bumpLast(values: readonly number[], n: number): number[] {
  const out = [...values];
  if (out.length > 0) out[out.length - 1] = (out[out.length - 1] as number) + n;
  return out;
}

function withRelease(data: DetailView, version: string, update: (r: ReleaseView) => ReleaseView): DetailView {
  return { ...data, releases: data.releases.map((r) => (r.version === version ? update(r) : r)) };
}

function withoutFile(data: DetailView, filename: string): DetailView {
  return {
    ...data,
    releases: data.releases.map((r) => (r.files.some((f) => f.filename === filename) ? { ...r, files: r.files.filter((f) => f.filename !== filename) } : r)),
  };
}

function countDownload(data: DetailView, event: LiveEvent & { type: 'download' }, n: number): DetailView {
  const day = event.time.slice(0, 10);
  const byDay = [...data.downloadsByDay];
  const last = byDay[byDay.length - 1];
  if (last?.day === day) byDay[byDay.length - 1] = { day, downloads: last.downloads + n };
  else if (!last || last.day < day) byDay.push({ day, downloads: n });
  const releases = data.releases.map((r) =>
    r.files.some((f) => f.filename === event.filename)
      ? { ...r, downloads: r.downloads + n, files: r.files.map((f) => (f.filename === event.filename ? { ...f, downloads: f.downloads + n } : f)) }
      : r,
  );
  let installers = data.installers;
  if (installers && event.installer) {
    installers = {
      byInstaller: { ...installers.byInstaller, [event.installer]: (installers.byInstaller[event.installer] ?? 0) + n },
      ...(installers.ci !== undefined ? { ci: installers.ci + (event.ci ? n : 0) } : {}),
    };
  }
  return { ...data, downloads: data.downloads + n, downloadsByDay: byDay, releases, ...(installers ? { installers } : {}) };
}
