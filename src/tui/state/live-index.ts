/**
 * The dashboard's live picture of the index, as a pure reducer: a snapshot from the
 * control API (health, the project list, the selected project's detail), kept current
 * by the events of `/-/events`, plus a bounded feed of recent activity in which the
 * downloads of one file collapse into one line while they keep coming.
 *
 * Every event has an increasing id, and every snapshot (the list, a detail) names the id
 * of the newest event it reflects. Counts take an event only when it is newer than what
 * they were built from, and the newest events are kept for a while, so that a snapshot
 * that arrives after events it does not reflect gets them applied again: nothing is
 * counted twice or lost, whatever order the stream and the answers arrive in.
 *
 * Events arrive in batches (the store applies what came in the last ~100 ms at once), so
 * a storm of downloads costs one copy of the project map per batch. What an event cannot
 * settle alone (a new latest version, a yank's effect on it) marks the list stale, and
 * the connection takes a fresh snapshot.
 */
import { RECENT_DAYS, type FileDownloads, type Health, type InstallerCount, type ProjectDetail, type ProjectSummary, type ReleaseInfo, type WatchInfo } from '../../shared/api.js';
import type { LiveEvent } from './model.js';

/** How many recent events the activity feed keeps. */
export const FEED_LENGTH = 200;
/** Downloads of one file this close together share a feed line. */
export const DOWNLOAD_MERGE_MS = 10_000;
/** How many of the newest feed lines a download may join (every file busy within DOWNLOAD_MERGE_MS keeps one line). */
const MERGE_DEPTH = 40;
/** A batch of downloads of more files than this is one feed line, not one per file. */
export const FEED_FILES_PER_BATCH = 8;
/** How many of the newest events are kept to be applied again to a snapshot that predates them. */
export const RECENT_EVENTS = 128;

export type Connection =
  | { state: 'connecting' }
  | { state: 'live'; since: number }
  /** Waiting to try again; `retryAt` is a `Date.now()` time. */
  | { state: 'reconnecting'; attempt: number; retryAt: number; reason: string };

/** The downloads of one file, out of one or more `downloads` events, as a feed line shows them. */
export interface FileDownloadsLine {
  type: 'download';
  time: string;
  project: string;
  filename: string;
  installers: InstallerCount[];
}

/** What a feed line shows: an event, or the downloads of one file. */
export type FeedEvent = Exclude<LiveEvent, { type: 'downloads' }> | FileDownloadsLine | (LiveEvent & { type: 'downloads' });

/** One line of the activity feed. */
export interface FeedItem {
  /** Increasing number of the line, for a paused feed to hold its place. */
  seq: number;
  event: FeedEvent;
  /** Downloads this line stands for (1 for other events). */
  count: number;
}

export interface DetailState {
  name: string;
  data?: ProjectDetail;
  error?: string;
  /** An event changed this project: fetch it again. */
  stale: boolean;
}

export interface LiveIndexState {
  /** The daemon's base URL, as the last snapshot came from. */
  url?: string;
  health?: Health;
  /** The watched build folders (`pyrepo watch`), as the last snapshot found them; absent when the daemon did not say. */
  watches?: readonly WatchInfo[];
  /** `Date.now()` when `health` arrived (uptime counts on from there). */
  healthAt?: number;
  /** Projects by normalized name. */
  projects: ReadonlyMap<string, ProjectSummary>;
  /** The UTC day the last value of every `downloads30d` is (the snapshot's today). */
  listDay?: string;
  /**
   * Counts changes of the project list other than download counts (projects added or
   * gone, files, upload times): the list re-sorts when it changes, while a storm of
   * downloads moves only `countsVersion`, which matters only to the download columns.
   */
  orderVersion: number;
  countsVersion: number;
  /** The first snapshot has arrived. */
  loaded: boolean;
  /** Set when a change needs a fresh snapshot (a new project, a deletion, a yank). */
  stale: boolean;
  detail?: DetailState;
  /** Newest first, at most FEED_LENGTH. */
  feed: readonly FeedItem[];
  feedSeq: number;
  connection: Connection;
  /** The id of the newest event the stream brought (or a `resync` set): sent as `Last-Event-ID` when reconnecting. */
  lastEventId?: string;
  /** The id of the newest event the project list counts (its snapshot's `lastEventId`, then every event applied). */
  countedEventId?: string;
  /** The newest events with ids, oldest first, at most RECENT_EVENTS. */
  recent: readonly LiveEvent[];
}

export type LiveIndexAction =
  /** A snapshot is being asked for: whatever asked for it is settled. */
  | { type: 'sync-start' }
  /** The snapshot did not come. */
  | { type: 'sync-failed' }
  | { type: 'snapshot'; projects: ProjectSummary[]; lastEventId: string; health?: Health; watches?: WatchInfo[]; url?: string; at?: number }
  | { type: 'event'; event: LiveEvent }
  | { type: 'events'; events: readonly LiveEvent[] }
  /** The daemon cannot replay what was missed: the stream goes on from `id` (the connection takes a snapshot at once). */
  | { type: 'resync'; id: string | undefined }
  | { type: 'connection'; connection: Connection }
  | { type: 'detail-request'; name: string }
  | { type: 'detail'; name: string; data: ProjectDetail }
  | { type: 'detail-error'; name: string; message: string };

export const initialLiveIndex: LiveIndexState = {
  projects: new Map(),
  orderVersion: 0,
  countsVersion: 0,
  loaded: false,
  stale: false,
  feed: [],
  feedSeq: 0,
  connection: { state: 'connecting' },
  recent: [],
};

/** Whether the event `id` is at or before `position` (ids are increasing integers); false when either is unknown. */
export function notAfter(id: string | undefined, position: string | undefined): boolean {
  if (id === undefined || position === undefined) return false;
  if (/^\d+$/.test(id) && /^\d+$/.test(position)) return id.length === position.length ? id <= position : id.length < position.length;
  return id === position;
}

/** Where to resume the stream from: the newest event seen, or what the snapshot reflects. */
export function resumeFrom(state: LiveIndexState): string | undefined {
  return state.lastEventId ?? state.countedEventId;
}

export function liveIndexReducer(state: LiveIndexState, action: LiveIndexAction): LiveIndexState {
  switch (action.type) {
    case 'sync-start':
      // The snapshot about to be asked for covers every change so far; what it does not
      // (events after its id) is applied to it again and may set `stale` again.
      return { ...state, stale: false };
    case 'sync-failed':
      return { ...state, stale: true };
    case 'snapshot': {
      let next: LiveIndexState = {
        ...state,
        projects: new Map(action.projects.map((p) => [p.name, p])),
        listDay: new Date(action.at ?? Date.now()).toISOString().slice(0, 10),
        countedEventId: action.lastEventId,
        orderVersion: state.orderVersion + 1,
        countsVersion: state.countsVersion + 1,
        ...(action.health ? { health: action.health, healthAt: action.at ?? Date.now() } : {}),
        ...(action.watches ? { watches: action.watches } : {}),
        ...(action.url ? { url: action.url } : {}),
        loaded: true,
      };
      // Events that came before the answer but after what it reflects.
      const newer = state.recent.filter((e) => !notAfter(e.id, action.lastEventId));
      if (newer.length > 0) next = countEvents(next, newer);
      return next;
    }
    case 'resync':
      return action.id !== undefined ? { ...state, lastEventId: action.id } : state;
    case 'connection':
      return { ...state, connection: action.connection };
    case 'detail-request':
      if (state.detail?.name === action.name) return { ...state, detail: { ...state.detail, stale: false } };
      return { ...state, detail: { name: action.name, stale: false } };
    case 'detail': {
      if (state.detail?.name !== action.name) return state;
      let data = action.data;
      for (const e of state.recent) {
        if (e.type === 'downloads' && !notAfter(e.id, data.lastEventId)) data = countFileDownloads(data, e);
      }
      return { ...state, detail: { name: action.name, data, stale: state.detail.stale } };
    }
    case 'detail-error':
      if (state.detail?.name !== action.name) return state;
      return { ...state, detail: { ...state.detail, error: action.message } };
    case 'event':
      return applyEvents(state, [action.event]);
    case 'events':
      return applyEvents(state, action.events);
  }
}

/** Applies a batch of events from the stream: to the feed, the counts and the open detail, each only once. */
function applyEvents(state: LiveIndexState, events: readonly LiveEvent[]): LiveIndexState {
  let { feed, feedSeq, lastEventId, detail } = state;
  const fresh: LiveEvent[] = [];
  for (const event of events) {
    // A replay may repeat what the stream brought before it broke.
    if (notAfter(event.id, lastEventId)) continue;
    if (event.id !== undefined) lastEventId = event.id;
    fresh.push(event);
    ({ feed, feedSeq } = addToFeed(feed, feedSeq, event));
    const d =
      event.type === 'downloads' ? (event.files.some((f) => f.project === detail?.name) ? detail : undefined) : detail?.name === event.project ? detail : undefined;
    if (!d) continue;
    switch (event.type) {
      case 'downloads':
        if (d.data && !notAfter(event.id, d.data.lastEventId)) detail = { ...d, data: countFileDownloads(d.data, event) };
        break;
      case 'delete':
        detail = { ...d, stale: true, ...(d.data ? { data: withoutFile(d.data, event.filename) } : {}) };
        break;
      case 'yank':
      case 'unyank': {
        const yanked = event.type === 'yank';
        const reason = event.type === 'yank' ? event.reason : null;
        detail = { ...d, stale: true, ...(d.data ? { data: withRelease(d.data, event.version, (r) => ({ ...r, yanked, yankedReason: reason })) } : {}) };
        break;
      }
      default:
        detail = { ...d, stale: true };
    }
  }
  if (fresh.length === 0) return state;
  const withIds = fresh.filter((e) => e.id !== undefined);
  const recent = withIds.length === 0 ? state.recent : [...state.recent, ...withIds].slice(-RECENT_EVENTS);
  const counted = countEvents({ ...state, feed, feedSeq, lastEventId, recent, ...(detail ? { detail } : {}) }, fresh);
  return counted;
}

/** Applies events newer than `countedEventId` to the project list (one copy of the map for all of them). */
function countEvents(state: LiveIndexState, events: readonly LiveEvent[]): LiveIndexState {
  let projects: Map<string, ProjectSummary> | undefined;
  const project = (name: string): ProjectSummary | undefined => (projects ?? state.projects).get(name);
  const setProject = (p: ProjectSummary) => {
    projects ??= new Map(state.projects);
    projects.set(p.name, p);
  };
  let { stale, countedEventId } = state;
  let reorder = false;
  let recount = false;
  for (const event of events) {
    if (notAfter(event.id, countedEventId)) continue;
    if (event.id !== undefined) countedEventId = event.id;
    switch (event.type) {
      case 'downloads': {
        const day = event.time.slice(0, 10);
        // Past midnight the 30-day series shift: the snapshot says how.
        if (state.listDay !== undefined && day !== state.listDay) stale = true;
        for (const f of event.files) {
          const p = project(f.project);
          if (!p) continue;
          setProject({ ...p, downloads: p.downloads + f.downloads, downloads30d: day === state.listDay ? bumpLast(p.downloads30d, f.downloads) : p.downloads30d });
          recount = true;
        }
        break;
      }
      case 'upload': {
        stale = true;
        reorder = true;
        const p = project(event.project);
        const uploadedBy = event.user ?? null;
        // The latest version and the count of versions follow PEP 440 and yanks: the snapshot says.
        if (p) setProject({ ...p, files: p.files + 1, lastUpload: event.time, lastUploadedBy: uploadedBy });
        else {
          setProject({
            name: event.project,
            displayName: event.project,
            latestVersion: event.version,
            versions: 1,
            files: 1,
            downloads: 0,
            downloads30d: new Array<number>(RECENT_DAYS).fill(0),
            lastUpload: event.time,
            lastUploadedBy: uploadedBy,
          });
        }
        break;
      }
      case 'delete': {
        stale = true;
        const p = project(event.project);
        if (p) {
          setProject({ ...p, files: Math.max(0, p.files - 1) });
          reorder = true;
        }
        break;
      }
      case 'refused':
        // A build not published changes nothing in the list; the feed says why.
        break;
      default:
        // Yanks, and watched folders that changed state (the header shows them).
        stale = true;
    }
  }
  return {
    ...state,
    projects: projects ?? state.projects,
    orderVersion: state.orderVersion + (reorder ? 1 : 0),
    countsVersion: state.countsVersion + (recount ? 1 : 0),
    stale,
    ...(countedEventId !== undefined ? { countedEventId } : {}),
  };
}

function addToFeed(feed: readonly FeedItem[], feedSeq: number, event: LiveEvent): { feed: readonly FeedItem[]; feedSeq: number } {
  if (event.type === 'downloads') {
    if (event.files.length > FEED_FILES_PER_BATCH) {
      const total = event.files.reduce((a, f) => a + f.downloads, 0);
      return push(feed, feedSeq, event, total);
    }
    for (const f of event.files) ({ feed, feedSeq } = addFileToFeed(feed, feedSeq, event.time, f));
    return { feed, feedSeq };
  }
  return push(feed, feedSeq, event, 1);
}

function push(feed: readonly FeedItem[], feedSeq: number, event: FeedEvent, count: number): { feed: readonly FeedItem[]; feedSeq: number } {
  const seq = feedSeq + 1;
  return { feed: [{ seq, event, count }, ...feed].slice(0, FEED_LENGTH), feedSeq: seq };
}

/** A file's downloads join a recent line of the same file (which moves to the top), or start one. */
function addFileToFeed(feed: readonly FeedItem[], feedSeq: number, time: string, f: FileDownloads): { feed: readonly FeedItem[]; feedSeq: number } {
  const t = Date.parse(time);
  const at = feed.slice(0, MERGE_DEPTH).findIndex(
    (item) => item.event.type === 'download' && item.event.filename === f.filename && Math.abs(t - Date.parse(item.event.time)) <= DOWNLOAD_MERGE_MS,
  );
  const line: FileDownloadsLine = { type: 'download', time, project: f.project, filename: f.filename, installers: f.installers };
  if (at === -1) return push(feed, feedSeq, line, f.downloads);
  const merged = feed[at] as FeedItem & { event: FileDownloadsLine };
  const seq = feedSeq + 1;
  const rest = [...feed.slice(0, at), ...feed.slice(at + 1)];
  return {
    feed: [{ seq, event: { ...line, installers: addInstallers(merged.event.installers, f.installers) }, count: merged.count + f.downloads }, ...rest],
    feedSeq: seq,
  };
}

/** Two installer splits added together, most downloads first. */
export function addInstallers(a: readonly InstallerCount[], b: readonly InstallerCount[]): InstallerCount[] {
  const sum = new Map(a.map((c) => [c.installer, { ...c }]));
  for (const c of b) {
    const s = sum.get(c.installer);
    if (s) {
      s.downloads += c.downloads;
      s.ci += c.ci;
    } else sum.set(c.installer, { ...c });
  }
  return [...sum.values()].sort((x, y) => y.downloads - x.downloads);
}

/** The last value is today's (the snapshot's day; past midnight a new snapshot realigns). */
function bumpLast(values: readonly number[], n: number): number[] {
  const out = [...values];
  if (out.length > 0) out[out.length - 1] = (out[out.length - 1] as number) + n;
  return out;
}

function withRelease(data: ProjectDetail, version: string, update: (r: ReleaseInfo) => ReleaseInfo): ProjectDetail {
  return { ...data, releases: data.releases.map((r) => (r.version === version ? update(r) : r)) };
}

function withoutFile(data: ProjectDetail, filename: string): ProjectDetail {
  return {
    ...data,
    releases: data.releases.map((r) => (r.files.some((f) => f.filename === filename) ? { ...r, files: r.files.filter((f) => f.filename !== filename) } : r)),
  };
}

/** A detail with the downloads of its files in a `downloads` event added: per file, release, day and installer. */
function countFileDownloads(data: ProjectDetail, event: LiveEvent & { type: 'downloads' }): ProjectDetail {
  const mine = new Map(event.files.filter((f) => f.project === data.name).map((f) => [f.filename, f]));
  if (mine.size === 0) return data;
  const n = [...mine.values()].reduce((a, f) => a + f.downloads, 0);
  const day = event.time.slice(0, 10);
  const byDay = [...data.downloadsByDay];
  const last = byDay[byDay.length - 1];
  if (last?.day === day) byDay[byDay.length - 1] = { day, downloads: last.downloads + n };
  else if (!last || last.day < day) byDay.push({ day, downloads: n });
  const releases = data.releases.map((r) => {
    const added = r.files.reduce((a, f) => a + (mine.get(f.filename)?.downloads ?? 0), 0);
    if (added === 0) return r;
    return { ...r, downloads: r.downloads + added, files: r.files.map((f) => (mine.has(f.filename) ? { ...f, downloads: f.downloads + (mine.get(f.filename)?.downloads ?? 0) } : f)) };
  });
  let installers = data.downloadsByInstaller;
  for (const f of mine.values()) installers = addInstallers(installers, f.installers);
  return { ...data, downloads: data.downloads + n, downloadsByDay: byDay, downloadsByInstaller: installers, releases };
}
