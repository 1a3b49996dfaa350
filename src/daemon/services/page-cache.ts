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

/** A rendering kept in memory, and the variant it is (a format, a base URL). */
interface KeptInMemory extends Page {
  readonly variant: string;
}

/** A rendering whose bytes are in the page file. */
interface KeptInFile extends PageSpan {
  readonly variant: string;
  readonly etag: string;
}

type KeptPage = KeptInMemory | KeptInFile;

/**
 * A project's kept renderings: nearly always one (the format its installer asks for), else a
 * few. Held in a Map per project, they cost a Map and its table for each, 1.7 MB of the
 * daemon's heap at 10,000 projects, where a project's one rendering is one object.
 */
type KeptPages = KeptPage | KeptPage[];

/** Variant strings already kept, so that 10,000 projects' pages share one copy of each. */
const knownVariants = new Map<string, string>();
/** Past this many, a variant is kept as its own copy: Host headers are the clients' to choose. */
const KNOWN_VARIANTS_MAX = 1024;

/** The one kept copy of `variant` (its own string: see ownString). */
function variantKey(variant: string): string {
  const known = knownVariants.get(variant);
  if (known !== undefined) return known;
  const own = ownString(variant);
  if (knownVariants.size < KNOWN_VARIANTS_MAX) knownVariants.set(own, own);
  return own;
}

/** The rendering `variant` among `kept`, if it is there. */
function variantOf(kept: KeptPages, variant: string): KeptPage | undefined {
  if (!Array.isArray(kept)) return kept.variant === variant ? kept : undefined;
  for (const one of kept) if (one.variant === variant) return one;
  return undefined;
}

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
  private readonly pages = new Map<string, KeptPages>();

  constructor(private readonly file?: PageFile) {}

  /** Bumped by every invalidation: a page rendered while one happened may show the old state and is not kept. */
  private generation = 0;

  /** The cached page `variant` of `project`, if it is rendered (the hot paths answer only those without waiting). */
  peek(project: string, variant: string): Page | undefined {
    const kept = this.pages.get(project);
    const hit = kept === undefined ? undefined : variantOf(kept, variant);
    if (!hit) return undefined;
    return 'body' in hit ? hit : { body: (this.file as PageFile).read(hit), etag: hit.etag };
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
    if (generation === this.generation) this.keep(project, variant, page);
    return page;
  }

  /** Keeps `page` as the rendering `variant` of `project`, in place of one rendered meanwhile. */
  private keep(project: string, variant: string, page: Page): void {
    const key = variantKey(variant);
    // The lists of every project (a few pages, read by every installer first) always stay in memory.
    const stored: KeptPage = (project !== ALL_PROJECTS && this.filed(key, page)) || { variant: key, body: page.body, etag: page.etag };
    const kept = this.pages.get(project);
    if (kept === undefined) {
      // Own copies: the strings asked with are often cut from a request head (ownString).
      this.pages.set(ownString(project), stored);
      return;
    }
    const all = Array.isArray(kept) ? kept : [kept];
    const same = all.findIndex((one) => one.variant === key);
    if (same !== -1) {
      // Two requests rendered it at once: the later one is kept.
      const [replaced] = all.splice(same, 1, stored) as [KeptPage];
      if (this.release(replaced)) return;
    } else if (all.length >= MAX_VARIANTS) {
      // Variants keyed by Host header (absolute URLs) must not grow without bound.
      if (this.release(all)) return;
      all.length = 0;
      all.push(stored);
    } else all.push(stored);
    this.pages.set(project, all.length === 1 ? (all[0] as KeptPage) : all);
  }

  /** `page` written to the page file, if it goes there; a page the file cannot take (a full disk) stays in memory. */
  private filed(variant: string, page: Page): KeptInFile | undefined {
    if (!this.file || page.body.length > FILED_PAGE_MAX_BYTES) return undefined;
    try {
      const { offset, length } = this.file.write(page.body);
      return { variant, etag: page.etag, offset, length };
    } catch {
      return undefined;
    }
  }

  /** Forgets the pages of a project and the pages that list every project. */
  invalidate(project: string): void {
    this.generation += 1;
    for (const key of [project, ALL_PROJECTS]) {
      const kept = this.pages.get(key);
      if (!kept) continue;
      this.pages.delete(key);
      if (this.release(kept)) return;
    }
  }

  clear(): void {
    this.generation += 1;
    this.pages.clear();
    this.file?.empty();
  }

  /** Gives back the file space of `kept`; when the file is mostly stale, forgets every page (true). */
  private release(kept: KeptPages): boolean {
    if (!this.file) return false;
    let emptyFile = false;
    for (const one of Array.isArray(kept) ? kept : [kept]) if (!('body' in one) && this.file.release(one)) emptyFile = true;
    if (emptyFile) this.clear();
    return emptyFile;
  }
}
