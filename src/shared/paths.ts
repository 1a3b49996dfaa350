/**
 * Every path pyrepo uses comes from here. Defaults follow each OS's conventions
 * (XDG on Linux) through env-paths; `PYREPO_HOME` puts everything under one folder,
 * which is what tests and portable installs use.
 */
import { join, resolve } from 'node:path';
import envPaths from 'env-paths';

/** Where pyrepo keeps its own files. */
export interface PyrepoPaths {
  /** Catalog, default packages folder and daemon state. */
  dataDir: string;
  /** Settings. */
  configDir: string;
  /** Daemon logs. */
  logDir: string;
}

/** Resolves pyrepo's folders from the environment (`PYREPO_HOME` wins over the OS defaults). */
export function resolvePaths(env: NodeJS.ProcessEnv = process.env): PyrepoPaths {
  const home = env.PYREPO_HOME;
  if (home) {
    const root = resolve(home);
    return { dataDir: join(root, 'data'), configDir: join(root, 'config'), logDir: join(root, 'logs') };
  }
  const p = envPaths('pyrepo', { suffix: '' });
  return { dataDir: p.data, configDir: p.config, logDir: p.log };
}

/** The files inside a data folder. */
export interface DataLayout {
  dataDir: string;
  /** The default packages folder when none is configured. */
  defaultPackagesDir: string;
  /** The SQLite catalog. */
  catalogFile: string;
  /** Written by a running daemon (pid, port, version); removed when it stops. */
  stateFile: string;
  /** What MicroPython boards are served (module files, upip tarballs), derived from the distributions; safe to delete. */
  boardCacheDir: string;
  /** The upstream proxy's cache: its pages, files and core metadata (safe to delete; `pyrepo cache purge` does it). */
  upstreamDir: string;
  /** The shared mode's uploads on their way to the bucket (emptied at start). */
  spoolDir: string;
  /** Present only while `pyrepo restore` moves files into place (or after it was cut off there): the daemon will not start. */
  restoreJournal: string;
}

/** Names the files inside `dataDir`. */
export function dataLayout(dataDir: string): DataLayout {
  const dir = resolve(dataDir);
  return {
    dataDir: dir,
    defaultPackagesDir: join(dir, 'packages'),
    catalogFile: join(dir, 'catalog.sqlite'),
    stateFile: join(dir, 'daemon.json'),
    boardCacheDir: join(dir, 'board-cache'),
    upstreamDir: join(dir, 'upstream'),
    spoolDir: join(dir, 'spool'),
    restoreJournal: join(dir, '.restore-journal.json'),
  };
}

/** The daemon's log file, where `pyrepo start` sends its output and `pyrepo logs` reads. */
export function daemonLogFile(paths: PyrepoPaths): string {
  return join(paths.logDir, 'daemon.log');
}
