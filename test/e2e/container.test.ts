/**
 * The container image, built from the Dockerfile and run for real with podman: the image's
 * facts, the daemon answering on loopback, the HEALTHCHECK, a twine upload and a pip install
 * through the published port, and a graceful stop on SIGTERM with the index kept in the volume.
 *
 * Opt-in (PYREPO_TEST_CONTAINER=1, as root, with podman, runc and debootstrap from Debian):
 * on a clean machine making the base image and building this one take about seven minutes
 * (debootstrap, `npm ci` compiling better-sqlite3), more than a CI run can give. With the base
 * made (scripts/container-base.sh keeps it) and the image's layers cached, a run takes about
 * a minute. `test/image/files.test.ts` checks the same facts in the files on every run.
 *
 * No container registry is needed: the base is made from Debian's mirror and the npm
 * registry (scripts/container-base.sh) and passed as NODE_IMAGE.
 */
import { spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDists } from '../helpers/dists.js';
import { GiveUp } from '../helpers/wait.js';
import { freePort } from '../helpers/net.js';
import { DEBIAN_PYTHON } from '../helpers/python.js';
import { isolatedEnv, makeTempRoot, removeTemp, REPO_ROOT, run, waitFor, type RunResult } from '../helpers/daemon.js';

const OPT_IN = process.env.PYREPO_TEST_CONTAINER === '1';
const BASE_IMAGE = process.env.PYREPO_TEST_CONTAINER_BASE ?? 'localhost/pyrepo-node-base:24';
const IMAGE = 'localhost/pyrepo:test';
const HEALTH_PATH = '/-/health';

const have = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore', timeout: 30_000 }).status === 0;

/**
 * How containers are run: with runc where it is installed (crun refuses hosts whose cgroups
 * are mounted in hybrid mode, which container hosts and VMs often are), and with limits
 * below the host's (podman asks for more open files than the host allows, and raising a
 * limit needs CAP_SYS_RESOURCE, which a container host may not give).
 */
const RUN_FLAGS = [...(have('runc') ? ['--runtime', 'runc'] : []), '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096'];

const suffix = `${process.pid}-${Date.now().toString(36)}`;
const volume = `pyrepo-test-data-${suffix}`;
const containers: string[] = [];
let root: string;
let env: NodeJS.ProcessEnv;

function podman(args: string[], timeoutMs = 120_000, input?: string): Promise<RunResult> {
  return run('podman', args, { env: process.env, cwd: REPO_ROOT, timeoutMs, ...(input === undefined ? {} : { input }) });
}

function explain(r: RunResult): string {
  return `exit ${String(r.code)}${r.timedOut ? ' (timed out)' : ''}\n--- stdout ---\n${r.stdout.slice(-4000)}\n--- stderr ---\n${r.stderr.slice(-4000)}`;
}

async function podmanOk(args: string[], timeoutMs?: number): Promise<string> {
  const r = await podman(args, timeoutMs);
  expect(r.code, `podman ${args.join(' ')}\n${explain(r)}`).toBe(0);
  return r.stdout.trim();
}

/** Starts a container of the image on a free loopback port with the test's volume; its name and URL once /-/health answers. */
async function startContainer(): Promise<{ name: string; url: string }> {
  const name = `pyrepo-test-${suffix}-${containers.length + 1}`;
  const port = await freePort();
  containers.push(name);
  await podmanOk(['run', '--detach', '--name', name, ...RUN_FLAGS, '--publish', `127.0.0.1:${port}:8645`, '--volume', `${volume}:/var/lib/pyrepo`, IMAGE]);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    `${name} to answer ${HEALTH_PATH}`,
    async () => {
      const state = (await podman(['inspect', '--format', '{{.State.Status}}', name])).stdout.trim();
      if (state !== 'running') throw new GiveUp(`${name} is ${state}:\n${(await podman(['logs', name])).output}`);
      const res = await fetch(`${url}${HEALTH_PATH}`, { signal: AbortSignal.timeout(2000) });
      return res.status === 200;
    },
    60_000,
    250,
  );
  return { name, url };
}

describe.skipIf(!OPT_IN)('the container image (podman)', () => {
  let first: { name: string; url: string };

  beforeAll(async () => {
    for (const tool of ['podman', 'debootstrap', 'twine']) {
      if (!have(tool)) throw new Error(`PYREPO_TEST_CONTAINER=1 needs ${tool} (apt-get install podman runc debootstrap twine).`);
    }
    root = await makeTempRoot('pyrepo-container-');
    env = isolatedEnv(root);
    // Kept between runs (FORCE=1 makes it again); the first one takes a few minutes.
    const base = await run('bash', [join(REPO_ROOT, 'scripts', 'container-base.sh'), BASE_IMAGE], { env: process.env, cwd: REPO_ROOT, timeoutMs: 900_000 });
    expect(base.code, `scripts/container-base.sh\n${explain(base)}`).toBe(0);
    // Built from this checkout each run (the layers cache all but what changed). `chroot`
    // isolation runs the build steps without an OCI runtime; `docker` format keeps the
    // HEALTHCHECK, which the OCI image format has no field for.
    await podmanOk(['build', '--isolation', 'chroot', '--format', 'docker', '--build-arg', `NODE_IMAGE=${BASE_IMAGE}`, '--tag', IMAGE, '.'], 1_200_000);
  }, 2_400_000);

  afterAll(async () => {
    for (const name of containers) await podman(['rm', '--force', '--volumes', '--time', '0', name]);
    await podman(['volume', 'rm', '--force', volume]);
    await removeTemp(root);
  });

  it('has a non-root user, the data folder as a volume, pyrepo serve as the entry, SIGTERM, and a HEALTHCHECK on /-/health', async () => {
    const [image] = JSON.parse(await podmanOk(['image', 'inspect', IMAGE])) as {
      Config: { User?: string; Entrypoint?: string[]; Volumes?: Record<string, unknown>; ExposedPorts?: Record<string, unknown>; StopSignal?: string; Env?: string[] };
      Healthcheck?: { Test?: string[] };
    }[];
    expect(image?.Config.User).toBe('pyrepo');
    expect(image?.Config.Entrypoint).toEqual(['pyrepo', 'serve', '--host', '0.0.0.0']);
    expect(Object.keys(image?.Config.Volumes ?? {})).toEqual(['/var/lib/pyrepo']);
    expect(Object.keys(image?.Config.ExposedPorts ?? {})).toEqual(['8645/tcp']);
    expect(image?.Config.StopSignal).toBe('SIGTERM');
    expect(image?.Config.Env).toContain('PYREPO_HOME=/var/lib/pyrepo');
    expect(image?.Healthcheck?.Test).toEqual(['CMD', 'node', '/opt/pyrepo/docker/healthcheck.mjs']);
  });

  it('serves on the published loopback port as uid 10001, and its HEALTHCHECK says healthy', async () => {
    first = await startContainer();
    const health = (await (await fetch(`${first.url}${HEALTH_PATH}`)).json()) as { status: string; dataDir: string };
    expect(health.status).toBe('ok');
    expect(health.dataDir).toBe('/var/lib/pyrepo/data');
    // Runs the image's HEALTHCHECK command once, now.
    const check = await podman(['healthcheck', 'run', first.name], 30_000);
    expect(check.code, explain(check)).toBe(0);
    // And it fails where nothing answers (a state file naming a port nobody listens on):
    // it is not a command that always succeeds.
    const nobody = await podman(['exec', first.name, 'sh', '-c', 'mkdir -p /tmp/h/data && echo \'{"port": 1}\' >/tmp/h/data/daemon.json && PYREPO_HOME=/tmp/h node /opt/pyrepo/docker/healthcheck.mjs']);
    expect(nobody.code, explain(nobody)).toBe(1);
    expect(nobody.stderr).toMatch(/\/-\/health on port 1: .*ECONNREFUSED/);
    expect(await podmanOk(['exec', first.name, 'id', '-u'])).toBe('10001');
  });

  it('takes a twine upload with a token made inside by `pyrepo token create`, and pip installs from it', async () => {
    const token = await podmanOk(['exec', first.name, 'pyrepo', 'token', 'create', '--name', 'container-test']);
    expect(token).toMatch(/^pyrepo_\S+$/);
    const dists = await writeDists(join(root, 'dists'), { name: 'container-probe', version: '1.0' });
    const upload = await run(
      'twine',
      ['upload', '--repository-url', `${first.url}/legacy/`, '-u', '__token__', '-p', token, '--non-interactive', '--disable-progress-bar', dists.wheel, dists.sdist],
      { env, cwd: root, timeoutMs: 120_000 },
    );
    expect(upload.code, explain(upload)).toBe(0);
    const target = join(root, 'target');
    const install = await run(DEBIAN_PYTHON, ['-m', 'pip', 'install', '--no-cache-dir', '--index-url', `${first.url}/simple/`, '--target', target, 'container-probe==1.0'], {
      env,
      cwd: root,
      timeoutMs: 120_000,
    });
    expect(install.code, explain(install)).toBe(0);
    expect((await readdir(target)).filter((n) => n.endsWith('.dist-info'))).toEqual(['container_probe-1.0.dist-info']);
  });

  it('stops on SIGTERM by itself (exit 0, well before the kill), and a new container on the volume serves the same index', async () => {
    const started = Date.now();
    // podman sends the image's STOPSIGNAL and kills only after 30 s.
    await podmanOk(['stop', '--time', '30', first.name], 60_000);
    const took = Date.now() - started;
    expect(took).toBeLessThan(15_000);
    expect(await podmanOk(['inspect', '--format', '{{.State.ExitCode}}', first.name])).toBe('0');
    expect((await podman(['logs', first.name])).output).toContain('Received SIGTERM; finishing requests in flight and stopping.');

    const second = await startContainer();
    const page = await fetch(`${second.url}/simple/container-probe/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
    expect(page.status).toBe(200);
    const files = ((await page.json()) as { files: { filename: string }[] }).files.map((f) => f.filename).sort();
    expect(files).toEqual(['container_probe-1.0-py3-none-any.whl', 'container_probe-1.0.tar.gz']);
  });
});
