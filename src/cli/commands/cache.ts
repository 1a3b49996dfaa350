/**
 * `pyrepo cache status | prune | purge [project]`: the upstream proxy's cache of pages,
 * files and core metadata (see README, "Upstream").
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { formatBytes, formatDuration } from '../../shared/format.js';
import { isValidProjectName, normalizeName } from '../../shared/names.js';
import { resolvePaths } from '../../shared/paths.js';
import { COMMAND_HEADS } from '../command-heads.js';
import { UsageError } from '../errors.js';
import { withJson } from '../options.js';
import { printJson, say } from '../output.js';
import { confirmOrAbort } from '../prompt.js';
import { connectToDaemon } from '../services/daemon-access.js';
import { cacheStatus, cacheSummary, pruneCache, purgeCache, removalText } from '../services/upstream-cache.js';

interface JsonFlags {
  json: boolean;
}

interface PurgeFlags extends JsonFlags {
  project?: string;
  yes: boolean;
}

const statusCommand: CommandModule<object, JsonFlags> = {
  command: 'status',
  describe: 'Show the cache: size, cap, age limit, hit rate, downloads',
  builder: (yargs: Argv) => withJson(yargs) as unknown as Argv<JsonFlags>,
  handler: async (argv: ArgumentsCamelCase<JsonFlags>) => {
    const { client } = await connectToDaemon(resolvePaths());
    const s = await cacheStatus(client);
    if (argv.json) return printJson(s);
    const downloads = s.downloads.reduce((n, d) => n + d.downloads, 0);
    say(`Upstream:   ${s.url}`);
    say(`Cache:      ${cacheSummary(s)}`);
    say(`Pages:      ${s.projects} project${s.projects === 1 ? '' : 's'}`);
    say(`Limits:     ${s.capBytes > 0 ? `cap ${formatBytes(s.capBytes)} (least recently used files go first)` : 'no size cap'}; ${s.maxAgeSeconds > 0 ? `files not downloaded for ${formatDuration(s.maxAgeSeconds)} are pruned` : 'no age limit'}`);
    say(`Requests:   ${s.hits} from the cache, ${s.misses} waited for upstream, ${s.failures} upstream failure${s.failures === 1 ? '' : 's'} (since the daemon started)`);
    say(`Downloads:  ${downloads}${downloads > 0 ? ` (${s.downloads.map((d) => `${d.installer} ${d.downloads}`).join(', ')})` : ''}`);
  },
};

const pruneCommand: CommandModule<object, JsonFlags> = {
  command: 'prune',
  describe: 'Remove files past the age limit, and the least recently used ones over the cap, now',
  builder: (yargs: Argv) => withJson(yargs) as unknown as Argv<JsonFlags>,
  handler: async (argv: ArgumentsCamelCase<JsonFlags>) => {
    const { client } = await connectToDaemon(resolvePaths());
    const removed = await pruneCache(client);
    if (argv.json) return printJson(removed);
    say(removalText(removed, 'the upstream cache'));
  },
};

const purgeCommand: CommandModule<object, PurgeFlags> = {
  command: 'purge [project]',
  describe: "Forget what was cached from upstream (of one project): it is fetched again when asked for",
  builder: (yargs: Argv) =>
    withJson(yargs)
      .positional('project', { type: 'string', describe: 'Only this project' })
      .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Purge everything without asking' }) as unknown as Argv<PurgeFlags>,
  handler: async (argv: ArgumentsCamelCase<PurgeFlags>) => {
    if (argv.project !== undefined && !isValidProjectName(argv.project)) throw new UsageError(`'${argv.project}' is not a project name.`);
    const { client } = await connectToDaemon(resolvePaths());
    if (argv.project === undefined) await confirmOrAbort('Forget everything cached from upstream? Until it is fetched again, it cannot be installed with upstream unreachable.', argv.yes);
    const project = argv.project === undefined ? undefined : normalizeName(argv.project);
    const removed = await purgeCache(client, project);
    if (argv.json) return printJson(removed);
    say(removalText(removed, project ? `the upstream cache of ${project}` : 'the upstream cache'));
  },
};

export const cacheCommand: CommandModule = {
  ...COMMAND_HEADS.cache,
  builder: (yargs: Argv) =>
    yargs
      .command(statusCommand)
      .command(pruneCommand)
      .command(purgeCommand)
      .demandCommand(1, 'Say what to do: `pyrepo cache status`, `prune` or `purge [project]`.')
      .example('$0 cache status', 'Size, cap and hit rate of the upstream cache')
      .example('$0 cache purge requests', 'Fetch requests from upstream again next time'),
  handler: () => undefined,
};
