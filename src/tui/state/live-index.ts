/**
 * The dashboard's live picture of the index, as a pure reducer: a snapshot of the
 * projects from the control API, kept current by the events of `/-/events`
 * (download counts rise, uploads add files, deletions and yanks show up), plus a
 * bounded feed of recent activity. Rendering lives elsewhere; this is tested alone.
 */
import type { IndexEvent, ProjectSummary } from '../../shared/api.js';

/** How many recent events the activity feed keeps. */
export const FEED_LENGTH = 200;

export interface LiveIndexState {
  /** Projects by normalized name. */
  projects: ReadonlyMap<string, ProjectSummary>;
  /** Newest first, at most FEED_LENGTH. */
  feed: readonly IndexEvent[];
  connection: 'connecting' | 'live' | 'lost';
  /** Set when a change needs a fresh snapshot (a new project, a deletion, a yank). */
  stale: boolean;
}

export type LiveIndexAction =
  | { type: 'snapshot'; projects: ProjectSummary[] }
  | { type: 'event'; event: IndexEvent }
  | { type: 'connection'; state: LiveIndexState['connection'] };

export const initialLiveIndex: LiveIndexState = { projects: new Map(), feed: [], connection: 'connecting', stale: false };

function withProject(state: LiveIndexState, name: string, update: (p: ProjectSummary) => ProjectSummary): ReadonlyMap<string, ProjectSummary> {
  const current = state.projects.get(name);
  if (!current) return state.projects;
  const next = new Map(state.projects);
  next.set(name, update(current));
  return next;
}

export function liveIndexReducer(state: LiveIndexState, action: LiveIndexAction): LiveIndexState {
  switch (action.type) {
    case 'snapshot':
      return { ...state, projects: new Map(action.projects.map((p) => [p.name, p])), stale: false };
    case 'connection':
      return { ...state, connection: action.state };
    case 'event': {
      const { event } = action;
      const feed = [event, ...state.feed].slice(0, FEED_LENGTH);
      switch (event.type) {
        case 'download':
          return { ...state, feed, projects: withProject(state, event.project, (p) => ({ ...p, downloads: p.downloads + 1 })) };
        case 'upload': {
          const projects = withProject(state, event.project, (p) => ({ ...p, files: p.files + 1, lastUpload: event.time }));
          // Version counts and the latest version follow PEP 440 and yank rules: a new snapshot says.
          return { ...state, feed, projects, stale: true };
        }
        default:
          return { ...state, feed, stale: true };
      }
    }
  }
}
