/**
 * The events the dashboard applies, as the daemon sends them (the control API's types from
 * src/shared/api.ts are the dashboard's own), with their ids, plus the one shape a newer
 * daemon may add: an event of a type this dashboard does not know, shown in the feed and
 * answered with a fresh snapshot.
 */
import type { IndexEvent } from '../../shared/api.js';

export { INSTALLERS, type Installer, type InstallerCount } from '../../shared/api.js';

/** An event of a type this dashboard does not know (from a newer daemon). */
export interface UnknownEvent {
  type: 'other';
  /** The SSE `event:` field. */
  name: string;
  time: string;
  /** Its project and version or file, when it names them. */
  project: string;
  summary: string;
}

/** An event of `/-/events` as the dashboard applies it: with its `id:`, `resync` left to the connection. */
export type LiveEvent = (Exclude<IndexEvent, { type: 'resync' }> | UnknownEvent) & {
  /** The SSE `id:` (every event of the daemon has one; a test's may not). */
  id?: string;
};

const str = (v: unknown): v is string => typeof v === 'string';

/** Reads an event the shared client did not recognise: its type, and what it names. */
export function unknownEvent(name: string, data: unknown, id?: string): LiveEvent {
  const o = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
  return {
    type: 'other',
    name: str(o.type) ? o.type : name,
    time: str(o.time) ? o.time : new Date().toISOString(),
    project: str(o.project) ? o.project : '',
    summary: [o.version, o.filename].filter(str).join(' '),
    ...(id !== undefined ? { id } : {}),
  };
}
