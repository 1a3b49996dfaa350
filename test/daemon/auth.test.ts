/**
 * Access control in-process: policies per action, 401 with a challenge, 403 for rights,
 * tokens and their scopes, project ownership, throttling, and malformed credentials.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { accessFiles, newToken, readAccessFile, writeAccessFile } from '../../src/shared/access-file.js';
import { BCRYPT_COST, hashPassword, hashScheme, verifyPassword } from '../../src/shared/htpasswd.js';
import { unknownUserHash } from '../../src/daemon/services/identities.js';
import { actionOf, parseBasic } from '../../src/daemon/plugins/auth.js';
import type { FastifyInstance } from 'fastify';
import { basic, formFieldsFor, makeApp, makeDist, uploadForm, type TestApp } from '../helpers/app.js';
import type { DistSpec } from '../helpers/dists.js';
import { waitFor } from '../helpers/wait.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** Uploads a generated wheel, with credentials when given. */
function up(app: FastifyInstance, spec: DistSpec, authorization?: string) {
  const dist = makeDist(spec, 'wheel');
  const form = uploadForm(dist.bytes, dist.filename, formFieldsFor(spec, dist));
  return app.inject({ method: 'POST', url: '/legacy/', payload: form.payload, headers: { ...form.headers, ...(authorization ? { authorization } : {}) } });
}

/** Adds users (password = name + '-pw') with roles to the test app's files; returns their auth headers. */
async function addUsers(app: TestApp, users: Record<string, 'admin' | 'uploader' | 'reader'>): Promise<Record<string, string>> {
  const files = accessFiles(app.dataDir);
  const access = readAccessFile(files.access);
  const lines: string[] = [];
  const headers: Record<string, string> = {};
  for (const [user, role] of Object.entries(users)) {
    lines.push(`${user}:${await hashPassword(`${user}-pw`, 4)}`);
    access.roles[user] = role;
    headers[user] = basic(user, `${user}-pw`);
  }
  writeFileSync(files.htpasswd, readFileSync(files.htpasswd, 'utf8') + lines.join('\n') + '\n');
  writeAccessFile(files.access, access);
  // The daemon looks at the files at most once a second (at once for a name it does not know).
  await waitFor(`the daemon to accept ${Object.keys(users).join(', ')}`, async () => {
    for (const user of Object.keys(users)) if (!(await app.app.identities.check(user, `${user}-pw`)).ok) return false;
    return true;
  });
  return headers;
}

function addToken(app: TestApp, fields: Parameters<typeof newToken>[0]): string {
  const files = accessFiles(app.dataDir);
  const access = readAccessFile(files.access);
  const { token, record } = newToken(fields);
  writeAccessFile(files.access, { ...access, tokens: [...access.tokens, record] });
  return token;
}

describe('classifying requests', () => {
  it('maps paths to actions', () => {
    expect(actionOf('GET', '/-/health')).toBe('open');
    expect(actionOf('GET', '/-/api/projects')).toBe('admin');
    expect(actionOf('GET', '/-/events')).toBe('admin');
    expect(actionOf('POST', '/legacy/')).toBe('upload');
    expect(actionOf('POST', '/?x=1')).toBe('upload');
    expect(actionOf('GET', '/packages/a-1.0.tar.gz')).toBe('download');
    expect(actionOf('GET', '/simple/a/')).toBe('list');
    expect(actionOf('GET', '/pypi/a/json')).toBe('list');
    expect(actionOf('GET', '/')).toBe('list');
  });

  it('parses Basic credentials and refuses everything else', () => {
    expect(parseBasic(basic('u', 'p:w'))).toEqual({ user: 'u', password: 'p:w' });
    expect(parseBasic(basic('ünï', 'pässwörd'))).toEqual({ user: 'ünï', password: 'pässwörd' });
    for (const bad of ['', 'Basic', 'Basic !!!', 'Bearer abc', `Basic ${Buffer.from('nocolon').toString('base64')}`, `Basic ${'A'.repeat(5000)}`, `Basic ${Buffer.from([0xff, 0x3a, 0xfe]).toString('base64')}`]) {
      expect(parseBasic(bad), bad.slice(0, 30)).toBeUndefined();
    }
  });
});

describe('the default policy: reads open, uploads need credentials', () => {
  it('serves reads anonymously and challenges an anonymous upload with 401 and WWW-Authenticate', async () => {
    t = await makeApp({ authenticate: ['upload'] });
    expect((await t.app.inject('/simple/')).statusCode).toBe(200);
    const res = await up(t.app, { name: 'anon', version: '1.0' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Basic realm="pyrepo", charset="UTF-8"');
    expect(res.body).toContain('Authentication required to upload');
  });

  it('accepts an upload from the admin and makes the uploader the owner', async () => {
    t = await makeApp({ authenticate: ['upload'] });
    const users = await addUsers(t, { alice: 'uploader', bob: 'uploader', rita: 'reader' });
    expect((await up(t.app, { name: 'Owned', version: '1.0' }, users.alice as string)).statusCode).toBe(200);
    expect(await t.app.index.catalog.owners('owned')).toEqual([{ user: 'alice', role: 'owner' }]);
    // Another uploader: 403, with the message twine shows.
    const bob = await up(t.app, { name: 'Owned', version: '1.1' }, users.bob as string);
    expect(bob.statusCode).toBe(403);
    expect(bob.body).toContain("The user 'bob' isn't allowed to upload to project 'owned'.");
    // A reader: 403 before the body counts.
    const rita = await up(t.app, { name: 'Other', version: '1.0' }, users.rita as string);
    expect(rita.statusCode).toBe(403);
    expect(rita.body).toContain('may only read');
    // A maintainer may; the admin may always.
    t.app.index.catalog.addOwner('owned', 'bob', 'maintainer');
    expect((await up(t.app, { name: 'Owned', version: '1.1' }, users.bob as string)).statusCode).toBe(200);
    expect((await up(t.app, { name: 'Owned', version: '1.2' }, t.adminAuth)).statusCode).toBe(200);
  });

  it('checks an unknown user against a real bcrypt hash, so that timing does not tell which names exist', async () => {
    const hash = await unknownUserHash();
    expect(hashScheme(hash)).toBe('bcrypt');
    expect(hash).toMatch(new RegExp(`^\\$2y\\$${String(BCRYPT_COST).padStart(2, '0')}\\$`));
    expect(await verifyPassword('anything', hash)).toBe(false);
  });

  it('answers wrong credentials with 401 and never echoes them', async () => {
    t = await makeApp({ authenticate: ['upload'] });
    const res = await up(t.app, { name: 'x', version: '1.0' }, basic('admin', 'wrong-secret-123'));
    expect(res.statusCode).toBe(401);
    expect(res.body).toContain('Invalid username or password');
    expect(res.body).not.toContain('wrong-secret-123');
  });
});

describe('protected reads', () => {
  it('answers every path with the same 401, existing project or not; with credentials, 404 for unknown ones', async () => {
    t = await makeApp({ authenticate: ['list', 'download', 'upload'] });
    await up(t.app, { name: 'secret-pkg', version: '1.0' }, t.adminAuth);
    const a = await t.app.inject('/simple/secret-pkg/');
    const b = await t.app.inject('/simple/no-such-pkg/');
    expect([a.statusCode, b.statusCode]).toEqual([401, 401]);
    expect(a.body).toBe(b.body);
    expect((await t.app.inject('/packages/secret_pkg-1.0-py3-none-any.whl')).statusCode).toBe(401);
    expect((await t.app.inject('/pypi/secret-pkg/json')).statusCode).toBe(401);
    expect((await t.app.inject({ url: '/simple/secret-pkg/', headers: { authorization: t.adminAuth } })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/simple/no-such-pkg/', headers: { authorization: t.adminAuth } })).statusCode).toBe(404);
    expect((await t.app.inject('/-/health')).statusCode).toBe(200);
  });
});

describe('the control API', () => {
  it('needs the admin, from loopback too', async () => {
    t = await makeApp({ authenticate: [] }, { autoAdmin: false });
    const users = await addUsers(t, { alice: 'uploader' });
    const anon = await t.app.inject('/-/api/projects');
    expect(anon.statusCode).toBe(401);
    expect(anon.headers['www-authenticate']).toMatch(/^Basic /);
    expect((await t.app.inject({ url: '/-/api/projects', headers: { authorization: users.alice as string } })).statusCode).toBe(403);
    expect((await t.app.inject({ url: '/-/api/projects', headers: { authorization: t.adminAuth } })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'DELETE', url: '/-/api/projects/x/releases/1.0' })).statusCode).toBe(401);
  });

  it("refuses API tokens, an admin's too (as __token__ or as the admin), while they still upload", async () => {
    t = await makeApp({ authenticate: ['upload'] });
    const token = addToken(t, { user: 'admin', readOnly: false, name: 'configure: uploads' });
    for (const user of ['__token__', 'admin']) {
      const res = await t.app.inject({ url: '/-/api/projects', headers: { authorization: basic(user, token) } });
      expect(res.statusCode, user).toBe(403);
      expect(res.body).toContain("cannot use the control API; it takes the admin's password");
      const del = await t.app.inject({ method: 'DELETE', url: '/-/api/projects/x/releases/1.0', headers: { authorization: basic(user, token) } });
      expect(del.statusCode, user).toBe(403);
    }
    expect((await up(t.app, { name: 'by-token', version: '1.0' }, basic('__token__', token))).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/-/api/projects', headers: { authorization: t.adminAuth } })).statusCode).toBe(200);
  });
});

describe('owners through the control API', () => {
  it('lists, adds and removes owners and maintainers; refuses unknown users and bad names; the uploads follow', async () => {
    t = await makeApp({ authenticate: ['upload'] });
    const users = await addUsers(t, { alice: 'uploader', bob: 'uploader' });
    expect((await up(t.app, { name: 'Team_Pkg', version: '1.0' }, users.alice as string)).statusCode).toBe(200);
    const list = await t.app.inject('/-/api/projects/team-pkg/owners');
    expect(list.json()).toEqual({ project: 'team-pkg', owners: [{ user: 'alice', role: 'owner' }] });
    expect((await up(t.app, { name: 'Team_Pkg', version: '1.1' }, users.bob as string)).statusCode).toBe(403);

    const add = await t.app.inject({ method: 'PUT', url: '/-/api/projects/Team.Pkg/owners/bob', payload: { role: 'maintainer' } });
    expect(add.statusCode).toBe(200);
    expect(add.json()).toEqual({ project: 'team-pkg', owners: [{ user: 'alice', role: 'owner' }, { user: 'bob', role: 'maintainer' }] });
    expect((await up(t.app, { name: 'Team_Pkg', version: '1.1' }, users.bob as string)).statusCode).toBe(200);

    const unknown = await t.app.inject({ method: 'PUT', url: '/-/api/projects/team-pkg/owners/mallory', payload: { role: 'owner' } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toContain("There is no user 'mallory'");
    expect((await t.app.inject({ method: 'PUT', url: '/-/api/projects/team-pkg/owners/bob', payload: { role: 'king' } })).statusCode).toBe(400);
    expect((await t.app.inject({ method: 'PUT', url: '/-/api/projects/-bad-/owners/bob', payload: { role: 'owner' } })).statusCode).toBe(400);

    const removed = await t.app.inject({ method: 'DELETE', url: '/-/api/projects/team-pkg/owners/bob' });
    expect(removed.json()).toEqual({ project: 'team-pkg', owners: [{ user: 'alice', role: 'owner' }] });
    expect((await t.app.inject({ method: 'DELETE', url: '/-/api/projects/team-pkg/owners/bob' })).statusCode).toBe(404);
    expect((await up(t.app, { name: 'Team_Pkg', version: '1.2' }, users.bob as string)).statusCode).toBe(403);

    // A name reserved for a user before its first upload: nobody else may take it.
    await t.app.inject({ method: 'PUT', url: '/-/api/projects/reserved/owners/bob', payload: { role: 'owner' } });
    expect((await up(t.app, { name: 'reserved', version: '1.0' }, users.alice as string)).statusCode).toBe(403);
    expect((await up(t.app, { name: 'reserved', version: '1.0' }, users.bob as string)).statusCode).toBe(200);
    // Only admins manage owners.
    expect((await t.app.inject({ url: '/-/api/projects/reserved/owners', headers: { authorization: users.bob as string } })).statusCode).toBe(403);
  });
});

describe("a user's ownerships (for pyrepo user remove)", () => {
  it('takes them off projects that keep an owner, and keeps them where the project would have none, so that nobody can claim it', async () => {
    t = await makeApp({ authenticate: ['upload'] });
    const users = await addUsers(t, { ann: 'uploader', bob: 'uploader', carl: 'uploader' });
    const put = (project: string, user: string, role: 'owner' | 'maintainer') =>
      t!.app.inject({ method: 'PUT', url: `/-/api/projects/${project}/owners/${user}`, payload: { role } });
    await put('alone', 'ann', 'owner'); // ann alone: kept
    await put('shared', 'ann', 'owner'); // another owner remains: removed
    await put('shared', 'bob', 'owner');
    await put('helped', 'carl', 'owner'); // ann maintains, carl owns: removed
    await put('helped', 'ann', 'maintainer');
    await put('reserved', 'ann', 'maintainer'); // ann is all there is: kept
    await put('led', 'ann', 'owner'); // only a maintainer would remain, no owner: kept
    await put('led', 'bob', 'maintainer');

    const before = await t.app.inject('/-/api/users/ann/ownerships');
    expect(before.json()).toEqual({
      user: 'ann',
      projects: [
        { project: 'alone', role: 'owner' },
        { project: 'helped', role: 'maintainer' },
        { project: 'led', role: 'owner' },
        { project: 'reserved', role: 'maintainer' },
        { project: 'shared', role: 'owner' },
      ],
    });
    const res = await t.app.inject({ method: 'DELETE', url: '/-/api/users/ann/ownerships' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      user: 'ann',
      removed: [
        { project: 'helped', role: 'maintainer' },
        { project: 'shared', role: 'owner' },
      ],
      kept: [
        { project: 'alone', role: 'owner' },
        { project: 'led', role: 'owner' },
        { project: 'reserved', role: 'maintainer' },
      ],
    });
    expect(await t.app.index.catalog.owners('shared')).toEqual([{ user: 'bob', role: 'owner' }]);
    expect(await t.app.index.catalog.owners('helped')).toEqual([{ user: 'carl', role: 'owner' }]);
    // What stays listed stays closed: another uploader cannot claim it.
    expect((await up(t.app, { name: 'alone', version: '1.0' }, users.carl as string)).statusCode).toBe(403);
    // Nothing left to take: the same answer again; an unknown user has none.
    expect((await t.app.inject({ method: 'DELETE', url: '/-/api/users/ann/ownerships' })).json()).toMatchObject({ removed: [] });
    expect((await t.app.inject('/-/api/users/nobody/ownerships')).json()).toEqual({ user: 'nobody', projects: [] });
    expect((await t.app.inject({ url: '/-/api/users/ann/ownerships', headers: { authorization: users.bob as string } })).statusCode).toBe(403);
  });
});

describe('changes to the user files', () => {
  it('count at once: a user and a token made a moment ago are accepted on their first request', async () => {
    t = await makeApp({ authenticate: ['list', 'upload'] });
    // A request now, so that the next periodic look at the files is a second away.
    expect((await t.app.inject({ url: '/simple/', headers: { authorization: t.adminAuth } })).statusCode).toBe(200);
    const files = accessFiles(t.dataDir);
    writeFileSync(files.htpasswd, `${readFileSync(files.htpasswd, 'utf8')}zoe:${await hashPassword('zoe-password', 4)}\n`);
    expect((await t.app.inject({ url: '/simple/', headers: { authorization: basic('zoe', 'zoe-password') } })).statusCode).toBe(200);
    const token = addToken(t, { user: 'zoe', readOnly: false });
    expect((await up(t.app, { name: 'fresh', version: '1.0' }, basic('__token__', token))).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'PUT', url: '/-/api/projects/fresh/owners/zoe', payload: { role: 'maintainer' } })).statusCode).toBe(200);
  });
});

describe('tokens', () => {
  it('work as __token__ and as their user; scoped to projects; read-only; revoked and expired ones fail', async () => {
    t = await makeApp({ authenticate: ['upload'] });
    await addUsers(t, { alice: 'uploader' });
    const scoped = addToken(t, { user: 'alice', projects: ['allowed'], readOnly: false });
    const readOnly = addToken(t, { user: 'alice', readOnly: true });
    const expired = addToken(t, { user: 'alice', readOnly: false, expires: '2020-01-01T00:00:00.000Z' });
    const accepted = async (token: string) => (await t?.app.identities.check('__token__', token))?.ok === true;
    await waitFor('the daemon to accept the new tokens', async () => (await accepted(scoped)) && (await accepted(readOnly)));
    const as = (token: string, user = '__token__') => basic(user, token);
    expect((await up(t.app, { name: 'allowed', version: '1.0' }, as(scoped))).statusCode).toBe(200);
    expect((await up(t.app, { name: 'allowed', version: '1.1' }, as(scoped, 'alice'))).statusCode).toBe(200);
    const other = await up(t.app, { name: 'elsewhere', version: '1.0' }, as(scoped));
    expect(other.statusCode).toBe(403);
    expect(other.body).toContain("The given token isn't allowed to upload to project 'elsewhere'.");
    expect((await up(t.app, { name: 'allowed', version: '1.2' }, as(readOnly))).statusCode).toBe(403);
    const old = await up(t.app, { name: 'allowed', version: '1.3' }, as(expired));
    expect(old.statusCode).toBe(401);
    expect(old.body).toContain('expired');
    expect((await up(t.app, { name: 'allowed', version: '1.4' }, as(scoped, 'mallory'))).statusCode).toBe(401);
    // Revoked: gone from the file.
    const files = accessFiles(t.dataDir);
    writeAccessFile(files.access, { ...readAccessFile(files.access), tokens: [] });
    await waitFor('the daemon to refuse the revoked token', async () => !(await accepted(scoped)));
    expect((await up(t.app, { name: 'allowed', version: '1.5' }, as(scoped))).statusCode).toBe(401);
  });
});

describe('throttling and hostile headers', () => {
  it('refuses with 429 and Retry-After after repeated failures, even with the right password', async () => {
    t = await makeApp({ authenticate: ['list'] });
    const wrong = { url: '/simple/', headers: { authorization: basic('admin', 'nope') } };
    for (let i = 0; i < 6; i++) expect((await t.app.inject(wrong)).statusCode).toBe(401);
    const locked = await t.app.inject({ url: '/simple/', headers: { authorization: t.adminAuth } });
    expect(locked.statusCode).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('answers empty, malformed, huge and odd Authorization headers with clear 4xx and keeps serving', async () => {
    t = await makeApp({ authenticate: ['list'] });
    const headers = ['Basic', 'Basic ====', 'Basic !@#$', 'Digest username="x"', `Basic ${'QUFB'.repeat(3000)}`, 'Basic 8J+Ygg==', `Basic ${Buffer.from('\u0000:\u0000').toString('base64')}`];
    for (const authorization of headers) {
      const res = await t.app.inject({ url: '/simple/', headers: { authorization } });
      expect([400, 401, 431], authorization.slice(0, 20)).toContain(res.statusCode);
    }
    expect((await t.app.inject({ url: '/simple/', headers: { authorization: t.adminAuth } })).statusCode).toBe(200);
  });
});
