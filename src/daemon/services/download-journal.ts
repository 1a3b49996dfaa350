/**
 * How download counts reach the catalog: each second's counts are appended to a journal
 * file beside it, and the journal is folded into the `downloads` table about once a minute
 * (catalog.ts). A crash of the process loses at most the last second, as before; what the
 * journal holds is folded when the catalog opens again.
 *
 * The table is written rarely because what a write costs is its rows, and a minute of
 * downloads has far fewer distinct rows (file, day, installer, CI) than sixty seconds of them:
 * under random downloads of 60,000 files, about 21,000 rows a second against about 60,000 a
 * minute. Written every second, the rows took a thread of their own (the download writer,
 * before this journal), with its own V8 heap and SQLite connection, and a seventh of a core;
 * starting that thread under load also let V8 grow the daemon's young generation
 * (heap-limits.ts). A second's counts now cost an append of a line of JSON per 2,000 rows, and
 * a minute's one fold, both on the daemon's own thread. Measured against the writer thread
 * (random downloads of 60,000 files, alternated rounds): the peak 7-29 MB lower, throughput
 * 4% higher (8 of 10 rounds), the p99 no higher.
 *
 * A fold is written in short transactions, a hundred rows every 20 ms, in filename order.
 * When it starts, the journal's file is renamed aside (`.folding`) and a new one started:
 * counts go on being journaled meanwhile. The meta row `downloads-journal` names
 * the last journal record folded: records up to it are in the table. While a fold is written,
 * the meta row `downloads-fold` says how far it got — the last record it holds and the last
 * filename written — so that a fold cut short by a crash is finished from the records, writing
 * no count twice. The file set aside is removed once the fold is written.
 */
import { closeSync, existsSync, fdatasync, fstatSync, ftruncateSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { CountBatch } from '../stores/pending-downloads.js';

/** The journal's files beside a catalog file, by their suffix: the one set aside for a fold, then the current one. */
export const JOURNAL_SUFFIXES = ['.downloads.folding', '.downloads'] as const;

/** The catalog's meta key of the last journal record folded into the table. */
export const FOLDED_RECORD_KEY = 'downloads-journal';

/** The catalog's meta key of a fold being written: `<last record it holds>\t<last filename written>`. */
export const FOLD_PROGRESS_KEY = 'downloads-fold';

/** A record of the journal: a batch of counts, or a file removed (its earlier counts are dropped). */
export type JournalRecord = { id: number; counts: CountBatch } | { id: number; removed: string };

/** What reading a journal found. */
export interface JournalContents {
  records: JournalRecord[];
  /** Lines that were not a whole record (the end of a write the machine did not finish): left out. */
  damaged: number;
}

/**
 * The journal file: one line per record, `<id> c <batch>` or `<id> r <filename as JSON>`.
 * Appends are single writes; one that fails is cut off again, so a line is whole or gone.
 */
export class DownloadJournal {
  private fd: number | undefined;
  private size = 0;
  /** Whether an fdatasync of the journal is running on libuv's thread pool. */
  private syncing = false;

  /** The journal's file. */
  readonly path: string;
  /** The file a fold's records are set aside in while it is written. */
  readonly foldingPath: string;

  /** The journal of the catalog file `catalogFile`. */
  constructor(catalogFile: string) {
    const [folding, current] = JOURNAL_SUFFIXES;
    this.path = catalogFile + current;
    this.foldingPath = catalogFile + folding;
  }

  /** Bytes the journal holds (not counting the file set aside for a fold). */
  get bytes(): number {
    return this.size;
  }

  /** Appends a record of counts. */
  appendCounts(id: number, counts: CountBatch): void {
    this.append(`${id} c ${counts.encode()}\n`);
  }

  /** Appends a record of a file removed. */
  appendRemoved(id: number, filename: string): void {
    this.append(`${id} r ${JSON.stringify(filename)}\n`);
  }

  private append(line: string): void {
    this.fd ??= this.open();
    const bytes = Buffer.from(line, 'utf8');
    try {
      const written = writeSync(this.fd, bytes);
      if (written !== bytes.length) throw new Error(`only ${written} of ${bytes.length} bytes were written`);
      this.size += written;
      this.syncAside(this.fd);
    } catch (err) {
      // Part of a line would join the next one: the journal is put back as it was.
      try {
        ftruncateSync(this.fd, this.size);
      } catch {
        // The next read leaves the broken line out.
      }
      throw err;
    }
  }

  /**
   * Has what was appended written to disk off the daemon's thread. Left to the kernel, the
   * journal's pages stayed dirty for up to half a minute (about 30 MB under random downloads of
   * 60,000 files), and the next fsync on the daemon's thread — a checkpoint of the catalog, an
   * upload — waited for all of them: a fold's checkpoint once took 96 ms.
   */
  private syncAside(fd: number): void {
    if (this.syncing) return;
    this.syncing = true;
    fdatasync(fd, () => {
      // A failure says nothing about the records written: the next append syncs again.
      this.syncing = false;
    });
  }

  private open(): number {
    const fd = openSync(this.path, 'a');
    this.size = fstatSync(fd).size;
    return fd;
  }

  /**
   * The records in the file, in order; `projectOf` names each filename's project (counts of a
   * file it does not know are kept with an empty project: they are dropped when written).
   */
  read(projectOf: (filename: string) => string | undefined): JournalContents {
    const records: JournalRecord[] = [];
    let damaged = 0;
    // The file set aside holds the older records.
    for (const path of [this.foldingPath, this.path]) {
      if (!existsSync(path)) continue;
      const lines = readFileSync(path, 'utf8').split('\n');
      // What follows the last newline is a line whose write did not finish.
      if (lines.pop() !== '') damaged += 1;
      for (const line of lines) {
        const record = parseRecord(line, projectOf);
        if (record) records.push(record);
        else damaged += 1;
      }
    }
    return { records, damaged };
  }

  /** Sets the records so far aside for a fold (renamed to {@link foldingPath}); the next append starts a new file. */
  setAside(): void {
    this.close();
    if (existsSync(this.path)) renameSync(this.path, this.foldingPath);
    this.size = 0;
  }

  /** Removes the records set aside: the fold is written. */
  removeSetAside(): void {
    rmSync(this.foldingPath, { force: true });
  }

  /** Empties the journal, the records set aside included (everything is in the table). */
  clear(): void {
    this.removeSetAside();
    if (this.fd === undefined) {
      if (!existsSync(this.path)) return;
      this.fd = this.open();
    }
    ftruncateSync(this.fd, 0);
    this.size = 0;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

function parseRecord(line: string, projectOf: (filename: string) => string | undefined): JournalRecord | undefined {
  const m = /^(\d+) ([cr]) /.exec(line);
  if (!m) return undefined;
  const id = Number(m[1]);
  const payload = line.slice(m[0].length);
  try {
    if (m[2] === 'r') {
      const removed = JSON.parse(payload) as unknown;
      return typeof removed === 'string' ? { id, removed } : undefined;
    }
    return { id, counts: CountBatch.decode(payload, projectOf) };
  } catch {
    return undefined;
  }
}
