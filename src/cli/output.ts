/** How commands print: colour only on a terminal and never with NO_COLOR, aligned tables, JSON. */

/** Colour functions for one stream; each is the identity when colour is off. */
export function colors(stream: NodeJS.WriteStream = process.stdout) {
  const env = process.env;
  const on = !env.NO_COLOR && (env.FORCE_COLOR ? env.FORCE_COLOR !== '0' : stream.isTTY === true && env.TERM !== 'dumb');
  const wrap = (open: number, close: number) => (s: string) => (on ? `\u001b[${open}m${s}\u001b[${close}m` : s);
  return {
    enabled: on,
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    cyan: wrap(36, 39),
  };
}

/** Writes a line (or several) to stdout. */
export function say(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** Writes a line to stderr: progress, warnings and anything that is not the command's result. */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** Prints a value as indented JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/** Visible width of a string that may contain colour codes. */
function width(s: string): number {
  return s.replace(ANSI, '').length;
}

/** Columns aligned under their headers; `right` lists the columns aligned to the right (numbers). */
export function formatTable(headers: string[], rows: string[][], right: number[] = []): string {
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => {
        const pad = ' '.repeat(Math.max(0, (widths[i] ?? 0) - width(c)));
        return right.includes(i) ? pad + c : i === cells.length - 1 ? c : c + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
