/**
 * `pyrepo user remove` with the built CLI and a background daemon: the user's password and
 * tokens stop working at once; they are taken off the projects that keep an owner without
 * them and stay listed on the ones they alone own (which nobody can then claim by
 * uploading), and the command says which, with the commands to hand those over. With the
 * daemon stopped it changes nothing and says why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, isolatedEnv, makeTempRoot, removeTemp, runCli, runningBaseUrl, uploadBody, waitFor, type RunOptions } from '../helpers/daemon.js';
import { buildWheel, wheelFilename, type DistSpec } from '../helpers/dists.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('pyrepo user remove', () => {
  let root: string;
  let opts: RunOptions;
  let base: string;

  const addUser = async (name: string) => {
    const r = await runCli(['user', 'add', name, '--password-stdin'], { ...opts, input: `${name}-password\n` });
    expect(r.code, r.output).toBe(0);
  };
  const uploadAs = async (user: string, spec: DistSpec) => {
    const { body, contentType } = uploadBody({ name: spec.name, version: spec.version, filetype: 'bdist_wheel' }, wheelFilename(spec), buildWheel(spec));
    const res = await fetch(`${base}/legacy/`, { method: 'POST', headers: { 'content-type': contentType, authorization: basic(user, `${user}-password`) }, body });
    return res.status;
  };
  const owners = async (project: string) => {
    const r = await runCli(['owner', 'list', project, '--json'], opts);
    expect(r.code, r.output).toBe(0);
    return (JSON.parse(r.stdout) as { owners: { user: string; role: string }[] }).owners;
  };

  beforeAll(async () => {
    ensureBuilt();
    root = await makeTempRoot('pyrepo-users-');
    opts = { env: isolatedEnv(root), cwd: root, timeoutMs: 60_000 };
    const init = await runCli(['init', '--yes', '--no-configure', '--port', '0'], opts);
    expect(init.code, init.output).toBe(0);
    base = await runningBaseUrl(opts);
    for (const name of ['ann', 'bob', 'carl']) await addUser(name);
  }, 120_000);

  afterAll(async () => {
    if (opts) await runCli(['stop'], opts);
    await removeTemp(root);
  });

  it('removes the user, takes them off shared projects, keeps them on the ones they alone own and says how to hand those over', async () => {
    expect(await uploadAs('ann', { name: 'ann-only', version: '1.0' })).toBe(200);
    expect(await uploadAs('bob', { name: 'bob-lib', version: '1.0' })).toBe(200);
    expect((await runCli(['owner', 'add', 'bob-lib', 'ann'], opts)).code).toBe(0);
    expect(await uploadAs('ann', { name: 'co-owned', version: '1.0' })).toBe(200);
    expect((await runCli(['owner', 'add', 'co-owned', 'carl', '--role', 'owner'], opts)).code).toBe(0);
    const made = await runCli(['token', 'create', '--user', 'ann', '--json'], opts);
    const { token } = JSON.parse(made.stdout) as { token: string };

    const r = await runCli(['user', 'remove', 'ann'], opts);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain("Removed the user 'ann' and revoked 1 token.");
    expect(r.stdout).toContain("Took 'ann' off 2 projects: bob-lib (maintainer), co-owned (owner).");
    expect(r.stdout).toContain("'ann' stays listed on ann-only (owner): nobody else owns it");
    expect(r.stdout).toContain('pyrepo owner add ann-only <new owner> --role owner && pyrepo owner remove ann-only ann');

    expect(await owners('bob-lib')).toEqual([{ user: 'bob', role: 'owner' }]);
    expect(await owners('co-owned')).toEqual([{ user: 'carl', role: 'owner' }]);
    expect(await owners('ann-only')).toEqual([{ user: 'ann', role: 'owner' }]);
    // Her password and token no longer work; nobody else can claim what stays hers.
    await waitFor('ann to be refused', async () => (await uploadAs('ann', { name: 'ann-only', version: '1.1' })) === 401, 10_000);
    const withToken = await fetch(`${base}/legacy/`, { method: 'POST', headers: { authorization: basic('__token__', token) } });
    expect(withToken.status).toBe(401);
    expect(await uploadAs('carl', { name: 'ann-only', version: '1.1' })).toBe(403);

    // Handing it over as the output says.
    expect((await runCli(['owner', 'add', 'ann-only', 'carl', '--role', 'owner'], opts)).code).toBe(0);
    expect((await runCli(['owner', 'remove', 'ann-only', 'ann'], opts)).code).toBe(0);
    expect(await uploadAs('carl', { name: 'ann-only', version: '1.1' })).toBe(200);
  });

  it('says so with --json, and when the user owned nothing', async () => {
    await addUser('dora');
    const r = await runCli(['user', 'remove', 'dora', '--json'], opts);
    expect(r.code, r.output).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ user: 'dora', tokens: 0, ownerships: { user: 'dora', removed: [], kept: [] } });
    await addUser('eve');
    const text = await runCli(['user', 'remove', 'eve'], opts);
    expect(text.stdout).toContain("'eve' owned or maintained no project.");
  });

  it('changes nothing while the daemon is stopped, and says why', async () => {
    expect((await runCli(['stop'], opts)).code).toBe(0);
    const r = await runCli(['user', 'remove', 'bob'], opts);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("The pyrepo daemon is not running, and it keeps which projects 'bob' owns; nothing was changed.");
    expect(r.stderr).toContain('pyrepo start');
    const list = await runCli(['user', 'list', '--json'], opts);
    expect((JSON.parse(list.stdout) as { users: { name: string }[] }).users.map((u) => u.name)).toContain('bob');
  });
});
