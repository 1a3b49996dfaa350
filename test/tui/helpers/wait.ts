/**
 * Waiting for a condition instead of sleeping: polls `check` until it holds, or fails
 * after `timeoutMs` saying what it waited for (and, for frames, what the screen showed).
 */

export async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Something with frames, as ink-testing-library's render() returns. */
export interface Frames {
  lastFrame(): string | undefined;
}

/** Waits until the last frame satisfies `predicate`; returns that frame. */
export async function waitForFrame(r: Frames, predicate: (frame: string) => boolean, what: string, timeoutMs = 5_000): Promise<string> {
  try {
    return await until(what, () => {
      const f = r.lastFrame();
      return f !== undefined && predicate(f) ? f : undefined;
    }, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}\nLast frame:\n${r.lastFrame() ?? '(none)'}`);
  }
}

/** Waits until the frame contains `text`. */
export function waitForText(r: Frames, text: string, timeoutMs?: number): Promise<string> {
  return waitForFrame(r, (f) => f.includes(text), JSON.stringify(text), timeoutMs);
}
