/**
 * The project page with the real daemon and a real client: flit 3.8 publishes a project
 * with a Markdown README, then prints where the project is (`https://<host>/project/<name>/`,
 * PyPI's URL, for any repository URL ending in /legacy/). That path answers with the page,
 * the README rendered and sanitised.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeMarkup } from '../helpers/html.js';
import { ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, run, startDaemon, type RunningTestDaemon } from '../helpers/daemon.js';

let root: string;
let d: RunningTestDaemon;

beforeAll(async () => {
  ensureBuilt();
  root = await makeTempRoot();
  d = await startDaemon();
}, 60_000);

afterAll(async () => {
  await d?.stop();
  await removeTemp(root);
});

async function writeFlitProject(dir: string): Promise<void> {
  await mkdir(join(dir, 'e2e_page'), { recursive: true });
  await writeFile(
    join(dir, 'pyproject.toml'),
    [
      '[build-system]',
      'requires = ["flit_core >=3.2,<4"]',
      'build-backend = "flit_core.buildapi"',
      '',
      '[project]',
      'name = "E2E_Page"',
      'version = "1.0"',
      'description = "A project whose page is looked at"',
      'readme = "README.md"',
      'requires-python = ">=3.8"',
      'dependencies = ["requests>=2"]',
      'authors = [{ name = "Test", email = "test@example.invalid" }]',
      '',
      '[tool.flit.module]',
      'name = "e2e_page"',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'README.md'),
    '# E2E Page\n\nRendered **Markdown**.\n\n<script>alert("readme")</script>\n\n<img src="x" onerror="alert(1)">\n',
  );
  await writeFile(join(dir, 'e2e_page', '__init__.py'), '"""E2E page."""\n__version__ = "1.0"\n');
}

describe('flit publish, then the URL it prints', () => {
  it('answers with the project page: summary, rendered README, no script', async () => {
    const project = join(root, 'flit-page');
    await writeFlitProject(project);
    const env = isolatedEnv(root);
    await writeFile(
      join(env.HOME as string, '.pypirc'),
      `[distutils]\nindex-servers =\n    pyrepo\n\n[pyrepo]\nrepository = ${d.url}/legacy/\nusername = x\npassword = y\n`,
    );
    const r = await run('flit', ['publish', '--repository', 'pyrepo'], { cwd: project, env, timeoutMs: 200_000 });
    expect(r.code, r.output).toBe(0);
    const printed = /Package is at (\S+)/.exec(r.output)?.[1];
    expect(printed, r.output).toBe(`https://127.0.0.1:${d.port}/project/E2E_Page/`);
    // flit assumes HTTPS (PyPI's); this daemon speaks plain HTTP on the same host and port.
    const res = await fetch(`${d.url}${new URL(printed as string).pathname}`, { signal: AbortSignal.timeout(10_000) });
    expect(res.status).toBe(200);
    expect(res.url).toBe(`${d.url}/project/e2e-page/`);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await res.text();
    expect(html).toMatch(/<h1>E2E_Page <span class="version">1\.0<\/span>/);
    expect(html).toContain('A project whose page is looked at');
    expect(html).toContain('Rendered <strong>Markdown</strong>.');
    expect(html).toContain('<code>requests&gt;=2</code>');
    expect(html).not.toContain('<script');
    expect(activeMarkup(html.slice(html.indexOf('<body>')))).toEqual([]);
    expect(html).toContain(`pip install --index-url ${d.url}/simple/ e2e-page`);
    // The files it lists are the ones flit uploaded, and they download.
    const file = /<a href="\.\.\/\.\.\/packages\/([^"]+\.whl)">/.exec(html)?.[1];
    expect(file).toBe('e2e_page-1.0-py3-none-any.whl');
    expect((await fetch(`${d.url}/project/e2e-page/../../packages/${file as string}`)).status).toBe(200);
  }, 240_000);
});
