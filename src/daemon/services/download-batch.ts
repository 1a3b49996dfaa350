/**
 * Downloads, gathered into one `downloads` event per interval: a burst of a thousand
 * downloads a second is four events a second, each with the counts of every file
 * downloaded since the last, by installer and CI. Nothing is lost: `flush` publishes what
 * is gathered at once (before a snapshot is read, and at shutdown).
 */
import { INSTALLERS, type FileDownloads, type InstallerCount } from '../../shared/api.js';
import { FileSlots, grown, INSTALLER_INDEX, type CountedFile } from './file-slots.js';
import type { DownloadClient } from './installer.js';

/** How long downloads are gathered before their event goes out. */
export const DOWNLOAD_BATCH_MS = 250;

/** Files whose counters are kept between events (about 100 bytes each); past this many, all are let go at the next event. */
const COUNTERS_KEPT = 16_384;

const INSTALLER_COUNT = INSTALLERS.length;

/**
 * A `downloads` event's files, packed: the project and filename strings (the catalog's own)
 * and the numbers in one typed array — for each file its downloads, how many installers, then
 * each installer's index, downloads and downloads from CI, most first.
 *
 * The event bus keeps the newest events for clients that reconnect (about a second of them
 * under a download load); as objects, three per file, they were promoted to V8's old
 * generation, the largest part of what downloads promoted. The list is made when asked for.
 */
export class PackedDownloads {
  constructor(
    /** The project of each file. */
    readonly projects: readonly string[],
    private readonly filenames: readonly string[],
    private readonly counts: Uint32Array,
  ) {}

  /** The event's list of files, made anew at each call. */
  files(): FileDownloads[] {
    const files: FileDownloads[] = [];
    let at = 0;
    for (let f = 0; f < this.filenames.length; f++) {
      const downloads = this.counts[at++] as number;
      const n = this.counts[at++] as number;
      const installers: InstallerCount[] = [];
      for (let k = 0; k < n; k++) {
        const installer = INSTALLERS[this.counts[at++] as number] as InstallerCount['installer'];
        installers.push({ installer, downloads: this.counts[at++] as number, ci: this.counts[at++] as number });
      }
      files.push({ project: this.projects[f] as string, filename: this.filenames[f] as string, downloads, installers });
    }
    return files;
  }

  /** About the length of the event's JSON (within a few percent), without making it. */
  chars(): number {
    let chars = 80;
    let at = 0;
    for (let f = 0; f < this.filenames.length; f++) {
      chars += 60 + (this.projects[f] as string).length + (this.filenames[f] as string).length;
      at += 1;
      const n = this.counts[at++] as number;
      for (let k = 0; k < n; k++) {
        chars += 40 + (INSTALLERS[this.counts[at] as number] as string).length;
        at += 3;
      }
    }
    return chars;
  }
}

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
  private readonly slots = new FileSlots();
  /** Downloads since the last event, by slot; and by slot and installer, of them from CI. */
  private downloads = new Uint32Array(1024);
  private byInstaller = new Uint32Array(1024 * INSTALLER_COUNT);
  private fromCi = new Uint32Array(1024 * INSTALLER_COUNT);
  /** The slots with downloads since the last event, in the order of their first. */
  private pending = new Uint32Array(1024);
  private pendingCount = 0;
  /** Scratch for ordering a file's installers. */
  private readonly installerOrder = new Uint8Array(INSTALLER_COUNT);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly publish: (downloads: PackedDownloads) => void,
    private readonly intervalMs = DOWNLOAD_BATCH_MS,
  ) {}

  add(file: CountedFile, client: DownloadClient): void {
    const slot = this.slots.slotOf(file);
    if (slot >= this.downloads.length) this.grow();
    if (this.downloads[slot] === 0) this.pending[this.pendingCount++] = slot;
    (this.downloads[slot] as number) += 1;
    // An installer this list does not know is counted as the last one, 'other'.
    const at = slot * INSTALLER_COUNT + (INSTALLER_INDEX.get(client.installer) ?? INSTALLER_COUNT - 1);
    (this.byInstaller[at] as number) += 1;
    if (client.ci) (this.fromCi[at] as number) += 1;
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }

  private grow(): void {
    const size = this.downloads.length * 2;
    this.downloads = grown(this.downloads, size);
    this.pending = grown(this.pending, size);
    this.byInstaller = grown(this.byInstaller, size * INSTALLER_COUNT);
    this.fromCi = grown(this.fromCi, size * INSTALLER_COUNT);
  }

  /** Publishes what was gathered, if anything. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pendingCount === 0) return;
    const projects: string[] = [];
    const filenames: string[] = [];
    // At most 2 + 3 numbers per installer for each file.
    const counts = new Uint32Array(this.pendingCount * (2 + 3 * INSTALLER_COUNT));
    let at = 0;
    const order = this.installerOrder;
    for (let p = 0; p < this.pendingCount; p++) {
      const slot = this.pending[p] as number;
      projects.push(this.slots.projects[slot] as string);
      filenames.push(this.slots.filenames[slot] as string);
      counts[at++] = this.downloads[slot] as number;
      // The installers with downloads, most first (insertion sort: there are at most seven).
      let n = 0;
      for (let i = 0; i < INSTALLER_COUNT; i++) {
        const downloads = this.byInstaller[slot * INSTALLER_COUNT + i] as number;
        if (downloads === 0) continue;
        let j = n++;
        while (j > 0 && (this.byInstaller[slot * INSTALLER_COUNT + (order[j - 1] as number)] as number) < downloads) {
          order[j] = order[j - 1] as number;
          j--;
        }
        order[j] = i;
      }
      counts[at++] = n;
      for (let k = 0; k < n; k++) {
        const i = slot * INSTALLER_COUNT + (order[k] as number);
        counts[at++] = order[k] as number;
        counts[at++] = this.byInstaller[i] as number;
        counts[at++] = this.fromCi[i] as number;
        this.byInstaller[i] = 0;
        this.fromCi[i] = 0;
      }
      this.downloads[slot] = 0;
    }
    // A slot pending twice would be counted twice: the list starts again empty.
    this.pendingCount = 0;
    if (this.slots.count > COUNTERS_KEPT) this.slots.clear();
    this.publish(new PackedDownloads(projects, filenames, counts.slice(0, at)));
  }
}
