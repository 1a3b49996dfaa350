/**
 * `pyrepo tui`: the live dashboard of the index on a terminal; a one-shot summary
 * (or JSON) when the output is not a terminal.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { ProjectSummary } from '../../shared/api.js';
import { formatDuration } from '../../shared/format.js';
import { resolvePaths, type PyrepoPaths } from '../../shared/paths.js';
import { AbortError } from '../errors.js';
import { withJson } from '../options.js';
import { colors, formatTable, printJson, say } from '../output.js';
import { askYesNo, canAsk } from '../prompt.js';
import { ensureAdminUser } from '../services/admin-identity.js';
import { asAbort, connectToDaemon, EXIT_NOT_RUNNING, type RunningDaemonAccess } from '../services/daemon-access.js';
import { startDaemon } from '../services/daemon-control.js';
import { resolveDaemonSettings } from '../services/daemon-settings.js';
import { loadSettings } from '../services/settings-store.js';
import { reportStart } from './start.js';
import { COMMAND_HEADS } from '../command-heads.js';

interface TuiFlags {
  readonly: boolean;
  json: boolean;
}

/** The daemon, or on a terminal the offer to start it when it is not running. */
async function connectOrOffer(paths: PyrepoPaths, interactive: boolean): Promise<RunningDaemonAccess> {
  try {
    return await connectToDaemon(paths);
  } catch (err) {
    if (!(err instanceof AbortError) || err.exitCode !== EXIT_NOT_RUNNING || !interactive) throw err;
    if (!(await askYesNo('The pyrepo daemon is not running. Start it now?', true))) throw err;
    const stored = loadSettings(paths);
    const settings = resolveDaemonSettings({}, stored, paths);
    await ensureAdminUser(paths, settings.dataDir, stored.adminUser);
    reportStart(await startDaemon(settings, paths));
    return connectToDaemon(paths);
  }
}

function printSummary(access: RunningDaemonAccess, projects: ProjectSummary[]): void {
  const c = colors();
  const { state, health } = access;
  say(`${c.bold(`pyrepo ${health.version}`)} at ${state.url}/simple/ (pid ${health.pid}, up ${formatDuration(health.uptimeSeconds)}${health.indexing ? ', indexing' : ''})`);
  say(c.dim(`access: ${health.access}`));
  for (const p of health.problems) say(c.red(`! ${p}`));
  say();
  if (projects.length === 0) {
    say('No projects yet; `pyrepo publish` uploads some.');
  } else {
    const rows = projects.map((p) => [
      p.displayName,
      p.latestVersion ?? '-',
      String(p.versions),
      String(p.files),
      String(p.downloads),
      p.lastUpload ? p.lastUpload.slice(0, 16).replace('T', ' ') : '-',
    ]);
    say(formatTable(['project', 'latest', 'versions', 'files', 'downloads', 'last upload (UTC)'], rows, [2, 3, 4]));
  }
  const files = projects.reduce((a, p) => a + p.files, 0);
  const downloads = projects.reduce((a, p) => a + p.downloads, 0);
  say(c.dim(`\n${projects.length} project${projects.length === 1 ? '' : 's'}, ${files} file${files === 1 ? '' : 's'}, ${downloads} download${downloads === 1 ? '' : 's'}. On a terminal, \`pyrepo tui\` follows them live.`));
}

export const tuiCommand: CommandModule<object, TuiFlags> = {
  ...COMMAND_HEADS.tui,
  builder: (yargs: Argv) =>
    withJson(yargs)
      .option('readonly', { type: 'boolean', default: false, describe: 'Turn off yank, unyank and delete' })
      .epilog(
        'Full screen on a terminal (? lists the keys, q quits); a one-shot summary when the output is not a terminal. ' +
          'Exit status 3 when the daemon is not running (on a terminal it offers to start it).',
      )
      .example('$0 tui', 'Follow uploads and downloads live; yank and delete with a confirmation')
      .example('$0 tui --readonly', 'The same, with the admin keys off')
      .example('$0 tui | cat', 'A plain summary, as in scripts')
      .example('$0 tui --json', 'Health and projects as JSON') as unknown as Argv<TuiFlags>,
  handler: async (argv: ArgumentsCamelCase<TuiFlags>) => {
    const paths = resolvePaths();
    const interactive = !argv.json && canAsk();
    const access = await connectOrOffer(paths, interactive);
    if (!interactive) {
      const { projects } = await access.client.listProjects().catch((err: unknown) => {
        throw asAbort(err);
      });
      if (argv.json) return printJson({ url: access.state.url, health: access.health, projects });
      return printSummary(access, projects);
    }
    // Ink writes no frames, and its colour library no colours, while CI is set in any way (even
    // CI=false): they expect a log reader. A dashboard asked for on a terminal has a person in front.
    delete process.env.CI;
    delete process.env.CONTINUOUS_INTEGRATION;
    // React picks its build when it loads: the production one renders several times faster.
    process.env.NODE_ENV ??= 'production';
    const { runDashboard, clientLink } = await import('../../tui/index.js');
    // The first connection is the one just made; later ones find the daemon again (a restart may move its port).
    let first: RunningDaemonAccess | undefined = access;
    await runDashboard({
      readonly: argv.readonly,
      connect: async () => {
        const a = first ?? (await connectToDaemon(paths));
        first = undefined;
        return clientLink(a.client);
      },
    });
  },
};
