/**
 * Downloads, gathered into one `downloads` event per interval: a burst of a thousand
 * downloads a second is four events a second, each with the counts of every file
 * downloaded since the last, by installer and CI. Nothing is lost: `flush` publishes what
 * is gathered at once (before a snapshot is read, and at shutdown).
 */
import type { FileDownloads, InstallerCount } from '../../shared/api.js';
import type { FileRecord } from './catalog.js';
import type { DownloadClient } from './installer.js';

/** How long downloads are gathered before their event goes out. */
export const DOWNLOAD_BATCH_MS = 250;

export class DownloadBatch {
  private files = new Map<string, { project: string; filename: string; downloads: number; installers: Map<string, InstallerCount> }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly publish: (files: FileDownloads[]) => void,
    private readonly intervalMs = DOWNLOAD_BATCH_MS,
  ) {}

  add(file: Pick<FileRecord, 'filename' | 'project'>, client: DownloadClient): void {
    let entry = this.files.get(file.filename);
    if (!entry) this.files.set(file.filename, (entry = { project: file.project, filename: file.filename, downloads: 0, installers: new Map() }));
    entry.downloads += 1;
    let count = entry.installers.get(client.installer);
    if (!count) entry.installers.set(client.installer, (count = { installer: client.installer, downloads: 0, ci: 0 }));
    count.downloads += 1;
    if (client.ci) count.ci += 1;
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Publishes what was gathered, if anything. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.files.size === 0) return;
    const files = [...this.files.values()].map((f) => ({ ...f, installers: [...f.installers.values()].sort((a, b) => b.downloads - a.downloads) }));
    this.files = new Map();
    this.publish(files);
  }
}
