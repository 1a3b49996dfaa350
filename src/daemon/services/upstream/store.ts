/**
 * What the upstream proxy keeps between runs, in its own SQLite file beside the cached
 * files (`<data>/upstream/`): the project pages as read (so that a cached project still
 * installs after a restart with upstream unreachable), the files stored with their hash
 * and last use (for eviction), their core metadata, and download counts by installer.
 * Apart from the catalog: the upstream cache can be purged whole without touching the index.
 */
import Database from 'better-sqlite3';
import type { Database as DB, Statement } from 'better-sqlite3';
import type { Installer } from '../../../shared/api.js';
import type { UpstreamProject } from './parse.js';

/** One cached upstream file. Times in ms since the epoch. */
export interface CachedFile {
  filename: string;
  project: string;
  sha256: string;
  size: number;
  storedAt: number;
  lastUsed: number;
}

/** A project page as kept: what was read, when, and upstream's ETag for revalidating it. */
export interface StoredPage {
  project: UpstreamProject;
  fetchedAt: number;
  etag: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS pages (project TEXT PRIMARY KEY, fetched_at INTEGER NOT NULL, etag TEXT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
  filename TEXT PRIMARY KEY, project TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
  stored_at INTEGER NOT NULL, last_used INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS metadata (filename TEXT PRIMARY KEY, project TEXT NOT NULL, sha256 TEXT NOT NULL, bytes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS downloads (
  filename TEXT NOT NULL, project TEXT NOT NULL, day TEXT NOT NULL, installer TEXT NOT NULL, ci INTEGER NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (filename, day, installer, ci)
);
`;

export class UpstreamStore {
  private readonly db: DB;
  private readonly stmt: Record<string, Statement>;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    const s = (sql: string) => this.db.prepare(sql);
    this.stmt = {
      page: s('SELECT fetched_at, etag, body FROM pages WHERE project = ?'),
      putPage: s(`INSERT INTO pages (project, fetched_at, etag, body) VALUES (?, ?, ?, ?)
        ON CONFLICT (project) DO UPDATE SET fetched_at = excluded.fetched_at, etag = excluded.etag, body = excluded.body`),
      touchPage: s('UPDATE pages SET fetched_at = ? WHERE project = ?'),
      deletePage: s('DELETE FROM pages WHERE project = ?'),
      pageCount: s('SELECT COUNT(*) AS n FROM pages'),
      pageNames: s('SELECT project FROM pages'),
      files: s('SELECT filename, project, sha256, size, stored_at AS storedAt, last_used AS lastUsed FROM files'),
      putFile: s(`INSERT INTO files (filename, project, sha256, size, stored_at, last_used) VALUES (@filename, @project, @sha256, @size, @storedAt, @lastUsed)
        ON CONFLICT (filename) DO UPDATE SET project = excluded.project, sha256 = excluded.sha256, size = excluded.size,
          stored_at = excluded.stored_at, last_used = excluded.last_used`),
      useFile: s('UPDATE files SET last_used = ? WHERE filename = ?'),
      deleteFile: s('DELETE FROM files WHERE filename = ?'),
      metadata: s('SELECT sha256, bytes FROM metadata WHERE filename = ?'),
      putMetadata: s('INSERT INTO metadata (filename, project, sha256, bytes) VALUES (?, ?, ?, ?) ON CONFLICT (filename) DO UPDATE SET bytes = excluded.bytes, sha256 = excluded.sha256'),
      deleteMetadataOf: s('DELETE FROM metadata WHERE project = ?'),
      deleteMetadata: s('DELETE FROM metadata WHERE filename = ?'),
      addDownloads: s(`INSERT INTO downloads (filename, project, day, installer, ci, count) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (filename, day, installer, ci) DO UPDATE SET count = count + excluded.count`),
      downloadsByInstaller: s('SELECT installer, SUM(count) AS downloads, SUM(CASE WHEN ci THEN count ELSE 0 END) AS ci FROM downloads GROUP BY installer'),
    };
  }

  page(project: string): StoredPage | undefined {
    const row = this.stmt.page!.get(project) as { fetched_at: number; etag: string | null; body: string } | undefined;
    if (!row) return undefined;
    try {
      return { project: JSON.parse(row.body) as UpstreamProject, fetchedAt: row.fetched_at, etag: row.etag };
    } catch {
      return undefined;
    }
  }

  putPage(page: StoredPage): void {
    this.stmt.putPage!.run(page.project.name, page.fetchedAt, page.etag, JSON.stringify(page.project));
  }

  touchPage(project: string, fetchedAt: number): void {
    this.stmt.touchPage!.run(fetchedAt, project);
  }

  deletePage(project: string): void {
    this.stmt.deletePage!.run(project);
  }

  pageCount(): number {
    return (this.stmt.pageCount!.get() as { n: number }).n;
  }

  pageNames(): string[] {
    return (this.stmt.pageNames!.raw().all() as [string][]).map(([name]) => name);
  }

  files(): CachedFile[] {
    return this.stmt.files!.all() as CachedFile[];
  }

  putFile(file: CachedFile): void {
    this.stmt.putFile!.run(file);
  }

  /** Writes the last uses kept in memory, in one transaction. */
  useFiles(uses: Iterable<[string, number]>): void {
    this.db.transaction(() => {
      for (const [filename, at] of uses) this.stmt.useFile!.run(at, filename);
    })();
  }

  deleteFile(filename: string): void {
    this.db.transaction(() => {
      this.stmt.deleteFile!.run(filename);
      this.stmt.deleteMetadata!.run(filename);
    })();
  }

  metadata(filename: string): { sha256: string; bytes: Buffer } | undefined {
    return this.stmt.metadata!.get(filename) as { sha256: string; bytes: Buffer } | undefined;
  }

  putMetadata(filename: string, project: string, sha256: string, bytes: Buffer): void {
    this.stmt.putMetadata!.run(filename, project, sha256, bytes);
  }

  /** Forgets a project's page and core metadata (its files go one by one, with their bytes). */
  forgetProject(project: string): void {
    this.db.transaction(() => {
      this.stmt.deletePage!.run(project);
      this.stmt.deleteMetadataOf!.run(project);
    })();
  }

  addDownloads(rows: Iterable<{ filename: string; project: string; day: string; installer: Installer; ci: boolean; count: number }>): void {
    this.db.transaction(() => {
      for (const r of rows) this.stmt.addDownloads!.run(r.filename, r.project, r.day, r.installer, r.ci ? 1 : 0, r.count);
    })();
  }

  downloadsByInstaller(): { installer: Installer; downloads: number; ci: number }[] {
    return this.stmt.downloadsByInstaller!.all() as { installer: Installer; downloads: number; ci: number }[];
  }

  close(): void {
    this.db.close();
  }
}
