/** `GET /`: a small page listing the projects, with copy-paste commands for this server's real URL. */
import type { FastifyInstance } from 'fastify';
import { PYREPO_VERSION } from '../../shared/version.js';
import { escapeHtml } from '../services/pages.js';
import { baseUrlOf } from './base-url.js';

export function renderLanding(baseUrl: string, projects: { name: string; displayName: string; latestVersion: string | null }[]): string {
  const simple = `${baseUrl}/simple/`;
  const upload = `${baseUrl}/legacy/`;
  const host = new URL(baseUrl).hostname;
  const loopback = host === 'localhost' || host.startsWith('127.') || host === '[::1]';
  const trusted = loopback ? '' : ` --trusted-host ${host}`;
  const commands: [string, string][] = [
    ['pip', `pip install --index-url ${simple}${trusted} PACKAGE`],
    ['pip (keep PyPI too)', `pip install --extra-index-url ${simple}${trusted} PACKAGE`],
    ['uv', `uv pip install --index-url ${simple} PACKAGE\nuv add --index pyrepo=${simple} PACKAGE`],
    ['twine', `twine upload --repository-url ${upload} dist/*`],
    // The page cannot know the visitor's poetry: `--priority` came with 1.5, and older ones (Debian 12 ships 1.3) refuse it.
    [
      'poetry 1.5 and later',
      `poetry source add --priority=supplemental pyrepo ${simple}\npoetry config repositories.pyrepo ${upload}\npoetry publish -r pyrepo`,
    ],
    ['poetry before 1.5', `poetry source add --secondary pyrepo ${simple}\npoetry config repositories.pyrepo ${upload}\npoetry publish -r pyrepo`],
  ];
  const rows = projects
    .map(
      (p) =>
        `      <li><a href="/simple/${encodeURIComponent(p.name)}/">${escapeHtml(p.displayName)}</a>${p.latestVersion ? ` <small>${escapeHtml(p.latestVersion)}</small>` : ''}</li>\n`,
    )
    .join('');
  const blocks = commands
    .map(([tool, cmd]) => `    <h3>${escapeHtml(tool)}</h3>\n    <pre>${escapeHtml(cmd)}</pre>\n`)
    .join('');
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>pyrepo</title>
    <style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}pre{background:#f4f4f4;padding:.6rem;overflow-x:auto}</style>
  </head>
  <body>
    <h1>pyrepo</h1>
    <p>A private Python package index. Simple API: <a href="/simple/">${escapeHtml(simple)}</a> · upload URL: <code>${escapeHtml(upload)}</code></p>
    <h2>Projects (${projects.length})</h2>
    <ul>
${rows || '      <li>None yet: publish one with a command below.</li>\n'}    </ul>
    <h2>Use it</h2>
${blocks}    <p><small>pyrepo ${escapeHtml(PYREPO_VERSION)}</small></p>
  </body>
</html>
`;
}

export default async function landingRoutes(app: FastifyInstance, opts: { publicUrl?: string }): Promise<void> {
  app.get('/', (req, reply) => {
    const body = renderLanding(baseUrlOf(req, opts.publicUrl), app.index.projectSummaries());
    return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(body);
  });
}
