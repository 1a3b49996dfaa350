/** Long work in parts: a turn for the event loop once the given time of work has passed, none before. */
import { describe, expect, it } from 'vitest';
import { takeTurns } from '../../src/daemon/services/turns.js';

describe('takeTurns', () => {
  it('gives the event loop a turn once the time has passed', async () => {
    const turn = takeTurns(0);
    let ran = false;
    setImmediate(() => (ran = true));
    await turn();
    expect(ran).toBe(true);
  });

  it('gives none before', async () => {
    const turn = takeTurns(60_000);
    let ran = false;
    setImmediate(() => (ran = true));
    await turn();
    expect(ran).toBe(false);
  });
});
