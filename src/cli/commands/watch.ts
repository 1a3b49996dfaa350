/**
 * `pyrepo watch [DIR]`, `pyrepo watch list`, `pyrepo watch remove DIR`: auto-publish.
 * The daemon does the watching, so it goes on after the terminal closes and survives
 * restarts. Builds are published as the admin identity this CLI signs in with, or as the
 * user named with `--as` (whose ownership rules then apply, as to their own uploads).
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { WatchInfo } from '../../shared/api.js';
import { resolvePaths } from '../../shared/paths.js';
import { UsageError } from '../errors.js';
import { withJson } from '../options.js';
import { colors, formatTable, note, printJson, say } from '../output.js';
import { connectToDaemon } from '../services/daemon-access.js';
import { followWatches, listWatches, registerWatch, removeWatch, resolveWatchTarget, settleWatch } from '../services/watch.js';
import { COMMAND_HEADS } from '../command-heads.js';

interface WatchFlags {
  dir?: string;
  newOnly: boolean;
  replace?: boolean;
  poll?: boolean;
  as?: string;
  report?: string;
  follow: boolean;
  wait: number;
  json: boolean;
}

interface ListFlags {
  json: boolean;
}

interface RemoveFlags {
  dir: string;
  json: boolean;
}

/** The refusals of a watch, each with its reason and fix, indented under a heading line. */
function refusalLines(w: WatchInfo): string[] {
  const { yellow } = colors();
  return w.refusals.flatMap((r) => [`  ${yellow('refused')} ${r.filename}: ${r.reason}`, ...(r.fix ? [`    ${r.fix}`] : [])]);
}

function stateText(w: WatchInfo): string {
  const c = colors();
  const polling = w.mode === 'polling' ? ' (polling)' : '';
  if (w.state === 'watching') return c.green(`watching${polling}`);
  return w.state === 'missing' ? c.yellow('missing') : c.red('error');
}

/** Follows the publishes until Ctrl-C, which leaves every watch in place. */
async function follow(client: Parameters<typeof followWatches>[0]): Promise<void> {
  note('Following the publishes of the watched folders; Ctrl-C stops following (the folders stay watched).');
  const stop = new AbortController();
  const end = () => stop.abort();
  process.once('SIGINT', end);
  process.once('SIGTERM', end);
  try {
    await followWatches(client, (line) => say(line), stop.signal);
  } finally {
    process.off('SIGINT', end);
    process.off('SIGTERM', end);
  }
}

const listCommand: CommandModule<object, ListFlags> = {
  command: 'list',
  aliases: ['ls'],
  describe: 'Show each watched folder: its project, state, last publish and refusals',
  builder: (yargs: Argv) => withJson(yargs) as unknown as Argv<ListFlags>,
  handler: async (argv: ArgumentsCamelCase<ListFlags>) => {
    const { client } = await connectToDaemon(resolvePaths());
    const watches = await listWatches(client);
    if (argv.json) return printJson({ watches });
    if (watches.length === 0) {
      say('No folder is watched. `pyrepo watch` in a project folder publishes its builds as they finish.');
      return;
    }
    const c = colors();
    const rows = watches.map((w) => [
      w.dir,
      w.project ?? '-',
      stateText(w),
      w.lastPublish ? `${w.lastPublish.filename} ${w.lastPublish.time.slice(0, 16).replace('T', ' ')}${w.lastPublish.status === 'replaced' ? ' (replaced)' : ''}` : '-',
      w.refusals.length > 0 ? c.yellow(String(w.refusals.length)) : '0',
    ]);
    say(formatTable(['folder', 'project', 'state', 'last publish', 'refused'], rows, [4]));
    for (const w of watches) {
      const extra = [
        ...(w.stateDetail && w.state !== 'watching' ? [`  ${w.stateDetail}`] : []),
        ...(w.modeReason ? [`  ${w.modeReason}`] : []),
        ...(w.pending.length > 0 ? [`  waiting to be complete: ${w.pending.join(', ')}`] : []),
        ...refusalLines(w),
      ];
      if (extra.length > 0) say(`\n${c.bold(w.dir)} (as ${w.user}${w.replace ? ', --replace' : ''})\n${extra.join('\n')}`);
    }
  },
};

const removeCommand: CommandModule<object, RemoveFlags> = {
  command: 'remove <dir>',
  aliases: ['rm'],
  describe: 'Stop watching a folder (what it published stays on the index)',
  builder: (yargs: Argv) =>
    withJson(yargs).positional('dir', { type: 'string', describe: 'The watched folder, or its project folder', demandOption: true }) as unknown as Argv<RemoveFlags>,
  handler: async (argv: ArgumentsCamelCase<RemoveFlags>) => {
    const { client } = await connectToDaemon(resolvePaths());
    const removed = await removeWatch(client, process.cwd(), argv.dir);
    if (argv.json) return printJson({ removed });
    say(`No longer watching ${removed.dir}; what it published stays on the index.`);
  },
};

export const watchCommand: CommandModule<object, WatchFlags> = {
  ...COMMAND_HEADS.watch,
  builder: (yargs: Argv) =>
    withJson(yargs)
      .command(listCommand)
      .command(removeCommand)
      .positional('dir', { type: 'string', describe: 'The folder builds go to, or a project folder (its dist/); default ./dist' })
      .option('new-only', { type: 'boolean', default: false, describe: 'Leave the files already in the folder; publish only new builds' })
      .option('replace', { type: 'boolean', describe: 'Let a rebuild replace a file of the same version (a local development loop); --no-replace turns it off', defaultDescription: 'false' })
      .option('poll', { type: 'boolean', describe: 'Poll instead of filesystem events (network filesystems); --no-poll turns it off', defaultDescription: 'false' })
      .option('as', { type: 'string', requiresArg: true, describe: "Publish as this user (their ownership rules apply); default: pyrepo's admin identity" })
      .option('report', { type: 'string', requiresArg: true, describe: 'The `python -m build --report` file to follow (default <dir>/build-report.json)' })
      .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'Then print the publishes of the watched folders as they happen, until Ctrl-C' })
      .option('wait', { type: 'number', default: 60, describe: 'Seconds to wait for the files already in the folder to be published' })
      .example('$0 watch', "Publish ./dist's builds (in a project folder)")
      .example('$0 watch ~/src/mylib --replace -f', 'A development loop: every rebuild is installable, even of the same version')
      .example('$0 watch list', 'What is watched, and what was refused and why')
      .example('$0 watch remove ~/src/mylib', 'Stop watching it') as unknown as Argv<WatchFlags>,
  handler: async (argv: ArgumentsCamelCase<WatchFlags>) => {
    if (!Number.isFinite(argv.wait) || argv.wait < 0) throw new UsageError('--wait needs a number of seconds, 0 or more.');
    const paths = resolvePaths();
    // `--follow` alone outside a project only follows; anywhere else the folder is registered first.
    let target;
    try {
      target = resolveWatchTarget(process.cwd(), argv.dir);
    } catch (err) {
      if (!(argv.follow && argv.dir === undefined)) throw err;
    }
    const { client } = await connectToDaemon(paths);
    if (!target) return follow(client);
    const registration = await registerWatch(client, target, {
      ...(argv.newOnly ? { newOnly: true } : {}),
      // Given or not: a folder registered again keeps what was not given.
      ...(argv.replace !== undefined ? { replace: argv.replace } : {}),
      ...(argv.poll !== undefined ? { poll: argv.poll } : {}),
      ...(argv.as !== undefined ? { as: argv.as } : {}),
      ...(argv.report !== undefined ? { report: argv.report } : {}),
    });
    const existing = registration.existing.length;
    const settled = existing > 0 && argv.wait > 0 ? await settleWatch(client, registration.watch.id, argv.wait * 1000) : undefined;
    const watch = settled ?? registration.watch;
    if (argv.json && !argv.follow) return printJson({ ...registration, watch });
    const c = colors();
    const how = [watch.replace ? 'rebuilds may replace the same version' : '', watch.mode === 'polling' ? 'polling' : ''].filter(Boolean).join(', ');
    say(
      `${registration.created ? 'Watching' : 'Still watching'} ${c.bold(watch.dir)} for builds to publish as ${watch.user}` +
        `${watch.project ? ` (project ${watch.project})` : ''}${how ? `; ${how}` : ''}.`,
    );
    if (watch.state !== 'watching' && watch.stateDetail) say(`  ${watch.stateDetail}`);
    if (existing > 0) {
      const refused = new Set(watch.refusals.map((r) => r.filename));
      const done = registration.existing.filter((f) => !refused.has(f) && !watch.pending.includes(f));
      if (done.length > 0) say(`On the index: ${done.join(', ')}.`);
      if (watch.pending.length > 0) say(`Still waiting to be complete: ${watch.pending.join(', ')}.`);
    }
    for (const line of refusalLines(watch)) say(line);
    if (!registration.created) say('It was watched already: its options are now as given, and its files were looked at again.');
    say(c.dim(`It stays watched after this terminal closes and across restarts: \`pyrepo watch list\` shows it, \`pyrepo watch remove ${watch.dir}\` ends it.`));
    if (argv.follow) await follow(client);
  },
};
