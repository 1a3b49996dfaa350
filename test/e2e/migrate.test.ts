/**
 * `pyrepo migrate` end to end, with the built CLI, a background daemon, twine, a throwaway
 * PostgreSQL cluster and s3rver: an index with an upload, a yank, an owner, downloads, users
 * and a token is copied into PostgreSQL and S3 (refused while the daemon runs), a second run
 * copies nothing twice, and the shared index copied back into the wiped installation answers
 * as before, with pip installing from it and the token still logging in.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuthOf, ensureBuilt, waitFor, isolatedEnv, makeTempRoot, removeTemp, run, runCli, runningBaseUrl, type RunOptions, type RunResult } from '../helpers/daemon.js';
import { writeDists } from '../helpers/dists.js';
import { DEBIAN_PYTHON as PY, requireTools } from '../helpers/keyring-session.js';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { startS3, type S3Server } from '../helpers/s3.js';

const CLIENTS = requireTools('migrate e2e', [[PY, ['-m', 'twine', '--version']]]);
const SIMPLE_JSON = 'application/vnd.pypi.simple.v1+json';

const shown = (r: RunResult) => `exit ${String(r.code)}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;

describe.skipIf(CLIENTS.length > 0)('pyrepo migrate', () => {
  let root: string;
  let opts: RunOptions;
  let cluster: PostgresCluster;
  let s3: S3Server;
  let token: string;
  const cli = async (args: string[]) => {
    const r = await runCli(args, opts);
    expect(r.code, `pyrepo ${args.join(' ')}\n${shown(r)}`).toBe(0);
    return r;
  };

  /** What the index answers about the project, without what differs between two runs (serials, event ids, its URL). */
  async function answers(): Promise<unknown> {
    const url = await runningBaseUrl(opts);
    const admin = { authorization: adminAuthOf(root) };
    const get = async (path: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${url}${path}`, { headers, signal: AbortSignal.timeout(10_000) });
      const body = JSON.parse((await res.text()).replaceAll(url, 'BASE')) as Record<string, unknown>;
      delete body.lastEventId;
      if (body.meta && typeof body.meta === 'object') delete (body.meta as Record<string, unknown>)['_last-serial'];
      return [res.status, body];
    };
    return {
      simple: await get('/simple/mg-alpha/', { accept: SIMPLE_JSON }),
      detail: await get('/-/api/projects/mg-alpha', admin),
      owners: await get('/-/api/projects/mg-alpha/owners', admin),
      activity: await get('/-/api/activity?project=mg-alpha', admin),
    };
  }

  beforeAll(async () => {
    ensureBuilt();
    [cluster, s3] = await Promise.all([startPostgres(), startS3()]);
    root = await makeTempRoot('pyrepo-migrate-e2e-');
    opts = { env: isolatedEnv(root, s3.env), cwd: root, timeoutMs: 120_000 };
    await cli(['init', '--yes', '--no-configure', '--port', '0']);
    const r = await runCli(['user', 'add', 'ann', '--password-stdin'], { ...opts, input: 'ann-password-1\n' });
    expect(r.code, r.output).toBe(0);
    token = (JSON.parse((await cli(['token', 'create', '--user', 'ann', '--name', 'ci', '--json'])).stdout) as { token: string }).token;
    const base = await runningBaseUrl(opts);
    const d = await writeDists(join(root, 'd'), { name: 'mg-alpha', version: '1.0' });
    const up = await run(PY, ['-m', 'twine', 'upload', '--non-interactive', '--disable-progress-bar', '--repository-url', `${base}/legacy/`, '-u', '__token__', '-p', token, d.wheel, d.sdist], opts);
    expect(up.code, shown(up)).toBe(0);
    await cli(['yank', 'mg-alpha==1.0', '--reason', 'testing the copy']);
    await cli(['owner', 'add', 'mg-alpha', 'ann']);
    for (let i = 0; i < 3; i++) expect((await fetch(`${base}/packages/mg_alpha-1.0-py3-none-any.whl`)).status).toBe(200);
  }, 300_000);

  afterAll(async () => {
    if (opts) await runCli(['stop'], opts);
    await Promise.all([cluster?.destroy(), s3?.close()]);
    await removeTemp(root);
  });

  it('copies the index into PostgreSQL and S3 and back, and the index answers as before', async () => {
    const storage = `s3://${s3.bucket}/team`;
    const running = await runCli(['migrate', '--to', cluster.url, '--storage', storage], opts);
    expect(running.code, shown(running)).toBe(1);
    expect(running.stderr).toContain('The daemon is running');
    const before = await answers();
    await cli(['stop']);

    const first = await cli(['migrate', '--to', cluster.url, '--storage', storage]);
    expect(first.stdout).toContain('Copied 1 project and 2 files into');
    expect(first.stdout).toContain('2 files copied now');
    expect(first.stdout).toContain('2 users and 1 API token');
    expect((await cluster.psql("SELECT count(*) FROM files WHERE relpath LIKE 'team/blobs/sha256/%'")).trim()).toBe('2');
    expect((await cluster.psql('SELECT yanked_reason FROM releases')).trim()).toBe('testing the copy');
    const again = JSON.parse((await cli(['migrate', '--to', cluster.url, '--storage', storage, '--json'])).stdout) as Record<string, number>;
    expect(again).toMatchObject({ files: 2, copied: 0, activity: 0, downloadRows: 0 });

    // The installation loses its index ...
    const where = JSON.parse((await runCli(['status', '--json'], opts)).stdout) as { dataDir: string; packagesDir: string };
    const wipe = () => {
      for (const f of ['catalog.sqlite', 'catalog.sqlite-wal', 'catalog.sqlite-shm']) rmSync(join(where.dataDir, f), { force: true });
      rmSync(where.packagesDir, { recursive: true, force: true });
    };
    wipe();
    // ... and a daemon serving the shared one answers as before: pages, files, yanks, owners and
    // downloads all come from PostgreSQL and the bucket (its journal is its own: left out).
    await cli(['start', '--port', '0', '--catalog', cluster.url, '--storage', storage]);
    const { activity: _journal, ...served } = before as Record<string, unknown>;
    await waitFor('the shared index caught up', async () => {
      const { activity: _a, ...now } = (await answers()) as Record<string, unknown>;
      expect(now).toEqual(served);
      return true;
    }, 15_000);
    await cli(['stop']);
    // Then the shared one brings it back into the installation.
    wipe();
    const back = await cli(['migrate', '--from', cluster.url, '--storage', storage]);
    expect(back.stdout).toContain('2 files copied now');
    await cli(['start', '--port', '0', '--catalog', 'none', '--storage', 'none']);
    expect(await answers()).toEqual(before);

    const url = await runningBaseUrl(opts);
    const venv = join(root, 'venv');
    expect((await run(PY, ['-m', 'venv', '--without-pip', venv], opts)).code).toBe(0);
    const pip = await run(PY, ['-m', 'pip', '--python', join(venv, 'bin', 'python'), 'download', '--no-deps', '-d', join(root, 'got'), '--index-url', `${url}/simple/`, 'mg-alpha==1.0'], opts);
    expect(pip.code, shown(pip)).toBe(0);
    const login = await fetch(`${url}/-/api/projects`, { headers: { authorization: `Basic ${Buffer.from(`__token__:${token}`).toString('base64')}` } });
    expect(login.status).not.toBe(401);
  });

  it('says what is wrong with a bad PostgreSQL URL, bucket or database, and changes nothing', async () => {
    const bad = await runCli(['migrate', '--to', 'mysql://x', '--storage', `s3://${s3.bucket}`], opts);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('is not a PostgreSQL URL');
    await cli(['stop']);
    const bucket = await runCli(['migrate', '--to', cluster.url, '--storage', 's3://no-such-bucket'], opts);
    expect(bucket.code, shown(bucket)).toBe(1);
    expect(bucket.stderr).toContain("The bucket 'no-such-bucket' cannot be used: it does not exist");
    const db = await runCli(['migrate', '--to', `postgres://pyrepo@127.0.0.1:${cluster.port}/no_such_db`, '--storage', `s3://${s3.bucket}`], opts);
    expect(db.code, shown(db)).toBe(1);
    expect(db.stderr).toContain('Cannot use the PostgreSQL database');
    expect(db.stderr).toContain('no_such_db');
  });
});
