/**
 * Who may upload to a project: the one rule the upload route and auto-publish (a watched
 * build folder publishes as the user who registered it) both apply.
 *
 * - Nobody signed in (uploads open to everyone, as the settings say): anything goes, and
 *   nobody claims the project.
 * - A reader may not upload; a read-only token may not either; a token limited to projects
 *   may upload only to those.
 * - Admins may upload anywhere. Anyone else may upload to a project nobody owns yet (and
 *   then owns it) or to one they own or maintain.
 */
import { Forbidden } from '../errors.js';
import type { CatalogStore } from '../stores/catalog-store.js';
import type { Identity } from './identities.js';

/** Throws 403 unless `who` may upload to `project` (normalized). */
export async function checkUpload(catalog: Pick<CatalogStore, 'owners'>, who: Identity | undefined, project: string): Promise<void> {
  if (!who) return;
  if (who.role === 'reader') throw new Forbidden(`The user '${who.user}' may only read (role reader).`);
  if (who.token?.readOnly) throw new Forbidden(`The token ${who.token.id} is read-only.`);
  if (who.token?.projects && !who.token.projects.includes(project)) {
    throw new Forbidden(`The given token isn't allowed to upload to project '${project}'.`);
  }
  if (who.role === 'admin') return;
  const owners = await catalog.owners(project);
  if (owners.length > 0 && !owners.some((o) => o.user === who.user)) {
    throw new Forbidden(`The user '${who.user}' isn't allowed to upload to project '${project}'.`);
  }
}

/** After a successful upload: the first (signed-in) uploader of a project owns it. True when this one did. */
export async function claimProject(catalog: Pick<CatalogStore, 'owners' | 'addOwner'>, who: Identity | undefined, project: string): Promise<boolean> {
  if (!who || (await catalog.owners(project)).length > 0) return false;
  await catalog.addOwner(project, who.user, 'owner');
  return true;
}
