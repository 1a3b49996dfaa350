/**
 * Rendered pages kept until the catalog's serial moves (any upload, removal or yank
 * bumps it), or until `forget` drops one project's (a download changes the counts a
 * project page shows, without a new serial). A request for an unchanged page costs a
 * number comparison and a Map lookup, never a catalog query or a folder scan.
 */
import { PageCache, type Page } from './page-cache.js';

export class SerialPages {
  private readonly pages = new PageCache();
  private serial: number;

  constructor(private readonly serialOf: () => number) {
    this.serial = serialOf();
  }

  /** The page `variant` of `key`, rendered on first use since the last change; undefined when `render` finds nothing. */
  get(key: string, variant: string, render: () => Promise<string | undefined> | string | undefined): Promise<Page | undefined> {
    const now = this.serialOf();
    if (now !== this.serial) {
      this.pages.clear();
      this.serial = now;
    }
    return this.pages.get(key, variant, render);
  }

  /** Drops the pages of `key` (and those that list every project). */
  forget(key: string): void {
    this.pages.invalidate(key);
  }
}
