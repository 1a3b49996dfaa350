/**
 * Who did what, in-process: every upload, deletion, yank and unyank records the user (or
 * the token's user, id and name, never its secret) and the address, in the catalog (the
 * control API's files and releases, the activity journal), in the events, and in the
 * access-log line of the request. Files found in the packages folder have no uploader.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Value } from '@sinclair/typebox/value';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivityListSchema, IndexEventSchema, ProjectDetailSchema, type ActivityEntry, type IndexEvent, type ProjectDetail } from '../../src/shared/api.js';
import { accessFiles, newToken, readAccessFile, splitToken, writeAccessFile } from '../../src/shared/access-file.js';
import { hashPassword } from '../../src/shared/htpasswd.js';
import { uploaderText } from '../../src/cli/commands/info.js';
import { basic, formFieldsFor, makeApp, makeDist, uploadForm, type TestApp } from '../helpers/app.js';
import { buildWheel, wheelFilename, type DistSpec } from '../helpers/dists.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** A log stream that keeps the access-log lines. */
function accessLog(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const text: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text.push(chunk.toString('utf8'));
      done();
    },
  });
  const lines = () =>
    text
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((o) => o.msg === 'request');
  return { stream, lines };
}

function up(app: FastifyInstance, spec: DistSpec, opts: { authorization?: string; remoteAddress?: string; fields?: Record<string, string> } = {}) {
  const dist = makeDist(spec, 'wheel');
  const form = uploadForm(dist.bytes, dist.filename, { ...formFieldsFor(spec, dist), ...opts.fields });
  return app.inject({
    method: 'POST',
    url: '/legacy/',
    payload: form.payload,
    headers: { ...form.headers, ...(opts.authorization ? { authorization: opts.authorization } : {}) },
    ...(opts.remoteAddress ? { remoteAddress: opts.remoteAddress } : {}),
  });
}

async function addUser(app: TestApp, user: string, role: 'uploader' | 'admin'): Promise<string> {
  const files = accessFiles(app.dataDir);
  writeFileSync(files.htpasswd, `${readFileSync(files.htpasswd, 'utf8')}${user}:${await hashPassword(`${user}-pw`, 4)}\n`);
  const access = readAccessFile(files.access);
  writeAccessFile(files.access, { ...access, roles: { ...access.roles, [user]: role } });
  return basic(user, `${user}-pw`);
}

function addToken(app: TestApp, user: string, name: string): { token: string; id: string } {
  const files = accessFiles(app.dataDir);
  const access = readAccessFile(files.access);
  const { token, record } = newToken({ user, name, readOnly: false });
  writeAccessFile(files.access, { ...access, tokens: [...access.tokens, record] });
  return { token, id: record.id };
}

async function detail(app: FastifyInstance, project: string): Promise<ProjectDetail> {
  const res = await app.inject({ url: `/-/api/projects/${project}` });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json() as ProjectDetail;
  expect(Value.Check(ProjectDetailSchema, body)).toBe(true);
  return body;
}

async function activity(app: FastifyInstance, query = ''): Promise<ActivityEntry[]> {
  const res = await app.inject({ url: `/-/api/activity${query}` });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json() as { entries: ActivityEntry[] };
  expect(Value.Check(ActivityListSchema, body)).toBe(true);
  return body.entries;
}

function fileOf(d: ProjectDetail, filename: string) {
  const f = d.releases.flatMap((r) => r.files).find((x) => x.filename === filename);
  if (!f) throw new Error(`${filename} is not in ${JSON.stringify(d)}`);
  return f;
}

describe('who did what', () => {
  it('records the user or token and the address of uploads, yanks, unyanks and deletions: catalog, journal, events, access log', async () => {
    const log = accessLog();
    t = await makeApp({ authenticate: ['upload'], accessLog: true, logLevel: 'info' }, { logStream: log.stream });
    const ann = await addUser(t, 'ann', 'uploader');
    const ci = addToken(t, 'ann', 'ci');
    const events: IndexEvent[] = [];
    const unsubscribe = t.app.events.subscribe((e) => events.push(e));

    const first: DistSpec = { name: 'Audited', version: '1.0' };
    const second: DistSpec = { name: 'Audited', version: '2.0' };
    expect((await up(t.app, first, { authorization: ann, remoteAddress: '10.1.2.3' })).statusCode).toBe(200);
    expect((await up(t.app, second, { authorization: basic('__token__', ci.token), remoteAddress: '10.4.5.6' })).statusCode).toBe(200);
    const byToken = `ann (token ${ci.id} "ci")`;

    let d = await detail(t.app, 'audited');
    expect(fileOf(d, wheelFilename(first))).toMatchObject({ source: 'upload', uploadedBy: 'ann', uploadedFrom: '10.1.2.3' });
    expect(fileOf(d, wheelFilename(second))).toMatchObject({ source: 'upload', uploadedBy: byToken, uploadedFrom: '10.4.5.6' });
    expect(uploaderText(fileOf(d, wheelFilename(second)))).toBe(`${byToken} from 10.4.5.6`);

    const yank = await t.app.inject({ method: 'POST', url: '/-/api/projects/audited/releases/2.0/yank', payload: { reason: 'broken' }, remoteAddress: '10.7.7.7' });
    expect(yank.statusCode, yank.body).toBe(200);
    d = await detail(t.app, 'audited');
    expect(d.releases.find((r) => r.version === '2.0')).toMatchObject({ yanked: true, yankedReason: 'broken', yankedBy: 'admin', yankedFrom: '10.7.7.7' });
    expect((await t.app.inject({ method: 'POST', url: '/-/api/projects/audited/releases/2.0/unyank', payload: {} })).statusCode).toBe(200);
    d = await detail(t.app, 'audited');
    expect(d.releases.find((r) => r.version === '2.0')).toMatchObject({ yanked: false, yankedBy: null, yankedFrom: null });

    // pypiserver's remove_pkg, as the project's owner; then a file through the control API, as the admin.
    const remove = await t.app.inject({ method: 'POST', url: '/legacy/', payload: ':action=remove_pkg&name=Audited&version=1.0', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: ann } });
    expect(remove.statusCode, remove.body).toBe(200);
    const del = await t.app.inject({ method: 'DELETE', url: `/-/api/projects/audited/files/${wheelFilename(second)}` });
    expect(del.statusCode, del.body).toBe(200);
    unsubscribe();

    const mine = events.filter((e) => e.type !== 'downloads');
    for (const e of mine) expect(Value.Check(IndexEventSchema, e), JSON.stringify(e)).toBe(true);
    expect(mine.map((e) => [e.type, 'user' in e ? e.user : undefined, 'address' in e ? e.address : undefined])).toEqual([
      ['upload', 'ann', '10.1.2.3'],
      ['upload', byToken, '10.4.5.6'],
      ['yank', 'admin', '10.7.7.7'],
      ['unyank', 'admin', '127.0.0.1'],
      ['delete', 'ann', '127.0.0.1'],
      ['delete', 'admin', '127.0.0.1'],
    ]);

    // The journal keeps what the catalog no longer has: the deleted files and who deleted them.
    const journal = await activity(t.app, '?project=Audited');
    expect(journal.map((e) => [e.action, e.version, e.filename, e.user, e.address, e.reason])).toEqual([
      ['delete', '2.0', wheelFilename(second), 'admin', '127.0.0.1', null],
      ['delete', '1.0', wheelFilename(first), 'ann', '127.0.0.1', null],
      ['unyank', '2.0', null, 'admin', '127.0.0.1', null],
      ['yank', '2.0', null, 'admin', '10.7.7.7', 'broken'],
      ['upload', '2.0', wheelFilename(second), byToken, '10.4.5.6', null],
      ['upload', '1.0', wheelFilename(first), 'ann', '10.1.2.3', null],
    ]);
    expect(await activity(t.app, '?limit=2')).toHaveLength(2);

    // One access-log line per request says who and what; no password or token secret anywhere.
    const changes = log.lines().filter((l) => l.action !== undefined);
    expect(changes.map((l) => [l.action, l.user, l.project, l.version ?? null, l.file ?? l.files ?? null, l.status])).toEqual([
      ['upload', 'ann', 'audited', '1.0', wheelFilename(first), 200],
      ['upload', byToken, 'audited', '2.0', wheelFilename(second), 200],
      ['yank', 'admin', 'audited', '2.0', null, 200],
      ['unyank', 'admin', 'audited', '2.0', null, 200],
      ['delete', 'ann', 'audited', '1.0', wheelFilename(first), 200],
      ['delete', 'admin', 'audited', null, wheelFilename(second), 200],
    ]);
    const everything = JSON.stringify(log.lines()) + JSON.stringify(events) + JSON.stringify(journal);
    expect(everything).not.toContain('ann-pw');
    // The secret is base64url and may itself hold '_': split the token as the daemon does.
    const secret = splitToken(ci.token)?.secret;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(everything).not.toContain(secret);
  });

  it('says when nobody signed in (uploads open to anyone) and when a file was found in the packages folder', async () => {
    t = await makeApp({ authenticate: [] });
    const open: DistSpec = { name: 'Open-Door', version: '1.0' };
    expect((await up(t.app, open, { remoteAddress: '192.0.2.8' })).statusCode).toBe(200);
    const found: DistSpec = { name: 'Open-Door', version: '1.1' };
    writeFileSync(join(t.packagesDir, wheelFilename(found)), buildWheel(found));
    await t.app.index.reconcile();

    const d = await detail(t.app, 'open-door');
    const anonymous = fileOf(d, wheelFilename(open));
    expect(anonymous).toMatchObject({ source: 'upload', uploadedBy: null, uploadedFrom: '192.0.2.8' });
    expect(uploaderText(anonymous)).toBe('anonymous from 192.0.2.8');
    const folder = fileOf(d, wheelFilename(found));
    expect(folder).toMatchObject({ source: 'folder', uploadedBy: null, uploadedFrom: null });
    expect(uploaderText(folder)).toBe('found in the packages folder');
    // Only what came through the API is journaled.
    expect((await activity(t.app)).map((e) => [e.action, e.filename, e.user])).toEqual([['upload', wheelFilename(open), null]]);
  });
});
