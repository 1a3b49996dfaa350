/**
 * `GET /`: the projects on this index, each linking to its page, with a filter that works
 * without JavaScript (`?q=`, answered by the server) and as you type (a few lines of inline
 * script un-hide what the server hid), and copy-paste commands for this server's real URL.
 * Rendered once per catalog change, base URL and filter, kept in a file (spooled-pages.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ProjectSummary } from '../../shared/api.js';
import { renderHtmlPage, setHtmlHeaders } from '../services/html-page.js';
import { installCommands } from '../services/install-commands.js';
import { escapeHtml } from '../services/pages.js';
import { baseUrlOf } from './base-url.js';
import { sendPage } from './respond.js';
import type { PageWriter } from '../services/spooled-pages.js';
import { takeTurns } from '../services/turns.js';

/** Longest filter kept (a project name is at most a couple of hundred characters). */
const MAX_QUERY = 200;
/** Renderings kept (base URLs times filters); each lists every project, 1.5 MB at 10,000 projects. */
const KEPT_RENDERINGS = 4;

/** What the filter compares: lower case, runs of `-`, `_`, `.` and spaces as one `-` (PEP 503, loosely). */
function folded(text: string): string {
  return text.toLowerCase().replace(/[-_.\s]+/g, '-');
}

/** True when project `p` matches the filter `q` (a substring of its name, either form). */
export function matchesFilter(p: { name: string; displayName: string }, q: string): boolean {
  const needle = folded(q).replace(/^-+|-+$/g, '');
  return needle === '' || folded(p.name).includes(needle) || folded(p.displayName).includes(needle);
}

/**
 * Filters as you type: hides the items the query does not match, says how many are left
 * and keeps the address in step (so that reload and sharing keep the filter). The same
 * folding as matchesFilter. Allowed by its hash in the page's Content-Security-Policy.
 */
const FILTER_SCRIPT = `(()=>{const i=document.getElementById('q');const items=[...document.querySelectorAll('#projects li[data-name]')];const shown=document.getElementById('shown');const none=document.getElementById('none');if(!i||!shown)return;const f=(t)=>t.toLowerCase().replace(/[-_.\\s]+/g,'-');const run=()=>{const q=f(i.value).replace(/^-+|-+$/g,'');let n=0;for(const li of items){const ok=q===''||li.dataset.name.includes(q);li.hidden=!ok;if(ok)n++;}shown.textContent=String(n);if(none)none.hidden=n!==0;const u=new URL(location.href);if(i.value.trim())u.searchParams.set('q',i.value);else u.searchParams.delete('q');history.replaceState(null,'',u);};i.addEventListener('input',run);})();`;

type LandingProject = Pick<ProjectSummary, 'name' | 'displayName'>;

/**
 * Where the project rows go in the page while it is put together; written in their place, in
 * parts. Everything a request brings (filter, Host) is escaped, so no `<` of it is in the page.
 */
const ROWS = '<!--rows-->';
/** Project rows per part written. */
const ROWS_PER_PART = 256;

/**
 * Writes the web home in parts: the page around the list, then the list's rows a few hundred
 * at a time, each part's latest versions read for it (`latestOf`), so that neither the rows
 * (1.5 MB at 10,000 projects) nor the versions are ever whole in memory; with turns for
 * requests between.
 */
export async function writeLanding(
  write: PageWriter,
  baseUrl: string,
  projects: LandingProject[],
  latestOf: (names: string[]) => Promise<Map<string, string | null>>,
  query = '',
): Promise<void> {
  const simple = `${baseUrl}/simple/`;
  const upload = `${baseUrl}/legacy/`;
  const commands = installCommands(baseUrl, 'PACKAGE', { publish: true });
  const q = query.slice(0, MAX_QUERY);
  const matches = projects.map((p) => matchesFilter(p, q));
  const shown = matches.filter(Boolean).length;
  const blocks = commands.map(([tool, cmd]) => `<dt>${escapeHtml(tool)}</dt><dd><pre><code>${escapeHtml(cmd)}</code></pre></dd>`).join('\n');
  const list =
    projects.length === 0
      ? '<p>None yet: publish one with a command below.</p>'
      : `<form class="filter" role="search" method="get" action="./">
<label for="q">Filter projects</label>
<input id="q" name="q" type="search" value="${escapeHtml(q)}" autocomplete="off" spellcheck="false">
<button type="submit">Filter</button>
<span aria-live="polite"><span id="shown">${shown}</span> of ${projects.length} shown</span>
</form>
<p id="none"${shown === 0 ? '' : ' hidden'}>No project matches this filter.</p>
<ul class="projects" id="projects">
${ROWS}
</ul>`;
  const page = renderHtmlPage({
    title: 'pyrepo',
    root: './',
    body: `<h1>pyrepo</h1>
<p class="summary">A private Python package index. Simple API: <a href="simple/">${escapeHtml(simple)}</a> · upload URL: <code>${escapeHtml(upload)}</code></p>
<h2 id="projects-heading">Projects (${projects.length})</h2>
${list}
<h2 id="use">Use it</h2>
<dl class="commands">
${blocks}
</dl>`,
    ...(projects.length > 0 ? { script: FILTER_SCRIPT } : {}),
  });
  const at = page.indexOf(ROWS);
  if (at === -1) return write(page);
  write(page.slice(0, at));
  const turn = takeTurns();
  for (let from = 0; from < projects.length; from += ROWS_PER_PART) {
    await turn();
    const group = projects.slice(from, from + ROWS_PER_PART);
    // The latest versions of this part's projects only: nothing the size of the index is held meanwhile.
    const latest = await latestOf(group.map((p) => p.name));
    let part = '';
    group.forEach((p, k) => {
      const i = from + k;
      const version = latest.get(p.name);
      if (i > 0) part += '\n';
      // Every project is in the page; the ones the filter leaves out are hidden, so that the script can bring them back.
      part += `<li data-name="${escapeHtml(`${folded(p.name)} ${folded(p.displayName)}`)}"${matches[i] ? '' : ' hidden'}><a href="project/${encodeURIComponent(p.name)}/">${escapeHtml(p.displayName)}</a>${version ? ` <span class="muted">${escapeHtml(version)}</span>` : ''}</li>`;
    });
    write(part);
  }
  write(page.slice(at + ROWS.length));
}

function queryOf(req: FastifyRequest): string {
  const q = (req.query as { q?: unknown }).q;
  return typeof q === 'string' ? q.slice(0, MAX_QUERY) : '';
}

export default async function landingRoutes(app: FastifyInstance, opts: { publicUrl?: string }): Promise<void> {
  const pages = app.spooledPages(KEPT_RENDERINGS);
  app.get('/', async (req, reply) => {
    const baseUrl = baseUrlOf(req, opts.publicUrl);
    const q = queryOf(req);
    const page = await pages.get(`${baseUrl}|${q}`, async (write) => writeLanding(write, baseUrl, await app.reader.projects(), (names) => app.reader.latestVersions(names), q));
    // The policy names the filter script whether or not this page has it (an empty index has none).
    return sendPage(req, setHtmlHeaders(reply, FILTER_SCRIPT), page, 'text/html; charset=utf-8');
  });
}
