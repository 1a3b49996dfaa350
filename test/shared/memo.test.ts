/** Memo works a string's meaning out once (memo.ts): the last string first, then the ones kept. */
import { describe, expect, it } from 'vitest';
import { Memo } from '../../src/shared/memo.js';

function counted(max?: number, keptUpTo?: number) {
  const asked: string[] = [];
  const memo = new Memo<string | null>(
    (value) => {
      asked.push(value);
      return value.startsWith('n') ? null : value.toUpperCase();
    },
    max,
    keptUpTo,
  );
  return { memo, asked };
}

describe('Memo', () => {
  it('works each value out once, a null meaning included, whatever the order they come in', () => {
    const { memo, asked } = counted();
    for (const value of ['a', 'a', 'b', 'a', 'none', 'b', 'none', 'a']) expect(memo.get(value)).toBe(value.startsWith('n') ? null : value.toUpperCase());
    expect(asked).toEqual(['a', 'b', 'none']);
  });

  it('keeps at most `max` values, the oldest going first', () => {
    const { memo, asked } = counted(2);
    for (const value of ['a', 'b', 'c', 'b', 'a']) memo.get(value);
    // 'a' went when 'c' came; 'b' stayed.
    expect(asked).toEqual(['a', 'b', 'c', 'a']);
  });

  it('never keeps a value longer than `keptUpTo`, but still answers it (and the same one twice in a row once)', () => {
    const { memo, asked } = counted(256, 4);
    const long = 'abcdefgh';
    expect(memo.get(long)).toBe('ABCDEFGH');
    expect(memo.get(long)).toBe('ABCDEFGH');
    expect(memo.get('x')).toBe('X');
    expect(memo.get(long)).toBe('ABCDEFGH');
    expect(asked).toEqual([long, 'x', long]);
  });
});
