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

/** The short reason of a failure, by the index's answer; the index's own words go below the table. */
function shortReason(r: PublishedFile): string {
  switch (r.httpStatus) {
    case 400:
      return 'refused by the index (400)';
    case 401:
      return 'needs credentials (401)';
    case 403:
      return 'not allowed (403)';
    case 404:
    case 405:
      return `not an upload URL (${r.httpStatus})`;
    case 413:
      return 'too large for the index (413)';
    case undefined:
      // No answer (no connection, a time limit): the message is ours, and short.
      return r.message ?? 'unknown reason';
    default:
      return r.httpStatus >= 300 && r.httpStatus < 400 ? `redirected (${r.httpStatus})` : `refused by the index (${r.httpStatus})`;
  }
}

const NOT_SENT_AFTER = 'not sent after: ';

/** The index's own words in a failure message, without the words the table already says ("too large for this index (413): "). */
function indexWords(message: string): string {
  const credentials = /^the index wants credentials \(\d{3} (.*)\)$/.exec(message);
  if (credentials) return credentials[1] as string;
  return message.replace(/^(too large for this index|not allowed) \(\d{3}\): /, '').replace(/^\d{3}: /, '');
}

/** The message a row refers to below the table (the index's status and words), if any. */
function fullMessage(r: PublishedFile, all: readonly PublishedFile[]): string | undefined {
  if ((r.result === 'conflict' || r.result === 'failed') && r.httpStatus !== undefined && r.message) return `${r.httpStatus}: ${indexWords(r.message)}`;
  // "not sent after: <the answer that stopped the run>" refers to that answer's row.
  if (r.result === 'not-attempted' && r.message?.startsWith(NOT_SENT_AFTER)) {
    const cause = all.find((other) => other.result === 'failed' && other.message === r.message?.slice(NOT_SENT_AFTER.length));
    return cause ? fullMessage(cause, all) : undefined;
  }
  return undefined;
}

/** A result in a few words, for the progress lines and the summary table; `note` refers to a message below it. */
export function describeResult(r: PublishedFile, c: Colors = colors(), note?: number): string {
  const ref = note === undefined ? '' : ` [${note}]`;
  switch (r.result) {
    case 'uploaded':
      return c.green('uploaded');
    case 'replaced':
      return c.yellow('uploaded, replacing a different file of the same name');
    case 'identical':
      return c.dim('identical, skipped (already on the index)');
    case 'conflict':
      return c.red(`conflict: a different file of this name is on the index${ref}`);
    case 'failed':
      return c.red(`failed: ${shortReason(r)}${ref}`);
    case 'not-attempted':
      return c.yellow(r.message?.startsWith(NOT_SENT_AFTER) ? `not sent, as the same answer would come${ref}` : (r.message ?? 'not sent'));
  }
}

/**
 * The summary table (file, size, result in a few words), then each message of the index
 * once, numbered as the rows refer to it: a long answer is never repeated in the table.
 */
export function summaryTable(results: readonly PublishedFile[], c: Colors = colors()): string {
  const messages: string[] = [];
  const noteOf = (r: PublishedFile): number | undefined => {
    const message = fullMessage(r, results);
    if (message === undefined) return undefined;
    const at = messages.indexOf(message);
    if (at !== -1) return at + 1;
    messages.push(message);
    return messages.length;
  };
  const table = formatTable(
    ['file', 'size', 'result'],
    results.map((r) => [r.file, formatBytes(r.size), describeResult(r, c, noteOf(r))]),
    [1],
  );
  if (messages.length === 0) return table;
  return [table, '', 'What the index said:', ...messages.map((m, i) => `  [${i + 1}] ${m}`)].join('\n');
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
