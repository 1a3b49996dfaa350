/**
 * The daemon's log file: its last lines, following it as it grows, and rotation when a
 * start finds it large. The daemon writes pino JSON lines (and plain lines on stderr);
 * `pyrepo logs` shows them as readable text.
 */
import { closeSync, openSync, readSync, renameSync, statSync, watch } from 'node:fs';

/** A log file larger than this is moved to `<file>.1` when the daemon starts. */
export const ROTATE_BYTES = 10 * 1024 * 1024;

/** The size of `file` in bytes (0 when it does not exist): where the next start's lines begin. */
export function logSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Reads at most the last `maxBytes` of `file` ('' when it does not exist). */
function readTail(file: string, maxBytes: number): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
  try {
    const size = statSync(file).size;
    const length = Math.min(size, maxBytes);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The last `n` lines of `file` (fewer if it is shorter; none if it does not exist). */
export function lastLines(file: string, n: number): string[] {
  if (n <= 0) return [];
  // Access lines are ~200 bytes; read more until enough lines, up to 8 MiB.
  for (let bytes = Math.max(64 * 1024, n * 400); ; bytes *= 4) {
    const text = readTail(file, bytes);
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const complete = text.length < bytes || bytes >= 8 * 1024 * 1024;
    if (lines.length > n || complete) return lines.slice(-n);
  }
}

/** Moves a large log to `<file>.1` (replacing an older one), so logs never grow without bound. */
export function rotateIfLarge(file: string, maxBytes = ROTATE_BYTES): boolean {
  try {
    if (statSync(file).size <= maxBytes) return false;
  } catch {
    return false;
  }
  renameSync(file, `${file}.1`);
  return true;
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

interface PinoLine {
  level?: number;
  time?: number;
  msg?: string;
  method?: string;
  url?: string;
  status?: number;
  ms?: number;
  err?: { message?: string };
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** One log line as text: pino JSON becomes "2026-11-22 14:03:07 INFO  message"; other lines pass through. */
export function formatLogLine(line: string): string {
  if (!line.startsWith('{')) return line;
  let entry: PinoLine;
  try {
    entry = JSON.parse(line) as PinoLine;
  } catch {
    return line;
  }
  const t = new Date(entry.time ?? Date.now());
  const when = `${t.getFullYear()}-${pad2(t.getMonth() + 1)}-${pad2(t.getDate())} ${pad2(t.getHours())}:${pad2(t.getMinutes())}:${pad2(t.getSeconds())}`;
  const level = (LEVELS[entry.level ?? 30] ?? 'INFO').padEnd(5);
  const text =
    entry.msg === 'request' && entry.method
      ? `${entry.method} ${entry.url ?? ''} ${entry.status ?? ''} ${entry.ms ?? 0} ms`
      : `${entry.msg ?? ''}${entry.err?.message ? `: ${entry.err.message}` : ''}`;
  return `${when} ${level} ${text}`;
}

/**
 * Calls `onLine` for every line appended to `file` from its current end, until the
 * signal aborts; survives the file being created later or rotated.
 */
export function followLog(file: string, onLine: (line: string) => void, signal: AbortSignal): Promise<void> {
  let offset = (() => {
    try {
      return statSync(file).size;
    } catch {
      return 0;
    }
  })();
  let partial = '';
  const drain = () => {
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      return;
    }
    if (size < offset) offset = 0; // rotated or truncated: start over
    if (size === offset) return;
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(size - offset);
      readSync(fd, buf, 0, buf.length, offset);
      offset = size;
      const lines = (partial + buf.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    } finally {
      closeSync(fd);
    }
  };
  return new Promise((resolve) => {
    // A poll as well as fs.watch: watch alone misses a file that is replaced.
    const timer = setInterval(drain, 500);
    let watcher: ReturnType<typeof watch> | undefined;
    try {
      watcher = watch(file, { persistent: false }, drain);
      watcher.on('error', () => undefined);
    } catch {
      // not there yet: the poll picks it up
    }
    signal.addEventListener(
      'abort',
      () => {
        clearInterval(timer);
        watcher?.close();
        drain();
        resolve();
      },
      { once: true },
    );
  });
}

/** The lines written to `file` from byte `fromOffset` on (the last 256 KiB of them at most), empty ones left out. */
export function linesSince(file: string, fromOffset: number): string[] {
  const size = logSize(file);
  if (size <= fromOffset) return [];
  return readTail(file, Math.min(size - fromOffset, 256 * 1024))
    .split('\n')
    .filter((l) => l.trim() !== '');
}

function parseEntry(line: string): PinoLine | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as PinoLine;
  } catch {
    return undefined;
  }
}

/**
 * The few lines of a failed start that explain it, as text: what the daemon wrote from
 * byte `fromOffset` on, without access lines, stack frames and the `skip` lines (its last
 * words, which the caller shows as the message); warnings and errors when there are any,
 * else (unless `onlySerious`) the last lines it wrote.
 */
export function explainingLines(file: string, fromOffset: number, options: { max?: number; skip?: (line: string) => boolean; onlySerious?: boolean } = {}): string[] {
  const max = options.max ?? 5;
  const lines = linesSince(file, fromOffset)
    .filter((l) => !/^\s+at /.test(l) && !/^Node\.js v\d/.test(l) && !(options.skip?.(l) ?? false))
    .filter((l) => parseEntry(l)?.msg !== 'request');
  const serious = lines.filter((l) => {
    const entry = parseEntry(l);
    return entry === undefined || (entry.level ?? 30) >= 40;
  });
  return (serious.length > 0 || options.onlySerious ? serious : lines).slice(-max).map(formatLogLine);
}
