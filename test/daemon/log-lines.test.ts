/**
 * Log lines are handed to pino's destination once per turn of the event loop (log-lines.ts):
 * in order, none held past the turn, and none lost when the process exits at once.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { batchedLines, LineBatcher } from '../../src/daemon/services/log-lines.js';

function recorder() {
  const writes: string[] = [];
  let flushedSync = 0;
  return { writes, dest: { write: (s: string) => writes.push(s), flushSync: () => flushedSync++ }, flushedSync: () => flushedSync };
}

describe('log lines', () => {
  const root = mkdtempSync(join(tmpdir(), 'pyrepo-log-lines-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('reach the destination as one write per turn, in order', async () => {
    const r = recorder();
    const lines = new LineBatcher(r.dest);
    lines.write('a\n');
    lines.write('b\n');
    lines.write('c\n');
    expect(r.writes).toEqual([]);
    await nextTurn();
    expect(r.writes).toEqual(['a\nb\nc\n']);
    lines.write('d\n');
    await nextTurn();
    expect(r.writes).toEqual(['a\nb\nc\n', 'd\n']);
  });

  it('are handed over at once by flushSync, and then flushed by the destination', () => {
    const r = recorder();
    const lines = new LineBatcher(r.dest);
    lines.write('a\n');
    lines.flushSync();
    expect(r.writes).toEqual(['a\n']);
    expect(r.flushedSync()).toBe(1);
  });

  it('go straight to a regular file, one write per turn, in order', async () => {
    const r = recorder();
    const out = join(root, 'direct.log');
    const fd = openSync(out, 'a');
    try {
      const lines = batchedLines(() => r.dest, fd);
      lines.write('a\n');
      lines.write('b\n');
      expect(readFileSync(out, 'utf8')).toBe('');
      await nextTurn();
      // Written when the turn ends, not later.
      expect(readFileSync(out, 'utf8')).toBe('a\nb\n');
      lines.write('c \u00e9\n');
      lines.flushSync();
      expect(readFileSync(out, 'utf8')).toBe('a\nb\nc \u00e9\n');
      expect(r.writes).toEqual([]);
    } finally {
      closeSync(fd);
    }
  });

  it('go to the destination when the descriptor is not a regular file, or once a write to the file fails', async () => {
    const device = recorder();
    const nul = openSync('/dev/null', 'w');
    try {
      const lines = batchedLines(() => device.dest, nul);
      lines.write('a\n');
      await nextTurn();
      expect(device.writes).toEqual(['a\n']);
    } finally {
      closeSync(nul);
    }
    const r = recorder();
    const fd = openSync(join(root, 'closed.log'), 'a');
    const lines = batchedLines(() => r.dest, fd);
    closeSync(fd);
    lines.write('a\n');
    await nextTurn();
    lines.write('b\n');
    await nextTurn();
    expect(r.writes).toEqual(['a\n', 'b\n']);
  });

  it.each([
    ['through the destination', ''],
    ['straight to the file', ', fd'],
  ])('are all written when the process exits right after logging them (%s)', (_how, direct) => {
    const out = join(root, `daemon${direct ? '-direct' : ''}.log`);
    const script = join(root, `exit-now${direct ? '-direct' : ''}.ts`);
    const module = new URL('../../src/daemon/services/log-lines.ts', import.meta.url).href;
    const pino = pathToFileURL(createRequire(import.meta.url).resolve('pino')).href;
    writeFileSync(
      script,
      `import pino from ${JSON.stringify(pino)};
       import { batchedLines } from ${JSON.stringify(module)};
       import { openSync } from 'node:fs';
       // A descriptor, as the daemon's stdout is: a path would be opened asynchronously.
       const fd = openSync(${JSON.stringify(out)}, 'w');
       const log = pino({}, batchedLines(() => pino.destination({ dest: fd, sync: false })${direct}));
       for (let i = 0; i < 5000; i++) log.info({ i }, 'line');
       process.exit(0);`,
    );
    execFileSync(process.execPath, ['--import', 'tsx', script], { cwd: process.cwd(), stdio: 'pipe' });
    const written = readFileSync(out, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { i: number }).i);
    expect(written).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });
});
