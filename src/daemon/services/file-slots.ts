/**
 * Slots for files being counted (download events, pending download counts), so that their
 * counters can live in typed arrays by slot with nothing allocated per download.
 *
 * A file the catalog numbers (ServedFile.id) finds its slot through an Int32Array by number,
 * not a Map: under random downloads of 60,000 files, Maps keyed by filename and made anew (or
 * cleared) every second had their tables copied as they grew, large objects only a full
 * collection frees — with the other per-file bookkeeping, most of what downloads promoted to
 * V8's old generation. A file without a number (a cached upstream one) is found by filename.
 */
import { INSTALLERS } from '../../shared/api.js';
import type { FileRecord, ServedFile } from './catalog.js';

/** A file as counted: its filename, project and, when the catalog numbers it, its number. */
export type CountedFile = Pick<FileRecord, 'filename' | 'project'> & Pick<ServedFile, 'id'>;

/** Each installer's index in {@link INSTALLERS}, where counters by installer are kept. */
export const INSTALLER_INDEX: ReadonlyMap<string, number> = new Map(INSTALLERS.map((name, i) => [name, i]));

/** A copy of `a` with room for `size`. */
export function grown<T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(a: T, size: number): T {
  const b = new (a.constructor as new (size: number) => T)(size);
  b.set(a);
  return b;
}

export class FileSlots {
  /** Slots in use, numbered from 0. */
  count = 0;
  /** The filename ('' once dropped) and project of each slot; arrays used again, not made anew, when the slots are let go. */
  readonly filenames: string[] = [];
  readonly projects: string[] = [];
  /** The slot + 1 of each file number, 0 for none. */
  private slotOfId = new Int32Array(1024);
  /** The slots of files with no number, by filename. */
  private readonly byName = new Map<string, number>();
  /**
   * What {@link inNumberOrder} returns a view of, and its scratch: used again at each call. Made
   * anew, a second's order was held while its counts were journaled (a record per turn of the
   * event loop) and promoted to V8's old generation with them.
   */
  private order = new Uint32Array(0);
  private seen = new Uint8Array(0);

  /**
   * The slot of `file`, a new one when it has none yet. A number now another file's (the first
   * was removed) or a file that moved to another project gets a new slot; the old one stays
   * what it was.
   */
  slotOf(file: CountedFile): number {
    const id = file.id;
    const slot = id === undefined ? (this.byName.get(file.filename) ?? -1) : id < this.slotOfId.length ? (this.slotOfId[id] as number) - 1 : -1;
    if (slot !== -1 && this.filenames[slot] === file.filename && this.projects[slot] === file.project) return slot;
    const added = this.count++;
    this.filenames[added] = file.filename;
    this.projects[added] = file.project;
    if (id === undefined) this.byName.set(file.filename, added);
    else {
      if (id >= this.slotOfId.length) this.slotOfId = grown(this.slotOfId, Math.max(id + 1, this.slotOfId.length * 2));
      this.slotOfId[id] = added + 1;
    }
    return added;
  }

  /**
   * Every slot in use once: those of numbered files by their number, then the others (a view
   * valid until the next call). The catalog numbers its files in filename order when it reads
   * them at start (catalog.ts), so counts written in this order reach the downloads table,
   * kept in filename order, on neighbouring pages.
   */
  inNumberOrder(): Uint32Array {
    if (this.order.length < this.count) {
      const room = Math.max(this.count, this.order.length * 2);
      this.order = new Uint32Array(room);
      this.seen = new Uint8Array(room);
    }
    const { order, seen } = this;
    seen.fill(0, 0, this.count);
    let n = 0;
    for (let id = 0; id < this.slotOfId.length; id++) {
      const slot = (this.slotOfId[id] as number) - 1;
      if (slot < 0 || slot >= this.count || seen[slot] === 1) continue;
      seen[slot] = 1;
      order[n++] = slot;
    }
    for (let slot = 0; slot < this.count; slot++) if (seen[slot] === 0) order[n++] = slot;
    return order.subarray(0, n);
  }

  /** The slots of `filename` (more than one when it moved project, or was removed and added again). */
  *slotsNamed(filename: string): Iterable<number> {
    for (let slot = 0; slot < this.count; slot++) if (this.filenames[slot] === filename) yield slot;
  }

  /** Lets `slot` go: no file finds it again. */
  drop(slot: number): void {
    this.filenames[slot] = '';
  }

  /** Lets every slot go. */
  clear(): void {
    this.byName.clear();
    this.slotOfId.fill(0);
    this.count = 0;
  }
}

/** Counters per slot: one per installer, without and with CI (a cell: installer * 2, + 1 for CI). */
export const CELLS = INSTALLERS.length * 2;

/** The most a slot's first counter holds ({@link SlotCounters.increment}). */
const FIRST_COUNTER_MAX = 0xffff;

/** In a slot's {@link SlotCounters} byte: set when the slot has counters besides its first. */
const HAS_OTHERS = 0x80;
const FIRST_CELL = 0x7f;

/**
 * {@link CELLS} counters for each slot, kept sparse: a slot's first counter (the installer and
 * CI flag of its first download) in typed arrays by slot, three bytes, and its others (a file
 * fetched by two installers, or from CI and not, in the same minute) in a Map by cell index
 * (slot * CELLS + cell), the slot marked as having some. Every counter in a typed array, 28
 * bytes a slot, was the largest part of what random downloads of 60,000 files kept: the
 * minute's counts not folded yet have a slot per file downloaded, 1.8 MB, and each second's
 * two sets 0.9 MB each.
 */
export class SlotCounters {
  /** Counters above zero. */
  used = 0;
  /**
   * By slot: the cell of its first counter + 1 (0: none; {@link FIRST_CELL}), with
   * {@link HAS_OTHERS}; and that counter, which means nothing while the slot has none.
   */
  private firstCell = new Uint8Array(1024);
  private firstCount = new Uint16Array(1024);
  /** The other counters above zero, by cell index. */
  private readonly others = new Map<number, number>();

  /**
   * Adds one to counter `cell` of `slot`. Returns 0, or the count the counter held when it
   * could hold no more ({@link FIRST_COUNTER_MAX}): the caller keeps that count elsewhere, and
   * the counter starts again at one.
   */
  increment(slot: number, cell: number): number {
    if (slot >= this.firstCell.length) {
      const size = Math.max(slot + 1, this.firstCell.length * 2);
      this.firstCell = grown(this.firstCell, size);
      this.firstCount = grown(this.firstCount, size);
    }
    const mark = this.firstCell[slot] as number;
    const first = mark & FIRST_CELL;
    if (first === 0) {
      this.firstCell[slot] = cell + 1;
      this.firstCount[slot] = 1;
      this.used += 1;
      return 0;
    }
    if (first === cell + 1) {
      const value = this.firstCount[slot] as number;
      if (value === FIRST_COUNTER_MAX) {
        this.firstCount[slot] = 1;
        return value;
      }
      this.firstCount[slot] = value + 1;
      return 0;
    }
    const at = slot * CELLS + cell;
    const value = this.others.get(at) ?? 0;
    if (value === 0) this.used += 1;
    this.others.set(at, value + 1);
    this.firstCell[slot] = mark | HAS_OTHERS;
    return 0;
  }

  /** Counter `cell` of `slot`. */
  get(slot: number, cell: number): number {
    const mark = slot < this.firstCell.length ? (this.firstCell[slot] as number) : 0;
    if ((mark & FIRST_CELL) === cell + 1) return this.firstCount[slot] as number;
    return (mark & HAS_OTHERS) === 0 ? 0 : (this.others.get(slot * CELLS + cell) ?? 0);
  }

  /** Whether `slot` has counters above zero besides its first (then read it cell by cell with {@link get}). */
  hasOthers(slot: number): boolean {
    return slot < this.firstCell.length && ((this.firstCell[slot] as number) & HAS_OTHERS) !== 0;
  }

  /** The cell of `slot`'s first counter, -1 when it has none. */
  firstCellOf(slot: number): number {
    return slot < this.firstCell.length ? ((this.firstCell[slot] as number) & FIRST_CELL) - 1 : -1;
  }

  /** Sets `slot`'s counters to zero. */
  clearSlot(slot: number): void {
    if (slot >= this.firstCell.length) return;
    const mark = this.firstCell[slot] as number;
    if ((mark & FIRST_CELL) !== 0) this.used -= 1;
    if ((mark & HAS_OTHERS) !== 0) {
      for (let at = slot * CELLS; at < (slot + 1) * CELLS; at++) if (this.others.delete(at)) this.used -= 1;
    }
    this.firstCell[slot] = 0;
  }

  /** Sets the counters of slots 0 to `slots` (not included) to zero. */
  clear(slots: number): void {
    this.firstCell.fill(0, 0, Math.min(slots, this.firstCell.length));
    this.others.clear();
    this.used = 0;
  }
}
