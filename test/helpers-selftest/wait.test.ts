/**
 * Self-test for test/helpers/wait.ts and the version check of test/helpers/python.ts: a wait
 * returns what the check found, gives up with a message that says what it waited for, and
 * stops at once when told that waiting cannot help.
 */
import { describe, expect, it } from 'vitest';
import { isCurrentPip } from '../helpers/python.js';
import { GiveUp, settlesWithin, waitFor } from '../helpers/wait.js';

describe('waitFor', () => {
  it('returns the first value that is not undefined or false', async () => {
    let calls = 0;
    expect(await waitFor('the third call', () => (++calls === 3 ? `call ${calls}` : undefined), 2_000, 1)).toBe('call 3');
    expect(await waitFor('zero', () => 0, 100)).toBe(0);
  });

  it('fails after its bound, saying what it waited for and what the last check said', async () => {
    const started = Date.now();
    await expect(
      waitFor(
        'the answer',
        () => {
          expect(41).toBe(42);
          return true;
        },
        200,
        10,
      ),
    ).rejects.toThrow(/^Timed out after 200 ms waiting for the answer \(last check: expected 41 to be 42/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    await expect(waitFor('nothing', () => false, 50, 10)).rejects.toThrow('Timed out after 50 ms waiting for nothing');
  });

  it('stops at once on GiveUp', async () => {
    const started = Date.now();
    await expect(
      waitFor('a process that exited', () => {
        throw new GiveUp('it exited with code 2');
      }),
    ).rejects.toThrow('it exited with code 2');
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe('settlesWithin', () => {
  it('resolves with the promise, or fails after its bound saying what it waited for', async () => {
    expect(await settlesWithin('a value', Promise.resolve(7), 100)).toBe(7);
    await expect(settlesWithin('a promise that never settles', new Promise(() => undefined), 50)).rejects.toThrow(
      'Timed out after 50 ms waiting for a promise that never settles',
    );
  });
});

describe('isCurrentPip', () => {
  it('accepts pip 23.2 and later, from `pip --version`', () => {
    expect(isCurrentPip('pip 23.2.1 from /x (python 3.11)')).toBe(true);
    expect(isCurrentPip('pip 25.1.1 from /x (python 3.11)')).toBe(true);
    expect(isCurrentPip('pip 23.0.1 from /usr/lib/python3/dist-packages/pip (python 3.11)')).toBe(false);
    expect(isCurrentPip('pip 9.0.3 from /x')).toBe(false);
    expect(isCurrentPip('')).toBe(false);
  });
});
