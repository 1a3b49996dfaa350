/**
 * Rendered pages kept in the page file: served byte for byte as rendered, rendered again
 * only after a change, the file gone from the folder while the daemon runs, and emptied
 * once it is mostly stale.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ALL_PROJECTS, PageCache } from '../../src/daemon/services/page-cache.js';
import { PageFile } from '../../src/daemon/services/page-file.js';

let dir: string | undefined;
let file: PageFile | undefined;
afterEach(() => {
  file?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = file = undefined;
});

function fileCache(): PageCache {
  dir = mkdtempSync(join(tmpdir(), 'pyrepo-pages-'));
  file = new PageFile(join(dir, '.pages.tmp'));
  return new PageCache(file);
}

describe('PageCache with a page file', () => {
  it('serves pages as rendered, renders again only after a change, and leaves no file in the folder', async () => {
    const pages = fileCache();
    let renders = 0;
    const render = (text: string) => () => {
      renders += 1;
      return text;
    };
    const first = (await pages.get('demo', 'json', render('{"name":"démo"}')));
    expect(first?.body.toString('utf8')).toBe('{"name":"démo"}');
    expect(readdirSync(dir as string)).toEqual([]);
    const again = (await pages.get('demo', 'json', render('not rendered: cached')));
    expect(again?.body.toString('utf8')).toBe('{"name":"démo"}');
    expect(again?.etag).toBe(first?.etag);
    expect((await pages.get('other', 'json', render('{"name":"other"}')))?.body.toString('utf8')).toBe('{"name":"other"}');
    expect(renders).toBe(2);
    pages.invalidate('demo');
    expect((await pages.get('demo', 'json', render('{"name":"changed"}')))?.body.toString('utf8')).toBe('{"name":"changed"}');
    expect((await pages.get('other', 'json', render('not rendered: cached')))?.body.toString('utf8')).toBe('{"name":"other"}');
    expect(renders).toBe(3);
  });

  it('empties the file once it is mostly stale, and renders pages again', async () => {
    const pages = fileCache();
    const page = 'p'.repeat(15 * 1024);
    let renders = 0;
    // 2,400 versions of one project's page: 36 MB written, all but the last stale.
    for (let i = 0; i < 2400; i++) {
      pages.invalidate('demo');
      expect((await pages.get('demo', 'json', () => `${i} ${page}`))?.body.toString().startsWith(`${i} `)).toBe(true);
      expect((await pages.get('other', 'json', () => `other ${(renders += 1)}`))?.body.toString()).toBe(`other ${renders}`);
    }
    // Emptied at least once (other rendered again then), and every page still served as rendered.
    expect((file as PageFile).generation).toBeGreaterThan(0);
    expect(renders).toBeGreaterThan(1);
    expect((await pages.get('demo', 'json', () => 'not rendered: cached'))?.body.toString().startsWith('2399 ')).toBe(true);
    const big = 'x'.repeat(100 * 1024);
    expect((await pages.get('every', 'html', () => big))?.body.toString()).toBe(big);
    expect((await pages.get('every', 'html', () => 'not rendered: cached'))?.body.toString()).toBe(big);
  });

  it('keeps the lists of every project in memory, however small', async () => {
    const pages = fileCache();
    const render = (text: string) => () => text;
    await pages.get(ALL_PROJECTS, 'html', render('every project'));
    await pages.get('one', 'html', render('one project'));
    // A page kept in memory is the same buffer each time; one in the page file is read back anew.
    const every = (await pages.get(ALL_PROJECTS, 'html', render('not rendered: cached')));
    expect((await pages.get(ALL_PROJECTS, 'html', render('not rendered: cached')))?.body).toBe(every?.body);
    const one = (await pages.get('one', 'html', render('not rendered: cached')));
    expect(one?.body.toString()).toBe('one project');
    expect((await pages.get('one', 'html', render('not rendered: cached')))?.body).not.toBe(one?.body);
  });

  it('answers a page rendered while its project changed, but does not keep it; peek sees only kept pages', async () => {
    const pages = new PageCache();
    expect(pages.peek('demo', 'html')).toBeUndefined();
    // The catalog is read asynchronously: an upload lands while the page is being rendered.
    const stale = await pages.get('demo', 'html', async () => {
      await Promise.resolve();
      pages.invalidate('demo');
      return 'before the upload';
    });
    expect(stale?.body.toString()).toBe('before the upload');
    expect(pages.peek('demo', 'html')).toBeUndefined();
    expect((await pages.get('demo', 'html', () => 'after the upload'))?.body.toString()).toBe('after the upload');
    expect(pages.peek('demo', 'html')?.body.toString()).toBe('after the upload');
  });

  it('keeps the variants of a page apart, at most 32 of them, and forgets them all at a change', async () => {
    for (const pages of [fileCache(), new PageCache()]) {
      let renders = 0;
      const render = (text: string) => () => {
        renders += 1;
        return text;
      };
      for (const variant of ['json', 'html', 'pypi|http://a/|']) await pages.get('demo', variant, render(`demo as ${variant}`));
      for (const variant of ['json', 'html', 'pypi|http://a/|']) {
        // The variant asked with is a string of its own, not the one kept.
        const asked = `${variant} `.trimEnd();
        expect(pages.peek('demo', asked)?.body.toString()).toBe(`demo as ${variant}`);
        expect((await pages.get('demo', asked, render('not rendered: cached')))?.body.toString()).toBe(`demo as ${variant}`);
      }
      expect(renders).toBe(3);
      // 32 variants are kept; a 33rd (another Host header each time) starts the project's renderings again.
      for (let i = 0; i < 29; i++) await pages.get('demo', `pypi|http://host-${i}/|`, render(`demo for host ${i}`));
      expect(pages.peek('demo', 'json')?.body.toString()).toBe('demo as json');
      expect(pages.peek('demo', 'pypi|http://host-28/|')?.body.toString()).toBe('demo for host 28');
      await pages.get('demo', 'pypi|http://host-30/|', render('demo for host 30'));
      expect(pages.peek('demo', 'json')).toBeUndefined();
      expect(pages.peek('demo', 'pypi|http://host-28/|')).toBeUndefined();
      expect(pages.peek('demo', 'pypi|http://host-30/|')?.body.toString()).toBe('demo for host 30');
      await pages.get('demo', 'html', render('demo as html again'));
      pages.invalidate('demo');
      expect(pages.peek('demo', 'html')).toBeUndefined();
      expect(pages.peek('demo', 'pypi|http://host-30/|')).toBeUndefined();
    }
  });

  it('keeps the later of two renderings of one variant made at once', async () => {
    for (const pages of [fileCache(), new PageCache()]) {
      await pages.get('demo', 'json', () => 'demo as json');
      let release: () => void = () => undefined;
      const slow = pages.get('demo', 'html', () => new Promise<string>((resolve) => (release = () => resolve('first rendering'))));
      const fast = await pages.get('demo', 'html', () => 'second rendering');
      expect(fast?.body.toString()).toBe('second rendering');
      release();
      expect((await slow)?.body.toString()).toBe('first rendering');
      expect(pages.peek('demo', 'html')?.body.toString()).toBe('first rendering');
      expect(pages.peek('demo', 'json')?.body.toString()).toBe('demo as json');
    }
  });
});
