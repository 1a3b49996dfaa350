/** Renders the dashboard with ink-testing-library against a fake daemon, colours off. */
import { render } from 'ink-testing-library';
import { App } from '../../../src/tui/app.js';
import { LiveConnection } from '../../../src/tui/live/connection.js';
import { LiveStore } from '../../../src/tui/live/store.js';
import type { Size } from '../../../src/tui/state/layout.js';
import { makeTheme, ThemeContext } from '../../../src/tui/theme.js';
import type { FakeDaemon } from './fake-daemon.js';

export interface DashboardOptions {
  readonly?: boolean;
  size?: Size;
  now?: number;
}

export function renderDashboard(daemon: FakeDaemon, options: DashboardOptions = {}) {
  const store = new LiveStore(10);
  const connection = new LiveConnection(daemon.connect, store, { backoffMs: [20, 40], detailDelayMs: 5, resnapshotMs: 30 });
  connection.start();
  let quits = 0;
  const tree = (size: Size) => (
    <ThemeContext.Provider value={makeTheme(false)}>
      <App connection={connection} readonly={options.readonly ?? false} size={size} {...(options.now !== undefined ? { now: options.now } : {})} onQuit={() => quits++} />
    </ThemeContext.Provider>
  );
  const r = render(tree(options.size ?? { columns: 80, rows: 24 }));
  return {
    ...r,
    connection,
    store,
    quits: () => quits,
    /** Types keys as a terminal sends them. */
    press: (keys: string) => r.stdin.write(keys),
    resize: (size: Size) => r.rerender(tree(size)),
    close: () => {
      r.unmount();
      connection.stop();
      store.dispose();
    },
  };
}

export const KEYS = { down: '\u001b[B', up: '\u001b[A', enter: '\r', esc: '\u001b', tab: '\t', shiftTab: '\u001b[Z', backspace: '\u007f', pageDown: '\u001b[6~', ctrlC: '\u0003' };
