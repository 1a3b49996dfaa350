/**
 * `pyrepo migrate`: copies this installation's index (packages folder and catalog) into a
 * shared one (PostgreSQL and an S3-compatible bucket), or a shared one into this installation.
 * Everything the catalog knows comes along (copy-index.ts), and so do users and API tokens,
 * unless the target has its own: those are kept, and the report says so.
 *
 * The daemon must be stopped: a copy of an index that changes meanwhile would be out of date
 * the moment it ends. A stopped copy resumes when run again.
 */
import { join } from 'node:path';
import { dataLayout, type PyrepoPaths } from '../../shared/paths.js';
import { redactUrl } from '../../shared/redact-url.js';
import { copyIndex, CopyConflictError, type CopyReport, type IndexStores } from '../../daemon/stores/copy-index.js';
import { FolderBlobs } from '../../daemon/stores/folder-blobs.js';
import { identityUsers, readLocalIdentity, writeLocalIdentity, type IdentityDocument } from '../../daemon/stores/identity-document.js';
import { LocalCatalog } from '../../daemon/stores/local-catalog.js';
import { PgCatalog } from '../../daemon/stores/pg-catalog.js';
import { parseS3Url, S3Blobs } from '../../daemon/stores/s3-blobs.js';
import { AbortError } from '../errors.js';
import { probeDaemon } from './daemon-control.js';
import { loadSettings } from './settings-store.js';

export interface MigrateOptions {
  /** `to`: this installation into the shared index; `from`: the shared index into this installation. */
  direction: 'to' | 'from';
  /** `postgres://…` */
  catalog: string;
  /** `s3://bucket/prefix` */
  storage: string;
  progress?: (done: number, total: number, filename: string) => void;
}

export interface MigrateReport extends CopyReport {
  direction: 'to' | 'from';
  /** The PostgreSQL URL without its password. */
  catalog: string;
  storage: string;
  /** Users copied (empty when the target kept its own). */
  usersCopied: string[];
  tokensCopied: number;
  /** Set when the target's users and tokens were kept because it had its own. */
  usersKept?: string[];
}

function checkCatalogUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AbortError(`'${url}' is not a PostgreSQL URL.`, 'Write it as postgres://user@host:5432/database (the password from PGPASSWORD or ~/.pgpass).', 64);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new AbortError(`'${redactUrl(url)}' is not a PostgreSQL URL.`, 'Write it as postgres://user@host:5432/database.', 64);
  }
}

async function openShared(paths: PyrepoPaths, opts: MigrateOptions): Promise<{ catalog: PgCatalog; blobs: S3Blobs }> {
  let location;
  try {
    location = parseS3Url(opts.storage);
  } catch (err) {
    throw new AbortError((err as Error).message, undefined, 64);
  }
  let catalog: PgCatalog;
  try {
    catalog = await PgCatalog.open({ url: opts.catalog });
  } catch (err) {
    throw new AbortError(`Cannot use the PostgreSQL database ${redactUrl(opts.catalog)}: ${(err as Error).message}`, 'Check that it runs and that the URL, user and password (PGPASSWORD or ~/.pgpass) are right.');
  }
  const blobs = new S3Blobs(location, join(paths.dataDir, 's3-spool'));
  try {
    await blobs.prepare();
  } catch (err) {
    await catalog.close();
    await blobs.close();
    throw new AbortError((err as Error).message, 'Check the bucket and the AWS settings (AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or ~/.aws).');
  }
  return { catalog, blobs };
}

/** Users and tokens: copied when the target has none, else the target's are kept. */
async function copyIdentity(
  read: () => Promise<IdentityDocument | undefined>,
  target: () => Promise<IdentityDocument | undefined>,
  write: (doc: IdentityDocument) => Promise<void>,
): Promise<Pick<MigrateReport, 'usersCopied' | 'tokensCopied' | 'usersKept'>> {
  const source = await read();
  if (!source || identityUsers(source).length === 0) return { usersCopied: [], tokensCopied: 0 };
  const there = await target();
  if (there && identityUsers(there).length > 0) {
    const same = there.htpasswd === source.htpasswd && JSON.stringify(there.access) === JSON.stringify(source.access);
    return same ? { usersCopied: identityUsers(source), tokensCopied: source.access.tokens.length } : { usersCopied: [], tokensCopied: 0, usersKept: identityUsers(there) };
  }
  await write(source);
  return { usersCopied: identityUsers(source), tokensCopied: source.access.tokens.length };
}

export async function migrate(paths: PyrepoPaths, opts: MigrateOptions): Promise<MigrateReport> {
  checkCatalogUrl(opts.catalog);
  const probe = await probeDaemon(paths.dataDir);
  if (probe.kind !== 'stopped') {
    throw new AbortError('The daemon is running: a copy of an index that changes meanwhile would be out of date when it ends.', 'Stop it first (`pyrepo stop`), migrate, then start it again.');
  }
  const layout = dataLayout(paths.dataDir);
  const packagesDir = loadSettings(paths).packagesDir ?? layout.defaultPackagesDir;
  const shared = await openShared(paths, opts);
  const local: IndexStores = { catalog: LocalCatalog.open(layout.catalogFile), blobs: FolderBlobs.at(packagesDir) };
  try {
    await local.blobs.prepare();
    const [from, to] = opts.direction === 'to' ? [local, shared] : [shared, local];
    let copied: CopyReport;
    try {
      copied = await copyIndex(from, to, opts.progress);
    } catch (err) {
      if (err instanceof CopyConflictError) throw new AbortError(err.message);
      throw err;
    }
    const localDoc = async () => readLocalIdentity(paths.dataDir);
    const sharedDoc = () => shared.catalog.identityDocument();
    const identity =
      opts.direction === 'to'
        ? await copyIdentity(localDoc, sharedDoc, (doc) => shared.catalog.putIdentityDocument(doc))
        : await copyIdentity(sharedDoc, localDoc, async (doc) => writeLocalIdentity(paths.dataDir, doc));
    return { ...copied, ...identity, direction: opts.direction, catalog: redactUrl(opts.catalog), storage: opts.storage };
  } finally {
    await Promise.allSettled([local.catalog.close(), local.blobs.close(), shared.catalog.close(), shared.blobs.close()]);
  }
}
