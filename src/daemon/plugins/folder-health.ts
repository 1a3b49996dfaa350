/**
 * Notices when the data or packages folder is deleted or stops being writable while the
 * daemon runs. Open files keep working after their folder is gone, so nothing would fail
 * loudly: uploads and counts would go to files nobody can see. The problems are logged
 * once when they appear and once when they clear (never in a loop), and /-/health reports
 * them, so `pyrepo status` and `pyrepo doctor` can say what is wrong.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyInstance {
    /** What is wrong with the daemon's folders right now (empty when all is well). */
    folderProblems(): Promise<string[]>;
  }
}

export interface FolderHealthOptions {
  folders: { label: string; path: string }[];
  /** Files that must exist (the catalog): gone means the folder holding them was deleted. */
  files?: { label: string; path: string; fix: string }[];
  /** How often to look, in ms. Default 5,000. */
  intervalMs?: number;
}

async function problemOf(label: string, path: string): Promise<string | undefined> {
  try {
    if (!(await stat(path)).isDirectory()) return `The ${label} ${path} is not a folder.`;
    await access(path, constants.W_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `The ${label} ${path} was deleted; restart pyrepo to create it again.`;
    if (code === 'EACCES' || code === 'EPERM') return `The ${label} ${path} is not writable; fix its permissions.`;
    return `The ${label} ${path} cannot be used: ${(err as Error).message}`;
  }
}

async function folderHealthPlugin(app: FastifyInstance, opts: FolderHealthOptions): Promise<void> {
  const fileProblem = async (f: { label: string; path: string; fix: string }) =>
    (await stat(f.path).then(
      () => undefined,
      () => `The ${f.label} ${f.path} was deleted; ${f.fix}.`,
    ));
  const check = async () =>
    (await Promise.all([...opts.folders.map((f) => problemOf(f.label, f.path)), ...(opts.files ?? []).map(fileProblem)])).filter(
      (p): p is string => p !== undefined,
    );
  app.decorate('folderProblems', check);

  let reported = new Set<string>();
  const watch = async () => {
    const now = new Set(await check());
    for (const problem of now) if (!reported.has(problem)) app.log.error(problem);
    for (const problem of reported) if (!now.has(problem)) app.log.info(`Resolved: ${problem}`);
    reported = now;
  };
  const timer = setInterval(() => void watch(), opts.intervalMs ?? 5000);
  timer.unref();
  app.addHook('onReady', watch);
  app.addHook('onClose', async () => clearInterval(timer));
}

export default fp(folderHealthPlugin, { name: 'pyrepo-folder-health' });
