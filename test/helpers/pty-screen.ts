/**
 * A program on a real pseudo-terminal (@lydell/node-pty), with its screen kept by a
 * headless xterm (@xterm/headless), for tests that look at a full-screen program as a
 * person does: read the visible lines, type keys, resize, and wait for the screen to
 * show something (bounded, never a fixed sleep). The raw output is kept too, to check
 * the escape sequences that set and restore the terminal.
 *
 * Full-screen Ink programs draw nothing while CI is set: give them CI=false (or no CI).
 */
import { spawn, type IPty } from '@lydell/node-pty';
import xterm from '@xterm/headless';

export interface PtyOptions {
  cols: number;
  rows: number;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export class PtyScreen {
  readonly term: InstanceType<typeof xterm.Terminal>;
  readonly pty: IPty;
  /** Everything the program wrote, escape sequences included. */
  raw = '';
  exit: { exitCode: number; signal?: number } | undefined;
  private pending = 0;

  constructor(file: string, args: string[], options: PtyOptions) {
    this.term = new xterm.Terminal({ cols: options.cols, rows: options.rows, allowProposedApi: true, scrollback: 0 });
    const env = Object.fromEntries(Object.entries(options.env).filter((e): e is [string, string] => typeof e[1] === 'string'));
    this.pty = spawn(file, args, { name: 'xterm-256color', cols: options.cols, rows: options.rows, cwd: options.cwd, env });
    this.pty.onData((data) => {
      this.raw += data;
      this.pending += 1;
      this.term.write(data, () => {
        this.pending -= 1;
      });
    });
    this.pty.onExit((e) => {
      this.exit = e;
    });
  }

  /** The visible lines, trailing spaces trimmed. */
  lines(): string[] {
    const buffer = this.term.buffer.active;
    const out: string[] = [];
    for (let y = 0; y < this.term.rows; y++) out.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '');
    return out;
  }

  text(): string {
    return this.lines().join('\n');
  }

  /** Whether the alternate screen is showing. */
  get alternate(): boolean {
    return this.term.buffer.active.type === 'alternate';
  }

  /** Whether the cursor was last made visible (not hidden). */
  get cursorVisible(): boolean {
    return this.raw.lastIndexOf('\u001b[?25h') >= this.raw.lastIndexOf('\u001b[?25l');
  }

  type(keys: string): void {
    this.pty.write(keys);
  }

  resize(cols: number, rows: number): void {
    this.pty.resize(cols, rows);
    this.term.resize(cols, rows);
  }

  /** Waits until the screen (all written output parsed) satisfies `check`; the screen text then. */
  async waitFor(what: string, check: (text: string, lines: string[]) => boolean, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.pending === 0) {
        const lines = this.lines();
        const text = lines.join('\n');
        if (check(text, lines)) return text;
      }
      if (Date.now() > deadline) {
        throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${this.exit ? ` (the program exited: ${JSON.stringify(this.exit)})` : ''}.\nScreen:\n${this.text()}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Waits for `text` on the screen. */
  waitForText(text: string, timeoutMs?: number): Promise<string> {
    return this.waitFor(JSON.stringify(text), (t) => t.includes(text), timeoutMs);
  }

  async waitForExit(timeoutMs = 10_000): Promise<{ exitCode: number; signal?: number }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.exit || this.pending > 0) {
      if (Date.now() > deadline) throw new Error(`The program did not exit within ${timeoutMs} ms.\nScreen:\n${this.text()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.exit;
  }

  /** Ends the program if it still runs (for afterAll). */
  kill(): void {
    if (!this.exit) {
      try {
        this.pty.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    this.term.dispose();
  }
}
