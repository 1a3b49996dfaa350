/**
 * Download counts gathered in memory between writes: a download never waits for the
 * database, and the counts are written in one batch (every second locally, every few seconds
 * to a shared database). Readers add what is pending to what is written.
 */
import type { Installer } from '../../shared/api.js';
import type { FileRecord } from '../services/catalog.js';
import { utcDay, utcToday } from '../services/utc-day.js';

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

/**
 * Kept by filename, with no key string made per download: a key joining filename, day,
 * installer and CI flag was made for every download and kept until the next write, a
 * second later — long enough for V8 to promote it to the old generation, under random
 * downloads of 60,000 files a sixth of all it promoted.
 */
export class PendingDownloads {
  private counts = new Map<string, Entry>();
  private entries = 0;

  count(file: Pick<FileRecord, 'filename' | 'project'>, installer: Installer, ci: boolean, now?: Date): void {
    const day = now ? utcDay(now) : utcToday();
    this.add(file.filename, file.project, day, installer, ci, 1);
  }

  private add(filename: string, project: string, day: string, installer: Installer, ci: boolean, count: number): void {
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
  }

  /** Takes everything pending (for a write); `restore` puts it back if the write fails. */
  take(): PendingCount[] {
    const taken = [...this.all()];
    this.counts = new Map();
    this.entries = 0;
    return taken;
  }

  /** Puts counts back after a failed write, added to what came meanwhile. */
  restore(counts: PendingCount[]): void {
    for (const c of counts) this.add(c.filename, c.project, c.day, c.installer, c.ci, c.count);
  }

  /** Forgets the counts of a file that is gone. */
  drop(filename: string): void {
    for (let e = this.counts.get(filename); e; e = e.next) this.entries -= 1;
    this.counts.delete(filename);
  }

  of(project: string): PendingCount[] {
    const out: PendingCount[] = [];
    for (const p of this.all()) if (p.project === project) out.push(p);
    return out;
  }

  *all(): Iterable<PendingCount> {
    for (const first of this.counts.values()) for (let e: Entry | undefined = first; e; e = e.next) yield e;
  }

  get size(): number {
    return this.entries;
  }
}
