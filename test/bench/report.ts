/** The printed results: one row per target (PASS/FAIL) or figure (info), as a plain text table. */

export interface Row {
  /** Short id of the measurement ("2", "4a"...). */
  id: string;
  what: string;
  target: string;
  measured: string;
  /** true = PASS, false = FAIL, null = information only. */
  pass: boolean | null;
}

export function verdict(pass: boolean | null): string {
  return pass === null ? 'info' : pass ? 'PASS' : 'FAIL';
}

/** Columns padded to their widest cell; `measured` may be long, so it goes last but one. */
export function formatTable(rows: Row[]): string {
  const header: Row = { id: '#', what: 'Measurement', target: 'Target', measured: 'Measured', pass: null };
  const cells = (r: Row, isHeader = false) => [r.id, r.what, r.target, r.measured, isHeader ? 'Result' : verdict(r.pass)];
  const all = [cells(header, true), ...rows.map((r) => cells(r))];
  const widths = all[0]!.map((_, i) => Math.max(...all.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(all[0]!), rule, ...all.slice(1).map(line)].join('\n');
}

export const fmt = {
  ms: (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`),
  lat: (ms: number) => (ms >= 100 ? `${Math.round(ms)} ms` : `${ms.toFixed(2)} ms`),
  rps: (n: number) => `${Math.round(n).toLocaleString('en-US')} req/s`,
  pct: (ratio: number) => `${(ratio * 100).toFixed(0)}%`,
  mb: (mb: number) => `${mb.toFixed(0)} MB`,
  int: (n: number) => n.toLocaleString('en-US'),
};
