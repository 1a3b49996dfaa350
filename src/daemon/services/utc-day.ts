/**
 * The UTC day (`YYYY-MM-DD`) download counts are kept under. Its own module: the catalogs,
 * their pending counts and the upstream cache all count by it.
 */

/** The UTC day of a time. */
export function utcDay(t: Date): string {
  return t.toISOString().slice(0, 10);
}

let todayUntil = 0;
let todayDay = '';
/** Today's UTC day, made once a day: every download is counted under it. */
export function utcToday(): string {
  const now = Date.now();
  if (now >= todayUntil || now < todayUntil - 86_400_000) {
    todayDay = utcDay(new Date(now));
    todayUntil = Date.parse(`${todayDay}T00:00:00.000Z`) + 86_400_000;
  }
  return todayDay;
}
