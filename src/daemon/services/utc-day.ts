/**
 * The UTC day (`YYYY-MM-DD`) download counts are kept under. Its own module: the catalogs,
 * their pending counts and the upstream cache all count by it.
 */

const DAY_MS = 86_400_000;
/** The last day made, and the times it covers: every download of a day is counted under one string, made once. */
let dayStart = 0;
let dayEnd = 0;
let dayString = '';

/** The UTC day of a time in milliseconds since the epoch. */
export function utcDayAt(ms: number): string {
  if (ms < dayStart || ms >= dayEnd) {
    dayStart = Math.floor(ms / DAY_MS) * DAY_MS;
    dayEnd = dayStart + DAY_MS;
    dayString = new Date(dayStart).toISOString().slice(0, 10);
  }
  return dayString;
}

/** The UTC day of a time. */
export function utcDay(t: Date): string {
  return utcDayAt(t.getTime());
}

/** Today's UTC day: every download is counted under it. */
export function utcToday(): string {
  return utcDayAt(Date.now());
}
