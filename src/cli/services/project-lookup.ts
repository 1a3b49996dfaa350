/**
 * One project of the running index, or a message that says it is not there, how to list
 * what is, and which names come close (`pyrepo info reqeusts` → did you mean requests?).
 */
import type { ProjectDetail } from '../../shared/api.js';
import { DaemonRequestError, type DaemonClient } from '../../shared/client.js';
import { normalizeName } from '../../shared/names.js';
import { AbortError } from '../errors.js';
import { closestNames } from '../suggest.js';
import { asAbort } from './daemon-access.js';

/** The error for a project the index does not have, with the names that come close. */
export async function projectNotFound(client: DaemonClient, name: string): Promise<AbortError> {
  const list = await client.listProjects().catch(() => undefined);
  const projects = list?.projects ?? [];
  const byName = new Map(projects.map((p) => [p.name, p.displayName]));
  const close = closestNames(normalizeName(name), [...byName.keys()]).map((n) => byName.get(n) ?? n);
  const guess = close.length > 0 ? ` Did you mean ${close.map((n) => `'${n}'`).join(' or ')}?` : '';
  const next = projects.length === 0 ? 'The index has no projects yet: `pyrepo publish` uploads some.' : '`pyrepo list` lists the projects on the index.';
  return new AbortError(`There is no project '${name}' on the index.${guess}`, next);
}

/** Whether a control API error is the daemon's "no such project" (rather than "no such release"). */
async function isMissingProject(client: DaemonClient, err: unknown, name: string): Promise<boolean> {
  if (!(err instanceof DaemonRequestError) || err.status !== 404) return false;
  return client.project(name).then(
    () => false,
    (again: unknown) => again instanceof DaemonRequestError && again.status === 404,
  );
}

/** `project`'s releases and files; a missing project is an AbortError with suggestions. */
export async function findProject(client: DaemonClient, name: string): Promise<ProjectDetail> {
  try {
    return await client.project(name);
  } catch (err) {
    if (err instanceof DaemonRequestError && err.status === 404) throw await projectNotFound(client, name);
    throw asAbort(err);
  }
}

/**
 * Runs a call about one project; when it fails because the project does not exist, the
 * error says so with suggestions, else it is the call's own error.
 */
export async function aboutProject<T>(client: DaemonClient, name: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (await isMissingProject(client, err, name)) throw await projectNotFound(client, name);
    throw asAbort(err);
  }
}
