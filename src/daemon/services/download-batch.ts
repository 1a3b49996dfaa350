/**
 * Downloads, gathered into one `downloads` event per interval: a burst of a thousand
 * downloads a second is four events a second, each with the counts of every file
 * downloaded since the last, by installer and CI. Nothing is lost: `flush` publishes what
 * is gathered at once (before a snapshot is read, and at shutdown).
 */
import { INSTALLERS, type FileDownloads, type InstallerCount } from '../../shared/api.js';
import type { FileRecord } from './catalog.js';
import type { DownloadClient } from './installer.js';

/** How long downloads are gathered before their event goes out. */
export const DOWNLOAD_BATCH_MS = 250;

/** Files whose counters are kept between events (about 100 bytes each); past this many, all are let go at the next event. */
const COUNTERS_KEPT = 16_384;

const INSTALLER_COUNT = INSTALLERS.length;
const INSTALLER_INDEX: ReadonlyMap<string, number> = new Map(INSTALLERS.map((name, i) => [name, i]));

/**
 * Counters with no object per file: a file has a slot, its counts are numbers in typed arrays
 * at that slot, and the slot is kept from event to event (set back to zero).
 *
 * Under random downloads of 60,000 files, a counter object per file (with a Map of its
 * installers) lived a quarter of a second — long enough to be promoted to V8's old
 * generation, which then filled and was collected several times a second: the events alone
 * promoted about 18 MB a second, and the downloads' p99 doubled. A download now allocates
 * nothing here once its file has a slot; only the event's own list is made, at each event.
 */
export class DownloadBatch {
  private readonly slots = new Map<string, number>();
  private projects: string[] = [];
  private filenames: string[] = [];
  /** Downloads since the last event, by slot; and by slot and installer, of them from CI. */
  private downloads = new Uint32Array(1024);
  private byInstaller = new Uint32Array(1024 * INSTALLER_COUNT);
  private fromCi = new Uint32Array(1024 * INSTALLER_COUNT);
  /** The slots with downloads since the last event, in the order of their first. */
  private pending = new Uint32Array(1024);
  private pendingCount = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly publish: (files: FileDownloads[]) => void,
    private readonly intervalMs = DOWNLOAD_BATCH_MS,
  ) {}

  add(file: Pick<FileRecord, 'filename' | 'project'>, client: DownloadClient): void {
    let slot = this.slots.get(file.filename);
    // A file that moved to another project gets a new slot; the old one is still published.
    if (slot === undefined || this.projects[slot] !== file.project) slot = this.newSlot(file);
    if (this.downloads[slot] === 0) this.pending[this.pendingCount++] = slot;
    (this.downloads[slot] as number) += 1;
    const at = slot * INSTALLER_COUNT + (INSTALLER_INDEX.get(client.installer) ?? INSTALLER_COUNT - 1);
    (this.byInstaller[at] as number) += 1;
    if (client.ci) (this.fromCi[at] as number) += 1;
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }

  private newSlot(file: Pick<FileRecord, 'filename' | 'project'>): number {
    const slot = this.filenames.length;
    this.filenames.push(file.filename);
    this.projects.push(file.project);
    this.slots.set(file.filename, slot);
    if (slot >= this.downloads.length) {
      const grown = (a: Uint32Array, size: number) => {
        const b = new Uint32Array(size);
        b.set(a);
        return b;
      };
      const size = this.downloads.length * 2;
      this.downloads = grown(this.downloads, size);
      this.pending = grown(this.pending, size);
      this.byInstaller = grown(this.byInstaller, size * INSTALLER_COUNT);
      this.fromCi = grown(this.fromCi, size * INSTALLER_COUNT);
    }
    return slot;
  }

  /** Publishes what was gathered, if anything. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pendingCount === 0) return;
    const files: FileDownloads[] = [];
    for (let p = 0; p < this.pendingCount; p++) {
      const slot = this.pending[p] as number;
      const installers: InstallerCount[] = [];
      for (let i = 0; i < INSTALLER_COUNT; i++) {
        const at = slot * INSTALLER_COUNT + i;
        const downloads = this.byInstaller[at] as number;
        if (downloads === 0) continue;
        installers.push({ installer: INSTALLERS[i] as InstallerCount['installer'], downloads, ci: this.fromCi[at] as number });
        this.byInstaller[at] = 0;
        this.fromCi[at] = 0;
      }
      installers.sort((a, b) => b.downloads - a.downloads);
      files.push({ project: this.projects[slot] as string, filename: this.filenames[slot] as string, downloads: this.downloads[slot] as number, installers });
      this.downloads[slot] = 0;
    }
    // A slot pending twice would be counted twice: the list starts again empty.
    this.pendingCount = 0;
    if (this.filenames.length > COUNTERS_KEPT) this.clearSlots();
    this.publish(files);
  }

  /** Lets every slot go (all are zero). */
  private clearSlots(): void {
    this.slots.clear();
    this.projects = [];
    this.filenames = [];
  }
}
