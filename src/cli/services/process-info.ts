/** What the CLI can learn about another process by its pid, portably. */
import { readFileSync } from 'node:fs';

/**
 * Whether `pid` is a live process. A zombie (exited, not yet reaped: common in containers
 * whose first process does not reap) counts as gone.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (process.platform === 'linux') {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // "pid (comm) S …": the state letter follows the last ')'.
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * Whether `pid` may be a pyrepo daemon: on Linux, its command line must be a Node
 * process; elsewhere there is no cheap way to tell, so any live process may be.
 * This keeps a pid that was reused by an unrelated program from being signalled.
 */
export function mayBeDaemon(pid: number): boolean {
  if (process.platform !== 'linux') return isAlive(pid);
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return isAlive(pid) && cmdline.some((arg) => /node|pyrepo|main\.js|index\.js/.test(arg));
  } catch {
    return false;
  }
}

/** Sends `signal` to `pid`; false when the process is already gone. */
export function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}
