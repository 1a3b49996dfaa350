/** Checks on HTML that the daemon renders for people. */

/** Tags in `html` that could run or load something (scripts, frames, handlers, styles, script URLs); none may be in rendered user content. */
export function activeMarkup(html: string): string[] {
  const found: string[] = [];
  for (const tag of html.match(/<[a-z][^>]*>/gi) ?? []) {
    if (/^<(script|iframe|style|object|embed|img|link|meta|base|form|svg|math|frame)\b/i.test(tag)) found.push(tag);
    if (/\son[a-z]+\s*=/i.test(tag)) found.push(tag);
    if (/\sstyle\s*=/i.test(tag)) found.push(tag);
    if (/(href|src|action)\s*=\s*["']?\s*(javascript|data|vbscript):/i.test(tag)) found.push(tag);
  }
  return found;
}
