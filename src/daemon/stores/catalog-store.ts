/**
 * The catalog behind an asynchronous interface, so that the index can keep it in an embedded
 * SQLite file (one daemon, the default) or in PostgreSQL (several daemons sharing one index).
 *
 * The contract every adapter keeps (test/daemon/catalog-store-contract.test.ts checks it):
 * - Every change that pages show (a file added, replaced or removed, a yank or unyank) is
 *   numbered: `serial` grows by at least one per change and never goes back, and
 *   `changesSince(n)` names the project of each change after serial n, in order, so that a
 *   daemon that missed some (a restart, a lost connection) catches up by reading them.
 * - `addFile` with `replace: false` adds a file only if no file of that name exists: two
 *   daemons racing to upload one file name cannot both win; the loser gets FileExistsError.
 * - Download counts are gathered in memory and written in batches (`flushDownloads`); every
 *   reading method includes the counts not written yet.
 */
import type { InstallerCount, Installer } from '../../shared/api.js';
import type { ActivityRecord, Actor, DownloadCountRow, FileRecord, ProjectRecord, ProjectSummaryRecord, ReleaseState, ReleaseVersion, ServedFile } from '../services/catalog.js';

/** `addFile` refused: a file of that name is already on the index (and `replace` was not asked). */
export class FileExistsError extends Error {
  override readonly name = 'FileExistsError';
  constructor(
    readonly filename: string,
    /** The sha256 of the file already there: the same content is a duplicate, not a conflict. */
    readonly existingSha256: string,
  ) {
    super(`A file named '${filename}' is already on the index.`);
  }
}

/** One file to add, with its project's display name and its core metadata bytes. */
export interface NewFile {
  file: FileRecord;
  displayName: string;
  metadataBytes: Buffer;
  /** Journaled with an upload (API or watched folder) as its reason, e.g. that it replaced a file. */
  note?: string;
}

/** One change: its serial and the project it touched. */
export interface CatalogChange {
  serial: number;
  project: string;
}

export type Role = 'owner' | 'maintainer';

export interface CatalogStore {
  /** The newest change this store has made or seen. */
  readonly serial: number;

  file(filename: string): Promise<FileRecord | undefined>;
  /** What serving a file's bytes needs (its relpath, project and sha256), by filename. */
  servedFile(filename: string): Promise<ServedFile | undefined>;
  fileByPath(relpath: string): Promise<FileRecord | undefined>;
  filesOf(project: string): Promise<FileRecord[]>;
  /** `size:mtime` of every file by relpath (reconciling with a packages folder). */
  fileStamps(): Promise<Map<string, string>>;
  /** Filenames of the files whose relpath starts with `dir/`. */
  filesUnder(dir: string): Promise<string[]>;
  project(name: string): Promise<ProjectRecord | undefined>;
  projects(): Promise<ProjectRecord[]>;
  counts(): Promise<{ projects: number; files: number }>;

  /**
   * Adds files (creating their projects on first sight) in one transaction and one change per
   * project. With `replace: false`, a name already taken fails the whole call with FileExistsError.
   * Uploads are journaled unless `journal: false` (a copy of another catalog brings its journal).
   */
  addFiles(entries: NewFile[], opts: { replace: boolean; journal?: boolean }): Promise<void>;
  /** Records a new mtime for a file whose content is unchanged. Not a change readers see. */
  touch(filename: string, mtimeMs: number): Promise<void>;
  /** Removes a file (and its project with its last file); journaled with `by` when given. */
  removeFile(filename: string, by?: Actor): Promise<FileRecord | undefined>;
  metadataBytes(filename: string): Promise<Buffer | undefined>;

  releaseStates(project: string): Promise<Map<string, ReleaseState>>;
  /** Every release of `projects`, a project's one after the other: its version is its first file's by name (byte order). */
  releaseVersionsOf(projects: readonly string[]): Promise<ReleaseVersion[]>;
  setYanked(project: string, releaseKey: string, yanked: boolean, reason: string | null, activity?: Omit<ActivityRecord, 'time'>): Promise<void>;
  /** Sets a release's yank state as it is, with who made it (a copy of another catalog; not journaled). */
  putReleaseState(project: string, releaseKey: string, state: ReleaseState): Promise<void>;
  addActivity(entry: Omit<ActivityRecord, 'time'> & { time?: string }): Promise<void>;
  activity(opts: { project?: string; limit: number }): Promise<ActivityRecord[]>;

  /** Counts one download in memory (never waits). */
  countDownload(file: Pick<FileRecord, 'filename' | 'project'> & Pick<ServedFile, 'id'>, installer: Installer, ci: boolean, now?: Date): void;
  /** Writes the counts gathered in memory. */
  flushDownloads(): Promise<void>;
  downloadsOf(project: string): Promise<Map<string, number>>;
  downloadsByDay(project: string): Promise<{ day: string; downloads: number }[]>;
  downloadsByInstaller(project: string): Promise<InstallerCount[]>;
  projectSummaries(today?: Date): Promise<ProjectSummaryRecord[]>;
  /** Every written download count (pending ones written first), for a copy of the catalog. */
  downloadRows(): Promise<DownloadCountRow[]>;
  /** Adds download counts as they are; those of files not in the catalog are dropped. */
  addDownloadRows(rows: DownloadCountRow[]): Promise<void>;

  owners(project: string): Promise<{ user: string; role: Role }[]>;
  addOwner(project: string, user: string, role: Role): Promise<void>;
  removeOwner(project: string, user: string): Promise<boolean>;
  ownershipsOf(user: string): Promise<{ project: string; role: Role }[]>;

  metaValue(key: string): Promise<string | undefined>;
  setMetaValue(key: string, value: string): Promise<void>;

  /** The changes after `serial`, oldest first. */
  changesSince(serial: number): Promise<CatalogChange[]>;
  /**
   * Calls `listener` with the serial of each change another daemon makes, as soon as it is
   * known (a single daemon's store never calls it). Returns the way to stop listening.
   */
  onForeignChange(listener: (serial: number) => void): () => void;

  /** Writes what is pending and lets go of the database. */
  close(): Promise<void>;
}

/**
 * Reads a catalog on this machine answers at once, without waiting (the embedded SQLite
 * catalog, which is also each shared daemon's copy): the hot paths (hot-paths.ts) answer a
 * download from them in the same turn, and the upstream proxy decides whether a name is
 * local before anything else is done with a request. A catalog without them has its
 * downloads answered by the route, which waits.
 */
export interface ImmediateReads {
  readonly serial: number;
  /** As {@link CatalogStore.servedFile}, at once. */
  servedFileNow(filename: string): ServedFile | undefined;
  /** Whether a project of this (normalized) name is on the index. */
  hasProjectNow(name: string): boolean;
  /** Whether a project of this (normalized) name is on the index or ever was: deleted names are remembered. */
  hadProjectNow(name: string): boolean;
}

/** Whether `catalog` answers {@link ImmediateReads} at once. */
export function readsAtOnce(catalog: CatalogStore): catalog is CatalogStore & ImmediateReads {
  return typeof (catalog as Partial<ImmediateReads>).servedFileNow === 'function';
}
