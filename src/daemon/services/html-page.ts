/**
 * The frame of the daemon's pages for people (the landing page, project pages): one
 * stylesheet inlined, no external asset, a header and a footer, and the security headers
 * that go with them. The Content-Security-Policy allows exactly this stylesheet and the
 * page's own inline script (by hash), so even markup that slipped past the description
 * sanitiser could neither run a script nor load anything from another host.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { PYREPO_VERSION } from '../../shared/version.js';
import { escapeHtml } from './pages.js';

const STYLE = `
:root{color-scheme:light dark;--fg:#1b1f24;--muted:#57606a;--bg:#fff;--panel:#f6f8fa;--line:#d0d7de;--link:#0550ae;--warn-bg:#fff8c5;--warn-line:#9a6700;--ok:#1a7f37}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9da7b3;--bg:#0d1117;--panel:#161b22;--line:#30363d;--link:#6cb6ff;--warn-bg:#2e2a1a;--warn-line:#d29922;--ok:#3fb950}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--link)}
a:focus-visible,input:focus-visible,button:focus-visible,summary:focus-visible{outline:3px solid var(--link);outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:var(--bg);padding:.4rem .8rem;z-index:1}
header.site,footer.site{background:var(--panel);border-bottom:1px solid var(--line)}
footer.site{border-top:1px solid var(--line);border-bottom:0;margin-top:3rem;color:var(--muted);font-size:.9rem}
.wrap{max-width:72rem;margin:0 auto;padding:.8rem 1.25rem}
header.site .wrap{display:flex;gap:1rem;align-items:baseline;flex-wrap:wrap}
header.site .brand{font-weight:700;font-size:1.15rem;text-decoration:none;color:var(--fg)}
nav.crumbs ol{display:flex;flex-wrap:wrap;gap:.4rem;list-style:none;margin:0;padding:0;color:var(--muted)}
nav.crumbs li+li::before{content:"/";margin-right:.4rem}
main{max-width:72rem;margin:0 auto;padding:0 1.25rem}
h1{font-size:2rem;line-height:1.2;margin:1.5rem 0 .3rem;overflow-wrap:anywhere}
h1 .version{color:var(--muted);font-weight:400}
h2{font-size:1.35rem;margin:2rem 0 .6rem;padding-bottom:.3rem;border-bottom:1px solid var(--line)}
h3{font-size:1.1rem;margin:1.2rem 0 .4rem}
.summary{font-size:1.15rem;color:var(--muted);margin:.2rem 0 1rem}
pre,code,kbd{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:.9em}
pre{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:.7rem .9rem;overflow-x:auto;white-space:pre}
pre.plain{white-space:pre-wrap}
:not(pre)>code{background:var(--panel);padding:.1em .3em;border-radius:4px}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.hash{overflow-wrap:anywhere;word-break:break-all}
.muted{color:var(--muted)}
.notice{background:var(--warn-bg);border:1px solid var(--warn-line);border-radius:6px;padding:.6rem .9rem;margin:1rem 0}
.tag{display:inline-block;font-size:.8rem;padding:.05rem .5rem;border:1px solid var(--line);border-radius:999px;vertical-align:middle}
.tag.latest{border-color:var(--ok);color:var(--ok)}
.tag.yanked{border-color:var(--warn-line)}
.layout{display:grid;grid-template-columns:minmax(0,1fr);gap:0 2.5rem}
@media (min-width:60rem){.layout{grid-template-columns:minmax(0,1fr) 20rem}.layout>aside{grid-column:2;grid-row:1 / span 3}}
aside dl{margin:0}aside dt{font-weight:600;margin-top:.7rem}aside dd{margin:0;overflow-wrap:anywhere}
aside ul{margin:.2rem 0;padding-left:1.2rem}
.description{overflow-wrap:break-word}
.description img{max-width:100%}
.description blockquote{margin:1rem 0;padding:.2rem 1rem;border-left:4px solid var(--line);color:var(--muted)}
.description table{width:auto;display:block;overflow-x:auto}
.scroll{overflow-x:auto}
dl.commands{display:grid;grid-template-columns:minmax(0,1fr);gap:.2rem 1rem;margin:0}
dl.commands dt{font-weight:600}dl.commands dd{margin:0 0 .5rem}dl.commands pre{margin:0;padding:.45rem .7rem;white-space:pre-wrap;overflow-wrap:anywhere}
@media (min-width:40rem){dl.commands{grid-template-columns:8rem minmax(0,1fr)}dl.commands dt{padding-top:.45rem}}
ul.files{list-style:none;padding:0;margin:0}
ul.files li{border:1px solid var(--line);border-radius:6px;padding:.6rem .8rem;margin:.6rem 0}
ul.files .name{font-weight:600;overflow-wrap:anywhere}
ul.projects{list-style:none;padding:0;margin:0;columns:18rem}
ul.projects li{padding:.25rem 0;break-inside:avoid}
form.filter{display:flex;gap:.5rem;align-items:center;flex-wrap:wrap;margin:.5rem 0 1rem}
form.filter input{font:inherit;padding:.35rem .6rem;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg);min-width:16rem}
form.filter button{font:inherit;padding:.35rem .9rem;border:1px solid var(--line);border-radius:6px;background:var(--panel);color:var(--fg);cursor:pointer}
`;

const hashOf = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
const STYLE_HASH = hashOf(STYLE);

export interface HtmlPage {
  title: string;
  /** Relative path from the page to the site root (`./`, `../../`), so pages work behind any path prefix. */
  root: string;
  /** Breadcrumb after the site name: `[label, href]`, the last one the page itself (no href). */
  crumbs?: [string, string | undefined][];
  body: string;
  /** A small inline script, allowed by its hash. */
  script?: string;
}

/** A whole HTML5 document in the site's frame. */
export function renderHtmlPage(page: HtmlPage): string {
  const crumbs = page.crumbs?.length
    ? `<nav class="crumbs" aria-label="Breadcrumb"><ol>${page.crumbs
        .map(([label, href]) => (href === undefined ? `<li aria-current="page">${escapeHtml(label)}</li>` : `<li><a href="${escapeHtml(href)}">${escapeHtml(label)}</a></li>`))
        .join('')}</ol></nav>`
    : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="site"><div class="wrap"><a class="brand" href="${escapeHtml(page.root)}">pyrepo</a>${crumbs}</div></header>
<main id="main">
${page.body}
</main>
<footer class="site"><div class="wrap">pyrepo ${escapeHtml(PYREPO_VERSION)} · <a href="${escapeHtml(page.root)}simple/">Simple index</a> · <a href="${escapeHtml(page.root)}packages/">All files</a></div></footer>
${page.script ? `<script>${page.script}</script>\n` : ''}</body>
</html>
`;
}

/**
 * Sets the headers of a page rendered by renderHtmlPage: its policy (the inline style, and
 * `script` if the page has one), no referrer for the links a description holds (they may
 * lead off this private index), no sniffing, no framing.
 */
export function setHtmlHeaders(reply: FastifyReply, script?: string): FastifyReply {
  const csp = [
    "default-src 'none'",
    `style-src ${STYLE_HASH}`,
    `script-src ${script ? hashOf(script) : "'none'"}`,
    "img-src 'self' data:",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return reply
    .header('content-security-policy', csp)
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff');
}
