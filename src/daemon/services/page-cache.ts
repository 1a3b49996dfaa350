/**
 * Rendered pages kept until the project they show changes. Each page has a strong ETag
 * from its bytes, so an unchanged page costs a Map lookup (or a 304). With a
 * {@link PageFile}, the bytes of small pages (project pages: nearly all of them) are kept
 * there rather than in memory, and read back for each answer.
 */
import { createHash } from 'node:crypto';
import { ownString } from '../../shared/own-string.js';
import type { PageFile, PageSpan } from './page-file.js';

/** A rendered response body. */
export interface Page {
  body: Buffer;
  etag: string;
}

/** A page whose bytes are in the page file. */
interface FiledPage {
  span: PageSpan;
  etag: string;
}

type StoredPage = Page | FiledPage;

/** Key under which pages that list every project are kept. */
export const ALL_PROJECTS = '\u0000all';

/** Renderings kept per project: formats times the few base URLs a server is reached by. */
const MAX_VARIANTS = 32;

/**
 * Project pages up to this size go to the page file; larger ones (projects with hundreds of
 * files) stay in memory. Reading a page back costs about 5 µs at 1 KB but grew to about 70 µs
 * at 64 KB under load, more than sending it.
 */
const FILED_PAGE_MAX_BYTES = 16 * 1024;

export function makePage(text: string): Page {
  const body = Buffer.from(text, 'utf8');
  const etag = ownString(`"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`);
  return { body, etag };
}

export class PageCache {
  private readonly pages = new Map<string, Map<string, StoredPage>>();

  constructor(private readonly file?: PageFile) {}

  /** Bumped by every invalidation: a page rendered while one happened may show the old state and is not kept. */
  private generation = 0;

  /** The cached page `variant` of `project`, if it is rendered (the hot paths answer only those without waiting). */
  peek(project: string, variant: string): Page | undefined {
    const hit = this.pages.get(project)?.get(variant);
    if (!hit) return undefined;
    return 'body' in hit ? hit : { body: (this.file as PageFile).read(hit.span), etag: hit.etag };
  }

  /**
   * The cached page `variant` of `project`, rendering it on first use. The catalog is read
   * asynchronously: a page whose rendering saw a change happen (an invalidation meanwhile)
   * is answered but not kept, so a stale page never outlives the change.
   */
  async get(project: string, variant: string, render: () => Promise<string | undefined> | string | undefined): Promise<Page | undefined> {
    const hit = this.peek(project, variant);
    if (hit) return hit;
    const generation = this.generation;
    const text = await render();
    if (text === undefined) return undefined;
    const page = makePage(text);
    if (generation !== this.generation) return page;
    let variants = this.pages.get(project);
    if (!variants) {
      variants = new Map();
      // Own copies: the strings asked with are often cut from a request head (ownString).
      this.pages.set(ownString(project), variants);
    } else if (variants.size >= MAX_VARIANTS) {
      // Variants keyed by Host header (absolute URLs) must not grow without bound.
      if (this.release(variants)) return page;
      variants.clear();
    }
    // The lists of every project (a few pages, read by every installer first) always stay in memory.
    variants.set(ownString(variant), (project !== ALL_PROJECTS && this.filed(page)) || page);
    return page;
  }

  /** The page written to the page file, if it goes there; a page the file cannot take (a full disk) stays in memory. */
  private filed(page: Page): FiledPage | undefined {
    if (!this.file || page.body.length > FILED_PAGE_MAX_BYTES) return undefined;
    try {
      return { span: this.file.write(page.body), etag: page.etag };
    } catch {
      return undefined;
    }
  }

  /** Forgets the pages of a project and the pages that list every project. */
  invalidate(project: string): void {
    this.generation += 1;
    for (const key of [project, ALL_PROJECTS]) {
      const variants = this.pages.get(key);
      if (!variants) continue;
      this.pages.delete(key);
      if (this.release(variants)) return;
    }
  }

  clear(): void {
    this.generation += 1;
    this.pages.clear();
    this.file?.empty();
  }

  /** Gives back the file space of `variants`; when the file is mostly stale, forgets every page (true). */
  private release(variants: Map<string, StoredPage>): boolean {
    if (!this.file) return false;
    let emptyFile = false;
    for (const stored of variants.values()) if ('span' in stored && this.file.release(stored.span)) emptyFile = true;
    if (emptyFile) this.clear();
    return emptyFile;
  }
}
