/** Small pure formatters of the dashboard: fixed-width cells, counts, times and sparklines. */

/** What the screen shows where the daemon gives no value (yet). */
export const NONE = '—';

/**
 * `text` cut or padded to exactly `width` columns; cut text ends with `…`. Project
 * names, versions and filenames are ASCII, so a character is a column here.
 */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  const chars = [...text];
  if (chars.length > width) return width === 1 ? '…' : `${chars.slice(0, width - 1).join('')}…`;
  const pad = ' '.repeat(width - chars.length);
  return align === 'right' ? pad + text : text + pad;
}

/** Counts in at most 6 columns: 999, 12345, 123.4k, 12.3M. */
export function formatCount(n: number): string {
  if (n < 100_000) return String(n);
  if (n < 10_000_000) return `${+(n / 1000).toFixed(1)}k`;
  return `${+(n / 1_000_000).toFixed(1)}M`;
}

/** How long ago `iso` was, in a few columns: "now", "42s", "5m", "3h", "12d", then the date. */
export function ago(iso: string | null | undefined, now: number): string {
  if (!iso) return NONE;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return NONE;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 5) return 'now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  if (s < 30 * 86_400) return `${Math.floor(s / 86_400)}d ago`;
  return iso.slice(0, 10);
}

/** A UTC time as `YYYY-MM-DD HH:MM`. */
export function shortTime(iso: string): string {
  return iso.slice(0, 16).replace('T', ' ');
}

/** A local clock time `HH:MM:SS` for the activity feed. */
export function clockTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '--:--:--';
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

const BARS = '▁▂▃▄▅▆▇█';

/**
 * The last `width` values as block characters, scaled from zero to the largest; zero is
 * the lowest bar, so a quiet day among busy ones still shows. Nothing at all is blank, so
 * that the projects with downloads stand out. Fewer values are padded on the left.
 */
export function sparkline(values: readonly number[] | undefined, width: number): string {
  if (!values || width <= 0) return NONE;
  const tail = values.slice(-width);
  const max = Math.max(0, ...tail);
  if (max === 0) return ' '.repeat(width);
  const bars = tail.map((v) => BARS[Math.min(BARS.length - 1, Math.round((v / max) * (BARS.length - 1)))] as string);
  return ' '.repeat(Math.max(0, width - bars.length)) + bars.join('');
}

/**
 * Daily counts (`YYYY-MM-DD`, oldest first, days without downloads missing) as a series
 * of `days` values ending with `today`.
 */
export function dailySeries(byDay: readonly { day: string; downloads: number }[], days: number, today: string): number[] {
  const counts = new Map(byDay.map((d) => [d.day, d.downloads]));
  const end = Date.parse(`${today}T00:00:00Z`);
  const out: number[] = [];
  for (let i = days - 1; i >= 0; i--) {
    out.push(counts.get(new Date(end - i * 86_400_000).toISOString().slice(0, 10)) ?? 0);
  }
  return out;
}

/** A share as a percentage ("37%"), or "—" without a total. */
export function percent(part: number | undefined, total: number): string {
  if (part === undefined || total <= 0) return NONE;
  return `${Math.round((part / total) * 100)}%`;
}
