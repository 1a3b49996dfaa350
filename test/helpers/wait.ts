/**
 * The one way tests wait: for a condition, with a bound. A test never sleeps a fixed time
 * hoping that something happened meanwhile; it says what it waits for, and a timeout
 * fails with that, the time it waited and the last thing the check said.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Default bound of {@link waitFor}. */
export const WAIT_TIMEOUT_MS = 10_000;
/** Default pause between two checks. */
export const WAIT_INTERVAL_MS = 100;

/** Thrown by a check when waiting longer cannot help (the process it waits on has exited): {@link waitFor} rethrows it at once. */
export class GiveUp extends Error {}

/**
 * Calls `check` until it returns a value other than `undefined` or `false` and resolves to
 * that value; rejects after `timeoutMs` with `Timed out after N ms waiting for <what>`.
 * A check that throws counts as "not yet"; the last error (an `expect` inside the check
 * says best what is still wrong) goes into the timeout message. A {@link GiveUp} ends the
 * wait at once.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = WAIT_TIMEOUT_MS,
  intervalMs = WAIT_INTERVAL_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      lastError = undefined;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      const last = lastError === undefined ? '' : ` (last check: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last}`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Resolves with `promise`, or rejects after `timeoutMs` with `Timed out after N ms waiting
 * for <what>`: for things that say themselves when they are done (an answer, an exit).
 */
export async function settlesWithin<T>(what: string, promise: Promise<T>, timeoutMs = WAIT_TIMEOUT_MS): Promise<T> {
  const timeout = new AbortController();
  try {
    return await Promise.race([
      promise,
      sleep(timeoutMs, undefined, { signal: timeout.signal }).then(() => {
        throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
      }),
    ]);
  } finally {
    timeout.abort();
  }
}
