/**
 * Rendered pages kept in memory until the project they show changes. Each page has a
 * strong ETag from its bytes, so an unchanged page costs a Map lookup (or a 304).
 */
import { createHash } from 'node:crypto';

/** A rendered response body. */
export interface Page {
  body: Buffer;
  etag: string;
}

/** Key under which pages that list every project are kept. */
export const ALL_PROJECTS = '\u0000all';

/** Renderings kept per project: formats times the few base URLs a server is reached by. */
const MAX_VARIANTS = 32;

export function makePage(text: string): Page {
  const body = Buffer.from(text, 'utf8');
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { body, etag };
}

export class PageCache {
  private readonly pages = new Map<string, Map<string, Page>>();

  /** The cached page `variant` of `project`, rendering it on first use. */
  get(project: string, variant: string, render: () => string | undefined): Page | undefined {
    let variants = this.pages.get(project);
    const hit = variants?.get(variant);
    if (hit) return hit;
    const text = render();
    if (text === undefined) return undefined;
    const page = makePage(text);
    if (!variants) {
      variants = new Map();
      this.pages.set(project, variants);
    } else if (variants.size >= MAX_VARIANTS) {
      // Variants keyed by Host header (absolute URLs) must not grow without bound.
      variants.clear();
    }
    variants.set(variant, page);
    return page;
  }

  /** Forgets the pages of a project and the pages that list every project. */
  invalidate(project: string): void {
    this.pages.delete(project);
    this.pages.delete(ALL_PROJECTS);
  }

  clear(): void {
    this.pages.clear();
  }
}
