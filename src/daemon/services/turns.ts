/**
 * Long work on the event loop done in parts, with a turn for requests between them.
 *
 * Rendering `/packages/` at 60,000 files took 0.75 s of the event loop in one piece: every
 * download that came meanwhile waited for it (p99 930 ms under a load of downloads).
 */

/** Work done before the event loop gets a turn, at most. */
const TURN_MS = 5;

/**
 * A function to call between parts of long work: it resolves at once until `ms` of work
 * have passed since the last turn, and after the event loop's next turn then.
 */
export function takeTurns(ms = TURN_MS): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < ms) return;
    await new Promise((resolve) => setImmediate(resolve));
    since = performance.now();
  };
}
