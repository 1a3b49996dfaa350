/**
 * What the dashboard needs of a daemon: the control API calls it makes and the event
 * stream it follows, both the shared client's. The CLI hands in a `Connect` that finds the
 * running daemon (again after a restart, perhaps on another port); tests hand in fakes.
 */
import type { DaemonClient, EventStreamOptions } from '../../shared/client.js';

/** The control API calls of the dashboard, and `/-/events` (the shared client has them all). */
export type DaemonApi = Pick<DaemonClient, 'health' | 'listProjects' | 'project' | 'yank' | 'unyank' | 'deleteRelease' | 'deleteFile' | 'events'> &
  /** The watched build folders, for the header (a daemon without auto-publish has none). */
  Partial<Pick<DaemonClient, 'watches'>>;

export type FollowOptions = EventStreamOptions;

/** One connection to a running daemon. */
export interface DaemonLink {
  /** Its base URL (no trailing slash). */
  url: string;
  api: DaemonApi;
}

/** Finds the running daemon and connects to it; rejects with a message when it cannot. */
export type Connect = () => Promise<DaemonLink>;

/** A link over the shared client. */
export function clientLink(client: DaemonClient): DaemonLink {
  return { url: client.baseUrl, api: client };
}
