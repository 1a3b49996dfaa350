/**
 * What pyrepo's tools besides the daemon read from a catalog file (`pyrepo backup` and
 * `pyrepo restore`): its schema version, the distribution files it lists, and counts of
 * what it holds. Only the daemon writes a live catalog (src/daemon/services/catalog.ts);
 * the queries here use columns every schema has had, so a backup made by an older pyrepo
 * reads the same.
 */
import type { Database as DB } from 'better-sqlite3';

/** The catalog schema this pyrepo writes; the daemon upgrades older catalogs in place and refuses newer ones. */
export const CATALOG_SCHEMA_VERSION = 4;

/** A distribution file the catalog lists, with what a copy must match. */
export interface CatalogFileEntry {
  filename: string;
  /** Path inside the packages folder, `/`-separated. */
  relpath: string;
  sha256: string;
  size: number;
  /** The file's mtime when the catalog last saw it (restoring it spares the daemon a re-hash). */
  mtimeMs: number;
}

/** What a catalog holds, in numbers. */
export interface CatalogCounts {
  projects: number;
  files: number;
  /** Project owners and maintainers. */
  owners: number;
  yankedReleases: number;
  downloads: number;
  /** Entries of the activity journal (uploads, deletions, yanks, unyanks with who made them). */
  activity: number;
}

/** A catalog file opened for reading (better-sqlite3 is loaded on first use: most commands never need it). */
export class CatalogFile {
  private constructor(private readonly db: DB) {}

  /** Opens `path`; read-only unless `writable` (needed to take a snapshot of a catalog that may have a WAL to recover). */
  static async open(path: string, opts: { writable?: boolean } = {}): Promise<CatalogFile> {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path, { fileMustExist: true, readonly: !opts.writable });
    return new CatalogFile(db);
  }

  /** The schema version the catalog says it has (0 when it says none). */
  schemaVersion(): number {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string } | undefined;
    return row ? Number(row.value) : 0;
  }

  /** SQLite's own check of the file's structure: 'ok', or what is wrong. */
  check(): string {
    const rows = this.db.pragma('quick_check') as { quick_check: string }[];
    return rows.map((r) => r.quick_check).join('; ');
  }

  files(): CatalogFileEntry[] {
    return this.db.prepare('SELECT filename, relpath, sha256, size, mtime_ms AS mtimeMs FROM files ORDER BY relpath').all() as CatalogFileEntry[];
  }

  counts(): CatalogCounts {
    const one = (sql: string) => Number((this.db.prepare(sql).pluck().get() as number | null) ?? 0);
    const hasActivity = one("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'activity'") > 0;
    return {
      projects: one('SELECT COUNT(*) FROM projects'),
      files: one('SELECT COUNT(*) FROM files'),
      owners: one('SELECT COUNT(*) FROM owners'),
      yankedReleases: one('SELECT COUNT(*) FROM releases WHERE yanked = 1'),
      downloads: one('SELECT SUM(count) FROM downloads'),
      activity: hasActivity ? one('SELECT COUNT(*) FROM activity') : 0,
    };
  }

  /** Writes a consistent copy of the catalog to `dest` (SQLite's online backup). */
  async snapshotTo(dest: string): Promise<void> {
    await this.db.backup(dest);
  }

  /** Makes the file stand alone: no write-ahead log beside it (backups are copied as one file). */
  standalone(): void {
    this.db.pragma('journal_mode = DELETE');
  }

  close(): void {
    this.db.close();
  }
}
