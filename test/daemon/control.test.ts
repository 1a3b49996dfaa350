import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ApiErrorSchema,
  DeleteResultSchema,
  HealthSchema,
  IndexEventSchema,
  ProjectDetailSchema,
  ProjectListSchema,
  SNAPSHOT_SHA256_HEADER,
  YankResultSchema,
  type IndexEvent,
  type ProjectDetail,
  type ProjectList,
} from '../../src/shared/api.js';
import { PYREPO_VERSION } from '../../src/shared/version.js';
import { listTree, makeApp, upload, type TestApp } from '../helpers/app.js';
import { descriptorsOn } from '../helpers/descriptors.js';
import { sdistFilename, wheelFilename, type DistSpec } from '../helpers/dists.js';
import { waitFor as waitForCondition } from '../helpers/wait.js';

const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';

async function seed(t: TestApp): Promise<void> {
  const specs: [DistSpec, 'wheel' | 'sdist'][] = [
    [{ name: 'Alpha', version: '1.0', summary: 'Alpha one' }, 'wheel'],
    [{ name: 'Alpha', version: '1.0', summary: 'Alpha one' }, 'sdist'],
    [{ name: 'Alpha', version: '1.10', summary: 'Alpha ten' }, 'wheel'],
    [{ name: 'Alpha', version: '1.9', summary: 'Alpha nine' }, 'wheel'],
    [{ name: 'Alpha', version: '2.0rc1', summary: 'Alpha rc' }, 'wheel'],
    [{ name: 'beta.pkg', version: '0.1' }, 'sdist'],
  ];
  for (const [spec, kind] of specs) {
    const { res } = await upload(t.app, spec, kind);
    expect(res.statusCode, res.body).toBe(200);
  }
}

function expectApiError(res: { statusCode: number; json(): unknown; headers: Record<string, unknown> }, status: number, message: RegExp): void {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json() as { statusCode: number; code: string; message: string };
  expect(Value.Check(ApiErrorSchema, body), JSON.stringify(body)).toBe(true);
  expect(body.statusCode).toBe(status);
  expect(body.code).toMatch(/^PYREPO_/);
  expect(body.message).toMatch(message);
}

describe('control API', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('GET /-/health answers with the schema fields', async () => {
    const before = (await t.app.inject({ url: '/-/health' })).json() as Record<string, unknown>;
    expect(Value.Check(HealthSchema, before), JSON.stringify(before)).toBe(true);
    expect(before).toMatchObject({
      status: 'ok',
      version: PYREPO_VERSION,
      pid: process.pid,
      projects: 0,
      files: 0,
      dataDir: t.dataDir,
      packagesDir: t.packagesDir,
      indexing: false,
      access: 'open to anyone who can connect: index pages, downloads, uploads; credentials needed for the control API',
      authenticate: [],
    });
    expect(Date.parse(before.startedAt as string)).toBeLessThanOrEqual(Date.now());
    expect(before.uptimeSeconds).toBeGreaterThanOrEqual(0);

    await seed(t);
    const after = (await t.app.inject({ url: '/-/health' })).json() as Record<string, unknown>;
    expect(after.projects).toBe(2);
    expect(after.files).toBe(6);
  });

  it('lists projects with counts', async () => {
    const res = await t.app.inject({ url: '/-/api/projects' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    const body = res.json() as ProjectList;
    expect(Value.Check(ProjectListSchema, body)).toBe(true);
    expect(body.projects.map((p) => p.name)).toEqual(['alpha', 'beta-pkg']);
    const alpha = body.projects[0];
    expect(alpha).toMatchObject({ name: 'alpha', displayName: 'Alpha', latestVersion: '1.10', versions: 4, files: 5, downloads: 0 });
    expect(Date.parse(alpha?.lastUpload as string)).not.toBeNaN();
    expect(body.projects[1]).toMatchObject({ name: 'beta-pkg', displayName: 'beta.pkg', latestVersion: '0.1', versions: 1, files: 1 });
  });

  it('shows one project with releases newest first, files and downloads', async () => {
    await t.app.inject({ url: `/packages/${wheelFilename({ name: 'Alpha', version: '1.9' })}` });
    const res = await t.app.inject({ url: '/-/api/projects/Alpha' });
    expect(res.statusCode).toBe(200);
    const body = res.json() as ProjectDetail;
    expect(Value.Check(ProjectDetailSchema, body)).toBe(true);
    expect(body.name).toBe('alpha');
    expect(body.displayName).toBe('Alpha');
    expect(body.latestVersion).toBe('1.10');
    expect(body.releases.map((r) => r.version)).toEqual(['2.0rc1', '1.10', '1.9', '1.0']);
    const one = body.releases.find((r) => r.version === '1.0');
    expect(one?.summary).toBe('Alpha one');
    expect(one?.files.map((f) => f.filename).sort()).toEqual(['alpha-1.0-py3-none-any.whl', 'alpha-1.0.tar.gz']);
    const wheel = one?.files.find((f) => f.packagetype === 'bdist_wheel');
    expect(wheel?.url).toBe('/packages/alpha-1.0-py3-none-any.whl');
    expect(wheel?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(wheel?.size).toBeGreaterThan(0);
    const nine = body.releases.find((r) => r.version === '1.9');
    expect(nine?.downloads).toBe(1);
    expect(nine?.files[0]?.downloads).toBe(1);
    expect(body.downloads).toBe(1);
  });

  it('answers 404 with a JSON error for unknown projects and paths', async () => {
    expectApiError(await t.app.inject({ url: '/-/api/projects/nope' }), 404, /nope/);
    expectApiError(await t.app.inject({ url: '/-/api/nothing-here' }), 404, /Nothing at/);
    expectApiError(await t.app.inject({ method: 'DELETE', url: '/-/api/projects/nope/releases/1.0' }), 404, /nope/);
    expectApiError(await t.app.inject({ method: 'DELETE', url: '/-/api/projects/alpha/releases/7.7' }), 404, /7\.7/);
    expectApiError(await t.app.inject({ method: 'DELETE', url: '/-/api/projects/alpha/files/nope-1.0.tar.gz' }), 404, /nope-1\.0\.tar\.gz/);
    expectApiError(await t.app.inject({ method: 'DELETE', url: '/-/api/projects/alpha/files/beta_pkg-0.1.tar.gz' }), 404, /beta_pkg/);
    expectApiError(await t.app.inject({ method: 'POST', url: '/-/api/projects/alpha/releases/7.7/yank', payload: {} }), 404, /7\.7/);
    expectApiError(await t.app.inject({ method: 'POST', url: '/-/api/projects/nope/releases/1.0/unyank', payload: {} }), 404, /nope/);
  });

  it('answers a bad yank body with a 400 JSON error', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/-/api/projects/alpha/releases/1.0/yank', payload: { reason: 'x'.repeat(2000) } });
    expectApiError(res, 400, /reason|1000/);
  });

  it('yanks with a reason, reflected in the simple pages, the JSON API and the project detail', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/-/api/projects/Alpha/releases/1.0.0/yank', payload: { reason: '  Broken build  ' } });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as Record<string, unknown>;
    expect(Value.Check(YankResultSchema, body)).toBe(true);
    expect(body).toEqual({ project: 'alpha', version: '1.0', yanked: true, yankedReason: 'Broken build' });

    const html = (await t.app.inject({ url: '/simple/alpha/' })).body;
    expect(html).toMatch(/data-yanked="Broken build">alpha-1\.0-py3-none-any\.whl</);
    expect(html).toMatch(/data-yanked="Broken build">alpha-1\.0\.tar\.gz</);
    expect(html).not.toMatch(/data-yanked[^>]*>alpha-1\.9/);
    const json = (await t.app.inject({ url: '/simple/alpha/', headers: { accept: JSON_TYPE } })).json() as {
      files: { filename: string; yanked: string | boolean }[];
    };
    expect(json.files.filter((f) => f.yanked !== false).map((f) => [f.filename, f.yanked])).toEqual(
      expect.arrayContaining([
        ['alpha-1.0-py3-none-any.whl', 'Broken build'],
        ['alpha-1.0.tar.gz', 'Broken build'],
      ]),
    );
    expect(json.files.filter((f) => f.yanked !== false)).toHaveLength(2);
    const pypi = (await t.app.inject({ url: '/pypi/alpha/1.0/json' })).json() as { info: { yanked: boolean; yanked_reason: string } };
    expect(pypi.info.yanked).toBe(true);
    expect(pypi.info.yanked_reason).toBe('Broken build');
    const detail = (await t.app.inject({ url: '/-/api/projects/alpha' })).json() as ProjectDetail;
    expect(detail.releases.find((r) => r.version === '1.0')).toMatchObject({ yanked: true, yankedReason: 'Broken build' });
  });

  it('moves "latest" off a yanked release', async () => {
    const y = await t.app.inject({ method: 'POST', url: '/-/api/projects/alpha/releases/1.10/yank', payload: {} });
    expect(y.statusCode).toBe(200);
    expect((y.json() as { yankedReason: unknown }).yankedReason).toBeNull();
    const list = (await t.app.inject({ url: '/-/api/projects' })).json() as ProjectList;
    expect(list.projects.find((p) => p.name === 'alpha')?.latestVersion).toBe('1.9');
    const pypi = (await t.app.inject({ url: '/pypi/alpha/json' })).json() as { info: { version: string } };
    expect(pypi.info.version).toBe('1.9');
    const html = (await t.app.inject({ url: '/simple/alpha/' })).body;
    expect(html).toMatch(/data-yanked="">alpha-1\.10-py3-none-any\.whl</);
  });

  it('unyanks', async () => {
    for (const v of ['1.0', '1.10']) {
      const res = await t.app.inject({ method: 'POST', url: `/-/api/projects/alpha/releases/${v}/unyank`, payload: {} });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ project: 'alpha', version: v, yanked: false, yankedReason: null });
    }
    const html = (await t.app.inject({ url: '/simple/alpha/' })).body;
    expect(html).not.toContain('data-yanked');
    const json = (await t.app.inject({ url: '/simple/alpha/', headers: { accept: JSON_TYPE } })).json() as { files: { yanked: unknown }[] };
    expect(json.files.every((f) => f.yanked === false)).toBe(true);
    const pypi = (await t.app.inject({ url: '/pypi/alpha/json' })).json() as { info: { version: string; yanked: boolean } };
    expect(pypi.info).toMatchObject({ version: '1.10', yanked: false });
  });

  it('deletes one file', async () => {
    const filename = sdistFilename({ name: 'Alpha', version: '1.0' });
    const res = await t.app.inject({ method: 'DELETE', url: `/-/api/projects/alpha/files/${filename}` });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as Record<string, unknown>;
    expect(Value.Check(DeleteResultSchema, body)).toBe(true);
    expect(body).toEqual({ project: 'alpha', deleted: [filename] });
    expect(existsSync(join(t.packagesDir, filename))).toBe(false);
    expect((await t.app.inject({ url: `/packages/${filename}` })).statusCode).toBe(404);
    expect((await t.app.inject({ url: '/simple/alpha/' })).body).not.toContain(filename);
    expect(existsSync(join(t.packagesDir, wheelFilename({ name: 'Alpha', version: '1.0' })))).toBe(true);
  });

  it('deletes a release', async () => {
    const res = await t.app.inject({ method: 'DELETE', url: '/-/api/projects/Alpha/releases/1.9' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ project: 'alpha', deleted: ['alpha-1.9-py3-none-any.whl'] });
    expect(existsSync(join(t.packagesDir, 'alpha-1.9-py3-none-any.whl'))).toBe(false);
    const detail = (await t.app.inject({ url: '/-/api/projects/alpha' })).json() as ProjectDetail;
    expect(detail.releases.map((r) => r.version)).toEqual(['2.0rc1', '1.10', '1.0']);
  });

  it('removes the project with its last file', async () => {
    const res = await t.app.inject({ method: 'DELETE', url: '/-/api/projects/beta-pkg/releases/0.1' });
    expect(res.statusCode, res.body).toBe(200);
    expect((await t.app.inject({ url: '/simple/beta-pkg/' })).statusCode).toBe(404);
    expect((await t.app.inject({ url: '/-/api/projects/beta-pkg' })).statusCode).toBe(404);
    const list = (await t.app.inject({ url: '/-/api/projects' })).json() as ProjectList;
    expect(list.projects.map((p) => p.name)).toEqual(['alpha']);
    expect((await t.app.inject({ url: '/simple/' })).body).not.toContain('beta');
    expect(await listTree(t.packagesDir)).not.toContain('beta_pkg-0.1.tar.gz');
  });
});

describe('releases that differ only in post and dev segments', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeApp();
    for (const v of ['1.0', '1.0.post1', '1.0.post2', '1.1.dev1', '1.1.dev2']) {
      const { res } = await upload(t.app, { name: 'segments', version: v }, 'wheel');
      expect(res.statusCode, res.body).toBe(200);
    }
  });
  afterEach(async () => {
    await t.close();
  });

  it('are separate releases in the project detail', async () => {
    const detail = (await t.app.inject({ url: '/-/api/projects/segments' })).json() as ProjectDetail;
    expect(detail.releases.map((r) => r.version)).toEqual(['1.1.dev2', '1.1.dev1', '1.0.post2', '1.0.post1', '1.0']);
    expect(detail.releases.every((r) => r.files.length === 1)).toBe(true);
  });

  it('are deleted one at a time', async () => {
    const res = await t.app.inject({ method: 'DELETE', url: '/-/api/projects/segments/releases/1.0.post1' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ project: 'segments', deleted: ['segments-1.0.post1-py3-none-any.whl'] });
    const dev = await t.app.inject({ method: 'DELETE', url: '/-/api/projects/segments/releases/1.1.dev1' });
    expect(dev.json()).toEqual({ project: 'segments', deleted: ['segments-1.1.dev1-py3-none-any.whl'] });
  });

  it('are yanked one at a time', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/-/api/projects/segments/releases/1.0.post2/yank', payload: { reason: 'no' } });
    expect(res.statusCode, res.body).toBe(200);
    expect((res.json() as { version: string }).version).toBe('1.0.post2');
    const json = (await t.app.inject({ url: '/simple/segments/', headers: { accept: JSON_TYPE } })).json() as {
      files: { filename: string; yanked: unknown }[];
    };
    expect(json.files.filter((f) => f.yanked !== false).map((f) => f.filename)).toEqual(['segments-1.0.post2-py3-none-any.whl']);
  });
});

describe('GET /-/events (Server-Sent Events)', () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await makeApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await t.close();
  });

  /** Opens the stream and collects parsed events (with their SSE `event:` name). */
  async function openStream() {
    const controller = new AbortController();
    const res = await fetch(`${base}/-/events`, { signal: controller.signal, headers: { authorization: t.adminAuth } });
    const events: { name: string; data: IndexEvent }[] = [];
    const decoder = new TextDecoder();
    let buffer = '';
    const reading = (async () => {
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) !== -1) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const name = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (name && data) events.push({ name, data: JSON.parse(data) as IndexEvent });
          }
        }
      } catch {
        // aborted
      }
    })();
    const waitFor = (pred: (e: IndexEvent) => boolean, ms = 5000): Promise<{ name: string; data: IndexEvent }> =>
      waitForCondition(
        'a matching event',
        () => {
          const hit = events.find((e) => pred(e.data));
          if (!hit) throw new Error(`got ${JSON.stringify(events)}`);
          return hit;
        },
        ms,
        20,
      );
    const close = async () => {
      controller.abort();
      await reading;
    };
    return { res, events, waitFor, close };
  }

  it('streams upload, download, yank, unyank and delete events with their fields', async () => {
    const stream = await openStream();
    try {
      expect(stream.res.status).toBe(200);
      expect(stream.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(stream.res.headers.get('cache-control')).toBe('no-cache');
      const started = Date.now();

      const spec: DistSpec = { name: 'Evented', version: '1.0' };
      const { res, filename, bytes } = await upload(t.app, spec, 'wheel');
      expect(res.statusCode).toBe(200);
      const up = await stream.waitFor((e) => e.type === 'upload');
      expect(up.name).toBe('upload');
      expect(up.data).toMatchObject({ type: 'upload', project: 'evented', version: '1.0', filename, size: bytes.length, source: 'upload' });
      expect(Value.Check(IndexEventSchema, up.data)).toBe(true);
      expect(Date.parse(up.data.time)).toBeGreaterThanOrEqual(started - 1000);

      expect((await fetch(`${base}/packages/${filename}`).then((r) => r.arrayBuffer())).byteLength).toBe(bytes.length);
      const down = await stream.waitFor((e) => e.type === 'downloads');
      expect(down.name).toBe('downloads');
      expect(down.data).toMatchObject({ type: 'downloads', files: [{ project: 'evented', filename, downloads: 1, installers: [{ installer: 'other', downloads: 1, ci: 0 }] }] });

      await t.app.inject({ method: 'POST', url: '/-/api/projects/evented/releases/1.0/yank', payload: { reason: 'oops' } });
      const yank = await stream.waitFor((e) => e.type === 'yank');
      expect(yank.name).toBe('yank');
      expect(yank.data).toMatchObject({ type: 'yank', project: 'evented', version: '1.0', reason: 'oops' });

      await t.app.inject({ method: 'POST', url: '/-/api/projects/evented/releases/1.0/unyank', payload: {} });
      const unyank = await stream.waitFor((e) => e.type === 'unyank');
      expect(unyank.data).toMatchObject({ type: 'unyank', project: 'evented', version: '1.0' });

      await t.app.inject({ method: 'DELETE', url: `/-/api/projects/evented/files/${filename}` });
      const del = await stream.waitFor((e) => e.type === 'delete');
      expect(del.name).toBe('delete');
      expect(del.data).toMatchObject({ type: 'delete', project: 'evented', filename });

      for (const e of stream.events) expect(Value.Check(IndexEventSchema, e.data), JSON.stringify(e.data)).toBe(true);
      expect(stream.events.map((e) => e.name)).toEqual(['upload', 'downloads', 'yank', 'unyank', 'delete']);
    } finally {
      await stream.close();
    }
  });

  it('does not announce rejected uploads, HEAD requests or .metadata fetches', async () => {
    const spec: DistSpec = { name: 'Quiet', version: '1.0' };
    const { res, filename } = await upload(t.app, spec, 'wheel');
    expect(res.statusCode).toBe(200);
    const stream = await openStream();
    try {
      const conflict = await upload(t.app, { ...spec, summary: 'other bytes' }, 'wheel');
      expect(conflict.res.statusCode).toBe(409);
      await fetch(`${base}/packages/${filename}`, { method: 'HEAD' });
      await fetch(`${base}/packages/${filename}.metadata`).then((r) => r.text());
      // Reading the list publishes the downloads gathered so far: a wrongly counted one would come before the yank.
      expect((await t.app.inject('/-/api/projects')).statusCode).toBe(200);
      await t.app.inject({ method: 'POST', url: '/-/api/projects/quiet/releases/1.0/yank', payload: {} });
      const marker = await stream.waitFor((e) => e.type === 'yank');
      expect(marker.data).toMatchObject({ project: 'quiet' });
      expect(stream.events.map((e) => e.name)).toEqual(['yank']);
    } finally {
      await stream.close();
    }
  });

  it('delivers events to every open stream', async () => {
    const a = await openStream();
    const b = await openStream();
    try {
      const { res } = await upload(t.app, { name: 'Twice', version: '1.0' }, 'sdist');
      expect(res.statusCode).toBe(200);
      expect((await a.waitFor((e) => e.type === 'upload')).data).toMatchObject({ project: 'twice' });
      expect((await b.waitFor((e) => e.type === 'upload')).data).toMatchObject({ project: 'twice' });
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('GET /-/api/catalog-snapshot (pyrepo backup)', () => {
  let s: TestApp;
  beforeAll(async () => {
    s = await makeApp();
    expect((await upload(s.app, { name: 'snap', version: '1.0' }, 'wheel')).res.statusCode).toBe(200);
  });
  afterAll(async () => {
    await s.close();
  });

  /** Descriptors this process holds on snapshot files (removed from the folder, or not). */
  const openSnapshots = () => descriptorsOn('.catalog-snapshot-');

  it('sends a consistent copy of the catalog with its sha256, and leaves nothing behind', async () => {
    const res = await s.app.inject({ url: '/-/api/catalog-snapshot' });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.subarray(0, 16).toString('latin1')).toBe('SQLite format 3\u0000');
    expect(res.headers['content-length']).toBe(String(res.rawPayload.length));
    expect(res.headers[SNAPSHOT_SHA256_HEADER]).toBe(createHash('sha256').update(res.rawPayload).digest('hex'));
    await waitForCondition('the snapshot removed and closed', () => readdirSync(s.dataDir).every((n) => !n.startsWith('.catalog-snapshot-')) && openSnapshots().length === 0);
  });

  it('answers HEAD with the length, and closes the snapshot it did not send', async () => {
    const res = await s.app.inject({ method: 'HEAD', url: '/-/api/catalog-snapshot' });
    expect(res.statusCode).toBe(200);
    expect(Number(res.headers['content-length'])).toBeGreaterThan(0);
    expect(res.rawPayload.length).toBe(0);
    await waitForCondition('the snapshot removed and closed', () => readdirSync(s.dataDir).every((n) => !n.startsWith('.catalog-snapshot-')) && openSnapshots().length === 0);
  });
});
