/**
 * A throwaway PostgreSQL cluster for tests: `initdb` into a temporary folder, `pg_ctl start`
 * on a free loopback port (its socket in the same folder), a database for the test, and
 * `pg_ctl stop` plus the folder removed afterwards. Debian's `postgresql` package provides
 * the programs (`.ci/run` installs it). PostgreSQL refuses to run as root, so as root (CI)
 * the cluster belongs to the `postgres` user the package creates.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { userInfo, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './net.js';

const run = promisify(execFile);

/** The newest `/usr/lib/postgresql/<major>/bin`, where Debian keeps initdb and pg_ctl. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] === undefined ? undefined : join(root, majors[0], 'bin');
}

export interface PostgresCluster {
  /** `postgres://…` for the test's database, over TCP on 127.0.0.1. */
  url: string;
  port: number;
  /** Runs SQL with psql (for tests that look behind the daemon's back); returns its output. */
  psql(sql: string): Promise<string>;
  /** Stops the server (fast shutdown) and keeps the folder: `start()` brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes the folder. */
  destroy(): Promise<void>;
}

/** Starts a cluster; throws with the reason when the programs are missing or it does not start. */
export async function startPostgres(opts: { database?: string } = {}): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL's programs are missing: install Debian's postgresql package (.ci/run does).");
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'pyrepo-pg-'));
  const data = join(dir, 'data');
  if (asRoot) chownSync(dir, Number((await run('id', ['-u', 'postgres'])).stdout.trim()), Number((await run('id', ['-g', 'postgres'])).stdout.trim()));
  const as = (cmd: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]) : run(join(bin, cmd), args));
  const port = await freePort();
  const database = opts.database ?? 'pyrepo';
  await as('initdb', ['-D', data, '-U', 'pyrepo', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const start = async () => {
    await as('pg_ctl', [
      '-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30',
      '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`,
      'start',
    ]);
  };
  const stop = async () => {
    await as('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
  };
  const psql = async (sql: string) => (await as('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'pyrepo', '-d', database, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql])).stdout;
  try {
    await start();
    await as('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'pyrepo', database]);
  } catch (err) {
    await stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `postgres://pyrepo@127.0.0.1:${port}/${database}`,
    port,
    psql,
    stop,
    start,
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
