/**
 * The pages for people in a real browser (Debian's headless Chromium) against the real
 * daemon: the landing page and a project page load under their Content-Security-Policy
 * without a single violation (the inline stylesheet and the filter script are allowed by
 * their hashes, nothing else is needed), and the filter hides and shows projects as one
 * types. Chromium only ever talks to the daemon on 127.0.0.1.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDists } from '../helpers/dists.js';
import { ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, run, startDaemon, type RunningTestDaemon, type RunResult } from '../helpers/daemon.js';

let root: string;
let d: RunningTestDaemon;
let profiles = 0;

beforeAll(async () => {
  ensureBuilt();
  root = await makeTempRoot();
  const packagesDir = join(root, 'packages');
  for (const name of ['alpha', 'alphabet-soup', 'Zeta_Utils']) await writeDists(packagesDir, { name, version: '1.0', summary: `The ${name} project` });
  await writeDists(packagesDir, {
    name: 'readme-demo',
    version: '2.0',
    summary: 'Has a README',
    extraHeaders: [['Description-Content-Type', 'text/markdown']],
    description: '# Readme\n\n**Bold** text, a [link](https://example.invalid/) and an ![image](https://example.invalid/i.png).\n\n<script>document.title = "pwned"</script>\n',
  });
  d = await startDaemon({ packagesDir });
}, 60_000);

afterAll(async () => {
  await d?.stop();
  await removeTemp(root);
});

/** Headless Chromium on `url`: the DOM after scripts ran, and the console (violations included). */
async function chromium(url: string): Promise<{ dom: string; console: string[]; r: RunResult }> {
  const profile = join(root, 'chromium', String(profiles++));
  await mkdir(profile, { recursive: true });
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    `--user-data-dir=${profile}`,
    '--enable-logging=stderr',
    '--v=0',
    '--dump-dom',
    url,
  ];
  const r = await run('chromium', args, { cwd: root, env: isolatedEnv(root), timeoutMs: 90_000 });
  const console = r.stderr.split('\n').filter((l) => l.includes(':CONSOLE'));
  return { dom: r.stdout, console, r };
}

describe('in a real browser', () => {
  it('the landing page loads with no Content-Security-Policy violation and lists the projects', async () => {
    const { dom, console, r } = await chromium(`${d.url}/`);
    expect(r.code, r.output).toBe(0);
    expect(console, console.join('\n')).toEqual([]);
    expect(dom).toContain('<a href="project/alphabet-soup/">alphabet-soup</a>');
    expect(dom).toContain('<span id="shown">4</span> of 4 shown');
  }, 120_000);

  it('a project page loads with no violation, its README rendered and its script gone', async () => {
    const { dom, console, r } = await chromium(`${d.url}/project/readme-demo/`);
    expect(r.code, r.output).toBe(0);
    expect(console, console.join('\n')).toEqual([]);
    expect(dom).toContain('<strong>Bold</strong> text');
    expect(dom).toContain('<title>readme-demo 2.0 · pyrepo</title>');
    expect(dom).not.toContain('pwned');
  }, 120_000);

  it('filters the projects as one types (the page, with a few keystrokes simulated after it)', async () => {
    // The daemon's page saved as a file, plus a script that types into the filter and
    // records what is left visible: the page's own policy would (rightly) refuse that script.
    const html = await (await fetch(`${d.url}/`)).text();
    const typing = [
      'const input = document.getElementById("q");',
      'const seen = [];',
      'for (const text of ["ALPHA", "alpha_", "zeta u", "nothing-like-it", ""]) {',
      '  input.value = text;',
      '  input.dispatchEvent(new Event("input"));',
      '  const shown = [...document.querySelectorAll("#projects li")].filter((li) => !li.hidden).map((li) => li.querySelector("a").textContent);',
      '  seen.push(`${text}=${shown.join(",")};count=${document.getElementById("shown").textContent};none=${document.getElementById("none").hidden ? "hidden" : "shown"}`);',
      '}',
      'document.body.setAttribute("data-seen", seen.join("|"));',
    ].join('\n');
    const file = join(root, 'landing-typing.html');
    await writeFile(file, html.replace('</body>', `<script>${typing}</script>\n</body>`));
    const { dom, r } = await chromium(`file://${file}`);
    expect(r.code, r.output).toBe(0);
    const seen = /data-seen="([^"]*)"/.exec(dom)?.[1]?.split('|');
    expect(seen).toEqual([
      'ALPHA=alpha,alphabet-soup;count=2;none=hidden',
      'alpha_=alpha,alphabet-soup;count=2;none=hidden',
      'zeta u=Zeta_Utils;count=1;none=hidden',
      'nothing-like-it=;count=0;none=shown',
      '=alpha,alphabet-soup,readme-demo,Zeta_Utils;count=4;none=hidden',
    ]);
  }, 120_000);
});
