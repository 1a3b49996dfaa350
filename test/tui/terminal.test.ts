/** The full-screen mode is left, with the cursor shown and raw input off, however the dashboard ends. */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { enterFullScreen, ENTER_ALTERNATE_SCREEN, LEAVE_ALTERNATE_SCREEN, SHOW_CURSOR, type ProcessLike } from '../../src/tui/terminal.js';

function fakes() {
  const out: string[] = [];
  const raw: boolean[] = [];
  const kills: string[] = [];
  const proc = Object.assign(new EventEmitter(), {
    pid: 123,
    kill: (pid: number, signal: string) => kills.push(`${pid} ${signal}`),
  });
  const streams = { stdout: { write: (s: string) => out.push(s) > 0 }, stdin: { isTTY: true, setRawMode: (m: boolean) => raw.push(m) } };
  return { out, raw, kills, proc, streams, screen: () => enterFullScreen(streams as never, proc as unknown as ProcessLike) };
}

const restored = (out: string[]) => out.join('').endsWith(SHOW_CURSOR + LEAVE_ALTERNATE_SCREEN);

describe('enterFullScreen', () => {
  it('switches to the alternate screen and back, once', () => {
    const f = fakes();
    const s = f.screen();
    expect(f.out.join('')).toContain(ENTER_ALTERNATE_SCREEN);
    s.restore();
    s.restore();
    expect(restored(f.out)).toBe(true);
    expect(f.out.join('').split(LEAVE_ALTERNATE_SCREEN)).toHaveLength(2);
    expect(f.raw).toEqual([false]);
    expect(f.proc.listenerCount('exit') + f.proc.listenerCount('SIGTERM') + f.proc.listenerCount('uncaughtExceptionMonitor')).toBe(0);
  });

  it.each(['SIGTERM', 'SIGHUP', 'SIGINT'])('restores on %s, then ends the process by that signal', (signal) => {
    const f = fakes();
    f.screen();
    f.proc.emit(signal);
    expect(restored(f.out)).toBe(true);
    expect(f.kills).toEqual([`123 ${signal}`]);
  });

  it('restores on an uncaught exception (leaving the report and the exit to Node) and on any exit', () => {
    const f = fakes();
    f.screen();
    f.proc.emit('uncaughtExceptionMonitor', new Error('boom'));
    expect(restored(f.out)).toBe(true);
    expect(f.kills).toEqual([]);
    const g = fakes();
    g.screen();
    g.proc.emit('exit', 0);
    expect(restored(g.out)).toBe(true);
  });
});
