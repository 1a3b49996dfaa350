/**
 * The full-screen mode, by hand (Ink 6.8 has no `alternateScreen`): switch to the
 * terminal's alternate screen, and put everything back — main screen, visible cursor,
 * cooked input — however the dashboard ends: `q`, ctrl-c, SIGTERM or SIGHUP, an
 * uncaught exception, or any `process.exit`.
 */

export const ENTER_ALTERNATE_SCREEN = '\u001b[?1049h';
export const LEAVE_ALTERNATE_SCREEN = '\u001b[?1049l';
export const SHOW_CURSOR = '\u001b[?25h';
const CLEAR_SCREEN = '\u001b[2J\u001b[H';

/** The parts of `process` the restore hooks into (a fake one in tests). */
export interface ProcessLike {
  pid: number;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
  kill(pid: number, signal: NodeJS.Signals): unknown;
}

export interface TerminalStreams {
  stdout: Pick<NodeJS.WriteStream, 'write'>;
  stdin: Pick<NodeJS.ReadStream, 'isTTY'> & { setRawMode?: (mode: boolean) => unknown };
}

export interface FullScreen {
  /** Leaves the alternate screen, shows the cursor and turns raw input off; safe to call twice. */
  restore(): void;
}

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGINT'];

export function enterFullScreen(streams: TerminalStreams, proc: ProcessLike = process as unknown as ProcessLike): FullScreen {
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    for (const s of SIGNALS) proc.off(s, onSignal[s]);
    proc.off('exit', restore);
    proc.off('uncaughtExceptionMonitor', restore);
    try {
      if (streams.stdin.isTTY) streams.stdin.setRawMode?.(false);
    } catch {
      // stdin already closed: nothing to restore there
    }
    try {
      streams.stdout.write(SHOW_CURSOR + LEAVE_ALTERNATE_SCREEN);
    } catch {
      // the terminal is gone (SIGHUP): nothing to restore
    }
  };
  // A signal restores the terminal, then ends the process as that signal would have.
  const onSignal = Object.fromEntries(
    SIGNALS.map((s) => [
      s,
      () => {
        restore();
        proc.kill(proc.pid, s);
      },
    ]),
  ) as Record<NodeJS.Signals, () => void>;
  for (const s of SIGNALS) proc.on(s, onSignal[s]);
  proc.on('exit', restore);
  // Watches uncaught exceptions without changing how the process reports and ends on them.
  proc.on('uncaughtExceptionMonitor', restore);
  streams.stdout.write(ENTER_ALTERNATE_SCREEN + CLEAR_SCREEN);
  return { restore };
}
