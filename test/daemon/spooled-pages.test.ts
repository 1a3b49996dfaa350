/**
 * Large pages in files of their own: written in parts and read back byte for byte, rendered
 * once until the catalog changes, never left in the folder, closed only after their last
 * reader, and made in memory when the folder cannot take them.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makePage } from '../../src/daemon/services/page-cache.js';
import { removeLeftovers, SpooledPages, type SpooledPage } from '../../src/daemon/services/spooled-pages.js';
import { descriptorsOn, isOpen, noted } from '../helpers/descriptors.js';

let dir: string;
let serial: number;
let pages: SpooledPages;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyrepo-spooled-'));
  serial = 1;
  pages = new SpooledPages(dir, () => serial, 2);
});
afterEach(() => {
  pages.clear();
  rmSync(dir, { recursive: true, force: true });
});

/** This process's descriptors on page files (removed from the folder, so named only by /proc). */
const openSpooled = () => descriptorsOn(`${dir}/.spooled-`);
/** A page's descriptor, noted with its file while the page is known to hold it open. */
const fdOf = (page: SpooledPage) => noted((page as unknown as { fd: number }).fd);

function counting(parts: string[]): { render: (write: (t: string) => void) => Promise<void>; renders: () => number } {
  let renders = 0;
  return {
    render: async (write) => {
      renders += 1;
      for (const part of parts) {
        write(part);
        await Promise.resolve();
      }
    },
    renders: () => renders,
  };
}

describe('SpooledPages', () => {
  it('serves a page written in parts byte for byte, with the ETag an in-memory page would have, and leaves no file in the folder', async () => {
    const big = 'é'.repeat(100_000);
    const { render, renders } = counting(['<p>', big, '</p>\n']);
    const page = (await pages.get('home', render)) as SpooledPage;
    const whole = `<p>${big}</p>\n`;
    expect(page.length).toBe(Buffer.byteLength(whole));
    expect(page.etag).toBe(makePage(whole).etag);
    expect(await text(page.stream())).toBe(whole);
    expect(await text(page.stream())).toBe(whole);
    expect(readdirSync(dir)).toEqual([]);
    expect(await pages.get('home', render)).toBe(page);
    expect(renders()).toBe(1);
  });

  it('renders once for requests that come while it renders', async () => {
    const { render, renders } = counting(['a', 'b', 'c']);
    const [a, b, c] = await Promise.all([pages.get('x', render), pages.get('x', render), pages.get('x', render)]);
    expect(renders()).toBe(1);
    expect(a).toBe(b);
    expect(b).toBe(c);
  });

  it('renders again after a change, and closes the old file only after its last reader', async () => {
    const old = (await pages.get('x', counting(['old '.repeat(50_000)]).render)) as SpooledPage;
    const oldFd = fdOf(old);
    const reading = old.stream();
    reading.pause();
    serial = 2;
    const fresh = (await pages.get('x', counting(['new']).render)) as SpooledPage;
    expect(await text(fresh.stream())).toBe('new');
    // Forgotten, still read whole by the reader it had.
    expect(isOpen(oldFd)).toBe(true);
    expect(await text(reading)).toBe('old '.repeat(50_000));
    await new Promise((resolve) => setImmediate(resolve));
    expect(isOpen(oldFd)).toBe(false);
  });

  it('keeps the file open for the other readers when one hangs up half way', async () => {
    const body = 'z'.repeat(300_000);
    const page = (await pages.get('x', counting([body]).render)) as SpooledPage;
    const fd = fdOf(page);
    const quitter = page.stream();
    const stayer = page.stream();
    const closed = new Promise((resolve) => quitter.once('close', resolve));
    quitter.once('data', () => quitter.destroy());
    await closed;
    expect(quitter.readableEnded).toBe(false);
    pages.clear();
    expect(isOpen(fd)).toBe(true);
    expect(await text(stayer)).toBe(body);
    await new Promise((resolve) => setImmediate(resolve));
    expect(isOpen(fd)).toBe(false);
  });

  it('answers a page whose rendering saw a change, without keeping it', async () => {
    const page = (await pages.get('x', async (write) => {
      write('before');
      serial = 2;
    })) as SpooledPage;
    // Read in the same turn, as a route does once the page is there.
    const body = text(page.stream());
    expect(await body).toBe('before');
    const again = await pages.get('x', counting(['after']).render);
    expect(await text((again as SpooledPage).stream())).toBe('after');
  });

  it('keeps as many renderings as it is given, and forgets them all at one more', async () => {
    const a = fdOf((await pages.get('a', counting(['a']).render)) as SpooledPage);
    await pages.get('b', counting(['b']).render);
    expect(isOpen(a)).toBe(true);
    await pages.get('c', counting(['c']).render);
    await new Promise((resolve) => setImmediate(resolve));
    expect(isOpen(a)).toBe(false);
    const { render, renders } = counting(['a again']);
    await pages.get('a', render);
    expect(renders()).toBe(1);
  });

  it('makes the page in memory, not kept, when the folder cannot take it', async () => {
    const nowhere = new SpooledPages(join(dir, 'no-such-folder'), () => serial, 2);
    const { render, renders } = counting(['in ', 'memory']);
    const page = await nowhere.get('x', render);
    expect('body' in page && page.body.toString()).toBe('in memory');
    expect(page.etag).toBe(makePage('in memory').etag);
    await nowhere.get('x', render);
    // The file could not be made: each request renders into memory, once.
    expect(renders()).toBe(2);
  });

  it('passes on an error of the rendering itself, and closes the file it began', async () => {
    await expect(
      pages.get('x', (write) => {
        write('half a page');
        throw new Error('the catalog is gone');
      }),
    ).rejects.toThrow('the catalog is gone');
    expect(readdirSync(dir)).toEqual([]);
    expect(openSpooled()).toEqual([]);
  });

  it('serves a page got in the same turn as a change that forgets it', async () => {
    const page = (await pages.get('x', counting(['kept '.repeat(1000)]).render)) as SpooledPage;
    const again = (await pages.get('x', counting(['never']).render)) as SpooledPage;
    expect(again).toBe(page);
    serial = 2;
    pages.clear();
    // The request that got it reads it now, in this turn.
    expect(await text(page.stream())).toBe('kept '.repeat(1000));
  });

  it('refuses to read a page whose file is closed, rather than read another file', async () => {
    const page = (await pages.get('x', counting(['gone']).render)) as SpooledPage;
    pages.clear();
    await new Promise((resolve) => setImmediate(resolve));
    expect(() => page.stream()).toThrow(/closed/);
  });

  it('renders anew for a request after a change, not waiting for the rendering before it', async () => {
    let release: () => void = () => undefined;
    const slow = pages.get('x', async (write) => {
      write('before the change');
      await new Promise<void>((resolve) => (release = resolve));
    });
    serial = 2;
    const after = pages.get('x', counting(['after the change']).render);
    release();
    expect(await text(((await slow) as SpooledPage).stream())).toBe('before the change');
    expect(await text(((await after) as SpooledPage).stream())).toBe('after the change');
  });

  it('keeps no page rendered once closed', async () => {
    pages.close();
    const { render, renders } = counting(['a']);
    await pages.get('x', render);
    await pages.get('x', render);
    expect(renders()).toBe(2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(openSpooled()).toEqual([]);
  });

  it('removes the files an earlier process left, and nothing else', () => {
    writeFileSync(join(dir, '.spooled-4242-7.tmp'), 'left');
    writeFileSync(join(dir, '.pages.tmp'), 'not ours');
    writeFileSync(join(dir, 'catalog.sqlite'), 'not ours');
    removeLeftovers(dir);
    expect(readdirSync(dir).sort()).toEqual(['.pages.tmp', 'catalog.sqlite']);
  });
});
