/**
 * What the dashboard needs of a daemon: the control API calls it makes and the event
 * stream it follows. The CLI hands in a `Connect` that finds the running daemon (again
 * after a restart, perhaps on another port); tests hand in fakes.
 */
import type { DeleteResult, YankResult } from '../../shared/api.js';
import type { DaemonClient } from '../../shared/client.js';
import { followEvents, type FollowOptions, type StreamTarget } from './event-stream.js';
import type { DetailView, HealthView, ProjectView } from '../state/model.js';

/** The control API calls of the dashboard (the shared client has them all). */
export interface DaemonApi {
  health(): Promise<HealthView>;
  listProjects(): Promise<{ projects: ProjectView[] }>;
  project(name: string): Promise<DetailView>;
  yank(project: string, version: string, reason?: string): Promise<YankResult>;
  unyank(project: string, version: string): Promise<YankResult>;
  deleteRelease(project: string, version: string): Promise<DeleteResult>;
  deleteFile(project: string, filename: string): Promise<DeleteResult>;
}

/** One connection to a running daemon. */
export interface DaemonLink {
  /** Its base URL (no trailing slash). */
  url: string;
  api: DaemonApi;
  /** Follows `/-/events` until it ends (resolves) or fails (rejects). */
  follow(options: FollowOptions): Promise<void>;
}

/** Finds the running daemon and connects to it; rejects with a message when it cannot. */
export type Connect = () => Promise<DaemonLink>;

/** A link over the shared client, with the event stream at the same address and identity. */
export function clientLink(client: DaemonClient, target: Omit<StreamTarget, 'baseUrl'>): DaemonLink {
  return {
    url: client.baseUrl,
    api: client,
    follow: (options) => followEvents({ ...target, baseUrl: client.baseUrl }, options),
  };
}
