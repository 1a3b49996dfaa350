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

/**
 * Files whose counters are kept between events (about 50 bytes each); past this many, all are
 * let go at the next event. Under random downloads of 60,000 files an event has 8,000 of them:
 * at 16,384 kept the slots grew to 32,768 (1.7 MB), at 4,096 they stay at 16,384.
 */
const COUNTERS_KEPT = 4_096;

const INSTALLER_COUNT = INSTALLERS.length;

/** The most a counter by installer holds ({@link DownloadBatch}). */
const COUNTER_MAX = 0xffff;

/**
 * Where the files of recent `downloads` events are kept, packed: filenames and projects (the
 * catalog's own strings) in two arrays, the numbers in one typed array, all used again as a
 * ring. Each event's files are written after the last event's and released, in order, when the
 * event bus lets the event go; what is written wraps around over what was released, and the
 * ring grows (to twice its size) only when the events still held would not leave room.
 *
 * The bus keeps the newest events for clients that reconnect, about a second of them under a
 * download load. With arrays of their own per event, those arrays lived that second and were
 * promoted to V8's old generation: under random downloads of 60,000 files, once the journal's
 * counts promoted nothing, download events were all that downloads promoted (0.6 MB a second,
 * with as much outside the heap), and the daemon's heap grew until each full collection.
 */
class DownloadRing {
  private filenames: string[] = [];
  private projects: string[] = [];
  private numbers = new Uint32Array(0);
  /** Files and numbers written since the start, and released: positions in the ring are these modulo its sizes. */
  private filesWritten = 0;
  private filesReleased = 0;
  private numbersWritten = 0;
  private numbersReleased = 0;

  /** Room for `files` more files and `numbers` more numbers; returns where they start. */
  reserve(files: number, numbers: number): { file: number; number: number } {
    if (this.filesWritten - this.filesReleased + files > this.filenames.length) this.growFiles(this.filesWritten - this.filesReleased + files);
    if (this.numbersWritten - this.numbersReleased + numbers > this.numbers.length) this.growNumbers(this.numbersWritten - this.numbersReleased + numbers);
    const at = { file: this.filesWritten, number: this.numbersWritten };
    this.filesWritten += files;
    this.numbersWritten += numbers;
    return at;
  }

  /** Lets what comes before these positions be written over (an event released, and every one before it). */
  release(file: number, number: number): void {
    this.filesReleased = Math.max(this.filesReleased, file);
    this.numbersReleased = Math.max(this.numbersReleased, number);
  }

  setFile(at: number, project: string, filename: string): void {
    const i = at % this.filenames.length;
    this.projects[i] = project;
    this.filenames[i] = filename;
  }

  filename(at: number): string {
    return this.filenames[at % this.filenames.length] as string;
  }

  project(at: number): string {
    return this.projects[at % this.projects.length] as string;
  }

  setNumber(at: number, value: number): void {
    this.numbers[at % this.numbers.length] = value;
  }

  number(at: number): number {
    return this.numbers[at % this.numbers.length] as number;
  }

  private growFiles(needed: number): void {
    const size = Math.max(needed, 2 * this.filenames.length, 1024);
    const filenames = new Array<string>(size).fill('');
    const projects = new Array<string>(size).fill('');
    for (let at = this.filesReleased; at < this.filesWritten; at++) {
      filenames[at % size] = this.filename(at);
      projects[at % size] = this.project(at);
    }
    this.filenames = filenames;
    this.projects = projects;
  }

  private growNumbers(needed: number): void {
    const size = Math.max(needed, 2 * this.numbers.length, 4096);
    const numbers = new Uint32Array(size);
    for (let at = this.numbersReleased; at < this.numbersWritten; at++) numbers[at % size] = this.number(at);
    this.numbers = numbers;
  }
}

/**
 * A `downloads` event's files, packed in the ring of recent events ({@link DownloadRing}): for
 * each file its project and filename, and the numbers — its downloads, how many installers,
 * then each installer's index, downloads and downloads from CI, most first. The list is made
 * when asked for; {@link release} lets the ring write over it.
 */
export class PackedDownloads {
  constructor(
    private readonly ring: DownloadRing,
    private readonly fileAt: number,
    /** How many files the event lists. */
    readonly fileCount: number,
    private readonly numberAt: number,
    private readonly numberCount: number,
  ) {}

  /** The project of each file, as often as it is iterated. */
  readonly projects: Iterable<string> = { [Symbol.iterator]: () => this.eachProject() };

  private *eachProject(): Generator<string> {
    for (let f = 0; f < this.fileCount; f++) yield this.ring.project(this.fileAt + f);
  }

  /** The event's list of files, made anew at each call. */
  files(): FileDownloads[] {
    const files: FileDownloads[] = [];
    let at = this.numberAt;
    for (let f = 0; f < this.fileCount; f++) {
      const downloads = this.ring.number(at++);
      const n = this.ring.number(at++);
      const installers: InstallerCount[] = [];
      for (let k = 0; k < n; k++) {
        const installer = INSTALLERS[this.ring.number(at++)] as InstallerCount['installer'];
        installers.push({ installer, downloads: this.ring.number(at++), ci: this.ring.number(at++) });
      }
      files.push({ project: this.ring.project(this.fileAt + f), filename: this.ring.filename(this.fileAt + f), downloads, installers });
    }
    return files;
  }

  /** About the length of the event's JSON (within a few percent), without making it. */
  chars(): number {
    let chars = 80;
    let at = this.numberAt;
    for (let f = 0; f < this.fileCount; f++) {
      chars += 60 + this.ring.project(this.fileAt + f).length + this.ring.filename(this.fileAt + f).length;
      at += 1;
      const n = this.ring.number(at++);
      for (let k = 0; k < n; k++) {
        chars += 40 + (INSTALLERS[this.ring.number(at)] as string).length;
        at += 3;
      }
    }
    return chars;
  }

  /** Lets the ring write over this event and every one before it (the bus let them go: nothing reads them again). */
  release(): void {
    this.ring.release(this.fileAt + this.fileCount, this.numberAt + this.numberCount);
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
 * nothing here once its file has a slot, and an event only its small record: its files are
 * written into the ring of recent events ({@link DownloadRing}).
 */
export class DownloadBatch {
  private readonly slots = new FileSlots();
  /**
   * Downloads since the last event, by slot; and by slot and installer, of them from CI. Those
   * by installer take two bytes (an event goes out early when one would pass 65,535): under
   * random downloads of 60,000 files the slots grow to 32,768, and at four bytes the two arrays
   * were 1.8 MB.
   */
  private downloads = new Uint32Array(1024);
  private byInstaller = new Uint16Array(1024 * INSTALLER_COUNT);
  private fromCi = new Uint16Array(1024 * INSTALLER_COUNT);
  /** The slots with downloads since the last event, in the order of their first. */
  private pending = new Uint32Array(1024);
  private pendingCount = 0;
  /** Scratch for ordering a file's installers. */
  private readonly installerOrder = new Uint8Array(INSTALLER_COUNT);
  /** The files of the events published and not released yet. */
  private readonly ring = new DownloadRing();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly publish: (downloads: PackedDownloads) => void,
    private readonly intervalMs = DOWNLOAD_BATCH_MS,
  ) {}

  add(file: CountedFile, client: DownloadClient): void {
    // An installer this list does not know is counted as the last one, 'other'.
    const installer = INSTALLER_INDEX.get(client.installer) ?? INSTALLER_COUNT - 1;
    let slot = this.slots.slotOf(file);
    if (slot < this.downloads.length && this.byInstaller[slot * INSTALLER_COUNT + installer] === COUNTER_MAX) {
      // Its counter is full: the event goes out now, and this download is the next one's.
      this.flush();
      slot = this.slots.slotOf(file);
    }
    if (slot >= this.downloads.length) this.grow();
    if (this.downloads[slot] === 0) this.pending[this.pendingCount++] = slot;
    (this.downloads[slot] as number) += 1;
    const at = slot * INSTALLER_COUNT + installer;
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

  /**
   * Publishes what was gathered, if anything. The event is packed in the ring of recent events,
   * which the bus releases when it lets the event go ({@link PackedDownloads.release}).
   */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pendingCount === 0) return;
    // For each file 2 numbers, and 3 for each installer with downloads.
    let numbers = 0;
    for (let p = 0; p < this.pendingCount; p++) {
      const slot = this.pending[p] as number;
      numbers += 2;
      for (let i = 0; i < INSTALLER_COUNT; i++) if (this.byInstaller[slot * INSTALLER_COUNT + i] !== 0) numbers += 3;
    }
    const ring = this.ring;
    const start = ring.reserve(this.pendingCount, numbers);
    let at = start.number;
    const order = this.installerOrder;
    for (let p = 0; p < this.pendingCount; p++) {
      const slot = this.pending[p] as number;
      ring.setFile(start.file + p, this.slots.projects[slot] as string, this.slots.filenames[slot] as string);
      ring.setNumber(at++, this.downloads[slot] as number);
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
      ring.setNumber(at++, n);
      for (let k = 0; k < n; k++) {
        const i = slot * INSTALLER_COUNT + (order[k] as number);
        ring.setNumber(at++, order[k] as number);
        ring.setNumber(at++, this.byInstaller[i] as number);
        ring.setNumber(at++, this.fromCi[i] as number);
        this.byInstaller[i] = 0;
        this.fromCi[i] = 0;
      }
      this.downloads[slot] = 0;
    }
    const files = this.pendingCount;
    // A slot pending twice would be counted twice: the list starts again empty.
    this.pendingCount = 0;
    if (this.slots.count > COUNTERS_KEPT) this.slots.clear();
    this.publish(new PackedDownloads(ring, start.file, files, start.number, numbers));
  }
}
