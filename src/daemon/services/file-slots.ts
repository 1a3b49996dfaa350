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
export function grown<T extends Uint16Array | Uint32Array | Int32Array>(a: T, size: number): T {
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
