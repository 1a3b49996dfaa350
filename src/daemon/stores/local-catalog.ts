/**
 * The embedded SQLite catalog (catalog.ts) as a CatalogStore: the default, for one daemon.
 * Its calls are synchronous underneath and answer at once. One daemon is the only writer, so
 * no other daemon's change is ever announced, and the changes to catch up on are those this
 * process made since it opened the catalog (kept in memory, bounded).
 */
import type { Installer } from '../../shared/api.js';
import { Catalog, type ActivityRecord, type Actor, type DownloadCountRow, type FileRecord, type ReleaseState, type ServedFile } from '../services/catalog.js';
import { FileExistsError, type CatalogChange, type CatalogStore, type ImmediateReads, type NewFile, type Role } from './catalog-store.js';

/** Changes remembered for changesSince; older ones are answered from the oldest kept. */
const CHANGES_KEPT = 10_000;

export class LocalCatalog implements CatalogStore, ImmediateReads {
  private readonly changes: CatalogChange[] = [];

  constructor(readonly catalog: Catalog) {}

  static open(file: string): LocalCatalog {
    return new LocalCatalog(new Catalog(file));
  }

  get serial(): number {
    return this.catalog.serial;
  }

  /** A consistent copy of the whole catalog in a SQLite file at `path` (what `pyrepo backup` keeps). */
  snapshot(path: string): Promise<void> {
    return this.catalog.snapshot(path);
  }

  private changed(project: string): void {
    this.changes.push({ serial: this.catalog.serial, project });
    if (this.changes.length > CHANGES_KEPT) this.changes.splice(0, this.changes.length - CHANGES_KEPT);
  }

  async file(filename: string) {
    return this.catalog.file(filename);
  }
  async servedFile(filename: string) {
    return this.catalog.servedFile(filename);
  }
  servedFileNow(filename: string) {
    return this.catalog.servedFile(filename);
  }
  prepareServedFiles() {
    return this.catalog.prepareServedFiles();
  }
  hasProjectNow(name: string) {
    return this.catalog.project(name) !== undefined;
  }
  hadProjectNow(name: string) {
    return this.catalog.wasEverLocal(name);
  }
  async fileByPath(relpath: string) {
    return this.catalog.fileByPath(relpath);
  }
  async filesOf(project: string) {
    return this.catalog.filesOf(project);
  }
  async fileStamps() {
    return this.catalog.fileStamps();
  }
  async filesUnder(dir: string) {
    return this.catalog.filesUnder(dir);
  }
  async project(name: string) {
    return this.catalog.project(name);
  }
  async projects() {
    return this.catalog.projects();
  }
  async counts() {
    return this.catalog.counts();
  }
  async metadataBytes(filename: string) {
    return this.catalog.metadataBytes(filename);
  }
  async releaseStates(project: string) {
    return this.catalog.releaseStates(project);
  }
  async releaseVersionsOf(projects: readonly string[]) {
    return this.catalog.releaseVersionsOf(projects);
  }
  async activity(opts: { project?: string; limit: number }) {
    return this.catalog.activity(opts);
  }

  async addFiles(entries: NewFile[], opts: { replace: boolean; journal?: boolean }): Promise<void> {
    if (entries.length === 0) return;
    const put = () => this.catalog.putFiles(entries, opts.journal ?? true);
    if (opts.replace) {
      // putFiles is one transaction already (another around it would add a savepoint to every upload).
      put();
    } else {
      this.catalog.transaction(() => {
        for (const { file } of entries) {
          const taken = this.catalog.file(file.filename) ?? this.catalog.fileByPath(file.relpath);
          if (taken) throw new FileExistsError(taken.filename, taken.sha256);
        }
        put();
      });
    }
    for (const project of new Set(entries.map((e) => e.file.project))) this.changed(project);
  }

  async touch(filename: string, mtimeMs: number) {
    this.catalog.touch(filename, mtimeMs);
  }

  async removeFile(filename: string, by?: Actor) {
    const removed = this.catalog.removeFile(filename, by);
    if (removed) this.changed(removed.project);
    return removed;
  }

  async setYanked(project: string, releaseKey: string, yanked: boolean, reason: string | null, activity?: Omit<ActivityRecord, 'time'>) {
    this.catalog.setYanked(project, releaseKey, yanked, reason, activity);
    this.changed(project);
  }

  async putReleaseState(project: string, releaseKey: string, state: ReleaseState) {
    this.catalog.setYanked(project, releaseKey, state.yanked, state.reason, state.yanked ? { action: 'yank', project, version: null, filename: null, user: state.yankedBy ?? null, address: state.yankedFrom ?? null, reason: state.reason } : undefined, false);
    this.changed(project);
  }

  async addActivity(entry: Omit<ActivityRecord, 'time'> & { time?: string }) {
    this.catalog.addActivity(entry);
  }

  countDownload(file: Pick<FileRecord, 'filename' | 'project'> & Pick<ServedFile, 'id'>, installer: Installer, ci: boolean, now?: Date): void {
    this.catalog.countDownload(file, installer, ci, now);
  }
  async flushDownloads() {
    this.catalog.flushDownloads();
  }
  async downloadsOf(project: string) {
    return this.catalog.downloadsOf(project);
  }
  async downloadsByDay(project: string) {
    return this.catalog.downloadsByDay(project);
  }
  async downloadsByInstaller(project: string) {
    return this.catalog.downloadsByInstaller(project);
  }
  async projectSummaries(today?: Date) {
    return this.catalog.projectSummaries(today);
  }
  async downloadRows() {
    return this.catalog.downloadRows();
  }
  async addDownloadRows(rows: DownloadCountRow[]) {
    this.catalog.addDownloadRows(rows);
  }

  async owners(project: string) {
    return this.catalog.owners(project);
  }
  async addOwner(project: string, user: string, role: Role) {
    this.catalog.addOwner(project, user, role);
  }
  async removeOwner(project: string, user: string) {
    return this.catalog.removeOwner(project, user);
  }
  async ownershipsOf(user: string) {
    return this.catalog.ownershipsOf(user);
  }
  async metaValue(key: string) {
    return this.catalog.metaValue(key);
  }
  async setMetaValue(key: string, value: string) {
    this.catalog.setMetaValue(key, value);
  }

  async changesSince(serial: number): Promise<CatalogChange[]> {
    return this.changes.filter((c) => c.serial > serial);
  }

  onForeignChange(): () => void {
    return () => undefined;
  }

  async close() {
    this.catalog.close();
  }
}
