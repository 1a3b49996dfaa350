/** slice-ansi, remembered across frames (see memo.ts). */
import sliceAnsiUncached from 'slice-ansi';
import { Memo } from './memo.js';

const slices = new Memo<string, string>();

export default function sliceAnsi(text: string, start: number, end?: number): string {
  return slices.get(`${start}:${end ?? ''}:${text}`, () => sliceAnsiUncached(text, start, end));
}
