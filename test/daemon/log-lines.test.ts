/**
 * Log lines are handed to pino's destination once per turn of the event loop (log-lines.ts):
 * in order, none held past the turn, and none lost when the process exits at once.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { LineBatcher } from '../../src/daemon/services/log-lines.js';

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

  it('are all written when the process exits right after logging them', () => {
    const out = join(root, 'daemon.log');
    const script = join(root, 'exit-now.ts');
    const module = new URL('../../src/daemon/services/log-lines.ts', import.meta.url).href;
    const pino = pathToFileURL(createRequire(import.meta.url).resolve('pino')).href;
    writeFileSync(
      script,
      `import pino from ${JSON.stringify(pino)};
       import { batchedLines } from ${JSON.stringify(module)};
       import { openSync } from 'node:fs';
       // A descriptor, as the daemon's stdout is: a path would be opened asynchronously.
       const fd = openSync(${JSON.stringify(out)}, 'w');
       const log = pino({}, batchedLines(() => pino.destination({ dest: fd, sync: false })));
       for (let i = 0; i < 5000; i++) log.info({ i }, 'line');
       process.exit(0);`,
    );
    execFileSync(process.execPath, ['--import', 'tsx', script], { cwd: process.cwd(), stdio: 'pipe' });
    const written = readFileSync(out, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { i: number }).i);
    expect(written).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });
});
