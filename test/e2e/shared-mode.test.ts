/**
 * The shared mode end to end: three real daemons (`pyrepo serve --catalog … --storage …`)
 * on one throwaway PostgreSQL cluster and one s3rver bucket. An upload to one is
 * installable with pip from the others; concurrent conflicting uploads spread over the
 * three leave exactly one winner that every daemon serves; a user and token made on one
 * daemon's machine work on another at once, and a revoked one stops; a yank on one shows
 * on all; `status` lists the three; with PostgreSQL stopped, pages and downloads go on and
 * changes answer 503 with Retry-After, and once it is back the daemons recover by themselves.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessFiles, newToken, readAccessFile, writeAccessFile } from '../../src/shared/access-file.js';
import { hashPassword } from '../../src/shared/htpasswd.js';
import { isolatedEnv, run, startDaemon, uploadBody, waitFor, type RunningTestDaemon } from '../helpers/daemon.js';
import { buildSdist, buildWheel, sdistFilename, wheelFilename } from '../helpers/dists.js';
import { DEBIAN_PYTHON } from '../helpers/python.js';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { startS3, type S3Server } from '../helpers/s3.js';

const SIMPLE_JSON = 'application/vnd.pypi.simple.v1+json';

interface SimpleFile {
  filename: string;
  hashes: { sha256: string };
  yanked?: boolean | string;
}

async function upload(url: string, auth: string, file: { name: string; version: string; filename: string; data: Buffer }): Promise<{ status: number; text: string; retryAfter: string | null }> {
  const filetype = file.filename.endsWith('.whl') ? 'bdist_wheel' : 'sdist';
  const { body, contentType } = uploadBody({ name: file.name, version: file.version, filetype }, file.filename, file.data);
  const res = await fetch(`${url}/legacy/`, { method: 'POST', headers: { 'content-type': contentType, authorization: auth }, body, signal: AbortSignal.timeout(30_000) });
  return { status: res.status, text: await res.text(), retryAfter: res.headers.get('retry-after') };
}

async function filesOn(d: RunningTestDaemon, project: string): Promise<SimpleFile[]> {
  const res = await fetch(`${d.url}/simple/${project}/`, { headers: { accept: SIMPLE_JSON }, signal: AbortSignal.timeout(10_000) });
  if (res.status === 404) return [];
  expect(res.status).toBe(200);
  return ((await res.json()) as { files: SimpleFile[] }).files;
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('three daemons sharing one PostgreSQL catalog and one bucket', () => {
  let cluster: PostgresCluster;
  let s3: S3Server;
  let daemons: RunningTestDaemon[] = [];

  beforeAll(async () => {
    [cluster, s3] = await Promise.all([startPostgres(), startS3()]);
    const args = ['--catalog', cluster.url, '--storage', `s3://${s3.bucket}/team`, '--authenticate', 'upload'];
    // One first (it makes the schema), then two more at once.
    daemons = [await startDaemon({ args, env: s3.env })];
    daemons.push(...(await Promise.all([startDaemon({ args, env: s3.env }), startDaemon({ args, env: s3.env })])));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    await cluster?.destroy();
    await s3?.close();
  });

  it('serves an upload to one daemon from the others within a second, and pip installs it from them', async () => {
    const [a, b, c] = daemons as [RunningTestDaemon, RunningTestDaemon, RunningTestDaemon];
    const spec = { name: 'team-lib', version: '1.0' };
    const wheel = buildWheel(spec);
    const r = await upload(a.url, a.adminAuth, { ...spec, filename: wheelFilename(spec), data: wheel });
    expect(r.status, r.text).toBe(200);
    const uploaded = Date.now();
    for (const d of [b, c]) {
      await waitFor(`team-lib on ${d.url}`, async () => (await filesOn(d, 'team-lib')).some((f) => f.hashes.sha256 === sha256(wheel)), 10_000);
    }
    // The issue's bound: visible everywhere within 1 s (generous on a loaded machine: the bench measures the p99).
    expect(Date.now() - uploaded).toBeLessThan(5_000);
    const dest = join(b.root, 'dl');
    const pip = await run(DEBIAN_PYTHON, ['-m', 'pip', 'download', '--no-deps', '--no-cache-dir', '--disable-pip-version-check', '-d', dest, '-i', `${c.url}/simple/`, 'team-lib==1.0'], {
      cwd: b.root,
      env: isolatedEnv(b.root),
      timeoutMs: 120_000,
    });
    expect(pip.code, pip.output).toBe(0);
    expect(sha256(readFileSync(join(dest, wheelFilename(spec))))).toBe(sha256(wheel));
  });

  it('takes a twine upload on one daemon that poetry then locks from another', async () => {
    const [a, , c] = daemons as [RunningTestDaemon, RunningTestDaemon, RunningTestDaemon];
    const env = isolatedEnv(c.root);
    const dist = join(c.root, 'twine-dist');
    mkdirSync(dist, { recursive: true });
    const spec = { name: 'twine-lib', version: '2.0' };
    writeFileSync(join(dist, wheelFilename(spec)), buildWheel(spec));
    const [user, password] = Buffer.from(c.adminAuth.replace(/^Basic /, ''), 'base64').toString('utf8').split(/:(.*)/s) as [string, string];
    const twine = await run(DEBIAN_PYTHON, ['-m', 'twine', 'upload', '--non-interactive', '--repository-url', `${c.url}/legacy/`, '-u', user, '-p', password, join(dist, wheelFilename(spec))], {
      cwd: c.root,
      env,
      timeoutMs: 120_000,
    });
    expect(twine.code, twine.output).toBe(0);
    const project = join(a.root, 'consumer');
    mkdirSync(project, { recursive: true });
    writeFileSync(
      join(project, 'pyproject.toml'),
      [
        '[tool.poetry]',
        'name = "consumer"',
        'version = "0.1.0"',
        'description = "Uses twine-lib"',
        'authors = ["Test <test@example.invalid>"]',
        '',
        '[tool.poetry.dependencies]',
        'python = "^3.8"',
        'twine-lib = "*"',
        '',
        '[[tool.poetry.source]]',
        'name = "team"',
        `url = "${a.url}/simple/"`,
        'default = true',
        '',
      ].join('\n'),
    );
    await waitFor('twine-lib on A', async () => (await filesOn(a, 'twine-lib')).length === 1, 10_000);
    const lock = await run('poetry', ['lock', '--no-interaction'], { cwd: project, env: isolatedEnv(a.root), timeoutMs: 200_000 });
    expect(lock.code, lock.output).toBe(0);
    const lockText = readFileSync(join(project, 'poetry.lock'), 'utf8');
    expect(lockText).toContain('name = "twine-lib"');
    expect(lockText).toContain(a.url);
  }, 300_000);

  it('lets exactly one of 50 concurrent conflicting uploads over three daemons win, and every daemon serves the winner', async () => {
    const spec = { name: 'race-lib', version: '1.0' };
    const filename = sdistFilename(spec);
    const bodies = Array.from({ length: 50 }, (_, i) => buildSdist({ ...spec, summary: `attempt ${i}` }));
    const results = await Promise.all(bodies.map((data, i) => {
      const d = daemons[i % 3] as RunningTestDaemon;
      return upload(d.url, d.adminAuth, { ...spec, filename, data });
    }));
    const won = results.flatMap((r, i) => (r.status === 200 ? [i] : []));
    expect(won, results.map((r) => `${r.status} ${r.text.trim()}`).join('\n')).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(49);
    const winner = sha256(bodies[won[0] as number] as Buffer);
    for (const d of daemons) {
      await waitFor(`the winner on ${d.url}`, async () => (await filesOn(d, 'race-lib')).map((f) => f.hashes.sha256).join() === winner, 10_000);
      const res = await fetch(`${d.url}/packages/${filename}`);
      expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(winner);
    }
  });

  it('accepts a user and token made on one machine on another at once, and refuses them there once revoked', async () => {
    const [a, , c] = daemons as [RunningTestDaemon, RunningTestDaemon, RunningTestDaemon];
    // What `pyrepo user add` and `pyrepo token create` write in A's data folder.
    const files = accessFiles(a.dataDir);
    mkdirSync(a.dataDir, { recursive: true });
    appendFileSync(files.htpasswd, `ann:${await hashPassword('ann-password-1')}\n`);
    const { token, record } = newToken({ user: 'ann', name: 'ci', readOnly: false });
    const access = readAccessFile(files.access);
    writeAccessFile(files.access, { ...access, roles: { ...access.roles, ann: 'uploader' }, tokens: [...access.tokens, record] });
    const spec = { name: 'ann-lib', version: '1.0' };
    const data = buildWheel(spec);
    let r = await upload(c.url, basic('__token__', token), { ...spec, filename: wheelFilename(spec), data });
    await waitFor('the token made on A to work on C', async () => {
      if (r.status === 200) return true;
      r = await upload(c.url, basic('__token__', token), { ...spec, filename: wheelFilename(spec), data });
      return r.status === 200;
    }, 10_000);
    // Revoked on A: refused on C.
    writeAccessFile(files.access, { ...readAccessFile(files.access), tokens: readAccessFile(files.access).tokens.filter((t) => t.id !== record.id) });
    const spec2 = { name: 'ann-lib', version: '2.0' };
    await waitFor('the revoked token to be refused on C', async () => (await upload(c.url, basic('__token__', token), { ...spec2, filename: wheelFilename(spec2), data: buildWheel(spec2) })).status === 401, 10_000);
    // C's own admin is still C's: A's admin of the same name did not replace it.
    const own = await fetch(`${c.url}/-/health`, { headers: { authorization: c.adminAuth } });
    expect(((await own.json()) as { pid?: number }).pid).toBe(c.pid);
  });

  it('shows a yank made on one daemon on the others, and status lists the three daemons', async () => {
    const [a, b] = daemons as [RunningTestDaemon, RunningTestDaemon];
    const res = await fetch(`${b.url}/-/api/projects/team-lib/releases/1.0/yank`, {
      method: 'POST',
      headers: { authorization: b.adminAuth, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'broken build' }),
    });
    expect(res.status, await res.text()).toBe(200);
    await waitFor('the yank on A', async () => (await filesOn(a, 'team-lib'))[0]?.yanked === 'broken build', 10_000);
    const health = (await (await fetch(`${a.url}/-/health`, { headers: { authorization: a.adminAuth } })).json()) as {
      shared?: { connected: boolean; daemons: { url: string; self: boolean }[]; catalog: string };
    };
    expect(health.shared?.connected).toBe(true);
    expect(health.shared?.daemons.map((d) => d.url).sort()).toEqual(daemons.map((d) => d.url).sort());
    expect(health.shared?.daemons.filter((d) => d.self).map((d) => d.url)).toEqual([a.url]);
  });

  it('counts the downloads made on every daemon, and shows them all from any', async () => {
    const [a, b, c] = daemons as [RunningTestDaemon, RunningTestDaemon, RunningTestDaemon];
    const file = wheelFilename({ name: 'team-lib', version: '1.0' });
    const pip = { 'user-agent': 'pip/24.0 {"installer":{"name":"pip","version":"24.0"}}' };
    const downloadsOnA = async () => ((await (await fetch(`${a.url}/-/api/projects/team-lib`, { headers: { authorization: a.adminAuth } })).json()) as { downloads: number }).downloads;
    // pip's download from C in the first test counts too.
    await waitFor('the first download counted', async () => (await downloadsOnA()) >= 1, 10_000);
    const before = await downloadsOnA();
    for (const d of [b, c, c]) expect((await fetch(`${d.url}/packages/${file}`, { headers: pip })).status).toBe(200);
    await waitFor('three more downloads counted on A', async () => (await downloadsOnA()) === before + 3, 10_000);
    const list = (await (await fetch(`${a.url}/-/api/projects`, { headers: { authorization: a.adminAuth } })).json()) as { projects: { name: string; downloads: number }[] };
    expect(list.projects.find((p) => p.name === 'team-lib')?.downloads).toBe(before + 3);
  });

  it('loses nothing acknowledged and shows nothing half-written when a daemon is killed during uploads', async () => {
    const [a] = daemons as [RunningTestDaemon];
    const args = ['--catalog', cluster.url, '--storage', `s3://${s3.bucket}/team`, '--authenticate', 'upload'];
    const victim = await startDaemon({ args, env: s3.env });
    const specs = Array.from({ length: 40 }, (_, i) => ({ name: 'kill-lib', version: `1.${i}` }));
    const acknowledged: string[] = [];
    let killed = false;
    const uploading = (async () => {
      for (const spec of specs) {
        if (killed) return;
        const r = await upload(victim.url, victim.adminAuth, { ...spec, filename: wheelFilename(spec), data: buildWheel(spec) }).catch(() => undefined);
        if (r?.status === 200) acknowledged.push(wheelFilename(spec));
      }
    })();
    await waitFor('some uploads acknowledged', () => acknowledged.length >= 8, 30_000);
    killed = true;
    await victim.kill9();
    await uploading;
    // Everything acknowledged is on the other daemons, and everything they list downloads whole.
    await waitFor('every acknowledged upload on A', async () => {
      const listed = new Set((await filesOn(a, 'kill-lib')).map((f) => f.filename));
      return acknowledged.every((f) => listed.has(f));
    }, 15_000);
    for (const f of await filesOn(a, 'kill-lib')) {
      const res = await fetch(`${a.url}/packages/${f.filename}`);
      expect(res.status, f.filename).toBe(200);
      expect(sha256(Buffer.from(await res.arrayBuffer())), f.filename).toBe(f.hashes.sha256);
    }
    // The killed daemon is no longer listed once its heartbeat is old (within three beats).
    await waitFor('the killed daemon to leave the list', async () => {
      const h = (await (await fetch(`${a.url}/-/health`, { headers: { authorization: a.adminAuth } })).json()) as { shared?: { daemons: { url: string }[] } };
      return h.shared?.daemons.every((d) => d.url !== victim.url) === true;
    }, 30_000);
  });

  it('keeps serving while PostgreSQL restarts under uploads, answers changes with 503 and Retry-After, and recovers by itself', async () => {
    const [a, b, c] = daemons as [RunningTestDaemon, RunningTestDaemon, RunningTestDaemon];
    // Uploads keep arriving at two daemons through the whole restart.
    const acknowledged: string[] = [];
    const refused: { status: number; retryAfter: string | null; text: string }[] = [];
    let stopping = false;
    const uploader = async (d: RunningTestDaemon, lane: number) => {
      for (let i = 0; !stopping && i < 500; i++) {
        const spec = { name: 'restart-lib', version: `${lane}.${i}` };
        // A connection the daemon cuts is an answer too (status 0): it must not happen.
        const r = await upload(d.url, d.adminAuth, { ...spec, filename: wheelFilename(spec), data: buildWheel(spec) }).catch((err: unknown) => ({ status: 0, text: String(err), retryAfter: null }));
        if (r.status === 200) acknowledged.push(wheelFilename(spec));
        else refused.push(r);
      }
    };
    const lanes = Promise.all([uploader(a, 1), uploader(c, 2)]);
    await waitFor('uploads before the stop', () => acknowledged.length >= 5, 30_000);
    await cluster.stop();
    try {
      await waitFor('a refused upload while PostgreSQL is down', () => refused.length >= 2, 30_000).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n${[a, c].map((d) => `${d.url} exited: ${d.exited()}\n${d.logLines().slice(-15).join('\n')}`).join('\n')}`);
      });
      // Reads go on from each daemon's copy.
      const early = await waitFor('an early upload on B', async () => (await filesOn(b, 'restart-lib'))[0], 10_000);
      expect((await fetch(`${b.url}/packages/${early.filename}`)).status).toBe(200);
      const health = (await (await fetch(`${a.url}/-/health`, { headers: { authorization: a.adminAuth } })).json()) as { shared?: { connected: boolean }; problems: string[] };
      expect(health.shared?.connected).toBe(false);
      // A problem there, which `status` and the dashboard's header show.
      expect(health.problems.join('\n')).toMatch(/The shared catalog .* has not answered since .*uploads and other changes answer 503/);
    } finally {
      await cluster.start();
    }
    const before = acknowledged.length;
    await waitFor('uploads to be taken again', () => acknowledged.length >= before + 5, 30_000);
    stopping = true;
    await lanes;
    for (const r of refused) {
      expect(r.status, `${r.text}\n${[a, c].flatMap((d) => d.logLines().filter((l) => l.includes('"level":50'))).join('\n')}`).toBe(503);
      expect(r.retryAfter).toMatch(/^\d+$/);
      expect(r.text).toContain('shared catalog cannot be reached');
    }
    // Nothing acknowledged is lost: every daemon, B included, lists every one.
    for (const d of daemons) {
      await waitFor(`every acknowledged upload on ${d.url}`, async () => {
        const listed = new Set((await filesOn(d, 'restart-lib')).map((f) => f.filename));
        return acknowledged.every((f) => listed.has(f));
      }, 30_000);
    }
  }, 180_000);
});
