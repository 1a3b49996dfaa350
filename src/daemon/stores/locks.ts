/**
 * Locks by name: the publisher takes one per filename, so that an upload, a deletion and the
 * packages folder's watcher never interleave their changes of one file.
 *
 * There is one adapter, for both modes: locks held in this process. Between daemons sharing
 * a catalog nothing needs a lock, because PostgreSQL decides: a file's name is unique there,
 * and the loser of two uploads of one name is refused by that constraint, not by whoever
 * held a lock first (pg-catalog.ts `publishFile`). A lock across daemons (an advisory lock)
 * would hold a pooled connection for the whole of an upload, S3 write included, to decide
 * what the constraint decides anyway.
 */

/** Serializes work by name. */
export interface Locks {
  /**
   * Runs `fn` once every earlier holder of `name` is done with it, succeeded or failed, and
   * answers what `fn` answers. Work under other names goes on meanwhile.
   */
  run<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** How many names are held or waited for (none once all work is done). */
  readonly held: number;
}

/** Locks of this process: a chain of promises per name, forgotten when its last holder is done. */
export class ProcessLocks implements Locks {
  private readonly tails = new Map<string, Promise<unknown>>();

  get held(): number {
    return this.tails.size;
  }

  async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(name) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.catch(() => undefined);
    this.tails.set(name, settled);
    try {
      return await run;
    } finally {
      if (this.tails.get(name) === settled) this.tails.delete(name);
    }
  }
}
