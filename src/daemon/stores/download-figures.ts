/**
 * Download figures as the API shows them, from the rows a catalog wrote plus the counts still
 * pending in memory: per file, per day, per installer, and per project with the last 30 days.
 * Any catalog adapter gives its rows; the arithmetic is here once.
 */
import { INSTALLERS, RECENT_DAYS, type Installer, type InstallerCount } from '../../shared/api.js';
import type { ProjectSummaryRecord } from '../services/catalog.js';
import type { PendingCount } from './pending-downloads.js';

const KNOWN_INSTALLERS: ReadonlySet<string> = new Set(INSTALLERS);

/** The installer that downloads counted before installers were recorded are kept under (in no API answer). */
export const UNRECORDED_INSTALLER = 'unrecorded';

/** The last `n` UTC days up to `today`, oldest first. */
export function lastDays(today: Date, n: number): string[] {
  const end = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
  return Array.from({ length: n }, (_, i) => new Date(end - (n - 1 - i) * 86_400_000).toISOString().slice(0, 10));
}

export function perFile(rows: Iterable<[filename: string, total: number]>, pending: PendingCount[]): Map<string, number> {
  const map = new Map(rows);
  for (const p of pending) map.set(p.filename, (map.get(p.filename) ?? 0) + p.count);
  return map;
}

export function perDay(rows: Iterable<[day: string, total: number]>, pending: PendingCount[]): { day: string; downloads: number }[] {
  const days = new Map(rows);
  for (const p of pending) days.set(p.day, (days.get(p.day) ?? 0) + p.count);
  return [...days].sort(([a], [b]) => (a < b ? -1 : 1)).map(([day, downloads]) => ({ day, downloads }));
}

/** Downloads by installer, most first; those counted before installers were recorded are left out. */
export function perInstaller(rows: Iterable<[installer: string, total: number, ci: number]>, pending: PendingCount[]): InstallerCount[] {
  const counts = new Map<Installer, InstallerCount>();
  const add = (installer: string, downloads: number, ci: number) => {
    if (!KNOWN_INSTALLERS.has(installer)) return;
    const c = counts.get(installer as Installer) ?? { installer: installer as Installer, downloads: 0, ci: 0 };
    c.downloads += downloads;
    c.ci += ci;
    counts.set(c.installer, c);
  };
  for (const [installer, total, ci] of rows) add(installer, total, ci);
  for (const p of pending) add(p.installer, p.count, p.ci ? p.count : 0);
  return [...counts.values()].sort((a, b) => b.downloads - a.downloads || INSTALLERS.indexOf(a.installer) - INSTALLERS.indexOf(b.installer));
}

/** A project's row of the project list, before its downloads are added. */
export interface ProjectCounts {
  name: string;
  displayName: string;
  files: number;
  versions: number;
  lastUpload: string | null;
  lastUploadedBy: string | null;
}

/**
 * Every project with its total downloads and those of the last RECENT_DAYS days up to `today`.
 * `totals` are per project; `recent` per project and day (rows from `days[0]` on, see lastDays).
 */
export function summaries(
  projects: ProjectCounts[],
  totals: Iterable<[project: string, total: number]>,
  recentRows: Iterable<[project: string, day: string, total: number]>,
  pending: Iterable<PendingCount>,
  days: string[],
): ProjectSummaryRecord[] {
  const dayIndex = new Map(days.map((d, i) => [d, i]));
  const total = new Map(totals);
  const recent = new Map<string, number[]>();
  const addRecent = (project: string, day: string, n: number) => {
    const i = dayIndex.get(day);
    if (i === undefined) return;
    let series = recent.get(project);
    if (!series) recent.set(project, (series = new Array<number>(RECENT_DAYS).fill(0)));
    series[i] = (series[i] as number) + n;
  };
  for (const [project, day, n] of recentRows) addRecent(project, day, n);
  for (const p of pending) {
    total.set(p.project, (total.get(p.project) ?? 0) + p.count);
    addRecent(p.project, p.day, p.count);
  }
  return projects.map((p) => ({ ...p, downloads: total.get(p.name) ?? 0, downloads30d: recent.get(p.name) ?? new Array<number>(RECENT_DAYS).fill(0) }));
}
