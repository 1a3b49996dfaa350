/**
 * @alcalzone/ansi-tokenize, with a line's tokens and styled characters remembered across
 * frames (see memo.ts). Ink only reads what they return, so one array serves every frame.
 */
import { styledCharsFromTokens as styledCharsUncached, tokenize as tokenizeUncached, type StyledChar, type Token } from '@alcalzone/ansi-tokenize';
import { Memo } from './memo.js';

export * from '@alcalzone/ansi-tokenize';

const tokens = new Memo<string, Token[]>();
const styled = new WeakMap<Token[], StyledChar[]>();

export function tokenize(str: string, endChar?: number): Token[] {
  if (endChar !== undefined) return tokenizeUncached(str, endChar);
  return tokens.get(str, () => tokenizeUncached(str));
}

export function styledCharsFromTokens(list: Token[]): StyledChar[] {
  let chars = styled.get(list);
  if (!chars) {
    chars = styledCharsUncached(list);
    styled.set(list, chars);
  }
  return chars;
}
