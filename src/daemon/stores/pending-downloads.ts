/**
 * Download counts gathered in memory between writes: a download never waits for the
 * database, and the counts are written in one batch (every second locally, every few seconds
 * to a shared database). Readers add what is pending to what is written.
 */
import type { Installer } from '../../shared/api.js';
import { utcDay, utcToday, type FileRecord } from '../services/catalog.js';

/** Downloads not written yet, of one file, day, installer and CI flag. */
export interface PendingCount {
  filename: string;
  project: string;
  day: string;
  installer: Installer;
  ci: boolean;
  count: number;
}

export class PendingDownloads {
  private counts = new Map<string, PendingCount>();

  count(file: Pick<FileRecord, 'filename' | 'project'>, installer: Installer, ci: boolean, now?: Date): void {
    const day = now ? utcDay(now) : utcToday();
    const key = `${file.filename}\0${day}\0${installer}\0${ci ? 1 : 0}`;
    const pending = this.counts.get(key);
    if (pending) pending.count += 1;
    else this.counts.set(key, { filename: file.filename, project: file.project, day, installer, ci, count: 1 });
  }

  /** Takes everything pending (for a write); `restore` puts it back if the write fails. */
  take(): PendingCount[] {
    const taken = [...this.counts.values()];
    this.counts = new Map();
    return taken;
  }

  /** Puts counts back after a failed write, added to what came meanwhile. */
  restore(counts: PendingCount[]): void {
    for (const c of counts) {
      const key = `${c.filename}\0${c.day}\0${c.installer}\0${c.ci ? 1 : 0}`;
      const pending = this.counts.get(key);
      if (pending) pending.count += c.count;
      else this.counts.set(key, { ...c });
    }
  }

  /** Forgets the counts of a file that is gone. */
  drop(filename: string): void {
    for (const [key, p] of this.counts) if (p.filename === filename) this.counts.delete(key);
  }

  of(project: string): PendingCount[] {
    const out: PendingCount[] = [];
    for (const p of this.counts.values()) if (p.project === project) out.push(p);
    return out;
  }

  all(): Iterable<PendingCount> {
    return this.counts.values();
  }

  get size(): number {
    return this.counts.size;
  }
}
