/**
 * The catalog in PostgreSQL, shared by every daemon of a team's index. PostgreSQL decides
 * what no daemon can decide alone: a file name is unique by a constraint (the loser of two
 * racing uploads gets FileExistsError, whatever the object store said), and every change is
 * numbered by the `changes` sequence and announced with NOTIFY carrying only that number.
 * Each daemon LISTENs on its own connection and, after any gap (a reconnect, a restart),
 * catches up by reading the changes after the last serial it saw.
 */
import pg from 'pg';
import type { InstallerCount, Installer } from '../../shared/api.js';
import { RECENT_DAYS } from '../../shared/api.js';
import type { ActivityRecord, Actor, DownloadCountRow, FileRecord, ProjectRecord, ProjectSummaryRecord, ReleaseState, ReleaseVersion, ServedFile } from '../services/catalog.js';
import { FileExistsError, type CatalogChange, type CatalogStore, type NewFile, type Role } from './catalog-store.js';
import { lastDays, perDay, perFile, perInstaller, summaries, UNRECORDED_INSTALLER } from './download-figures.js';
import type { AccessFile } from '../../shared/access-file.js';
import type { IdentityDocument } from './identity-document.js';
import { PendingDownloads } from './pending-downloads.js';
import { CHANGES_CHANNEL, IDENTITY_CHANGE, PG_SCHEMA, PG_SCHEMA_VERSION, SCHEMA_LOCK_KEY } from './pg-schema.js';

const INT8_OID = 20;
/** BIGINT columns (sizes, counts, serials) as numbers: every one stays far below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

const FILE_COLUMNS = `filename, relpath, project, version, release_key, packagetype, python_version, size, mtime_ms, sha256, md5,
  blake2b_256, requires_python, metadata_sha256, upload_time, source, uploaded_by, uploaded_from`;

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
  source: FileRecord['source'];
  uploaded_by: string | null;
  uploaded_from: string | null;
}

interface StateRow {
  release_key: string;
  yanked: boolean;
  yanked_reason: string | null;
  yanked_by: string | null;
  yanked_from: string | null;
}

/** A project as the shared catalog has it (PgCatalog.projectState). */
export interface ProjectState {
  /** Undefined when the project is not (or no longer) in the catalog. */
  displayName: string | undefined;
  /** Its files; `metadata` is there for those whose content the asking copy lacks. */
  files: { file: FileRecord; metadata: Buffer | undefined }[];
  states: Map<string, ReleaseState>;
  owners: { user: string; role: Role }[];
}

function toRecord(r: FileRow): FileRecord {
  return {
    filename: r.filename,
    relpath: r.relpath,
    project: r.project,
    version: r.version,
    releaseKey: r.release_key,
    packagetype: r.packagetype,
    pythonVersion: r.python_version,
    size: r.size,
    mtimeMs: r.mtime_ms,
    sha256: r.sha256,
    md5: r.md5,
    blake2b256: r.blake2b_256,
    requiresPython: r.requires_python,
    metadataSha256: r.metadata_sha256,
    uploadTime: r.upload_time,
    source: r.source,
    uploadedBy: r.uploaded_by,
    uploadedFrom: r.uploaded_from,
  };
}

const FILE_PLACEHOLDERS = Array.from({ length: 18 }, (_, i) => `$${i + 1}`).join(', ');
/** How a replacing upload overwrites the row of a file of the same name. */
const FILE_UPSERT = `ON CONFLICT (filename) DO UPDATE SET relpath = excluded.relpath, project = excluded.project, version = excluded.version,
  release_key = excluded.release_key, packagetype = excluded.packagetype, python_version = excluded.python_version,
  size = excluded.size, mtime_ms = excluded.mtime_ms, sha256 = excluded.sha256, md5 = excluded.md5,
  blake2b_256 = excluded.blake2b_256, requires_python = excluded.requires_python, metadata_sha256 = excluded.metadata_sha256,
  upload_time = excluded.upload_time, source = excluded.source, uploaded_by = excluded.uploaded_by, uploaded_from = excluded.uploaded_from`;

function fileValues(f: FileRecord): unknown[] {
  return [
    f.filename, f.relpath, f.project, f.version, f.releaseKey, f.packagetype, f.pythonVersion, f.size, f.mtimeMs, f.sha256, f.md5,
    f.blake2b256, f.requiresPython, f.metadataSha256, f.uploadTime, f.source, f.uploadedBy, f.uploadedFrom,
  ];
}

const UNIQUE_VIOLATION = '23505';
/** The advisory lock of the daemon collecting orphaned blobs. */
const COLLECTOR_LOCK_KEY = SCHEMA_LOCK_KEY + 2;

/** A daemon serving the shared catalog, as its heartbeat records it. */
export interface SharedDaemon {
  /** The random id of the daemon's run. */
  instance: string;
  url: string;
  host: string;
  pid: number;
  version: string;
  startedAt: string;
}

export interface PgCatalogOptions {
  /** `postgres://…`; user, password and TLS as libpq reads them (PGPASSWORD, ~/.pgpass, sslmode). */
  url: string;
  /** Connections in the pool (default 8). */
  poolSize?: number;
  /** Called when the listening connection breaks (before it is made again) and when it is back. */
  onConnection?: (state: 'lost' | 'back', err?: Error) => void;
}

export class PgCatalog implements CatalogStore {
  private readonly pool: pg.Pool;
  private readonly pending = new PendingDownloads();
  private listener: pg.Client | undefined;
  private readonly foreign = new Set<(serial: number) => void>();
  /** Serials this daemon made (their NOTIFY is not news to it). */
  private readonly own = new Set<number>();
  private closed = false;
  private reconnect: NodeJS.Timeout | undefined;
  serial = 0;

  private constructor(private readonly opts: PgCatalogOptions) {
    this.pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 8, types, connectionTimeoutMillis: 5_000 });
    // An idle connection the server drops is replaced on the next query; the error must not crash the daemon.
    this.pool.on('error', () => undefined);
    // Nor may a connection that breaks while checked out between two queries (PostgreSQL
    // restarted in the middle of a transaction): the pool listens only to idle ones, and an
    // 'error' nobody listens to ends the process. The next query on it fails, and says why.
    this.pool.on('connect', (client) => client.on('error', () => undefined));
  }

  /** Connects, makes or checks the schema, and starts listening for other daemons' changes. */
  static async open(opts: PgCatalogOptions): Promise<PgCatalog> {
    const catalog = new PgCatalog(opts);
    try {
      await catalog.prepareSchema();
      catalog.serial = await catalog.lastSerial();
      await catalog.listen();
    } catch (err) {
      await catalog.pool.end().catch(() => undefined);
      throw err;
    }
    return catalog;
  }

  private async prepareSchema(): Promise<void> {
    await this.transaction(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
      await c.query(PG_SCHEMA);
      const row = (await c.query<{ value: string }>("SELECT value FROM meta WHERE key = 'schema'")).rows[0];
      if (!row) await c.query("INSERT INTO meta (key, value) VALUES ('schema', $1)", [String(PG_SCHEMA_VERSION)]);
      else if (Number(row.value) > PG_SCHEMA_VERSION) {
        throw new Error(`The shared catalog was written by a newer pyrepo (schema ${row.value}); upgrade this daemon's pyrepo.`);
      }
    });
  }

  private async lastSerial(): Promise<number> {
    return (await this.pool.query<{ serial: number | null }>('SELECT max(serial) AS serial FROM changes')).rows[0]?.serial ?? 0;
  }

  /** The dedicated LISTEN connection; made again with backoff whenever it breaks. */
  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.url, types, connectionTimeoutMillis: 5_000 });
    client.on('notification', (n) => {
      const serial = Number(n.payload);
      if (Number.isFinite(serial)) this.heard(serial);
    });
    client.on('error', (err) => this.lostListener(client, err));
    client.on('end', () => this.lostListener(client));
    await client.connect();
    await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    this.listener = client;
  }

  private lostListener(client: pg.Client, err?: Error): void {
    if (this.listener !== client || this.closed) return;
    this.listener = undefined;
    client.removeAllListeners('end');
    client.end().catch(() => undefined);
    this.opts.onConnection?.('lost', err);
    let delay = 250;
    const retry = () => {
      this.reconnect = setTimeout(() => {
        this.listen().then(
          async () => {
            this.opts.onConnection?.('back');
            // NOTIFY has no replay: whatever happened meanwhile is read from the table.
            const latest = await this.lastSerial().catch(() => this.serial);
            if (latest > this.serial) this.heard(latest);
          },
          () => {
            delay = Math.min(delay * 2, 10_000);
            retry();
          },
        );
      }, delay);
      this.reconnect.unref();
    };
    retry();
  }

  private heard(serial: number): void {
    if (this.own.delete(serial)) return;
    if (serial > this.serial) this.serial = serial;
    for (const l of this.foreign) l(serial);
  }

  onForeignChange(listener: (serial: number) => void): () => void {
    this.foreign.add(listener);
    return () => this.foreign.delete(listener);
  }

  private async transaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const result = await fn(c);
      await c.query('COMMIT');
      return result;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  /** Numbers a change to `project` and announces it at commit; returns the serial. */
  private async change(c: pg.PoolClient, project: string): Promise<number> {
    const serial = (await c.query<{ serial: number }>('INSERT INTO changes (project) VALUES ($1) RETURNING serial', [project])).rows[0]!.serial;
    await c.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, String(serial)]);
    this.own.add(serial);
    return serial;
  }

  private madeChange(serial: number): void {
    if (serial > this.serial) this.serial = serial;
  }

  // ---- reading -------------------------------------------------------------------

  async file(filename: string): Promise<FileRecord | undefined> {
    const row = (await this.pool.query<FileRow>(`SELECT ${FILE_COLUMNS} FROM files WHERE filename = $1`, [filename])).rows[0];
    return row && toRecord(row);
  }

  async servedFile(filename: string): Promise<ServedFile | undefined> {
    const row = (await this.pool.query<{ relpath: string; project: string; sha256: string }>('SELECT relpath, project, sha256 FROM files WHERE filename = $1', [filename])).rows[0];
    return row && { filename, relpath: row.relpath, project: row.project, sha256: row.sha256 };
  }

  async fileByPath(relpath: string): Promise<FileRecord | undefined> {
    const row = (await this.pool.query<FileRow>(`SELECT ${FILE_COLUMNS} FROM files WHERE relpath = $1`, [relpath])).rows[0];
    return row && toRecord(row);
  }

  async filesOf(project: string): Promise<FileRecord[]> {
    return (await this.pool.query<FileRow>(`SELECT ${FILE_COLUMNS} FROM files WHERE project = $1`, [project])).rows.map(toRecord);
  }

  async fileStamps(): Promise<Map<string, string>> {
    const rows = (await this.pool.query<[string, number, number]>({ text: 'SELECT relpath, size, mtime_ms FROM files', rowMode: 'array' })).rows;
    return new Map(rows.map(([relpath, size, mtime]) => [relpath, `${size}:${mtime}`]));
  }

  async filesUnder(dir: string): Promise<string[]> {
    const prefix = `${dir}/`;
    const rows = await this.pool.query<{ filename: string }>('SELECT filename FROM files WHERE left(relpath, $1) = $2', [prefix.length, prefix]);
    return rows.rows.map((r) => r.filename);
  }

  async project(name: string): Promise<ProjectRecord | undefined> {
    const row = (await this.pool.query<{ name: string; display_name: string }>('SELECT name, display_name FROM projects WHERE name = $1', [name])).rows[0];
    return row && { name: row.name, displayName: row.display_name };
  }

  async projects(): Promise<ProjectRecord[]> {
    const rows = await this.pool.query<{ name: string; display_name: string }>('SELECT name, display_name FROM projects ORDER BY name COLLATE "C"');
    return rows.rows.map((r) => ({ name: r.name, displayName: r.display_name }));
  }

  async counts(): Promise<{ projects: number; files: number }> {
    return (await this.pool.query<{ projects: number; files: number }>('SELECT (SELECT count(*) FROM projects) AS projects, (SELECT count(*) FROM files) AS files')).rows[0]!;
  }

  /**
   * All a follower needs to bring its copy of a project in line, in one query: the display
   * name (undefined when the project is gone), the files, with the core metadata of those
   * whose content differs from `have` (filename to sha256 of the copy's files), release states
   * and owners. Following one upload took five queries before.
   */
  async projectState(project: string, have: Map<string, string>): Promise<ProjectState> {
    type Row = Partial<FileRow> & { display_name: string | null; owners: { user: string; role: Role }[] | null; states: StateRow[] | null; metadata: Buffer | null };
    const rows = (
      await this.pool.query<Row>(
        `SELECT p.display_name, o.owners, r.states, ${FILE_COLUMNS.replace(/(\w+)/g, 'f.$1')},
                m.bytes AS metadata
           FROM (SELECT 1) AS one
           LEFT JOIN projects p ON p.name = $1
           CROSS JOIN LATERAL (SELECT json_agg(json_build_object('user', "user", 'role', role)) AS owners FROM owners WHERE project = $1) o
           CROSS JOIN LATERAL (SELECT json_agg(json_build_object('release_key', release_key, 'yanked', yanked, 'yanked_reason', yanked_reason,
                                 'yanked_by', yanked_by, 'yanked_from', yanked_from)) AS states FROM releases WHERE project = $1) r
           LEFT JOIN files f ON f.project = $1
           LEFT JOIN unnest($2::text[], $3::text[]) AS have (filename, sha256) ON have.filename = f.filename
           LEFT JOIN core_metadata m ON m.filename = f.filename AND have.sha256 IS DISTINCT FROM f.sha256`,
        [project, [...have.keys()], [...have.values()]],
      )
    ).rows;
    const first = rows[0];
    const files: ProjectState['files'] = [];
    for (const row of rows) if (row.filename) files.push({ file: toRecord(row as FileRow), metadata: row.metadata ?? undefined });
    return {
      displayName: first?.display_name ?? undefined,
      files,
      states: new Map((first?.states ?? []).map((r) => [r.release_key, { yanked: r.yanked, reason: r.yanked_reason, yankedBy: r.yanked_by, yankedFrom: r.yanked_from }])),
      owners: first?.owners ?? [],
    };
  }

  async metadataBytes(filename: string): Promise<Buffer | undefined> {
    return (await this.pool.query<{ bytes: Buffer }>('SELECT bytes FROM core_metadata WHERE filename = $1', [filename])).rows[0]?.bytes;
  }

  async releaseStates(project: string): Promise<Map<string, ReleaseState>> {
    const rows = await this.pool.query<StateRow>(
      'SELECT release_key, yanked, yanked_reason, yanked_by, yanked_from FROM releases WHERE project = $1',
      [project],
    );
    return new Map(rows.rows.map((r) => [r.release_key, { yanked: r.yanked, reason: r.yanked_reason, yankedBy: r.yanked_by, yankedFrom: r.yanked_from }]));
  }

  async releaseVersionsOf(projects: readonly string[]): Promise<ReleaseVersion[]> {
    const rows = await this.pool.query<ReleaseVersion>(
      `SELECT DISTINCT ON (f.project, f.release_key) f.project, f.release_key AS "releaseKey", f.version, coalesce(r.yanked, false) AS yanked
        FROM files f LEFT JOIN releases r ON r.project = f.project AND r.release_key = f.release_key
        WHERE f.project = ANY($1::text[])
        ORDER BY f.project, f.release_key, f.filename COLLATE "C"`,
      [projects],
    );
    return rows.rows;
  }

  async activity(opts: { project?: string; limit: number }): Promise<ActivityRecord[]> {
    const rows = await this.pool.query<ActivityRecord>(
      `SELECT time, action, project, version, filename, "user", address, reason FROM activity
        WHERE ($1::text IS NULL OR project = $1) ORDER BY id DESC LIMIT $2`,
      [opts.project ?? null, opts.limit],
    );
    return rows.rows;
  }

  async changesSince(serial: number): Promise<CatalogChange[]> {
    const rows = await this.pool.query<CatalogChange>('SELECT serial, project FROM changes WHERE serial > $1 ORDER BY serial', [serial]);
    return rows.rows;
  }

  // ---- writing -------------------------------------------------------------------

  async addFiles(entries: NewFile[], opts: { replace: boolean; journal?: boolean }): Promise<void> {
    if (entries.length === 0) return;
    let serial = 0;
    try {
      await this.transaction(async (c) => {
        const projects = new Set<string>();
        for (const { file, displayName, metadataBytes, note } of entries) {
          await c.query('INSERT INTO projects (name, display_name) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [file.project, displayName]);
          await c.query(`INSERT INTO files (${FILE_COLUMNS}) VALUES (${FILE_PLACEHOLDERS}) ${opts.replace ? FILE_UPSERT : ''}`, fileValues(file));
          await c.query('INSERT INTO core_metadata (filename, bytes) VALUES ($1, $2) ON CONFLICT (filename) DO UPDATE SET bytes = excluded.bytes', [file.filename, metadataBytes]);
          if ((opts.journal ?? true) && (file.source === 'upload' || file.source === 'watch')) {
            await this.journal(c, { time: file.uploadTime, action: 'upload', project: file.project, version: file.version, filename: file.filename, user: file.uploadedBy, address: file.uploadedFrom, reason: note ?? null });
          }
          projects.add(file.project);
        }
        for (const project of projects) serial = await this.change(c, project);
      });
    } catch (err) {
      if ((err as { code?: string }).code === UNIQUE_VIOLATION && !opts.replace) {
        const taken = await this.takenBy(entries);
        if (taken) throw new FileExistsError(taken.filename, taken.sha256);
      }
      throw err;
    }
    this.madeChange(serial);
  }

  /**
   * One upload as one statement, so one round trip and one commit: the project, the file, its
   * metadata, its journal line, the first uploader's ownership (`claim`, taken only when the
   * project has no owner yet), and its numbered change with the NOTIFY. The same upload as a
   * transaction of separate statements took ten round trips and two commits (the claim was
   * its own), and those were most of the daemon's and PostgreSQL's work per upload in the
   * shared mode. Throws FileExistsError as `addFiles` does; returns the change's serial and
   * whether `claim` became the project's owner.
   */
  async publishFile(entry: NewFile, opts: { replace: boolean; claim?: string }): Promise<{ serial: number; claimed: boolean }> {
    const { file, displayName, metadataBytes, note } = entry;
    const journaled = file.source === 'upload' || file.source === 'watch';
    // $1-$18 are the file's columns in FILE_COLUMNS order: $1 filename, $3 project, $4 version,
    // $15 upload_time, $17 uploaded_by, $18 uploaded_from.
    const sql = `WITH
  p AS (INSERT INTO projects (name, display_name) VALUES ($3, $19) ON CONFLICT (name) DO NOTHING),
  f AS (INSERT INTO files (${FILE_COLUMNS}) VALUES (${FILE_PLACEHOLDERS}) ${opts.replace ? FILE_UPSERT : ''}),
  m AS (INSERT INTO core_metadata (filename, bytes) VALUES ($1, $20) ON CONFLICT (filename) DO UPDATE SET bytes = excluded.bytes),
  j AS (INSERT INTO activity (time, action, project, version, filename, "user", address, reason)
        SELECT $15, 'upload', $3, $4, $1, $17, $18, $21 WHERE $22::boolean),
  o AS (INSERT INTO owners (project, "user", role, claimed) SELECT $3, $23::text, 'owner', true
        WHERE $23::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM owners WHERE project = $3) ON CONFLICT DO NOTHING RETURNING 1),
  c AS (INSERT INTO changes (project) VALUES ($3) RETURNING serial)
SELECT c.serial, pg_notify('${CHANGES_CHANNEL}', c.serial::text), EXISTS (SELECT 1 FROM o) AS claimed FROM c`;
    let row: { serial: number; claimed: boolean };
    try {
      row = (await this.pool.query<{ serial: number; claimed: boolean }>(sql, [...fileValues(file), displayName, metadataBytes, note ?? null, journaled, opts.claim ?? null])).rows[0]!;
    } catch (err) {
      if ((err as { code?: string }).code === UNIQUE_VIOLATION && !opts.replace) {
        const taken = await this.takenBy([entry]);
        if (taken) throw new FileExistsError(taken.filename, taken.sha256);
      }
      throw err;
    }
    this.own.add(row.serial);
    this.madeChange(row.serial);
    return row;
  }

  /** Which of `entries` lost to a file already there (after a unique violation). */
  private async takenBy(entries: NewFile[]): Promise<{ filename: string; sha256: string } | undefined> {
    const rows = await this.pool.query<{ filename: string; sha256: string }>('SELECT filename, sha256 FROM files WHERE filename = ANY($1) OR relpath = ANY($2)', [
      entries.map((e) => e.file.filename),
      entries.map((e) => e.file.relpath),
    ]);
    return rows.rows[0];
  }

  async touch(filename: string, mtimeMs: number): Promise<void> {
    await this.pool.query('UPDATE files SET mtime_ms = $1 WHERE filename = $2', [mtimeMs, filename]);
  }

  async removeFile(filename: string, by?: Actor): Promise<FileRecord | undefined> {
    let serial = 0;
    const removed = await this.transaction(async (c) => {
      const row = (await c.query<FileRow>(`DELETE FROM files WHERE filename = $1 RETURNING ${FILE_COLUMNS}`, [filename])).rows[0];
      if (!row) return undefined;
      const file = toRecord(row);
      await c.query('DELETE FROM projects WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM files WHERE project = $1)', [file.project]);
      if (by) await this.journal(c, { action: 'delete', project: file.project, version: file.version, filename, user: by.user, address: by.address, reason: null });
      serial = await this.change(c, file.project);
      return file;
    });
    if (removed) {
      this.pending.drop(filename);
      this.madeChange(serial);
    }
    return removed;
  }

  async setYanked(project: string, releaseKey: string, yanked: boolean, reason: string | null, activity?: Omit<ActivityRecord, 'time'>): Promise<void> {
    const state = { yanked, reason: yanked ? reason : null, yankedBy: yanked ? (activity?.user ?? null) : null, yankedFrom: yanked ? (activity?.address ?? null) : null };
    await this.writeRelease(project, releaseKey, state, activity);
  }

  async putReleaseState(project: string, releaseKey: string, state: ReleaseState): Promise<void> {
    await this.writeRelease(project, releaseKey, state);
  }

  private async writeRelease(project: string, releaseKey: string, state: ReleaseState, activity?: Omit<ActivityRecord, 'time'>): Promise<void> {
    let serial = 0;
    await this.transaction(async (c) => {
      await c.query(
        `INSERT INTO releases (project, release_key, yanked, yanked_reason, yanked_by, yanked_from) VALUES ($1, $2, $3, $4, $5, $6)
          ON CONFLICT (project, release_key) DO UPDATE SET yanked = excluded.yanked, yanked_reason = excluded.yanked_reason,
            yanked_by = excluded.yanked_by, yanked_from = excluded.yanked_from`,
        [project, releaseKey, state.yanked, state.reason, state.yankedBy ?? null, state.yankedFrom ?? null],
      );
      if (activity) await this.journal(c, activity);
      serial = await this.change(c, project);
    });
    this.madeChange(serial);
  }

  private async journal(c: pg.PoolClient | pg.Pool, e: Omit<ActivityRecord, 'time'> & { time?: string }): Promise<void> {
    await c.query('INSERT INTO activity (time, action, project, version, filename, "user", address, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
      e.time ?? new Date().toISOString(),
      e.action,
      e.project,
      e.version,
      e.filename,
      e.user,
      e.address,
      e.reason,
    ]);
  }

  async addActivity(entry: Omit<ActivityRecord, 'time'> & { time?: string }): Promise<void> {
    await this.journal(this.pool, entry);
  }

  // ---- downloads -----------------------------------------------------------------

  countDownload(file: Pick<FileRecord, 'filename' | 'project'> & Pick<ServedFile, 'id'>, installer: Installer, ci: boolean, now?: Date): void {
    this.pending.count(file, installer, ci, now);
  }

  /** One upsert for every pending count; on failure the counts go back and wait for the next flush. */
  async flushDownloads(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending.take();
    try {
      await this.addDownloadRows(batch.list());
    } catch (err) {
      this.pending.restore(batch);
      throw err;
    }
  }

  async downloadsOf(project: string): Promise<Map<string, number>> {
    const rows = await this.pool.query<[string, number]>({
      text: 'SELECT d.filename, sum(d.count)::bigint FROM downloads d JOIN files f ON f.filename = d.filename WHERE f.project = $1 GROUP BY d.filename',
      values: [project],
      rowMode: 'array',
    });
    return perFile(rows.rows, this.pending.of(project));
  }

  async downloadsByDay(project: string): Promise<{ day: string; downloads: number }[]> {
    const rows = await this.pool.query<[string, number]>({
      text: 'SELECT d.day, sum(d.count)::bigint FROM downloads d JOIN files f ON f.filename = d.filename WHERE f.project = $1 GROUP BY d.day',
      values: [project],
      rowMode: 'array',
    });
    return perDay(rows.rows, this.pending.of(project));
  }

  async downloadsByInstaller(project: string): Promise<InstallerCount[]> {
    const rows = await this.pool.query<[string, number, number]>({
      text: `SELECT d.installer, sum(d.count)::bigint, sum(CASE WHEN d.ci THEN d.count ELSE 0 END)::bigint
        FROM downloads d JOIN files f ON f.filename = d.filename WHERE f.project = $1 AND d.installer <> $2 GROUP BY d.installer`,
      values: [project, UNRECORDED_INSTALLER],
      rowMode: 'array',
    });
    return perInstaller(rows.rows, this.pending.of(project));
  }

  async projectSummaries(today = new Date()): Promise<ProjectSummaryRecord[]> {
    const days = lastDays(today, RECENT_DAYS);
    const [projects, totals, recent] = await Promise.all([
      this.pool.query<{ name: string; displayName: string; files: number; versions: number; lastUpload: string | null; lastUploadedBy: string | null }>(
        `SELECT p.name, p.display_name AS "displayName", count(f.filename)::bigint AS files, count(DISTINCT f.release_key)::bigint AS versions,
            max(f.upload_time) AS "lastUpload",
            (SELECT l.uploaded_by FROM files l WHERE l.project = p.name ORDER BY l.upload_time DESC LIMIT 1) AS "lastUploadedBy"
          FROM projects p LEFT JOIN files f ON f.project = p.name GROUP BY p.name ORDER BY p.name COLLATE "C"`,
      ),
      this.pool.query<[string, number]>({ text: 'SELECT f.project, sum(d.count)::bigint FROM downloads d JOIN files f ON f.filename = d.filename GROUP BY f.project', rowMode: 'array' }),
      this.pool.query<[string, string, number]>({
        text: 'SELECT f.project, d.day, sum(d.count)::bigint FROM downloads d JOIN files f ON f.filename = d.filename WHERE d.day >= $1 GROUP BY f.project, d.day',
        values: [days[0]],
        rowMode: 'array',
      }),
    ]);
    return summaries(projects.rows, totals.rows, recent.rows, this.pending.all(), days);
  }

  async downloadRows(): Promise<DownloadCountRow[]> {
    await this.flushDownloads();
    return (await this.pool.query<DownloadCountRow>('SELECT filename, day, installer, ci, count FROM downloads ORDER BY filename, day')).rows;
  }

  /** One upsert for all rows; counts of files deleted meanwhile are dropped by the join, as the embedded catalog does. */
  async addDownloadRows(rows: DownloadCountRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.pool.query(
      `INSERT INTO downloads (filename, day, installer, ci, count)
        SELECT b.filename, b.day, b.installer, b.ci, b.count
        FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::bigint[]) AS b (filename, day, installer, ci, count)
        JOIN files f ON f.filename = b.filename
        ON CONFLICT (filename, day, installer, ci) DO UPDATE SET count = downloads.count + excluded.count`,
      [rows.map((b) => b.filename), rows.map((b) => b.day), rows.map((b) => b.installer), rows.map((b) => b.ci), rows.map((b) => b.count)],
    );
  }

  // ---- owners and meta -----------------------------------------------------------

  async owners(project: string): Promise<{ user: string; role: Role }[]> {
    return (await this.pool.query<{ user: string; role: Role }>('SELECT "user", role FROM owners WHERE project = $1 ORDER BY role DESC, "user" COLLATE "C"', [project])).rows;
  }

  // Owner changes are numbered like file changes: the other daemons check uploads against them.
  async addOwner(project: string, user: string, role: Role): Promise<void> {
    await this.numbered(project, (c) =>
      c.query('INSERT INTO owners (project, "user", role) VALUES ($1, $2, $3) ON CONFLICT (project, "user") DO UPDATE SET role = excluded.role', [project, user, role]),
    );
  }

  /** Makes `user` the owner of a project that has none (its first upload); false when it had one. */
  async claimOwner(project: string, user: string): Promise<boolean> {
    let claimed = false;
    await this.numbered(project, async (c) => {
      const r = await c.query(
        `INSERT INTO owners (project, "user", role, claimed) SELECT $1, $2, 'owner', true WHERE NOT EXISTS (SELECT 1 FROM owners WHERE project = $1) ON CONFLICT DO NOTHING`,
        [project, user],
      );
      claimed = (r.rowCount ?? 0) > 0;
      return claimed;
    });
    return claimed;
  }

  async removeOwner(project: string, user: string): Promise<boolean> {
    let removed = false;
    await this.numbered(project, async (c) => {
      removed = ((await c.query('DELETE FROM owners WHERE project = $1 AND "user" = $2', [project, user])).rowCount ?? 0) > 0;
      return removed;
    });
    return removed;
  }

  /** Runs `fn` in a transaction and numbers it as a change to `project` unless it returns false. */
  private async numbered(project: string, fn: (c: pg.PoolClient) => Promise<unknown>): Promise<void> {
    let serial = 0;
    await this.transaction(async (c) => {
      if ((await fn(c)) === false) return;
      serial = await this.change(c, project);
    });
    this.madeChange(serial);
  }

  async ownershipsOf(user: string): Promise<{ project: string; role: Role }[]> {
    return (await this.pool.query<{ project: string; role: Role }>('SELECT project, role FROM owners WHERE "user" = $1 ORDER BY project COLLATE "C"', [user])).rows;
  }

  /** The users and access of the shared index, or undefined when none were stored yet. */
  async identityDocument(): Promise<IdentityDocument | undefined> {
    const row = (await this.pool.query<{ htpasswd: string; access: AccessFile }>('SELECT htpasswd, access FROM identity WHERE id = 1')).rows[0];
    return row && { htpasswd: row.htpasswd, access: row.access };
  }

  /** Stores the users and access of the shared index, replacing what was there. */
  async putIdentityDocument(doc: IdentityDocument): Promise<void> {
    await this.updateIdentityDocument(() => doc);
  }

  /**
   * Changes the users and access of the shared index as `edit` says, given what is stored
   * (undefined when nothing is), under a row lock: two daemons editing at once apply their
   * edits one after the other, neither losing the other's. A change the others are told of.
   */
  async updateIdentityDocument(edit: (current: IdentityDocument | undefined) => IdentityDocument | undefined): Promise<void> {
    await this.numbered(IDENTITY_CHANGE, async (c) => {
      // Two first writers would both see no row: the advisory lock orders them.
      await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY + 1]);
      const row = (await c.query<{ htpasswd: string; access: AccessFile }>('SELECT htpasswd, access FROM identity WHERE id = 1 FOR UPDATE')).rows[0];
      const next = edit(row && { htpasswd: row.htpasswd, access: row.access });
      if (!next) return false;
      await c.query(
        `INSERT INTO identity (id, htpasswd, access, version) VALUES (1, $1, $2, 1)
          ON CONFLICT (id) DO UPDATE SET htpasswd = excluded.htpasswd, access = excluded.access, version = identity.version + 1`,
        [next.htpasswd, JSON.stringify(next.access)],
      );
      return true;
    });
  }

  /**
   * Runs `fn` with the keys every file row names, unless another daemon is running it right
   * now (then undefined): one daemon at a time collects the bucket's orphans.
   */
  async asCollector<T>(fn: (referenced: Set<string>) => Promise<T>): Promise<T | undefined> {
    const c = await this.pool.connect();
    try {
      if (!(await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [COLLECTOR_LOCK_KEY])).rows[0]?.ok) return undefined;
      try {
        const rows = await c.query<{ relpath: string }>('SELECT relpath FROM files');
        return await fn(new Set(rows.rows.map((r) => r.relpath)));
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [COLLECTOR_LOCK_KEY]);
      }
    } finally {
      c.release();
    }
  }

  // ---- daemons sharing the catalog -----------------------------------------------

  /** Records that a daemon is alive (every few seconds). */
  async beat(d: SharedDaemon): Promise<void> {
    await this.pool.query(
      `INSERT INTO daemons (instance, url, host, pid, version, started_at, seen_at) VALUES ($1, $2, $3, $4, $5, $6, now())
        ON CONFLICT (instance) DO UPDATE SET url = excluded.url, seen_at = now()`,
      [d.instance, d.url, d.host, d.pid, d.version, d.startedAt],
    );
  }

  /** The daemons seen within `withinMs`, and forgets those not seen for a day. */
  async daemons(withinMs: number): Promise<(SharedDaemon & { seenAt: string })[]> {
    await this.pool.query("DELETE FROM daemons WHERE seen_at < now() - interval '1 day'");
    const rows = await this.pool.query<{ instance: string; url: string; host: string; pid: number; version: string; started_at: Date; seen_at: Date }>(
      'SELECT * FROM daemons WHERE seen_at > now() - make_interval(secs => $1) ORDER BY started_at',
      [withinMs / 1000],
    );
    return rows.rows.map((r) => ({ instance: r.instance, url: r.url, host: r.host, pid: r.pid, version: r.version, startedAt: r.started_at.toISOString(), seenAt: r.seen_at.toISOString() }));
  }

  /** A daemon that stops says so at once. */
  async leave(instance: string): Promise<void> {
    await this.pool.query('DELETE FROM daemons WHERE instance = $1', [instance]);
  }

  async metaValue(key: string): Promise<string | undefined> {
    return (await this.pool.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key])).rows[0]?.value;
  }

  /** Sets a meta value unless one is there (the first of several daemons wins). */
  async setMetaValueIfMissing(key: string, value: string): Promise<void> {
    await this.pool.query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value]);
  }

  /** The newest serial in the database now (not only the newest this daemon heard of). */
  lastSerialNow(): Promise<number> {
    return this.lastSerial();
  }

  async setMetaValue(key: string, value: string): Promise<void> {
    await this.pool.query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnect);
    try {
      await this.flushDownloads();
    } finally {
      await this.listener?.end().catch(() => undefined);
      await this.pool.end();
    }
  }
}
