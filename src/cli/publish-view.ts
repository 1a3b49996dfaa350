/**
 * What `pyrepo publish` shows while it works and when it is done: on a terminal a live
 * progress bar per file (log-update, on stderr); elsewhere one line per finished file;
 * then the summary table on stdout.
 */
import { createLogUpdate } from 'log-update';
import { formatBytes } from '../shared/format.js';
import type { PublishedFile } from './json-output.js';
import { colors, formatTable } from './output.js';
import type { UploadEvents } from './services/publish.js';
import type { PreparedUpload } from './services/upload-client.js';

type Colors = ReturnType<typeof colors>;

/** A result in words, for the progress lines and the summary table. */
export function describeResult(r: PublishedFile, c: Colors = colors()): string {
  switch (r.result) {
    case 'uploaded':
      return c.green('uploaded');
    case 'replaced':
      return c.yellow('uploaded, replacing a different file of the same name');
    case 'identical':
      return c.dim('identical, skipped (already on the index)');
    case 'conflict':
      return c.red(`conflict: ${r.message ?? 'a different file of the same name is on the index'}`);
    case 'failed':
      return c.red(`failed: ${r.message ?? 'unknown reason'}`);
    case 'not-attempted':
      return c.yellow(r.message ?? 'not sent');
  }
}

/** The summary table: file, size, result. */
export function summaryTable(results: readonly PublishedFile[], c: Colors = colors()): string {
  return formatTable(
    ['file', 'size', 'result'],
    results.map((r) => [r.file, formatBytes(r.size), describeResult(r, c)]),
    [1],
  );
}

const BAR_WIDTH = 24;

function bar(sent: number, total: number): string {
  const filled = total === 0 ? BAR_WIDTH : Math.round((sent / total) * BAR_WIDTH);
  return `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`;
}

/** Progress reporting for {@link uploadFiles}; call `finish()` once the uploads end. */
export interface ProgressView extends UploadEvents {
  finish(): void;
}

/**
 * A live view on a terminal, plain lines otherwise. Both write to `stream` (stderr), so
 * stdout carries only the summary (or the JSON).
 */
export function progressView(files: readonly PreparedUpload[], stream: NodeJS.WriteStream = process.stderr): ProgressView {
  const c = colors(stream);
  const width = Math.max(...files.map((f) => f.filename.length));
  // A terminal of zero rows (some CI pseudo-terminals) would show log-update nothing: plain lines there too.
  if (!stream.isTTY || !stream.rows) {
    return {
      onDone(file, result) {
        stream.write(`${file.filename}  ${formatBytes(file.size)}  ${describeResult(result, c)}\n`);
      },
      finish() {},
    };
  }

  const log = createLogUpdate(stream);
  const state = new Map<string, { sent: number; result?: PublishedFile; active: boolean }>(files.map((f) => [f.path, { sent: 0, active: false }]));
  let last = 0;
  const render = (force: boolean) => {
    const now = Date.now();
    // Redrawing on every chunk costs more than the upload on a fast link; 10 frames a second is plenty.
    if (!force && now - last < 100) return;
    last = now;
    const lines = files.map((f) => {
      const s = state.get(f.path) ?? { sent: 0, active: false };
      const name = f.filename.padEnd(width);
      if (s.result) {
        const ok = s.result.result === 'uploaded' || s.result.result === 'replaced' || s.result.result === 'identical';
        return `${ok ? c.green('✔') : c.red('✖')} ${name}  ${describeResult(s.result, c)}`;
      }
      if (!s.active) return `${c.dim('·')} ${c.dim(name)}  ${c.dim('waiting')}`;
      const pct = f.size === 0 ? 100 : Math.floor((s.sent / f.size) * 100);
      const sending = s.sent >= f.size ? c.dim('waiting for the index…') : `${formatBytes(s.sent)} / ${formatBytes(f.size)}`;
      return `${c.cyan('↑')} ${name}  ${c.cyan(bar(s.sent, f.size))} ${String(pct).padStart(3)}%  ${sending}`;
    });
    log(lines.join('\n'));
  };
  render(true);
  return {
    onStart(file) {
      const s = state.get(file.path);
      if (s) s.active = true;
      render(true);
    },
    onProgress(file, sent) {
      const s = state.get(file.path);
      if (s) s.sent = sent;
      render(false);
    },
    onDone(file, result) {
      const s = state.get(file.path);
      if (s) s.result = result;
      render(true);
    },
    finish() {
      render(true);
      log.done();
    },
  };
}
