/** string-width, remembered across frames (see memo.ts). */
import stringWidthUncached, { type Options } from 'string-width';
import { Memo } from './memo.js';

const widths = new Memo<string, number>();

export type { Options } from 'string-width';

export default function stringWidth(text: string, options?: Options): number {
  if (options !== undefined && Object.keys(options).length > 0) return stringWidthUncached(text, options);
  return widths.get(text, () => stringWidthUncached(text));
}
