/**
 * The read-only project page at `/project/<name>/` (and `/project/<name>/<version>/`), in
 * PyPI's shape: summary, install commands for this server, the description, details and
 * dependencies, the release history with yank state, and the files with size, sha256,
 * upload time, uploader and downloads. A pure function of what the index knows; the route
 * caches its output by catalog serial.
 */
import type { ProjectDetail, ReleaseInfo } from '../../shared/api.js';
import { formatBytes } from '../../shared/format.js';
import type { CoreMetadata } from '../../shared/metadata.js';
import { renderHtmlPage } from './html-page.js';
import { escapeHtml } from './pages.js';
import { installCommands } from './install-commands.js';

export interface ProjectPageInput {
  /** The server's URL as the reader reached it (or `publicUrl`), without a trailing slash. */
  baseUrl: string;
  detail: ProjectDetail;
  /** The release shown: the latest unless a version was asked for. */
  release: ReleaseInfo;
  /** True when a version was asked for (`/project/<name>/<version>/`): commands pin it. */
  pinned: boolean;
  metadata: CoreMetadata;
  /** The description, rendered and sanitised (description.ts). */
  descriptionHtml: string;
  /** Today (UTC, `YYYY-MM-DD`), for "downloads in the last 30 days". */
  today: string;
}

const DAY_MS = 86_400_000;

function uploadedAt(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function dateOf(iso: string): string {
  return iso.slice(0, 10);
}

function pre(text: string): string {
  return `<pre><code>${escapeHtml(text)}</code></pre>`;
}

/** Requires-Dist split into what is always needed and what each extra adds. */
function dependencies(m: CoreMetadata): { always: string[]; extras: Map<string, string[]> } {
  const always: string[] = [];
  const extras = new Map<string, string[]>(m.providesExtra.map((e) => [e, []]));
  for (const req of m.requiresDist) {
    const extra = /extra\s*==\s*["']([^"']+)["']/.exec(req)?.[1];
    if (!extra) {
      always.push(req);
      continue;
    }
    // `name>=1; extra == "x"` is shown as `name>=1` under x; other markers stay.
    const shown = req.replace(/\s*;\s*extra\s*==\s*["'][^"']+["']\s*$/, '');
    extras.set(extra, [...(extras.get(extra) ?? []), shown]);
  }
  return { always, extras };
}

function list(items: string[], render: (item: string) => string = escapeHtml): string {
  return `<ul>${items.map((i) => `<li>${render(i)}</li>`).join('')}</ul>`;
}

function safeHref(url: string): string | undefined {
  return /^https?:\/\//i.test(url.trim()) ? url.trim() : undefined;
}

function detailsAside(input: ProjectPageInput): string {
  const { metadata: m, detail, release, today } = input;
  const items: string[] = [];
  const item = (term: string, html: string) => items.push(`<dt>${escapeHtml(term)}</dt><dd>${html}</dd>`);
  const firstUpload = release.files.map((f) => f.uploadTime).sort()[0];
  if (firstUpload) item('Released', escapeHtml(uploadedAt(firstUpload)));
  item('Requires Python', m.requiresPython ? `<code>${escapeHtml(m.requiresPython)}</code>` : '<span class="muted">any</span>');
  const license = m.licenseExpression ?? m.license;
  if (license) item('License', escapeHtml(license.length > 200 ? `${license.slice(0, 200)}…` : license));
  const person = (name: string | null, email: string | null) => [name, email].filter(Boolean).join(' ');
  const author = person(m.author, m.authorEmail);
  if (author) item('Author', escapeHtml(author));
  const maintainer = person(m.maintainer, m.maintainerEmail);
  if (maintainer) item('Maintainer', escapeHtml(maintainer));
  if (m.keywords) item('Keywords', escapeHtml(m.keywords));
  const links: [string, string][] = Object.entries(m.projectUrls);
  if (m.homePage) links.unshift(['Homepage', m.homePage]);
  const shownLinks = links.filter(([, url]) => safeHref(url));
  if (shownLinks.length > 0) {
    item(
      'Project links',
      `<ul>${shownLinks.map(([label, url]) => `<li><a href="${escapeHtml(safeHref(url) as string)}" rel="nofollow noopener">${escapeHtml(label)}</a></li>`).join('')}</ul>`,
    );
  }
  const since = new Date(Date.parse(`${today}T00:00:00Z`) - 29 * DAY_MS).toISOString().slice(0, 10);
  // Counts not written to the catalog yet (it writes them every second) are today's.
  const byDay = detail.downloadsByDay.reduce((n, d) => n + d.downloads, 0);
  const recent = detail.downloadsByDay.filter((d) => d.day >= since).reduce((n, d) => n + d.downloads, 0) + Math.max(0, detail.downloads - byDay);
  item(
    'Downloads',
    `${detail.downloads} in total · ${recent} in the last 30 days<br><span class="muted">${release.downloads} of version ${escapeHtml(release.version)}</span>`,
  );

  const deps = dependencies(m);
  const depItems: string[] = [];
  depItems.push(`<dt>Requires</dt><dd>${deps.always.length > 0 ? list(deps.always, (r) => `<code>${escapeHtml(r)}</code>`) : '<span class="muted">nothing</span>'}</dd>`);
  for (const [extra, reqs] of deps.extras) {
    depItems.push(
      `<dt>Extra <code>${escapeHtml(extra)}</code></dt><dd>${reqs.length > 0 ? list(reqs, (r) => `<code>${escapeHtml(r)}</code>`) : '<span class="muted">no more requirements</span>'}</dd>`,
    );
  }
  const classifiers =
    m.classifiers.length > 0
      ? `<h2 id="classifiers">Classifiers</h2><details><summary>${m.classifiers.length} ${m.classifiers.length === 1 ? 'classifier' : 'classifiers'}</summary>${list(m.classifiers)}</details>`
      : '';
  return (
    `<aside aria-label="About ${escapeHtml(detail.displayName)}">` +
    `<h2 id="details">Details</h2><dl>${items.join('')}</dl>` +
    `<h2 id="dependencies">Dependencies</h2><dl>${depItems.join('')}</dl>${classifiers}</aside>`
  );
}

function filesSection(input: ProjectPageInput, root: string): string {
  const { release } = input;
  const rows = release.files
    .map((f) => {
      const by = f.uploadedBy;
      const meta = [
        f.packagetype === 'bdist_wheel' ? 'Wheel' : 'Source',
        formatBytes(f.size),
        `uploaded ${escapeHtml(uploadedAt(f.uploadTime))}${by ? ` by ${escapeHtml(by)}` : ''}`,
        f.requiresPython ? `Python <code>${escapeHtml(f.requiresPython)}</code>` : '',
        `${f.downloads} ${f.downloads === 1 ? 'download' : 'downloads'}`,
      ].filter(Boolean);
      return (
        `<li><div class="name"><a href="${root}packages/${encodeURIComponent(f.filename)}">${escapeHtml(f.filename)}</a></div>` +
        `<div class="muted">${meta.join(' · ')}</div>` +
        `<div>SHA256: <code class="hash">${escapeHtml(f.sha256)}</code></div></li>`
      );
    })
    .join('\n');
  return `<h2 id="files">Files for ${escapeHtml(release.version)}</h2>\n<ul class="files">\n${rows}\n</ul>`;
}

function historySection(input: ProjectPageInput, projectRoot: string): string {
  const { detail, release } = input;
  const rows = detail.releases
    .map((r) => {
      const released = r.files.map((f) => f.uploadTime).sort()[0];
      const status = [
        r.version === detail.latestVersion ? '<span class="tag latest">latest</span>' : '',
        r.yanked ? `<span class="tag yanked">yanked</span>${r.yankedReason ? ` ${escapeHtml(r.yankedReason)}` : ''}` : '',
      ]
        .filter(Boolean)
        .join(' ');
      const current = r.version === release.version ? ' aria-current="page"' : '';
      return (
        `<tr><th scope="row"><a href="${projectRoot}${encodeURIComponent(r.version)}/"${current}>${escapeHtml(r.version)}</a></th>` +
        `<td>${released ? escapeHtml(dateOf(released)) : ''}</td><td class="num">${r.files.length}</td><td class="num">${r.downloads}</td><td>${status}</td></tr>`
      );
    })
    .join('\n');
  return (
    `<h2 id="history">Release history</h2>\n<div class="scroll">\n<table>\n<thead><tr><th scope="col">Version</th><th scope="col">Released</th>` +
    `<th scope="col" class="num">Files</th><th scope="col" class="num">Downloads</th><th scope="col">Status</th></tr></thead>\n<tbody>\n${rows}\n</tbody>\n</table>\n</div>`
  );
}

/** The whole page. */
export function renderProjectPage(input: ProjectPageInput): string {
  const { detail, release, metadata: m } = input;
  // Relative links: `/project/<name>/` is two levels below the root, a version page three.
  const root = input.pinned ? '../../../' : '../../';
  const projectRoot = input.pinned ? '../' : './';
  const latest = detail.latestVersion;
  const notices: string[] = [];
  if (release.yanked) {
    notices.push(
      `<p class="notice" role="note"><strong>This release is yanked</strong>${release.yankedReason ? `: ${escapeHtml(release.yankedReason)}` : ''}. pip installs it only when asked for this exact version.</p>`,
    );
  }
  if (latest && latest !== release.version) {
    notices.push(
      `<p class="notice" role="note">This is not the latest release: the latest is <a href="${projectRoot}">${escapeHtml(detail.displayName)} ${escapeHtml(latest)}</a>.</p>`,
    );
  }
  const install = `<dl class="commands">\n${installCommands(input.baseUrl, input.pinned ? `${detail.name}==${release.version}` : detail.name)
    .map(([tool, cmd]) => `<dt>${escapeHtml(tool)}</dt><dd>${pre(cmd)}</dd>`)
    .join('\n')}\n</dl>`;
  const description = input.descriptionHtml
    ? `<div class="description">\n${input.descriptionHtml}</div>`
    : '<p class="muted">This release has no description.</p>';
  const body = `<h1>${escapeHtml(detail.displayName)} <span class="version">${escapeHtml(release.version)}</span>${latest === release.version ? ' <span class="tag latest">latest</span>' : ''}</h1>
${m.summary ? `<p class="summary">${escapeHtml(m.summary)}</p>` : ''}
${notices.join('\n')}
<div class="layout">
<div>
<h2 id="install">Install</h2>
${install}
<h2 id="description">Description</h2>
${description}
${historySection(input, projectRoot)}
${filesSection(input, root)}
</div>
${detailsAside(input)}
</div>`;
  return renderHtmlPage({
    title: `${detail.displayName} ${release.version} · pyrepo`,
    root,
    crumbs: [
      ['Projects', root],
      [detail.displayName, input.pinned ? projectRoot : undefined],
      ...(input.pinned ? ([[release.version, undefined]] as [string, undefined][]) : []),
    ],
    body,
  });
}

/** The 404 page of a project (or a release of it) that is not on this index. */
export function renderProjectNotFound(root: string, message: string): string {
  return renderHtmlPage({
    title: 'Not found · pyrepo',
    root,
    crumbs: [['Not found', undefined]],
    body: `<h1>Not found</h1>\n<p>${escapeHtml(message)}</p>\n<p><a href="${escapeHtml(root)}">See every project on this index</a>.</p>`,
  });
}
