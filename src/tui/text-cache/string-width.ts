/**
 * string-width, remembered across frames (see memo.ts), and loaded only when a text needs it.
 *
 * string-width builds an `Intl.Segmenter` and a `\p{RGI_Emoji}` expression as soon as it is
 * imported: about 35 ms, paid by every `pyrepo` command because yargs imports it, although
 * almost every text a command measures is plain ASCII. Printable ASCII is one column per
 * character, so those texts are measured here, and the real module is loaded (by the bundle's
 * lazy `require`) only for the first text that is not.
 */
import type { default as realStringWidth, Options } from 'string-width';
import { Memo } from './memo.js';

export type { Options } from 'string-width';

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const widths = new Memo<string, number>();
let measure: typeof realStringWidth | undefined;

function measureUncached(text: string, options?: Options): number {
  if (PRINTABLE_ASCII.test(text)) return text.length;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a require is what makes esbuild initialise the module lazily
  measure ??= (require('string-width') as { default: typeof realStringWidth }).default;
  return measure(text, options);
}

export default function stringWidth(text: string, options?: Options): number {
  if (options !== undefined && Object.keys(options).length > 0) return measureUncached(text, options);
  return widths.get(text, () => measureUncached(text));
}
