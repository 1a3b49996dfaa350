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

/** Files whose counters are kept between events; past this many (about 3 MB of counters), all are let go at the next event. */
const COUNTERS_KEPT = 8192;

/** A file's downloads since the last event, by installer; kept from event to event and set back to zero. */
interface Counter {
  project: string;
  filename: string;
  downloads: number;
  installers: Map<string, InstallerCount>;
}

/**
 * The counters of a file live from event to event instead of being made anew for each:
 * under random downloads of thousands of files, counters made every quarter second lived just
 * long enough to be promoted to V8's old generation, which then filled and was collected
 * several times a second (a download's p99 went from about 3 to 7 ms with the events on).
 */
export class DownloadBatch {
  private readonly counters = new Map<string, Counter>();
  /** The counters with downloads since the last event, in the order of their first. */
  private pending: Counter[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly publish: (files: FileDownloads[]) => void,
    private readonly intervalMs = DOWNLOAD_BATCH_MS,
  ) {}

  add(file: Pick<FileRecord, 'filename' | 'project'>, client: DownloadClient): void {
    let counter = this.counters.get(file.filename);
    if (!counter || counter.project !== file.project) {
      counter = { project: file.project, filename: file.filename, downloads: 0, installers: new Map() };
      this.counters.set(file.filename, counter);
    }
    if (counter.downloads === 0) this.pending.push(counter);
    counter.downloads += 1;
    let count = counter.installers.get(client.installer);
    if (!count) counter.installers.set(client.installer, (count = { installer: client.installer, downloads: 0, ci: 0 }));
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
    if (this.pending.length === 0) return;
    const files: FileDownloads[] = [];
    for (const c of this.pending) {
      const installers: InstallerCount[] = [];
      for (const count of c.installers.values()) {
        if (count.downloads === 0) continue;
        installers.push({ ...count });
        count.downloads = 0;
        count.ci = 0;
      }
      installers.sort((a, b) => b.downloads - a.downloads);
      files.push({ project: c.project, filename: c.filename, downloads: c.downloads, installers });
      c.downloads = 0;
    }
    // A counter pending twice would be counted twice: the list starts again empty.
    this.pending = [];
    if (this.counters.size > COUNTERS_KEPT) this.counters.clear();
    this.publish(files);
  }
}
