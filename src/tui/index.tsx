/**
 * `pyrepo tui`'s screen: runs the dashboard full-screen on a terminal until the user
 * quits, and leaves the terminal as it found it. The CLI command decides whether there
 * is a terminal at all and how to reach the daemon.
 */
import { render } from 'ink';
import { App } from './app.js';
import { LiveConnection, type ConnectionOptions } from './live/connection.js';
import type { Connect } from './live/link.js';
import { LiveStore } from './live/store.js';
import { enterFullScreen } from './terminal.js';
import { ThemeContext, themeFromEnv, type Theme } from './theme.js';

export type { Connect, DaemonLink } from './live/link.js';
export { clientLink } from './live/link.js';

export interface DashboardOptions {
  /** Finds the daemon; called again for every reconnection (it may have moved to another port). */
  connect: Connect;
  /** No yank, unyank or delete. */
  readonly: boolean;
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
  theme?: Theme;
  connection?: ConnectionOptions;
}

/** Runs the dashboard until the user quits; rejects (with the terminal restored) if it crashed. */
export async function runDashboard(options: DashboardOptions): Promise<void> {
  const stdout = options.stdout ?? process.stdout;
  const stdin = options.stdin ?? process.stdin;
  const store = new LiveStore();
  const connection = new LiveConnection(options.connect, store, options.connection);
  const screen = enterFullScreen({ stdout, stdin });
  try {
    connection.start();
    const instance = render(
      <ThemeContext.Provider value={options.theme ?? themeFromEnv()}>
        <App connection={connection} readonly={options.readonly} />
      </ThemeContext.Provider>,
      // ctrl-c is a key of the keymap, so that quitting always goes through the same path.
      // Ink draws a frame at most once per 1/maxFps: a key pressed within that window of the
      // last frame waits for the window's end. At Ink's default (30), the frame for the
      // selected project's detail, fetched 80 ms after the selection rests, held up the next
      // key of someone moving ten times a second by up to 33 ms: with keys paced so, moves
      // took 40 ms to their frame in place of 7 (the bench's keypress row). Frames are drawn
      // only when something changed, and a download storm's are batched by the store.
      { stdout, stdin, exitOnCtrlC: false, patchConsole: true, maxFps: 60 },
    );
    await instance.waitUntilExit();
  } finally {
    connection.stop();
    store.dispose();
    screen.restore();
  }
}
