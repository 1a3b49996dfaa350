/**
 * The daemon's entry: the only file that listens. `pyrepo serve` calls runDaemon() in
 * the foreground; run directly (`node main.js --settings <json>`) it is the background
 * daemon. It writes its state file (pid, port, version) after listening and removes it
 * when it stops.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { Value } from '@sinclair/typebox/value';
import { DaemonStateSchema, type DaemonState } from '../shared/api.js';
import { daemonClientFor } from '../shared/client.js';
import { dataLayout } from '../shared/paths.js';
import { describeAccess } from '../shared/access-policy.js';
import { anonymousLanUploadProblem, listenProblem } from '../shared/settings-checks.js';
import { DaemonSettingsSchema, type DaemonSettings } from '../shared/settings.js';
import { PYREPO_VERSION } from '../shared/version.js';
import { AppSettingsError, buildApp } from './app.js';
import { keepHeapSmall } from '../shared/heap-limits.js';

/** A start failure the user can fix (port taken, folder not writable). */
export class DaemonStartError extends Error {
  override readonly name = 'DaemonStartError';
}


export interface RunningDaemon {
  url: string;
  /** What anonymous callers may do and what needs credentials, in one sentence for the start message. */
  access: string;
  state: DaemonState;
  /** Stops accepting connections, lets requests in flight finish, removes the state file. */
  close(): Promise<void>;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, text, { mode: 0o600 });
  await rename(temp, path);
}

/**
 * The daemon already serving this data folder, if one answers: two daemons on one
 * catalog and packages folder would each believe they own them.
 */
async function liveDaemonOf(stateFile: string): Promise<DaemonState | undefined> {
  let state: unknown;
  try {
    state = JSON.parse(await readFile(stateFile, 'utf8'));
  } catch {
    return undefined;
  }
  if (!Value.Check(DaemonStateSchema, state) || state.pid === process.pid) return undefined;
  try {
    const health = await daemonClientFor(state, { timeoutMs: 1500 }).health();
    return health.pid === state.pid ? state : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the daemon and resolves once it is listening. */
export async function runDaemon(settings: DaemonSettings): Promise<RunningDaemon> {
  keepHeapSmall();
  const layout = dataLayout(settings.dataDir);
  const other = await liveDaemonOf(layout.stateFile);
  if (other) {
    throw new DaemonStartError(
      `Another pyrepo daemon (pid ${other.pid}) already serves the data folder ${layout.dataDir} at ${other.url}. Stop it first (pyrepo stop), or use another data folder.`,
    );
  }
  if (existsSync(layout.restoreJournal)) {
    // Serving now could serve half the old index and half the restored one.
    throw new DaemonStartError(
      `A restore into ${layout.dataDir} was interrupted while it moved files into place. Run \`pyrepo restore <backup folder>\` again (it first puts back what was there), then start.`,
    );
  }
  const lanProblem = anonymousLanUploadProblem(settings);
  if (lanProblem) throw new DaemonStartError(lanProblem);
  for (const dir of [layout.dataDir, settings.packagesDir]) {
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw new DaemonStartError(`Cannot create the folder ${dir}: ${(err as Error).message}. Choose another one or fix its permissions.`);
    }
  }
  let app;
  try {
    app = await buildApp({ settings, indexAfterListen: true });
  } catch (err) {
    if (err instanceof AppSettingsError) throw new DaemonStartError(err.message);
    throw err;
  }
  try {
    await app.listen({ host: settings.host, port: settings.port });
  } catch (err) {
    await app.close();
    const problem = listenProblem((err as NodeJS.ErrnoException).code, settings.host, settings.port);
    if (problem) throw new DaemonStartError(problem);
    throw err;
  }
  const port = (app.server.address() as AddressInfo).port;
  const url = `${settings.tlsCert ? 'https' : 'http'}://${urlHost(settings.host)}:${port}`;
  const access = describeAccess(settings);
  app.log.info(`Access: ${access}.`);
  const state: DaemonState = {
    pid: process.pid,
    url,
    host: settings.host,
    port,
    version: PYREPO_VERSION,
    startedAt: new Date().toISOString(),
    dataDir: layout.dataDir,
    packagesDir: settings.packagesDir,
    ...(settings.tlsCert ? { tlsCert: settings.tlsCert } : {}),
    instance: app.instance,
    settings,
  };
  const stateText = `${JSON.stringify(state, null, 2)}\n`;
  await writeAtomically(layout.stateFile, stateText);
  // If the data folder is deleted under a running daemon, the state file goes with it and
  // the CLI could neither find nor stop this process: put it back (the folder health
  // check reports the lost catalog).
  const keepState = setInterval(() => {
    if (closing || existsSync(layout.stateFile)) return;
    mkdir(layout.dataDir, { recursive: true })
      .then(() => writeAtomically(layout.stateFile, stateText))
      .then(
        () => app.log.warn(`The state file ${layout.stateFile} had disappeared (was the data folder deleted?); wrote it again.`),
        (err: unknown) => app.log.error(`Cannot write the state file ${layout.stateFile}: ${(err as Error).message}`),
      );
  }, 1000);
  keepState.unref();
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(keepState);
      await app.close();
      // Remove the state file only if it is still ours (another daemon may have replaced it).
      const current = await readFile(layout.stateFile, 'utf8').catch(() => '');
      if (current.includes(`"pid": ${process.pid},`)) await rm(layout.stateFile, { force: true });
    })());
  return { url, access, state, close };
}

/** Stops on SIGTERM/SIGINT, exiting 0 once requests in flight are done. */
export function stopOnSignals(daemon: RunningDaemon, log: (line: string) => void): void {
  const stop = (signal: string) => {
    log(`Received ${signal}; finishing requests in flight and stopping.`);
    daemon.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log(`Stopping failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

async function mainFromArgv(argv: string[]): Promise<void> {
  const at = argv.indexOf('--settings');
  const raw: unknown = at === -1 ? undefined : JSON.parse(argv[at + 1] ?? 'null');
  if (!Value.Check(DaemonSettingsSchema, raw)) {
    const first = [...Value.Errors(DaemonSettingsSchema, raw)][0];
    throw new DaemonStartError(`Invalid --settings: ${first ? `${first.path} ${first.message}` : 'expected a JSON object'}.`);
  }
  const daemon = await runDaemon(raw);
  stopOnSignals(daemon, (line) => process.stderr.write(`${line}\n`));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  mainFromArgv(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`pyrepo daemon: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof DaemonStartError ? 2 : 1);
  });
}
