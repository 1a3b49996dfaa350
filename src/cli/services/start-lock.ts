/**
 * A lock file that makes two `pyrepo start` at once start one daemon: the second waits
 * for the first, then finds the daemon running.
 *
 * Created with O_EXCL, which is atomic on every local file system; it holds the owner's
 * pid, so a lock left by a CLI that was killed is taken over instead of waited for.
 * (proper-lockfile would do, but relies on mtime refreshes; a pid check is exact here,
 * since the lock never outlives the command that holds it.)
 */
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortError } from '../errors.js';
import { isAlive } from './process-info.js';

/** The pid in the lock; 'gone' if it was just released, 'stale' if it never got a pid. */
function readHolder(path: string): number | 'gone' | 'stale' | 'writing' {
  try {
    const text = readFileSync(path, 'utf8').trim();
    if (text) return Number.isInteger(Number(text)) ? Number(text) : 'stale';
    // Created but not yet written: give its owner a moment.
    return Date.now() - statSync(path).mtimeMs > 2000 ? 'stale' : 'writing';
  } catch {
    return 'gone';
  }
}

/** Holds the lock at `path` while `task` runs; waits at most `waitMs` for another holder. */
export async function withStartLock<T>(path: string, task: () => Promise<T>, waitMs = 30_000): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readHolder(path);
    if (holder === 'gone') continue;
    if (holder === 'stale' || (holder !== 'writing' && !isAlive(holder))) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new AbortError(
        `Another pyrepo command (pid ${String(holder)}) has been starting the daemon for ${Math.round(waitMs / 1000)} s.`,
        `Wait for it to finish, or end it; the lock is ${path}.`,
      );
    }
    await sleep(100);
  }
  try {
    return await task();
  } finally {
    rmSync(path, { force: true });
  }
}
