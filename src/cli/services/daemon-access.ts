/** Reaching the running daemon from a command, with one message when it is not running. */
import type { DaemonState, Health } from '../../shared/api.js';
import { daemonClientFor, DaemonRequestError, type DaemonClient } from '../../shared/client.js';
import type { PyrepoPaths } from '../../shared/paths.js';
import { AbortError } from '../errors.js';
import { basicAuthorization, readAdminCredentials, secretStore } from './admin-identity.js';
import { probeDaemon } from './daemon-control.js';
import { loadSettings } from './settings-store.js';

/** Exit code when the daemon is not running (as `systemctl status` uses for an inactive unit). */
export const EXIT_NOT_RUNNING = 3;

export interface RunningDaemonAccess {
  client: DaemonClient;
  state: DaemonState;
  health: Health;
  /** The `Authorization` the client sends (the dashboard's event stream sends it too). */
  authorization?: string;
}

/**
 * A client of the running daemon of this installation, sending the admin identity;
 * an AbortError (exit 3) when the daemon does not run.
 */
export async function connectToDaemon(paths: PyrepoPaths): Promise<RunningDaemonAccess> {
  const probe = await probeDaemon(paths.dataDir);
  if (probe.kind === 'stopped') throw new AbortError('The pyrepo daemon is not running.', 'Start it with `pyrepo start`.', EXIT_NOT_RUNNING);
  if (probe.kind === 'unresponsive') {
    throw new AbortError(`The pyrepo daemon (pid ${probe.state.pid}) does not answer: ${probe.reason}`, 'Try again, or `pyrepo restart` it.');
  }
  const admin = await readAdminCredentials(secretStore(paths), loadSettings(paths).adminUser);
  const authorization = admin ? basicAuthorization(admin) : undefined;
  const client = daemonClientFor(probe.state, authorization ? { authorization } : {});
  return { client, state: probe.state, health: probe.health, ...(authorization ? { authorization } : {}) };
}

/** A failed control API call as a message the user can act on. */
export function asAbort(err: unknown): unknown {
  if (!(err instanceof DaemonRequestError)) return err;
  if (err.status === 404) return new AbortError(err.message);
  if (err.status === 0) return new AbortError(err.message, 'Is the daemon still running? `pyrepo status` tells.');
  return new AbortError(`The daemon refused: ${err.message}`);
}
