/**
 * Download counts gathered in memory between writes: a download never waits for the
 * database, and the counts are written in one batch (locally journaled every second and
 * folded into the catalog about once a minute, download-journal.ts; every few seconds to a
 * shared database). Readers add what is pending to what is written.
 */
import { INSTALLERS, type Installer } from '../../shared/api.js';
import { CELLS, FileSlots, INSTALLER_INDEX, SlotCounters, type CountedFile } from '../services/file-slots.js';
import { utcDay, utcDayAt, utcToday } from '../services/utc-day.js';

/** Downloads not written yet, of one file, day, installer and CI flag. */
export interface PendingCount {
  filename: string;
  project: string;
  day: string;
  installer: Installer;
  ci: boolean;
  count: number;
}

/** An entry: the counts of one file are chained from its first (most files have one day, installer and CI flag in a batch). */
type Entry = PendingCount & { next: Entry | undefined };

/** What a walk over counts is given for each one. */
export type Visit = (filename: string, project: string, day: string, installer: Installer, ci: boolean, count: number) => void;

/** The counts of `project` that `walk` visits, in a new array: no object is made for the others. */
export function countsOf(project: string, walk: (visit: Visit) => void): PendingCount[] {
  const out: PendingCount[] = [];
  walk((filename, p, day, installer, ci, count) => {
    if (p === project) out.push({ filename, project, day, installer, ci, count });
  });
  return out;
}

/**
 * Counts taken for a write, packed: their strings (the catalog's own) in arrays, their numbers
 * in typed arrays. In a fold they wait for their turn (a minute's 60,000 of them, a hundred
 * every 20 ms) long enough to be promoted to V8's old generation: as an object each, counts
 * waiting for a write were, once nothing else per download was, the largest part of what
 * downloads promoted.
 */
export class CountBatch {
  /** Its columns (the arrays given, not copies): {@link byFilename} puts them in order in place. */
  constructor(
    private readonly filenames: string[],
    private readonly projects: string[],
    private readonly days: string[],
    private readonly installers: Installer[],
    private readonly ci: Uint8Array,
    private readonly counts: Float64Array,
  ) {}

  get length(): number {
    return this.filenames.length;
  }

  /** Visits the counts from the `from`th on. */
  forEach(visit: Visit, from = 0): void {
    for (let i = from; i < this.filenames.length; i++) {
      visit(this.filenames[i] as string, this.projects[i] as string, this.days[i] as string, this.installers[i] as Installer, this.ci[i] === 1, this.counts[i] as number);
    }
  }

  /** The counts as objects (for readers, made at each call). */
  list(): PendingCount[] {
    const out: PendingCount[] = [];
    this.forEach((filename, project, day, installer, ci, count) => out.push({ filename, project, day, installer, ci, count }));
    return out;
  }

  /** The filename of count `i`. */
  filename(i: number): string {
    return this.filenames[i] as string;
  }

  /**
   * Puts the counts in filename order (as JavaScript compares strings; a file's counts stay in
   * their order), in place, and returns the batch: a fold's 60,000 counts copied in order were
   * another 1.5 MB while they were written (12 s), and then garbage only a full collection
   * frees. Taken in the catalog's file-number order they nearly are already: the
   * catalog numbers its files in filename order a few thousand at a time, and a file looked up
   * meanwhile (by a load's first downloads), or added since, gets the next number. So the long
   * runs in order stay as they are (together, in order too, unless files were renamed), and the
   * counts of short runs are sorted apart and put in their places: 60,000 counts of a load's
   * first minute in the daemon had 78 of them, and a sort of them all took 13-25 ms.
   */
  byFilename(): CountBatch {
    const names = this.filenames;
    const n = names.length;
    const before = (a: number, b: number) => (names[a] as string) < (names[b] as string) || (names[a] === names[b] && a < b);
    const isApart = new Uint8Array(n);
    const apart: number[] = [];
    let lastKept = -1;
    let keptInOrder = true;
    for (let from = 0; from < n; ) {
      let to = from + 1;
      while (to < n && (names[to - 1] as string) <= (names[to] as string)) to++;
      if (to - from >= LONG_RUN) {
        if (lastKept !== -1 && !before(lastKept, from)) keptInOrder = false;
        lastKept = to - 1;
      } else {
        for (let i = from; i < to; i++) {
          isApart[i] = 1;
          apart.push(i);
        }
      }
      from = to;
    }
    if (apart.length === 0 && keptInOrder) return this;
    if (!keptInOrder) {
      // Not the catalog's numbering: all of it sorted.
      const order = new Uint32Array(n);
      for (let i = 0; i < n; i++) order[i] = i;
      return this.permute(order.sort((a, b) => (before(a, b) ? -1 : 1)));
    }
    apart.sort((a, b) => (before(a, b) ? -1 : 1));
    const kept = new Int32Array(n - apart.length);
    for (let i = 0, k = 0; i < n; i++) if (isApart[i] === 0) kept[k++] = i;
    const order = new Uint32Array(n);
    let at = 0;
    let k = 0;
    for (const a of apart) {
      // Kept counts before this one: found by halving, not one comparison per count.
      let lo = k;
      let hi = kept.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (before(kept[mid] as number, a)) lo = mid + 1;
        else hi = mid;
      }
      while (k < lo) order[at++] = kept[k++] as number;
      order[at++] = a;
    }
    while (k < kept.length) order[at++] = kept[k++] as number;
    return this.permute(order);
  }

  /** The counts of files after `filename` (as {@link byFilename} orders them). */
  after(filename: string): CountBatch {
    const kept: number[] = [];
    for (let i = 0; i < this.filenames.length; i++) if ((this.filenames[i] as string) > filename) kept.push(i);
    return kept.length === this.filenames.length ? this : this.pick(kept);
  }

  /** The counts at `indices`, in that order. */
  private pick(indices: readonly number[]): CountBatch {
    const columns = new CountColumns(indices.length);
    for (const i of indices) {
      columns.add(this.filenames[i] as string, this.projects[i] as string, this.days[i] as string, this.installers[i] as Installer, this.ci[i] === 1, this.counts[i] as number);
    }
    return columns.batch();
  }

  /** Moves the count at `order[k]` to `k`, for every k, in place (`order` is a permutation), cycle by cycle. */
  private permute(order: Uint32Array): this {
    const { filenames, projects, days, installers, ci, counts } = this;
    const placed = new Uint8Array(order.length);
    for (let start = 0; start < order.length; start++) {
      if (placed[start] === 1 || order[start] === start) continue;
      // The count at `start` waits until its place is free: the last of its cycle.
      const filename = filenames[start] as string;
      const project = projects[start] as string;
      const day = days[start] as string;
      const installer = installers[start] as Installer;
      const fromCi = ci[start] as number;
      const count = counts[start] as number;
      let to = start;
      for (let from = order[to] as number; from !== start; from = order[to] as number) {
        filenames[to] = filenames[from] as string;
        projects[to] = projects[from] as string;
        days[to] = days[from] as string;
        installers[to] = installers[from] as Installer;
        ci[to] = ci[from] as number;
        counts[to] = counts[from] as number;
        placed[to] = 1;
        to = from;
      }
      filenames[to] = filename;
      projects[to] = project;
      days[to] = day;
      installers[to] = installer;
      ci[to] = fromCi;
      counts[to] = count;
      placed[to] = 1;
    }
    return this;
  }

  /** Counts `from` to `to` (not included). */
  slice(from: number, to: number): CountBatch {
    return new CountBatch(this.filenames.slice(from, to), this.projects.slice(from, to), this.days.slice(from, to), this.installers.slice(from, to), this.ci.slice(from, to), this.counts.slice(from, to));
  }

  /**
   * The batch as one line of JSON (a journal record): filenames, and by index
   * into lists of each, days and installers, then CI flags and counts. Projects are not kept:
   * {@link decode} asks for them.
   */
  encode(): string {
    const n = this.length;
    const days: string[] = [];
    const dayIndex = new Map<string, number>();
    const d = new Array<number>(n);
    const i = new Array<number>(n);
    for (let k = 0; k < n; k++) {
      const day = this.days[k] as string;
      let at = dayIndex.get(day);
      if (at === undefined) dayIndex.set(day, (at = days.push(day) - 1));
      d[k] = at;
      i[k] = INSTALLER_INDEX.get(this.installers[k] as string) ?? INSTALLERS.length - 1;
    }
    return JSON.stringify({ f: this.filenames, days, d, i, c: Array.from(this.ci), n: Array.from(this.counts) });
  }

  /** A batch {@link encode} made, each file's project from `projectOf` ('' for a file it does not know); throws when `text` is not one. */
  static decode(text: string, projectOf: (filename: string) => string | undefined): CountBatch {
    const { f, days, d, i, c, n } = JSON.parse(text) as Record<string, unknown>;
    const length = Array.isArray(f) ? f.length : -1;
    const isList = (a: unknown, ok: (v: unknown) => boolean): a is unknown[] => Array.isArray(a) && a.length === length && a.every(ok);
    const index = (of: number) => (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) < of;
    if (
      !isList(f, (v) => typeof v === 'string') ||
      !Array.isArray(days) ||
      !days.every((v) => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v)) ||
      !isList(d, index(days.length)) ||
      !isList(i, index(INSTALLERS.length)) ||
      !isList(c, index(2)) ||
      !isList(n, (v) => Number.isSafeInteger(v) && (v as number) > 0)
    ) {
      throw new Error('not a batch of download counts');
    }
    const filenames = f as string[];
    return new CountBatch(
      filenames,
      filenames.map((name) => projectOf(name) ?? ''),
      (d as number[]).map((at) => days[at] as string),
      (i as number[]).map((at) => INSTALLERS[at] as Installer),
      Uint8Array.from(c as number[]),
      Float64Array.from(n as number[]),
    );
  }

  /** The batch without the counts of `filename` (a file removed). */
  without(filename: string): CountBatch {
    if (!this.filenames.includes(filename)) return this;
    const kept: number[] = [];
    for (let i = 0; i < this.filenames.length; i++) if (this.filenames[i] !== filename) kept.push(i);
    return this.pick(kept);
  }
}

/** Counts in filename order this many at a stretch are taken for a run of the catalog's numbering ({@link CountBatch.byFilename}). */
const LONG_RUN = 32;

/** Columns a {@link CountBatch} is made from, one count at a time: room for `capacity` counts at first, more as needed. */
class CountColumns {
  private length = 0;
  private readonly filenames: string[];
  private readonly projects: string[];
  private readonly days: string[];
  private readonly installers: Installer[];
  private ci: Uint8Array;
  private counts: Float64Array;

  constructor(capacity: number) {
    // Made at their size: arrays grown a push at a time took three times as long to fill.
    this.filenames = new Array<string>(capacity);
    this.projects = new Array<string>(capacity);
    this.days = new Array<string>(capacity);
    this.installers = new Array<Installer>(capacity);
    this.ci = new Uint8Array(capacity);
    this.counts = new Float64Array(capacity);
  }

  readonly add: Visit = (filename, project, day, installer, ci, count) => {
    const i = this.length++;
    if (i >= this.ci.length) {
      // More than the capacity asked for (a part's last file with many counts): room for twice as many.
      const ciGrown = new Uint8Array(2 * i + 1);
      ciGrown.set(this.ci);
      this.ci = ciGrown;
      const countsGrown = new Float64Array(2 * i + 1);
      countsGrown.set(this.counts);
      this.counts = countsGrown;
    }
    this.filenames[i] = filename;
    this.projects[i] = project;
    this.days[i] = day;
    this.installers[i] = installer;
    this.ci[i] = ci ? 1 : 0;
    this.counts[i] = count;
  };

  batch(): CountBatch {
    const n = this.length;
    for (const column of [this.filenames, this.projects, this.days, this.installers]) column.length = n;
    return new CountBatch(this.filenames, this.projects, this.days, this.installers, this.ci.subarray(0, n), this.counts.subarray(0, n));
  }
}

/**
 * Kept by filename, with no key string made per download: a key joining filename, day,
 * installer and CI flag was made for every download and kept until the next write, a
 * second later — long enough for V8 to promote it to the old generation, under random
 * downloads of 60,000 files a sixth of all it promoted.
 *
 * Today's downloads of a file the catalog numbers (ServedFile.id), nearly all of them, are
 * counted by slot ({@link SlotCounters}: typed arrays, and a Map only for a file's second
 * installer or CI flag), with nothing allocated per file: the entry objects and the Map made
 * anew at each write (a large object, its table copied as it grew) were, after the above, 60%
 * of what random downloads promoted. Other counts (another day, a file with no
 * number, counts put back after a failed write) are chained entries as above.
 */
export class PendingDownloads {
  private counts = new Map<string, Entry>();
  private entries = 0;
  /** The day of the counts by slot. */
  private day = '';
  private readonly slots = new FileSlots();
  /**
   * By slot, {@link CELLS} counters: installer * 2, + 1 for CI. A count a slot's first counter
   * cannot hold is moved into an entry (one a file's counts are merged with).
   */
  private readonly counters = new SlotCounters();
  /** A reading in parts ({@link beginParts}) between its first part and its last. */
  private reading:
    | { entries: Iterator<Entry>; skipped: Set<Entry> | undefined; merged: Map<number, number> | undefined; order: Uint32Array; at: number }
    | undefined;

  /** Counts a download at `ms` (milliseconds since the epoch, a clock of the caller's), as an entry. */
  countAt(file: CountedFile, installer: Installer, ci: boolean, ms: number): void {
    this.add(file.filename, file.project, utcDayAt(ms), installer, ci, 1);
  }

  count(file: CountedFile, installer: Installer, ci: boolean, now?: Date): void {
    const index = INSTALLER_INDEX.get(installer);
    if (now !== undefined || file.id === undefined || index === undefined) {
      this.add(file.filename, file.project, now ? utcDay(now) : utcToday(), installer, ci, 1);
      return;
    }
    const today = utcToday();
    if (today !== this.day) {
      this.slotsToEntries();
      this.day = today;
    }
    const full = this.counters.increment(this.slots.slotOf(file), index * 2 + (ci ? 1 : 0));
    if (full !== 0) this.add(file.filename, file.project, today, installer, ci, full);
  }

  /**
   * Visits the counts by slot of the slots `order[from]` on, until at least `rows` were visited
   * (all with Infinity), and returns the index after the last slot visited. Those of `merged`'s
   * cells are added: a file's download counted as an entry too (through a route, put back
   * after a failed write) is one count with it, as the writes need (PostgreSQL refuses an
   * upsert that names a row twice). Files come in the
   * order of their numbers, which is nearly filename order (FileSlots.inNumberOrder): a
   * batch's rows then update neighbouring rows of the downloads table.
   */
  private visitSlots(order: Uint32Array, from: number, rows: number, visit: Visit, merged: Map<number, number> | undefined): number {
    const counters = this.counters;
    const { filenames, projects } = this.slots;
    let visited = 0;
    let i = from;
    for (; i < order.length && visited < rows; i++) {
      const slot = order[i] as number;
      // Nearly always a slot has one counter, and only it needs reading.
      if (merged === undefined && !counters.hasOthers(slot)) {
        const c = counters.firstCellOf(slot);
        if (c === -1) continue;
        visit(filenames[slot] as string, projects[slot] as string, this.day, INSTALLERS[c >> 1] as Installer, (c & 1) === 1, counters.get(slot, c));
        visited += 1;
        continue;
      }
      for (let c = 0; c < CELLS; c++) {
        const count = counters.get(slot, c) + (merged === undefined ? 0 : (merged.get(slot * CELLS + c) ?? 0));
        if (count === 0) continue;
        visit(filenames[slot] as string, projects[slot] as string, this.day, INSTALLERS[c >> 1] as Installer, (c & 1) === 1, count);
        visited += 1;
      }
    }
    return i;
  }

  /** The entries with the same file, day, installer and CI as a counter by slot, by that counter's index. */
  private entriesOfSlots(): Map<number, Entry> | undefined {
    if (this.entries === 0 || this.slots.count === 0) return undefined;
    const slotOf = new Map<string, number>();
    for (let slot = 0; slot < this.slots.count; slot++) if (this.slots.filenames[slot] !== '') slotOf.set(this.slots.filenames[slot] as string, slot);
    let found: Map<number, Entry> | undefined;
    for (const first of this.counts.values()) {
      for (let e: Entry | undefined = first; e; e = e.next) {
        const slot = slotOf.get(e.filename);
        const index = INSTALLER_INDEX.get(e.installer);
        if (slot === undefined || index === undefined || e.day !== this.day || this.slots.projects[slot] !== e.project) continue;
        (found ??= new Map()).set(slot * CELLS + index * 2 + (e.ci ? 1 : 0), e);
      }
    }
    return found;
  }

  /** Sets every slot free (and its counters to zero). */
  private clearSlots(): void {
    this.counters.clear(this.slots.count);
    this.slots.clear();
  }

  /** Moves the counts by slot into entries (the day changed). */
  private slotsToEntries(): void {
    if (this.slots.count === 0) return;
    const counts = new CountColumns(this.counters.used);
    this.visitSlots(this.slots.inNumberOrder(), 0, Infinity, counts.add, undefined);
    this.clearSlots();
    counts.batch().forEach(this.add);
  }

  private readonly add: Visit = (filename, project, day, installer, ci, count) => {
    const first = this.counts.get(filename);
    for (let e = first; e; e = e.next) {
      if (e.day === day && e.installer === installer && e.ci === ci && e.project === project) {
        e.count += count;
        return;
      }
    }
    const entry: Entry = { filename, project, day, installer, ci, count, next: undefined };
    if (first) {
      entry.next = first.next;
      first.next = entry;
    } else {
      this.counts.set(filename, entry);
    }
    this.entries += 1;
  };

  /** Takes everything pending (for a write), packed; `restore` puts it back if the write fails. */
  take(): CountBatch {
    // At most one count per entry and counter in use (fewer when one is kept both ways).
    const columns = new CountColumns(this.size);
    this.forEach(columns.add);
    const taken = columns.batch();
    this.clear();
    return taken;
  }

  /** Forgets every count pending (they are written by other means). */
  clear(): void {
    this.reading = undefined;
    this.counts = new Map();
    this.entries = 0;
    this.clearSlots();
  }

  /** Puts counts back after a failed write, added to what came meanwhile. */
  restore(counts: CountBatch): void {
    counts.forEach(this.add);
  }

  /** Forgets the counts of a file that is gone. */
  drop(filename: string): void {
    for (let e = this.counts.get(filename); e; e = e.next) this.entries -= 1;
    this.counts.delete(filename);
    for (const slot of this.slots.slotsNamed(filename)) {
      this.counters.clearSlot(slot);
      for (let at = slot * CELLS; at < (slot + 1) * CELLS; at++) this.reading?.merged?.delete(at);
      // Its number finds no slot now: the next file given it gets one.
      this.slots.drop(slot);
    }
  }

  /** The counts pending of `project`, in a new array. */
  of(project: string): PendingCount[] {
    return countsOf(project, (visit) => this.forEach(visit));
  }

  /** Every count pending, each file, day, installer and CI flag once, in a new array. */
  all(): PendingCount[] {
    const out: PendingCount[] = [];
    this.forEach((filename, project, day, installer, ci, count) => out.push({ filename, project, day, installer, ci, count }));
    return out;
  }

  /**
   * Visits every count pending, each file, day, installer and CI flag once. (Loops, not a
   * generator: taking a second's 30,000 counts through generators held the daemon up for 4-7 ms.)
   */
  forEach(visit: Visit): void {
    const merged = this.visitEntries(visit);
    this.visitSlots(this.slots.inNumberOrder(), 0, Infinity, visit, merged);
  }

  /**
   * Visits the entries but those a slot's counter has too, and returns what they add to those
   * counters, by the counter's index.
   */
  private visitEntries(visit: Visit): Map<number, number> | undefined {
    const { skipped, merged } = this.entriesMerged();
    for (const first of this.counts.values()) {
      for (let e: Entry | undefined = first; e; e = e.next) if (!skipped?.has(e)) visit(e.filename, e.project, e.day, e.installer, e.ci, e.count);
    }
    return merged;
  }

  /** The entries a slot's counter has too, and what they add to those counters, by the counter's index. */
  private entriesMerged(): { skipped: Set<Entry> | undefined; merged: Map<number, number> | undefined } {
    const withSlot = this.entriesOfSlots();
    return { skipped: withSlot && new Set(withSlot.values()), merged: withSlot && new Map([...withSlot].map(([at, e]) => [at, e.count])) };
  }

  /**
   * Starts reading the counts pending a part at a time ({@link nextPart}), in the order
   * {@link take} packs them. Nothing is kept for the parts but where the reading is: the order
   * of the slots (a view of a buffer used again), an iterator over the entries, and what
   * entries add to the slots' counters.
   *
   * The catalog appends a second's counts to its journal a record per turn of the event loop,
   * from a set it took aside whole. Taken packed at once and sliced into records, the counts
   * waited for their turns long enough to be promoted to V8's old generation: under random
   * downloads of 60,000 files, with the download events, the only thing downloads promoted.
   * Between the parts of one reading nothing may be counted, taken or read here; a file dropped
   * meanwhile is left out of the parts after.
   */
  beginParts(): void {
    this.reading = { entries: this.counts.values(), ...this.entriesMerged(), order: this.slots.inNumberOrder(), at: 0 };
  }

  /** The next part of the reading {@link beginParts} started: about `rows` counts, and whether it was the last. */
  nextPart(rows: number): { counts: CountBatch; last: boolean } {
    const reading = this.reading;
    if (reading === undefined) throw new Error('A reading of pending downloads was continued after it ended.');
    const columns = new CountColumns(rows + CELLS);
    let visited = 0;
    while (visited < rows) {
      const next = reading.entries.next();
      if (next.done === true) break;
      for (let e: Entry | undefined = next.value; e; e = e.next) {
        if (reading.skipped?.has(e)) continue;
        columns.add(e.filename, e.project, e.day, e.installer, e.ci, e.count);
        visited += 1;
      }
    }
    if (visited < rows) reading.at = this.visitSlots(reading.order, reading.at, rows - visited, columns.add, reading.merged);
    const last = visited < rows && reading.at >= reading.order.length;
    if (last) this.reading = undefined;
    return { counts: columns.batch(), last };
  }

  /** How many counts are pending: 0 when none (one kept both ways counts twice here). */
  get size(): number {
    return this.entries + this.counters.used;
  }
}
