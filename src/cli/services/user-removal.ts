/**
 * `pyrepo user remove`: the user goes from the files the CLI keeps (password, role,
 * tokens) and from the projects the daemon keeps in its catalog, together.
 *
 * A project nobody owns goes to whoever uploads it next, so removing a user must not leave
 * one ownerless: they are taken off every project that keeps an owner without them, and
 * stay the owner of the projects they alone own (or alone maintain), which only admins
 * (and their other maintainers) may then upload to until an admin hands them over. The
 * user themself is removed at once either way: their password and tokens stop working.
 */
import type { OwnershipRemoval } from '../../shared/api.js';
import type { PyrepoPaths } from '../../shared/paths.js';
import { AbortError } from '../errors.js';
import { asAbort, connectToDaemon, EXIT_NOT_RUNNING } from './daemon-access.js';
import { checkRemovable, removeUser, type UserFiles } from './users.js';

export interface UserRemoval {
  user: string;
  /** Tokens revoked with the user. */
  tokens: number;
  /** What happened to their projects. */
  ownerships: OwnershipRemoval;
}

/** Removes a user and what they own where someone else remains; see the module comment. */
export async function removeUserEverywhere(paths: PyrepoPaths, files: UserFiles, name: string, adminUser: string): Promise<UserRemoval> {
  checkRemovable(files, name, adminUser);
  let daemon;
  try {
    daemon = await connectToDaemon(paths);
  } catch (err) {
    if (err instanceof AbortError && err.exitCode === EXIT_NOT_RUNNING) {
      throw new AbortError(
        `The pyrepo daemon is not running, and it keeps which projects '${name}' owns; nothing was changed.`,
        `Start it (\`pyrepo start\`) and run \`pyrepo user remove ${name}\` again.`,
        EXIT_NOT_RUNNING,
      );
    }
    throw err;
  }
  // Projects first: if the daemon refuses, the user is still there to try again with.
  const ownerships = await daemon.client.removeOwnerships(name).catch((err: unknown) => {
    throw asAbort(err);
  });
  const { tokens } = removeUser(files, name, adminUser);
  return { user: name, tokens, ownerships };
}
