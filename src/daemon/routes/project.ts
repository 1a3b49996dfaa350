/**
 * `/project/<name>/` and `/project/<name>/<version>/`: the read-only project page (flit
 * prints this URL after publishing, as PyPI has it). Same access rule as the index pages
 * (`list`). Pages are rendered once per catalog change and kept in memory; a download
 * drops its project's page, whose counts it changes. Markdown and sanitising are loaded
 * on the first page, not at start.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type * as DescriptionModule from '../services/description.js';
import { decodeMetadata, parseCoreMetadata } from '../../shared/metadata.js';
import { normalizeName } from '../../shared/names.js';
import { releaseKey } from '../../shared/versions.js';
import { setHtmlHeaders } from '../services/html-page.js';
import { renderProjectNotFound, renderProjectPage } from '../services/project-page.js';
import { SerialPages } from '../services/serial-pages.js';
import { baseUrlOf } from './base-url.js';
import { sendPage } from './respond.js';

type Description = typeof DescriptionModule;
let description: Promise<Description> | undefined;

export default async function projectRoutes(app: FastifyInstance, opts: { publicUrl?: string }): Promise<void> {
  const pages = new SerialPages(() => app.reader.serial);
  const unsubscribe = app.events.subscribe((event, _id, numbered) => {
    if (event.type !== 'downloads') return;
    // The projects alone, without the event's list of files when the bus has them so.
    for (const project of numbered.projects ?? event.files.map((f) => f.project)) pages.forget(project);
  });
  app.addHook('onClose', async () => unsubscribe());

  const redirect = (reply: FastifyReply, to: string) => reply.code(301).header('location', to).send();
  const notFound = (reply: FastifyReply, root: string, message: string) =>
    setHtmlHeaders(reply.code(404)).type('text/html; charset=utf-8').send(renderProjectNotFound(root, message));

  /** The page of `project`, the latest release or `version`; undefined when either is not on the index. */
  async function render(project: string, version: string | undefined, baseUrl: string, renderDescription: Description['renderDescription']): Promise<string | undefined> {
    const detail = await app.reader.projectDetail(project);
    if (!detail) return undefined;
    // A version asked for as written on the release only (`1.0.0` for `1.0` is redirected, below).
    const release =
      version === undefined ? (detail.releases.find((r) => r.version === detail.latestVersion) ?? detail.releases[0]) : detail.releases.find((r) => r.version === version);
    if (!release) return undefined;
    // The wheel's metadata when there is one, as the PyPI JSON API takes it.
    const source = release.files.find((f) => f.packagetype === 'bdist_wheel') ?? release.files[0];
    const bytes = source && (await app.reader.metadataBytes(source.filename));
    const metadata = parseCoreMetadata(bytes ? decodeMetadata(bytes) : '', source?.filename);
    const { html } = renderDescription(metadata.description, metadata.descriptionContentType);
    const today = new Date().toISOString().slice(0, 10);
    return renderProjectPage({ baseUrl, detail, release, pinned: version !== undefined, metadata, descriptionHtml: html, today });
  }

  async function answer(req: FastifyRequest, reply: FastifyReply, name: string, version: string | undefined) {
    const project = normalizeName(name);
    const root = version === undefined ? '../../' : '../../../';
    if (project !== name) return redirect(reply, `/project/${encodeURIComponent(project)}/${version === undefined ? '' : `${encodeURIComponent(version)}/`}`);
    const { renderDescription } = await (description ??= import('../services/description.js'));
    const baseUrl = baseUrlOf(req, opts.publicUrl);
    // Downloads "in the last 30 days" move with the date: a new day is a new rendering.
    const variant = `${baseUrl}|${version ?? ''}|${new Date().toISOString().slice(0, 10)}`;
    // Downloads still gathered for their event drop the pages they change now (the event does it).
    app.reader.flushDownloadEvents();
    const page = await pages.get(project, variant, () => render(project, version, baseUrl, renderDescription));
    if (!page) {
      // Not in memory and nothing to render: an equivalent version (`1.0.0` for `1.0`), or not here at all.
      const same = version === undefined ? undefined : (await app.reader.projectDetail(project))?.releases.find((r) => releaseKey(r.version) === releaseKey(version));
      if (same) return redirect(reply, `/project/${encodeURIComponent(project)}/${encodeURIComponent(same.version)}/`);
      const known = await app.reader.project(project);
      return notFound(
        reply,
        root,
        known && version !== undefined ? `${known.displayName} has no release ${version} on this index.` : `There is no project named '${name}' on this index.`,
      );
    }
    return sendPage(req, setHtmlHeaders(reply), page, 'text/html; charset=utf-8');
  }

  app.get('/project', (_req, reply) => redirect(reply, '/'));
  app.get('/project/', (_req, reply) => redirect(reply, '/'));
  app.get<{ Params: { name: string } }>('/project/:name', (req, reply) => redirect(reply, `/project/${encodeURIComponent(normalizeName(req.params.name))}/`));
  app.get<{ Params: { name: string } }>('/project/:name/', (req, reply) => answer(req, reply, req.params.name, undefined));
  app.get<{ Params: { name: string; version: string } }>('/project/:name/:version', (req, reply) =>
    redirect(reply, `/project/${encodeURIComponent(normalizeName(req.params.name))}/${encodeURIComponent(req.params.version)}/`),
  );
  app.get<{ Params: { name: string; version: string } }>('/project/:name/:version/', (req, reply) => answer(req, reply, req.params.name, req.params.version));
}
