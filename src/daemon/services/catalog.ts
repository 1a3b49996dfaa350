/**
 * The catalog: everything derived from the distribution files (hashes, sizes, core
 * metadata, upload times), plus what only the index knows (yank state, download
 * counts, owners, who uploaded, yanked or deleted what and from where), in one
 * embedded SQLite database. The packages folder stays the truth for which files exist;
 * `reconcile` (index-service.ts) brings the two together.
 */
import Database from 'better-sqlite3';
import type { Database as DB, Statement } from 'better-sqlite3';
import { INSTALLERS, RECENT_DAYS, type Installer, type InstallerCount } from '../../shared/api.js';
import { CATALOG_SCHEMA_VERSION } from '../../shared/catalog-file.js';
import { DownloadJournal, FOLD_PROGRESS_KEY, FOLDED_RECORD_KEY } from './download-journal.js';
import { ServedFiles, type ServedFile } from './served-files.js';
import { countsOf, PendingDownloads, type CountBatch, type PendingCount, type Visit } from '../stores/pending-downloads.js';

/** One distribution file as the catalog knows it. */
export interface FileRecord {
  filename: string;
  /** Path relative to the packages folder, `/`-separated. */
  relpath: string;
  project: string;
  version: string;
  releaseKey: string;
  packagetype: 'sdist' | 'bdist_wheel';
  pythonVersion: string;
  size: number;
  mtimeMs: number;
  sha256: string;
  md5: string;
  blake2b256: string;
  requiresPython: string | null;
  /** sha256 of the core metadata file, for wheels (PEP 658); null for sdists. */
  metadataSha256: string | null;
  uploadTime: string;
  /** How the file arrived: through the upload API, from a watched build folder, found in the packages folder, or null when a catalog of schema 1 did not say. */
  source: FileSource | null;
  /** Who uploaded it ({@link actorName}); null for files found in the folder and for anonymous uploads. */
  uploadedBy: string | null;
  /** The address it was uploaded from (for a watched build folder, that folder); null for files found in the folder. */
  uploadedFrom: string | null;
}

export type { ServedFile } from './served-files.js';

/** How a file came onto the index: the upload API, a watched build folder (`pyrepo watch`), the packages folder. */
export type FileSource = 'upload' | 'watch' | 'folder';

/** Who made a change, as recorded: the user (null when nobody signed in) and the client's address. */
export interface Actor {
  user: string | null;
  address: string | null;
}

/** One recorded change: an upload, a deletion, a yank or an unyank made through the API. */
export interface ActivityRecord {
  time: string;
  action: 'upload' | 'delete' | 'yank' | 'unyank';
  project: string;
  version: string | null;
  filename: string | null;
  user: string | null;
  address: string | null;
  /** The yank reason; for an upload that replaced a file of the same name, that it did. */
  reason: string | null;
}

export interface ProjectRecord {
  name: string;
  displayName: string;
}

export interface ReleaseState {
  yanked: boolean;
  reason: string | null;
  /** Who yanked it and from where (null when not yanked, or yanked before this was recorded). */
  yankedBy?: string | null;
  yankedFrom?: string | null;
}

interface FileRow {
  filename: string;
  relpath: string;
  project: string;
  version: string;
  release_key: string;
  packagetype: 'sdist' | 'bdist_wheel';
  python_version: string;
  size: number;
  mtime_ms: number;
  sha256: string;
  md5: string;
  blake2b_256: string;
  requires_python: string | null;
  metadata_sha256: string | null;
  upload_time: string;
  source: FileSource | null;
  uploaded_by: string | null;
  uploaded_from: string | null;
}

/**
 * 1: the first catalog. 2: who uploaded each file and from where (files.source,
 * uploaded_by, uploaded_from), who yanked a release (releases.yanked_by, yanked_from),
 * and the activity journal. 3: downloads by installer and CI (downloads.installer, ci);
 * the counts of older catalogs keep their files and days under the installer `unrecorded`.
 * 4: downloads kept in key order (WITHOUT ROWID), so that a batch of counts in filename order
 * rewrites a few neighbouring pages. In a table by rowid each count was a row somewhere in
 * it: under random downloads of 60,000 files a 500-count batch rewrote about 500 pages into
 * the WAL, and the thread that wrote the counts then took a quarter of a core.
 */
const SCHEMA_VERSION = CATALOG_SCHEMA_VERSION;

const DOWNLOADS_TABLE = `CREATE TABLE IF NOT EXISTS downloads (
  filename TEXT NOT NULL REFERENCES files (filename) ON DELETE CASCADE,
  day TEXT NOT NULL,
  installer TEXT NOT NULL,
  ci INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (filename, day, installer, ci)
) WITHOUT ROWID;`;

/** What turns a catalog of schema N-1 into one of schema N, by N. Each runs in one transaction. */
const MIGRATIONS: Record<number, string> = {
  2: `
ALTER TABLE files ADD COLUMN source TEXT;
ALTER TABLE files ADD COLUMN uploaded_by TEXT;
ALTER TABLE files ADD COLUMN uploaded_from TEXT;
ALTER TABLE releases ADD COLUMN yanked_by TEXT;
ALTER TABLE releases ADD COLUMN yanked_from TEXT;
`,
  // The downloads table as schema 3 had it, by rowid (not DOWNLOADS_TABLE): step 4 changes it.
  3: `
ALTER TABLE downloads RENAME TO downloads_v2;
CREATE TABLE downloads (
  filename TEXT NOT NULL REFERENCES files (filename) ON DELETE CASCADE,
  day TEXT NOT NULL,
  installer TEXT NOT NULL,
  ci INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (filename, day, installer, ci)
);
INSERT INTO downloads (filename, day, installer, ci, count) SELECT filename, day, 'unrecorded', 0, count FROM downloads_v2;
DROP TABLE downloads_v2;
`,
  // The index by day goes with the old table and is made again by SCHEMA. Counts of a file
  // no longer listed (none, unless foreign keys were off) would fail the copy: they are not copied.
  4: `
ALTER TABLE downloads RENAME TO downloads_v3;
${DOWNLOADS_TABLE}
INSERT INTO downloads (filename, day, installer, ci, count)
  SELECT filename, day, installer, ci, count FROM downloads_v3 WHERE filename IN (SELECT filename FROM files)
  ORDER BY filename, day, installer, ci;
DROP TABLE downloads_v3;
`,
};

/** The installer that downloads counted before schema 3 are kept under (in no API answer's installers). */
const UNRECORDED = 'unrecorded';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS projects (
  name TEXT PRIMARY KEY,
  display_name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
  filename TEXT PRIMARY KEY,
  relpath TEXT NOT NULL UNIQUE,
  project TEXT NOT NULL,
  version TEXT NOT NULL,
  release_key TEXT NOT NULL,
  packagetype TEXT NOT NULL,
  python_version TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime_ms INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  md5 TEXT NOT NULL,
  blake2b_256 TEXT NOT NULL,
  requires_python TEXT,
  metadata_sha256 TEXT,
  upload_time TEXT NOT NULL,
  source TEXT,
  uploaded_by TEXT,
  uploaded_from TEXT
);
CREATE INDEX IF NOT EXISTS files_by_project ON files (project);
CREATE TABLE IF NOT EXISTS core_metadata (
  filename TEXT PRIMARY KEY REFERENCES files (filename) ON DELETE CASCADE,
  bytes BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS releases (
  project TEXT NOT NULL,
  release_key TEXT NOT NULL,
  yanked INTEGER NOT NULL DEFAULT 0,
  yanked_reason TEXT,
  yanked_by TEXT,
  yanked_from TEXT,
  PRIMARY KEY (project, release_key)
);
CREATE TABLE IF NOT EXISTS owners (
  project TEXT NOT NULL,
  user TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('owner', 'maintainer')),
  PRIMARY KEY (project, user)
);
${DOWNLOADS_TABLE}
CREATE INDEX IF NOT EXISTS downloads_by_day ON downloads (day);
CREATE TABLE IF NOT EXISTS activity (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time TEXT NOT NULL,
  action TEXT NOT NULL,
  project TEXT NOT NULL,
  version TEXT,
  filename TEXT,
  user TEXT,
  address TEXT,
  reason TEXT
);
CREATE INDEX IF NOT EXISTS activity_by_project ON activity (project, id);
-- Every project name that was ever on the index, kept when its last file goes: the upstream
-- proxy never looks such a name up (name-policy.ts). The trigger records new projects however
-- they come; the INSERT fills the table once for catalogs made before it existed.
CREATE TABLE IF NOT EXISTS names_ever_local (name TEXT PRIMARY KEY);
CREATE TRIGGER IF NOT EXISTS remember_local_name AFTER INSERT ON projects
  BEGIN INSERT OR IGNORE INTO names_ever_local (name) VALUES (NEW.name); END;
INSERT OR IGNORE INTO names_ever_local (name)
  SELECT name FROM projects WHERE NOT EXISTS (SELECT 1 FROM names_ever_local)
  UNION SELECT project FROM activity WHERE NOT EXISTS (SELECT 1 FROM names_ever_local);
`;

interface ReleaseRow {
  yanked: number;
  yanked_reason: string | null;
  yanked_by: string | null;
  yanked_from: string | null;
}

function releaseStateOf(row: ReleaseRow): ReleaseState {
  return { yanked: row.yanked === 1, reason: row.yanked_reason, yankedBy: row.yanked_by, yankedFrom: row.yanked_from };
}

function toRecord(row: FileRow): FileRecord {
  return {
    filename: row.filename,
    relpath: row.relpath,
    project: row.project,
    version: row.version,
    releaseKey: row.release_key,
    packagetype: row.packagetype,
    pythonVersion: row.python_version,
    size: row.size,
    mtimeMs: row.mtime_ms,
    sha256: row.sha256,
    md5: row.md5,
    blake2b256: row.blake2b_256,
    requiresPython: row.requires_python,
    metadataSha256: row.metadata_sha256,
    uploadTime: row.upload_time,
    source: row.source,
    uploadedBy: row.uploaded_by,
    uploadedFrom: row.uploaded_from,
  };
}

/** One written download count: of a file, on a UTC day, by an installer, from CI or not. */
export interface DownloadCountRow {
  filename: string;
  day: string;
  /** An installer name, or `unrecorded` for counts from before installers were recorded. */
  installer: string;
  ci: boolean;
  count: number;
}

/** Rows of file stamps read between two turns of the event loop (a few milliseconds). */
const STAMPS_PER_SLICE = 2000;

/** Files {@link Catalog.prepareServedFiles} reads per turn of the event loop (about 5 ms at 60,000 files). */
const SERVED_FILES_PER_TURN = 2000;

/**
 * Rows of download counts per transaction of a fold: about 0.4 ms each. (A fold of 60,000
 * rows took 245 ms in batches of 500 and 264 ms in batches of 100, but 2 ms on every turn of
 * the event loop for half a second doubled the downloads' p99 meanwhile.)
 */
const BATCH_ROWS = 100;

/**
 * Between two batches of a fold: 12 s for 60,000 rows, a fiftieth of the daemon's thread
 * meanwhile. (With a batch every 5 ms, the 6-second round of random downloads that held a
 * fold had a p99 of 5.6-6.3 ms, against 2.5-3.5 ms for the rounds around it.)
 */
const FOLD_BATCH_GAP_MS = 20;

/** A fold of up to this many batches is written in one transaction (about 4 ms). */
const FOLD_AT_ONCE_BATCHES = 10;

/** Rows of download counts per journal record: one record is appended per turn of the event loop (about a millisecond to make). */
const JOURNAL_ROWS = 2000;

/** How often the journaled download counts are folded into the downloads table (also at close and before a copy). */
const FOLD_MS = 60_000;

/** A journal this large is folded sooner: about half a minute of random downloads of 60,000 files. */
const JOURNAL_FOLD_BYTES = 32 * 1024 * 1024;

/** One release of a project: its key, the version its first file (by name) states, and whether it is yanked. */
export interface ReleaseVersion {
  project: string;
  releaseKey: string;
  version: string;
  yanked: boolean;
}

/** One project of the project list, with its counts. */
export interface ProjectSummaryRecord {
  name: string;
  displayName: string;
  files: number;
  versions: number;
  lastUpload: string | null;
  lastUploadedBy: string | null;
  downloads: number;
  /** Downloads of each of the last RECENT_DAYS UTC days, oldest first. */
  downloads30d: number[];
}

const KNOWN_INSTALLERS: ReadonlySet<string> = new Set(INSTALLERS);

/** The last `n` UTC days up to `today`, oldest first. */
function lastDays(today: Date, n: number): string[] {
  const end = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
  return Array.from({ length: n }, (_, i) => new Date(end - (n - 1 - i) * 86_400_000).toISOString().slice(0, 10));
}

/** How a file's size and mtime are compared with the folder's. */
export function stampOf(size: number, mtimeMs: number): string {
  return `${size}:${mtimeMs}`;
}

/** The SQLite-backed catalog. All methods are synchronous and cheap (prepared statements). */
export class Catalog {
  private readonly db: DB;
  private readonly stmt: Record<string, Statement>;
  /** Download counts since the last flush, by file, day, installer and CI: the next journal records' (see flushDownloads). */
  private pendingDownloads = new PendingDownloads();
  /** Every count not in the downloads table nor in a fold's batches: pending, waiting for the journal, or journaled. */
  private readonly unfolded = new PendingDownloads();
  /** The counts not folded into the table yet, beside the catalog (download-journal.ts). */
  private readonly journal: DownloadJournal;
  /**
   * The last flush's counts, appended to the journal a record per turn of the event loop while
   * `journalLeft`; emptied, they are the next flush's pending counts.
   */
  private toJournal = new PendingDownloads();
  private journalLeft = false;
  private journaling: NodeJS.Immediate | undefined;
  /** The id of the last journal record appended (or folded). */
  private lastRecord = 0;
  /** The last journal record folded into the table (the meta row FOLDED_RECORD_KEY). */
  private foldedRecord = 0;
  /** Why the journal could not be appended to (its counts were folded at once); the next flush throws it. */
  private journalFailure: string | undefined;
  /** The counts of the fold being written, from `foldAt` on not written yet (a batch at a time), in filename order once `foldOrdered`. */
  private foldRows: CountBatch | undefined;
  private foldAt = 0;
  private foldOrdered = false;
  /** The last journal record the fold being written holds. */
  private foldingRecord = 0;
  private folding: NodeJS.Timeout | undefined;
  /** Why a fold's batch could not be written; the next flush writes the rest, or throws. */
  private foldFailure: string | undefined;
  /** When the last fold began (Date.now()). */
  private lastFold = Date.now();
  /** What the catalog folded from its journal when it opened: records after the last fold, and lines left out as damaged. */
  readonly journalRecovered: { records: number; damaged: number };
  /** Incremented on every change; exposed as `_last-serial` and used in ETags. */
  serial: number;
  /**
   * What serving each file needs, loaded at the first download and kept in step by every
   * change: a download then reads no catalog page (at 60,000 files the table is ten times
   * the page cache, so a lookup by filename cost a few reads from the OS and a row of 18 columns).
   */
  private served: ServedFiles | undefined;
  /** The last {@link counts}, and the serial they are of. */
  private countsAt: { serial: number; projects: number; files: number } | undefined;
  /** Whether {@link served} holds every file (false while {@link prepareServedFiles} is still reading them). */
  private servedComplete = false;
  private servedReading: Promise<void> | undefined;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL is durable in WAL mode except for the last transactions before a power loss;
    // a crash of the process itself loses nothing, and files are the truth anyway.
    this.db.pragma('synchronous = NORMAL');
    // Checkpoints stay SQLite's: made by the connection whose commit takes the WAL past 1,000
    // pages, for uploads this one (a few hundred page writes and two fsyncs, one upload in
    // about a hundred). Handed to the thread that wrote download counts then, after each write,
    // 1,000 uploads to a freshly started daemon at 60,000 files were no faster (medians of
    // five alternated runs, SQLite's against the thread's: the first 500 at 253 and 241 a
    // second, the next 500 at 293 and 311), as the copy's work stays on the same two cores;
    // and the uploads' p99 (10-14 ms) was the same even with no checkpoints at all.
    this.db.pragma('foreign_keys = ON');
    // 1 MB of page cache (better-sqlite3 asks for 16): pages are served from rendered pages,
    // so the catalog is read on changes, not per request. A restart reads every file's row
    // once (served-files.ts), which filled any larger cache for good: at 60,000 files, 4 MB
    // kept the daemon's resident size 2-3 MB higher through the loads after it (three
    // alternated runs), and the pages it kept are the OS's to cache anyway.
    this.db.pragma('cache_size = -1000');
    this.db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    const version = this.db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string } | undefined;
    this.journal = new DownloadJournal(file);
    if (!version) {
      // A journal beside a new catalog is the counts of one removed: they are not this one's.
      this.journal.clear();
      this.transaction(() => {
        this.db.exec(SCHEMA);
        this.db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?), ('serial', '0')").run(String(SCHEMA_VERSION));
      });
    } else if (Number(version.value) > SCHEMA_VERSION) {
      throw new Error(
        `The catalog ${file} was written by a newer pyrepo (schema ${version.value}); upgrade pyrepo or point it at another data folder.`,
      );
    } else {
      this.upgrade(Number(version.value));
    }
    this.serial = Number((this.db.prepare("SELECT value FROM meta WHERE key = 'serial'").get() as { value: string }).value);
    const s = (sql: string) => this.db.prepare(sql);
    this.stmt = {
      fileByName: s('SELECT * FROM files WHERE filename = ?'),
      fileByPath: s('SELECT * FROM files WHERE relpath = ?'),
      filesOfProject: s('SELECT * FROM files WHERE project = ?'),
      fileStampsAfter: s('SELECT relpath, size, mtime_ms FROM files WHERE relpath > ? ORDER BY relpath LIMIT ?'),
      servedAfter: s('SELECT filename, relpath, project, sha256 FROM files WHERE filename > ? ORDER BY filename LIMIT ?'),
      servedOne: s('SELECT relpath, project, sha256 FROM files WHERE filename = ?'),
      filesUnder: s('SELECT filename FROM files WHERE substr(relpath, 1, ?) = ?'),
      project: s('SELECT name, display_name FROM projects WHERE name = ?'),
      projects: s('SELECT name, display_name FROM projects ORDER BY name'),
      insertProject: s('INSERT INTO projects (name, display_name) VALUES (?, ?) ON CONFLICT (name) DO NOTHING'),
      deleteProjectIfEmpty: s('DELETE FROM projects WHERE name = ? AND NOT EXISTS (SELECT 1 FROM files WHERE project = ?)'),
      upsertFile: s(`INSERT INTO files (filename, relpath, project, version, release_key, packagetype, python_version, size,
          mtime_ms, sha256, md5, blake2b_256, requires_python, metadata_sha256, upload_time, source, uploaded_by, uploaded_from)
        VALUES (@filename, @relpath, @project, @version, @releaseKey, @packagetype, @pythonVersion, @size, @mtimeMs,
          @sha256, @md5, @blake2b256, @requiresPython, @metadataSha256, @uploadTime, @source, @uploadedBy, @uploadedFrom)
        ON CONFLICT (filename) DO UPDATE SET relpath = excluded.relpath, project = excluded.project,
          version = excluded.version, release_key = excluded.release_key, packagetype = excluded.packagetype,
          python_version = excluded.python_version, size = excluded.size, mtime_ms = excluded.mtime_ms,
          sha256 = excluded.sha256, md5 = excluded.md5, blake2b_256 = excluded.blake2b_256,
          requires_python = excluded.requires_python, metadata_sha256 = excluded.metadata_sha256,
          upload_time = excluded.upload_time, source = excluded.source, uploaded_by = excluded.uploaded_by,
          uploaded_from = excluded.uploaded_from`),
      upsertMetadata: s('INSERT INTO core_metadata (filename, bytes) VALUES (?, ?) ON CONFLICT (filename) DO UPDATE SET bytes = excluded.bytes'),
      metadata: s('SELECT bytes FROM core_metadata WHERE filename = ?'),
      deleteFile: s('DELETE FROM files WHERE filename = ?'),
      touchMtime: s('UPDATE files SET mtime_ms = ? WHERE filename = ?'),
      release: s('SELECT yanked, yanked_reason, yanked_by, yanked_from FROM releases WHERE project = ? AND release_key = ?'),
      releasesOfProject: s('SELECT release_key, yanked, yanked_reason, yanked_by, yanked_from FROM releases WHERE project = ?'),
      // The version is the first file's by name: SQLite takes a bare column from the row MIN() picked.
      releaseVersionsOf: s(`SELECT f.project, f.release_key, f.version, MIN(f.filename), COALESCE(r.yanked, 0)
        FROM files f LEFT JOIN releases r ON r.project = f.project AND r.release_key = f.release_key
        WHERE f.project IN (SELECT value FROM json_each(?)) GROUP BY f.project, f.release_key ORDER BY f.project`),
      setYank: s(`INSERT INTO releases (project, release_key, yanked, yanked_reason, yanked_by, yanked_from) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (project, release_key) DO UPDATE SET yanked = excluded.yanked, yanked_reason = excluded.yanked_reason,
          yanked_by = excluded.yanked_by, yanked_from = excluded.yanked_from`),
      downloadsOfProject: s(`SELECT d.filename AS filename, SUM(d.count) AS total FROM downloads d
        JOIN files f ON f.filename = d.filename WHERE f.project = ? GROUP BY d.filename`),
      downloadsByDay: s(`SELECT d.day AS day, SUM(d.count) AS total FROM downloads d
        JOIN files f ON f.filename = d.filename WHERE f.project = ? GROUP BY d.day ORDER BY d.day`),
      downloadsByInstaller: s(`SELECT d.installer AS installer, SUM(d.count) AS total, SUM(CASE WHEN d.ci THEN d.count ELSE 0 END) AS ci
        FROM downloads d JOIN files f ON f.filename = d.filename WHERE f.project = ? GROUP BY d.installer`),
      // The uploader is the newest file's: SQLite takes a bare column from the row MAX() picked.
      projectSummaries: s(`SELECT p.name AS name, p.display_name AS display_name,
          COUNT(f.filename) AS files, COUNT(DISTINCT f.release_key) AS versions, MAX(f.upload_time) AS last_upload,
          f.uploaded_by AS last_uploaded_by
        FROM projects p LEFT JOIN files f ON f.project = p.name GROUP BY p.name ORDER BY p.name`),
      downloadsByProject: s(`SELECT f.project, SUM(d.count) FROM downloads d JOIN files f ON f.filename = d.filename GROUP BY f.project`),
      recentDownloadsByProject: s(`SELECT f.project, d.day, SUM(d.count) FROM downloads d JOIN files f ON f.filename = d.filename
        WHERE d.day >= ? GROUP BY f.project, d.day`),
      wasEverLocal: s('SELECT 1 FROM names_ever_local WHERE name = ?'),
      meta: s('SELECT value FROM meta WHERE key = ?'),
      setMeta: s('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      deleteMeta: s('DELETE FROM meta WHERE key = ?'),
      // Positional parameters: binding an object's five named ones cost 0.7 of a row's 4.9 µs.
      addDownloadCount: s(`INSERT INTO downloads (filename, day, installer, ci, count) SELECT ?, ?, ?, ?, ?
        WHERE EXISTS (SELECT 1 FROM files WHERE filename = ?)
        ON CONFLICT (filename, day, installer, ci) DO UPDATE SET count = count + excluded.count`),
      counts: s('SELECT (SELECT COUNT(*) FROM projects) AS projects, (SELECT COUNT(*) FROM files) AS files'),
      setSerial: s("UPDATE meta SET value = ? WHERE key = 'serial'"),
      ownersOf: s('SELECT user, role FROM owners WHERE project = ? ORDER BY role DESC, user'),
      addOwner: s('INSERT INTO owners (project, user, role) VALUES (?, ?, ?) ON CONFLICT (project, user) DO UPDATE SET role = excluded.role'),
      removeOwner: s('DELETE FROM owners WHERE project = ? AND user = ?'),
      ownershipsOf: s('SELECT project, role FROM owners WHERE user = ? ORDER BY project'),
      addActivity: s(`INSERT INTO activity (time, action, project, version, filename, user, address, reason)
        VALUES (@time, @action, @project, @version, @filename, @user, @address, @reason)`),
      activity: s(`SELECT time, action, project, version, filename, user, address, reason FROM activity
        WHERE (@project IS NULL OR project = @project) ORDER BY id DESC LIMIT @limit`),
    };
    this.journalRecovered = this.recoverDownloads();
  }

  /**
   * Brings a catalog of an older schema up to this one, in place: each step in one
   * transaction, so a catalog is either upgraded or left as it was. What older catalogs
   * never recorded (who uploaded a file) stays null.
   */
  private upgrade(from: number): void {
    for (let next = from + 1; next <= SCHEMA_VERSION; next++) {
      this.transaction(() => {
        this.db.exec(MIGRATIONS[next] as string);
        this.db.prepare("UPDATE meta SET value = ? WHERE key = 'schema'").run(String(next));
      });
    }
    // Tables a step adds whole (the activity journal) come from the current schema.
    this.db.exec(SCHEMA);
  }

  /** The schema version of the open catalog. */
  get schemaVersion(): number {
    return Number((this.db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string }).value);
  }

  /** Runs `fn` in one transaction. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  private bump(): void {
    this.serial += 1;
    this.stmt.setSerial!.run(String(this.serial));
  }

  file(filename: string): FileRecord | undefined {
    const row = this.stmt.fileByName!.get(filename) as FileRow | undefined;
    return row && toRecord(row);
  }

  /**
   * What serving the file's bytes needs, from memory (see {@link ServedFile}). The first
   * lookup starts reading every file's ({@link prepareServedFiles}); until that is done, a
   * file it has not reached yet is read by its own row.
   */
  servedFile(filename: string): ServedFile | undefined {
    if (!this.served) void this.prepareServedFiles();
    const served = this.served as ServedFiles;
    const found = served.get(filename);
    if (found || this.servedComplete) return found;
    const row = this.stmt.servedOne!.raw().get(filename) as [string, string, string] | undefined;
    if (!row) return undefined;
    served.set(filename, ...row);
    return served.get(filename);
  }

  /**
   * Reads what serving every file needs ({@link servedFile}) a few thousand files per turn of
   * the event loop: all at once, at 60,000 files, the first download after a start and every
   * request behind it waited 150 ms. Started by the first lookup, not at start: the first
   * indexing's memory peak would include it. Changes made meanwhile are kept as they happen
   * (a file's row read later is its current one). Read in filename order, so that the files'
   * numbers (ServedFile.id) follow their filenames: download counts are written in number order.
   */
  prepareServedFiles(): Promise<void> {
    this.servedReading ??= this.readServedFiles().catch(() => {
      // The catalog closed meanwhile (or could not be read): lookups keep reading their own rows.
    });
    return this.servedReading;
  }

  private async readServedFiles(): Promise<void> {
    const served = new ServedFiles();
    this.served = served;
    let after = '';
    for (;;) {
      const rows = this.stmt.servedAfter!.raw().all(after, SERVED_FILES_PER_TURN) as [string, string, string, string][];
      for (const [name, relpath, project, sha256] of rows) {
        served.set(name, relpath, project, sha256);
        after = name;
      }
      if (rows.length < SERVED_FILES_PER_TURN) break;
      await new Promise((resolve) => setImmediate(resolve));
      if (!this.db.open) return;
    }
    this.servedComplete = true;
  }

  fileByPath(relpath: string): FileRecord | undefined {
    const row = this.stmt.fileByPath!.get(relpath) as FileRow | undefined;
    return row && toRecord(row);
  }

  filesOf(project: string): FileRecord[] {
    return (this.stmt.filesOfProject!.all(project) as FileRow[]).map(toRecord);
  }

  /**
   * `size:mtime` of every file by relpath, for reconciling with the folder. Built from raw
   * rows (at 60,000 files, row objects would cost tens of megabytes for a moment), read in
   * relpath order a slice at a time with a turn of the event loop between slices: in one
   * query the event loop stopped for tens of milliseconds (hundreds on a busy machine), and
   * the first requests after a restart waited for it. A file added or removed between two
   * slices is one the folder scan, which comes after, sees as it is.
   */
  async fileStamps(): Promise<Map<string, string>> {
    const stamps = new Map<string, string>();
    let after = '';
    for (;;) {
      const rows = this.stmt.fileStampsAfter!.raw().all(after, STAMPS_PER_SLICE) as [string, number, number][];
      for (const [relpath, size, mtime] of rows) stamps.set(relpath, stampOf(size, mtime));
      if (rows.length < STAMPS_PER_SLICE) return stamps;
      after = (rows[rows.length - 1] as [string, number, number])[0];
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Filenames of the files inside a subfolder (relpath prefix `dir/`). */
  filesUnder(dir: string): string[] {
    const prefix = `${dir}/`;
    return (this.stmt.filesUnder!.raw().all(prefix.length, prefix) as [string][]).map(([filename]) => filename);
  }

  project(name: string): ProjectRecord | undefined {
    const row = this.stmt.project!.get(name) as { name: string; display_name: string } | undefined;
    return row && { name: row.name, displayName: row.display_name };
  }

  projects(): ProjectRecord[] {
    return (this.stmt.projects!.all() as { name: string; display_name: string }[]).map((r) => ({
      name: r.name,
      displayName: r.display_name,
    }));
  }

  counts(): { projects: number; files: number } {
    // Counted again only after a change (every change bumps the serial): /-/health asks at
    // every call, and COUNT(*) reads the whole files index, a few milliseconds at 60,000 files.
    if (this.countsAt?.serial !== this.serial) this.countsAt = { serial: this.serial, ...(this.stmt.counts!.get() as { projects: number; files: number }) };
    return { projects: this.countsAt.projects, files: this.countsAt.files };
  }

  /**
   * Adds or replaces a file and its core metadata; creates the project on first sight. An
   * upload (API or watched folder) is journaled, with `note` (that it replaced a file) as its reason.
   */
  putFile(file: FileRecord, displayName: string, metadataBytes: Buffer, note?: string): void {
    this.putFiles([{ file, displayName, metadataBytes, ...(note !== undefined ? { note } : {}) }]);
  }

  /**
   * putFile for many files in one transaction (indexing a folder writes hundreds at a time).
   * `journal: false` leaves uploads out of the journal (a copy of another catalog brings its own).
   */
  putFiles(entries: { file: FileRecord; displayName: string; metadataBytes: Buffer; note?: string }[], journal = true): void {
    this.transaction(() => {
      for (const { file, displayName, metadataBytes, note } of entries) {
        this.stmt.insertProject!.run(file.project, displayName);
        this.stmt.upsertFile!.run(file);
        this.stmt.upsertMetadata!.run(file.filename, metadataBytes);
        if (journal && (file.source === 'upload' || file.source === 'watch')) {
          this.addActivity({ time: file.uploadTime, action: 'upload', project: file.project, version: file.version, filename: file.filename, user: file.uploadedBy, address: file.uploadedFrom, reason: note ?? null });
        }
      }
      this.bump();
    });
    for (const { file } of entries) this.served?.set(file.filename, file.relpath, file.project, file.sha256);
  }

  /** Records a new mtime for a file whose content is unchanged (same hash). */
  touch(filename: string, mtimeMs: number): void {
    this.stmt.touchMtime!.run(mtimeMs, filename);
  }

  /**
   * Removes a file; the project goes when its last file does. Returns the removed record.
   * A deletion made through the API is journaled with who made it (`by`).
   */
  removeFile(filename: string, by?: Actor): FileRecord | undefined {
    const removed = this.transaction(() => {
      const file = this.file(filename);
      if (!file) return undefined;
      this.stmt.deleteFile!.run(filename);
      this.stmt.deleteProjectIfEmpty!.run(file.project, file.project);
      if (by) this.addActivity({ action: 'delete', project: file.project, version: file.version, filename, user: by.user, address: by.address, reason: null });
      this.bump();
      return file;
    });
    if (removed) {
      this.served?.delete(filename);
      this.dropDownloads(filename);
    }
    return removed;
  }

  /**
   * Forgets the counts of a removed file that are not in the table, and journals that it was
   * removed: a crash does not give them back to a file of the same name uploaded later.
   */
  private dropDownloads(filename: string): void {
    this.pendingDownloads.drop(filename);
    this.unfolded.drop(filename);
    this.toJournal.drop(filename);
    if (this.foldRows) {
      this.foldRows = this.foldRows.slice(this.foldAt, this.foldRows.length).without(filename);
      this.foldAt = 0;
    }
    // The records a fold holds still name them: the fold is finished now.
    this.writeFoldBatches();
    if (this.journal.bytes === 0) return;
    try {
      this.journal.appendRemoved(this.lastRecord + 1, filename);
      this.lastRecord += 1;
    } catch {
      this.fold(true);
    }
  }

  /** The raw METADATA (wheel) or PKG-INFO (sdist) bytes of a file. */
  metadataBytes(filename: string): Buffer | undefined {
    return (this.stmt.metadata!.get(filename) as { bytes: Buffer } | undefined)?.bytes;
  }

  releaseState(project: string, releaseKey: string): ReleaseState {
    const row = this.stmt.release!.get(project, releaseKey) as ReleaseRow | undefined;
    return row ? releaseStateOf(row) : { yanked: false, reason: null, yankedBy: null, yankedFrom: null };
  }

  /** Yank state of every release of a project that has one, by release key. */
  releaseStates(project: string): Map<string, ReleaseState> {
    const rows = this.stmt.releasesOfProject!.all(project) as (ReleaseRow & { release_key: string })[];
    return new Map(rows.map((r) => [r.release_key, releaseStateOf(r)]));
  }

  /** Every release of `projects` with its version and yank state, a project's one after the other (the latest versions of many projects at once). */
  releaseVersionsOf(projects: readonly string[]): ReleaseVersion[] {
    return (this.stmt.releaseVersionsOf!.raw().all(JSON.stringify(projects)) as [string, string, string, string, number][]).map(([project, releaseKey, version, , yanked]) => ({
      project,
      releaseKey,
      version,
      yanked: yanked === 1,
    }));
  }

  /**
   * Yanks or unyanks a release; `activity` (who did it) is journaled in the same transaction,
   * unless `journal` is false (a copy of another catalog brings its journal).
   */
  setYanked(project: string, releaseKey: string, yanked: boolean, reason: string | null, activity?: Omit<ActivityRecord, 'time'>, journal = true): void {
    this.transaction(() => {
      this.stmt.setYank!.run(project, releaseKey, yanked ? 1 : 0, yanked ? reason : null, yanked ? (activity?.user ?? null) : null, yanked ? (activity?.address ?? null) : null);
      if (activity && journal) this.addActivity(activity);
      this.bump();
    });
  }

  /** Journals a change made through the API (who, from where, when). */
  addActivity(entry: Omit<ActivityRecord, 'time'> & { time?: string }): void {
    this.stmt.addActivity!.run({ ...entry, time: entry.time ?? new Date().toISOString() });
  }

  /** The journal, newest first: of one project, or of the whole index. */
  activity(opts: { project?: string; limit: number }): ActivityRecord[] {
    return this.stmt.activity!.all({ project: opts.project ?? null, limit: opts.limit }) as ActivityRecord[];
  }

  /**
   * Counts one download in memory, under the UTC day it happened; `flushDownloads` has
   * the counts journaled, and folded into the table. Every reading method includes the
   * counts not folded yet.
   */
  countDownload(file: Pick<FileRecord, 'filename' | 'project'> & Pick<ServedFile, 'id'>, installer: Installer, ci: boolean, now?: Date): void {
    this.pendingDownloads.count(file, installer, ci, now);
    this.unfolded.count(file, installer, ci, now);
  }

  /**
   * Called every second: appends the counts since the last call to the journal (a record per
   * turn of the event loop), or, once a minute or when the journal is large, folds every count
   * not in the table into it (download-journal.ts). Throws when the journal could not be
   * appended to (the counts were folded instead) or a fold could not be written (its batches
   * are kept and tried again at the next call).
   */
  flushDownloads(): void {
    if (this.foldRows && this.folding === undefined) {
      // A fold whose batch failed: the rest now, or the reason.
      const failure = this.foldFailure;
      this.foldFailure = undefined;
      try {
        this.writeFoldBatches();
      } catch (err) {
        throw new Error(`Could not write download counts (${failure ?? ''}; then ${(err as Error).message}).`);
      }
    }
    if (!this.foldRows && (Date.now() - this.lastFold >= FOLD_MS || this.journal.bytes >= JOURNAL_FOLD_BYTES)) {
      this.fold(false);
    } else {
      // What the last flush set aside and is not appended yet goes first, now.
      while (this.appendRecord());
      [this.toJournal, this.pendingDownloads] = [this.pendingDownloads, this.toJournal];
      this.journalLeft = this.toJournal.size > 0;
      if (this.journalLeft) this.toJournal.beginParts();
      this.journalNext();
    }
    if (this.journalFailure !== undefined) {
      const failure = this.journalFailure;
      this.journalFailure = undefined;
      throw new Error(`Could not append download counts to the journal ${this.journal.path} (${failure}); they were written into the catalog at once.`);
    }
  }

  /** Appends the next journal record waiting, and the one after at the next turn. */
  private journalNext(): void {
    if (this.journaling !== undefined || !this.appendRecord()) return;
    this.journaling = setImmediate(() => {
      this.journaling = undefined;
      this.journalNext();
    });
    // Not what keeps the process alive: close() folds what is left.
    this.journaling.unref();
  }

  /**
   * Appends the next record of the counts set aside ({@link toJournal}); true when more are
   * left. When the journal cannot be appended to, every count goes into the table at once.
   */
  private appendRecord(): boolean {
    if (!this.journalLeft) return false;
    const { counts, last } = this.toJournal.nextPart(JOURNAL_ROWS);
    try {
      if (counts.length > 0) {
        this.journal.appendCounts(this.lastRecord + 1, counts);
        this.lastRecord += 1;
      }
    } catch (err) {
      // Nothing waits for a journal that cannot be written: the counts go into the table now
      // (every one set aside is in `unfolded` too), and the reading ends here even if that fails.
      this.journalFailure = (err as Error).message;
      this.journalLeft = false;
      this.toJournal.clear();
      this.fold(true);
      return false;
    }
    if (!last) return true;
    this.journalLeft = false;
    this.toJournal.clear();
    return false;
  }

  /**
   * Moves every count not in the table into it, in filename order, and empties the journal.
   * A fold of a few batches, or any with `now`, is one transaction; a larger one a batch every
   * {@link FOLD_BATCH_GAP_MS}, each recording how far the fold got, while the counts that come
   * meanwhile are journaled in a new file (download-journal.ts).
   */
  private fold(now: boolean): void {
    this.writeFoldBatches();
    // Every count pending or waiting for the journal is in `unfolded`: it is taken whole.
    this.pendingDownloads.clear();
    this.toJournal.clear();
    this.journalLeft = false;
    if (this.journaling !== undefined) clearImmediate(this.journaling);
    this.journaling = undefined;
    this.lastFold = Date.now();
    const taken = this.unfolded.take();
    if (taken.length === 0 && this.lastRecord === this.foldedRecord) return;
    this.foldRows = taken;
    this.foldAt = 0;
    this.foldOrdered = false;
    this.foldingRecord = this.lastRecord;
    if (now || taken.length <= FOLD_AT_ONCE_BATCHES * BATCH_ROWS) {
      this.transaction(() => this.writeFoldBatches());
      this.clearJournal();
    } else {
      try {
        this.journal.setAside();
      } catch {
        // Set aside or not, the records are the fold's (by their ids): it is written at once.
        this.transaction(() => this.writeFoldBatches());
        this.clearJournal();
        return;
      }
      this.foldNext();
    }
  }

  /**
   * Orders the fold's counts at the next turn, then writes a batch every {@link FOLD_BATCH_GAP_MS}:
   * taking them (9 ms at 60,000), ordering them (up to 17 ms) and writing a batch each hold up
   * the requests of their turn, so no two share one.
   */
  private foldNext(): void {
    if (this.folding !== undefined || !this.foldRows) return;
    this.folding = setTimeout(() => {
      this.folding = undefined;
      try {
        if (this.foldOrdered) this.writeFoldBatch();
        else this.orderFold();
        this.foldNext();
      } catch (err) {
        // Kept in order: the next flush writes them all, or says why it cannot.
        this.foldFailure = (err as Error).message;
      }
    }, this.foldOrdered ? FOLD_BATCH_GAP_MS : 0);
    // Not what keeps the process alive: close() writes what is left.
    this.folding.unref();
  }

  /** Writes every batch of the fold not written yet, now (none when no fold is being written). */
  private writeFoldBatches(): void {
    if (this.folding !== undefined) clearTimeout(this.folding);
    this.folding = undefined;
    if (!this.foldRows) return;
    if (!this.foldOrdered) this.orderFold();
    while (this.foldRows) this.writeFoldBatch();
  }

  /** Puts the fold's counts in filename order: a fold cut short is resumed after the last filename written. */
  private orderFold(): void {
    const rows = this.foldRows as CountBatch;
    // Not copied when nothing is written yet: a minute's counts of 60,000 files are 1.5 MB.
    this.foldRows = (this.foldAt === 0 ? rows : rows.slice(this.foldAt, rows.length)).byFilename();
    this.foldAt = 0;
    this.foldOrdered = true;
  }

  /**
   * Writes the fold's next batch, with how far the fold got in the same transaction: the last
   * filename written, or, after the last batch, the last journal record folded.
   */
  private writeFoldBatch(): void {
    const rows = this.foldRows as CountBatch;
    // Batches end where a filename does: a fold cut short is resumed after the last one written.
    let to = Math.min(this.foldAt + BATCH_ROWS, rows.length);
    while (to < rows.length && rows.filename(to) === rows.filename(to - 1)) to++;
    const batch = rows.slice(this.foldAt, to);
    const last = to === rows.length;
    this.transaction(() => {
      this.addDownloadCounts(batch);
      if (!last) return this.setMetaValue(FOLD_PROGRESS_KEY, `${this.foldingRecord}\t${batch.filename(batch.length - 1)}`);
      this.setMetaValue(FOLDED_RECORD_KEY, String(this.foldingRecord));
      this.stmt.deleteMeta!.run(FOLD_PROGRESS_KEY);
    });
    this.foldAt = to;
    if (!last) return;
    this.foldRows = undefined;
    this.foldedRecord = this.foldingRecord;
    // A fold at once (in a transaction) empties the journal itself once it commits.
    if (this.db.inTransaction) return;
    try {
      this.journal.removeSetAside();
    } catch {
      // Folded records are skipped when it is read: the next fold removes it.
    }
  }

  /** Adds counts to the downloads table (within the caller's transaction); those of a file not listed are dropped. */
  private addDownloadCounts(counts: CountBatch): void {
    const add = this.stmt.addDownloadCount!;
    counts.forEach((filename, _project, day, installer, ci, count) => add.run(filename, day, installer, ci ? 1 : 0, count, filename));
  }

  /** Empties the journal: its records are folded (the meta row says up to which). */
  private clearJournal(): void {
    try {
      this.journal.clear();
    } catch {
      // Folded records are skipped when it is read: the next fold empties it.
    }
  }

  /**
   * Folds what the last run left in the journal, and returns how many records there were
   * (and damaged lines). Of a fold a crash cut short, only the counts of files after the last
   * one it wrote are taken from the records it held.
   */
  private recoverDownloads(): { records: number; damaged: number } {
    this.foldedRecord = Number(this.metaValue(FOLDED_RECORD_KEY) ?? 0) || 0;
    this.lastRecord = this.foldedRecord;
    const progress = this.metaValue(FOLD_PROGRESS_KEY)?.split('\t');
    const cutRecord = progress ? Number(progress[0]) : 0;
    const cutAfter = progress?.[1] ?? '';
    const projects = new Map<string, string | undefined>();
    const projectOf = (filename: string) => {
      if (!projects.has(filename)) projects.set(filename, (this.stmt.servedOne!.raw().get(filename) as [string, string, string] | undefined)?.[1]);
      return projects.get(filename);
    };
    const { records, damaged } = this.journal.read(projectOf);
    let replayed = 0;
    for (const record of records) {
      if (record.id <= this.foldedRecord) continue;
      replayed += 1;
      this.lastRecord = Math.max(this.lastRecord, record.id);
      if ('removed' in record) this.unfolded.drop(record.removed);
      else this.unfolded.restore(record.id <= cutRecord ? record.counts.after(cutAfter) : record.counts);
    }
    this.fold(true);
    return { records: replayed, damaged };
  }

  /**
   * Visits the counts not in the downloads table: those not folded yet, and the batches of a
   * fold not written yet. (Made into objects, all of them, for every reader: 60,000 under
   * random downloads, three times for a project's page.)
   */
  private eachUnwritten(visit: Visit): void {
    this.unfolded.forEach(visit);
    this.foldRows?.forEach(visit, this.foldAt);
  }

  /** Runs `fn` in one read transaction: the counts it reads and {@link eachUnwritten} agree. */
  private readCounts<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** The counts of `project` not in the downloads table. */
  private pendingOf(project: string): PendingCount[] {
    return countsOf(project, (visit) => this.eachUnwritten(visit));
  }

  /** Every written download count, with its file, day, installer and CI flag (a copy of the catalog reads them). */
  downloadRows(): DownloadCountRow[] {
    this.fold(true);
    return (this.db.prepare('SELECT filename, day, installer, ci, count FROM downloads ORDER BY filename, day').all() as (Omit<DownloadCountRow, 'ci'> & { ci: number })[]).map(
      (r) => ({ ...r, ci: r.ci === 1 }),
    );
  }

  /** Adds download counts as they are (a copy of another catalog writes them); counts of unknown files are dropped. */
  addDownloadRows(rows: DownloadCountRow[]): void {
    this.fold(true);
    const add = this.stmt.addDownloadCount!;
    this.transaction(() => {
      for (const r of rows) add.run(r.filename, r.day, r.installer, r.ci ? 1 : 0, r.count, r.filename);
    });
  }

  /** Downloads per file of a project. */
  downloadsOf(project: string): Map<string, number> {
    return this.readCounts(() => this.downloadsOfNow(project));
  }

  private downloadsOfNow(project: string): Map<string, number> {
    const rows = this.stmt.downloadsOfProject!.all(project) as { filename: string; total: number }[];
    const map = new Map(rows.map((r) => [r.filename, r.total]));
    for (const p of this.pendingOf(project)) map.set(p.filename, (map.get(p.filename) ?? 0) + p.count);
    return map;
  }

  /** Downloads per UTC day of a project, oldest first. */
  downloadsByDay(project: string): { day: string; downloads: number }[] {
    return this.readCounts(() => this.downloadsByDayNow(project));
  }

  private downloadsByDayNow(project: string): { day: string; downloads: number }[] {
    const days = new Map((this.stmt.downloadsByDay!.all(project) as { day: string; total: number }[]).map((r) => [r.day, r.total]));
    for (const p of this.pendingOf(project)) days.set(p.day, (days.get(p.day) ?? 0) + p.count);
    return [...days].sort(([a], [b]) => (a < b ? -1 : 1)).map(([day, downloads]) => ({ day, downloads }));
  }

  /** Downloads of a project by installer, most first (those counted before installers were recorded left out). */
  downloadsByInstaller(project: string): InstallerCount[] {
    return this.readCounts(() => this.downloadsByInstallerNow(project));
  }

  private downloadsByInstallerNow(project: string): InstallerCount[] {
    const counts = new Map<Installer, InstallerCount>();
    const add = (installer: string, downloads: number, ci: number) => {
      if (!KNOWN_INSTALLERS.has(installer)) return;
      const c = counts.get(installer as Installer) ?? { installer: installer as Installer, downloads: 0, ci: 0 };
      c.downloads += downloads;
      c.ci += ci;
      counts.set(c.installer, c);
    };
    for (const r of this.stmt.downloadsByInstaller!.all(project) as { installer: string; total: number; ci: number }[]) {
      if (r.installer !== UNRECORDED) add(r.installer, r.total, r.ci);
    }
    for (const p of this.pendingOf(project)) add(p.installer, p.count, p.ci ? p.count : 0);
    return [...counts.values()].sort((a, b) => b.downloads - a.downloads || INSTALLERS.indexOf(a.installer) - INSTALLERS.indexOf(b.installer));
  }

  /**
   * Every project with its counts, for the control API: total downloads and the last 30
   * days' (UTC, up to `today`), counts not written yet included. Three queries whatever
   * the number of projects.
   */
  projectSummaries(today = new Date()): ProjectSummaryRecord[] {
    return this.readCounts(() => this.projectSummariesNow(today));
  }

  private projectSummariesNow(today: Date): ProjectSummaryRecord[] {
    const days = lastDays(today, RECENT_DAYS);
    const dayIndex = new Map(days.map((d, i) => [d, i]));
    const totals = new Map(this.stmt.downloadsByProject!.raw().all() as [string, number][]);
    const recent = new Map<string, number[]>();
    const addRecent = (project: string, day: string, n: number) => {
      const i = dayIndex.get(day);
      if (i === undefined) return;
      let series = recent.get(project);
      if (!series) recent.set(project, (series = new Array<number>(RECENT_DAYS).fill(0)));
      series[i] = (series[i] as number) + n;
    };
    for (const [project, day, n] of this.stmt.recentDownloadsByProject!.raw().all(days[0]) as [string, string, number][]) addRecent(project, day, n);
    this.eachUnwritten((_filename, project, day, _installer, _ci, count) => {
      totals.set(project, (totals.get(project) ?? 0) + count);
      addRecent(project, day, count);
    });
    const none = new Array<number>(RECENT_DAYS).fill(0);
    return (
      this.stmt.projectSummaries!.all() as {
        name: string;
        display_name: string;
        files: number;
        versions: number;
        last_upload: string | null;
        last_uploaded_by: string | null;
      }[]
    ).map((r) => ({
      name: r.name,
      displayName: r.display_name,
      files: r.files,
      versions: r.versions,
      lastUpload: r.last_upload,
      lastUploadedBy: r.last_uploaded_by,
      downloads: totals.get(r.name) ?? 0,
      downloads30d: recent.get(r.name) ?? [...none],
    }));
  }

  /** Whether a project of this (normalized) name is on the index or ever was: deleted names are remembered. */
  wasEverLocal(name: string): boolean {
    return this.stmt.wasEverLocal!.get(name) !== undefined;
  }

  /** A value the daemon keeps in the catalog between runs (such as the last event id). */
  metaValue(key: string): string | undefined {
    return (this.stmt.meta!.get(key) as { value: string } | undefined)?.value;
  }

  setMetaValue(key: string, value: string): void {
    this.stmt.setMeta!.run(key, value);
  }

  /** Writes every count not written yet and closes the database. */
  close(): void {
    this.fold(true);
    this.journal.close();
    this.db.close();
  }

  /** Who may upload to a project besides admins: its owners and maintainers. */
  owners(project: string): { user: string; role: 'owner' | 'maintainer' }[] {
    return this.stmt.ownersOf!.all(project) as { user: string; role: 'owner' | 'maintainer' }[];
  }

  /** Makes `user` an owner or maintainer of `project` (changing the role if already one). */
  addOwner(project: string, user: string, role: 'owner' | 'maintainer'): void {
    this.stmt.addOwner!.run(project, user, role);
  }

  /** Resolves true if `user` was an owner or maintainer of `project`. */
  removeOwner(project: string, user: string): boolean {
    return this.stmt.removeOwner!.run(project, user).changes > 0;
  }

  /** The projects `user` owns or maintains. */
  ownershipsOf(user: string): { project: string; role: 'owner' | 'maintainer' }[] {
    return this.stmt.ownershipsOf!.all(user) as { project: string; role: 'owner' | 'maintainer' }[];
  }

  /**
   * Writes a consistent copy of the whole catalog to `path` (SQLite's online backup, which
   * sees the writes this connection makes meanwhile), download counts flushed first.
   */
  async snapshot(path: string): Promise<void> {
    this.fold(true);
    await this.db.backup(path);
  }
}
