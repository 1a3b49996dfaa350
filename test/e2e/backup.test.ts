/**
 * Backup and restore end to end, with the built CLI, a background daemon and twine: a
 * backup taken while twine uploads in a loop, the data folder wiped, the backup restored
 * and the daemon started again; every answer about what the backup holds is the same as
 * before (simple pages in HTML and JSON, the PyPI JSON, the control API's projects,
 * details with owners, yanks, uploaders and downloads, the journal), and the users and
 * the token still log in. A running daemon and an index already there are refused.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProjectDetail } from '../../src/shared/api.js';
import { adminAuthOf, ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, run, runCli, runningBaseUrl, waitFor, type RunOptions, type RunResult } from '../helpers/daemon.js';
import { writeDists } from '../helpers/dists.js';
import { DEBIAN_PYTHON as PY, requireTools } from '../helpers/keyring-session.js';

const CLIENTS = requireTools('backup e2e', [[PY, ['-m', 'twine', '--version']]]);
const SIMPLE_JSON = 'application/vnd.pypi.simple.v1+json';
const BUSY_VERSIONS = ['1', '2', '3', '4', '5', '6'];

function describeRun(r: RunResult): string {
  return `exit ${String(r.code)}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

// Skips only on a developer's machine without twine: in CI (CI=true) requireTools throws instead.
describe.skipIf(CLIENTS.length > 0)('pyrepo backup and restore', () => {
  let root: string;
  let opts: RunOptions;
  let base: string;
  let token: string;
  const passwords: Record<string, string> = { ann: 'ann-password-1', bob: 'bob-password-1' };

  const twine = (files: string[], user: string, password: string) =>
    run(PY, ['-m', 'twine', 'upload', '--non-interactive', '--disable-progress-bar', '--repository-url', `${base}/legacy/`, '-u', user, '-p', password, ...files], { ...opts, timeoutMs: 120_000 });
  const cli = async (args: string[]) => {
    const r = await runCli(args, opts);
    expect(r.code, `pyrepo ${args.join(' ')}\n${describeRun(r)}`).toBe(0);
    return r;
  };

  /** Everything the index answers about a project, with what must differ between two daemons (their URL, the serial) taken out. */
  async function answers(url: string, project: string): Promise<Record<string, unknown>> {
    const admin = { authorization: adminAuthOf(root) };
    const text = async (path: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${url}${path}`, { headers, signal: AbortSignal.timeout(10_000) });
      return `${res.status} ${(await res.text()).replaceAll(url, 'BASE')}`;
    };
    const json = async (path: string, headers: Record<string, string> = {}) => {
      const [status, ...body] = (await text(path, headers)).split(' ');
      const parsed = JSON.parse(body.join(' ')) as Record<string, unknown>;
      delete parsed.last_serial;
      // The event stream's position: each run of the daemon numbers events above the last.
      delete parsed.lastEventId;
      if (parsed.meta && typeof parsed.meta === 'object') delete (parsed.meta as Record<string, unknown>)['_last-serial'];
      return { status, parsed };
    };
    const detail = await json(`/-/api/projects/${project}`, admin);
    const versions = ((detail.parsed as unknown as ProjectDetail).releases ?? []).map((r) => r.version);
    const out: Record<string, unknown> = {
      html: await text(`/simple/${project}/`, { accept: 'text/html' }),
      simpleJson: await json(`/simple/${project}/`, { accept: SIMPLE_JSON }),
      pypiJson: await json(`/pypi/${project}/json`),
      detail,
      owners: await json(`/-/api/projects/${project}/owners`, admin),
      activity: await json(`/-/api/activity?project=${project}`, admin),
    };
    for (const v of versions) out[`pypiJson ${v}`] = await json(`/pypi/${project}/${v}/json`);
    return out;
  }

  async function projectList(url: string): Promise<Record<string, unknown>[]> {
    const res = await fetch(`${url}/-/api/projects`, { headers: { authorization: adminAuthOf(root) } });
    return ((await res.json()) as { projects: Record<string, unknown>[] }).projects;
  }

  beforeAll(async () => {
    ensureBuilt();
    root = await makeTempRoot('pyrepo-backup-e2e-');
    opts = { env: isolatedEnv(root), cwd: root, timeoutMs: 120_000 };
    await cli(['init', '--yes', '--no-configure', '--port', '0']);
    base = await runningBaseUrl(opts);
    for (const [user, password] of Object.entries(passwords)) {
      const r = await runCli(['user', 'add', user, '--password-stdin'], { ...opts, input: `${password}\n` });
      expect(r.code, r.output).toBe(0);
    }
    token = (JSON.parse((await cli(['token', 'create', '--user', 'ann', '--name', 'ci', '--json'])).stdout) as { token: string }).token;

    // What only the catalog knows: uploaders (a user, a token, the admin through pyrepo publish), a yank and its reason, owners, downloads.
    const a10 = await writeDists(join(root, 'd', 'a10'), { name: 'bk-alpha', version: '1.0' });
    const a11 = await writeDists(join(root, 'd', 'a11'), { name: 'bk-alpha', version: '1.1' });
    const b01 = await writeDists(join(root, 'd', 'b01'), { name: 'bk-beta', version: '0.1' });
    for (const [files, user, password] of [[[a10.wheel, a10.sdist], 'ann', passwords.ann], [[a11.wheel], '__token__', token]] as const) {
      const r = await twine([...files], user, password as string);
      expect(r.code, describeRun(r)).toBe(0);
    }
    await cli(['publish', b01.wheel, b01.sdist]);
    await cli(['yank', 'bk-alpha==1.1', '--reason', 'broken build']);
    await cli(['owner', 'add', 'bk-alpha', 'bob']);
    for (let i = 0; i < 3; i++) expect((await fetch(`${base}/packages/bk_alpha-1.0-py3-none-any.whl`)).status).toBe(200);
  }, 300_000);

  afterAll(async () => {
    if (opts) await runCli(['stop'], opts);
    await removeTemp(root);
  });

  it('backs up while twine uploads, restores into a wiped data folder, and the index answers as before', async () => {
    const busy = await Promise.all(BUSY_VERSIONS.map((v) => writeDists(join(root, 'd', `busy-${v}`), { name: 'bk-busy', version: v })));
    const uploads = (async () => {
      const results: RunResult[] = [];
      for (const d of busy) results.push(await twine([d.wheel], 'ann', passwords.ann as string));
      return results;
    })();
    await waitFor('the first busy upload', async () => (await fetch(`${base}/simple/bk-busy/`)).status === 200, 120_000);
    const dir = join(root, 'backup');
    const backup = await runCli(['backup', dir], opts);
    const results = await uploads;
    for (const r of results) expect(r.code, describeRun(r)).toBe(0);
    expect(backup.code, describeRun(backup)).toBe(0);
    expect(backup.stdout).toContain(`Backed up the index to ${dir}`);
    expect(backup.stdout).toContain('from the running daemon');
    expect(backup.stdout).toContain('3 users, 1 API token, the settings file');

    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { files: Record<string, unknown>; counts: Record<string, number>; missing: unknown[] };
    expect(manifest.missing).toEqual([]);
    expect(manifest.counts).toMatchObject({ projects: 3, owners: 4, yankedReleases: 1, downloads: 3, users: 3, tokens: 1 });
    const busyInBackup = Object.keys(manifest.files)
      .filter((k) => k.startsWith('packages/bk_busy-'))
      .map((k) => k.slice('packages/'.length))
      .sort();
    expect(busyInBackup.length).toBeGreaterThan(0);

    const before = { alpha: await answers(base, 'bk-alpha'), beta: await answers(base, 'bk-beta') };
    const listBefore = (await projectList(base)).filter((p) => p.name !== 'bk-busy');
    const busyBefore = (JSON.parse((await cli(['info', 'bk-busy', '--json'])).stdout) as ProjectDetail).releases.flatMap((r) => r.files);
    expect((before.alpha.detail as { parsed: ProjectDetail }).parsed.releases.find((r) => r.version === '1.1')).toMatchObject({ yanked: true, yankedReason: 'broken build', yankedBy: 'admin' });

    // A running daemon and an index already there are refused.
    const refused = await runCli(['restore', dir], opts);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('pyrepo is running');
    await cli(['stop']);
    const there = await runCli(['restore', dir], opts);
    expect(there.code).toBe(1);
    expect(there.stderr).toContain('An index is already there');

    rmSync(join(root, 'pyrepo-home', 'data'), { recursive: true, force: true });
    const restore = await cli(['restore', dir]);
    expect(restore.stdout).toContain(`from ${dir}:`);
    expect(restore.stdout).toContain('3 projects');
    expect(restore.stdout).toContain('1 yanked release, 3 downloads');
    await cli(['start']);
    base = await runningBaseUrl(opts);
    await waitFor('the first indexing', async () => (JSON.parse((await runCli(['status', '--json'], opts)).stdout) as { indexing?: boolean }).indexing === false, 30_000);

    expect({ alpha: await answers(base, 'bk-alpha'), beta: await answers(base, 'bk-beta') }).toEqual(before);
    expect((await projectList(base)).filter((p) => p.name !== 'bk-busy')).toEqual(listBefore);
    // Of the project uploaded during the backup, exactly what the snapshot held, as it was.
    const busyAfter = (JSON.parse((await cli(['info', 'bk-busy', '--json'])).stdout) as ProjectDetail).releases.flatMap((r) => r.files);
    expect(busyAfter.map((f) => f.filename).sort()).toEqual(busyInBackup);
    for (const f of busyAfter) expect(busyBefore.find((b) => b.filename === f.filename)).toEqual(f);

    // The users and the token still log in.
    const a20 = await writeDists(join(root, 'd', 'a20'), { name: 'bk-alpha', version: '2.0' });
    const a21 = await writeDists(join(root, 'd', 'a21'), { name: 'bk-alpha', version: '2.1' });
    const a22 = await writeDists(join(root, 'd', 'a22'), { name: 'bk-alpha', version: '2.2' });
    for (const [file, user, password] of [[a20.wheel, 'ann', passwords.ann], [a21.wheel, '__token__', token], [a22.wheel, 'bob', passwords.bob]] as const) {
      const r = await twine([file], user, password as string);
      expect(r.code, `${user}: ${describeRun(r)}`).toBe(0);
    }
    const after = (JSON.parse((await cli(['info', 'bk-alpha', '--json'])).stdout) as ProjectDetail).releases.map((r) => [r.version, r.files[0]?.uploadedBy]);
    expect(after.slice(0, 3)).toEqual([
      ['2.2', 'bob'],
      ['2.1', expect.stringMatching(/^ann \(token [a-z0-9]{8} "ci"\)$/)],
      ['2.0', 'ann'],
    ]);
  }, 600_000);
});
