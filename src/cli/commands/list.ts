/** `pyrepo list`: every project on the index with its latest version and counts. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { resolvePaths } from '../../shared/paths.js';
import { withJson } from '../options.js';
import { colors, formatTable, printJson, say } from '../output.js';
import { asAbort, connectToDaemon } from '../services/daemon-access.js';
import { COMMAND_HEADS } from '../command-heads.js';

interface ListFlags {
  json: boolean;
}

export const listCommand: CommandModule<object, ListFlags> = {
  ...COMMAND_HEADS.list,
  builder: (yargs: Argv) =>
    withJson(yargs)
      .example('$0 list', 'Projects, latest versions, files and downloads')
      .example('$0 list --json', 'The same for scripts') as unknown as Argv<ListFlags>,
  handler: async (argv: ArgumentsCamelCase<ListFlags>) => {
    const { client, state } = await connectToDaemon(resolvePaths());
    const list = await client.listProjects().catch((err: unknown) => {
      throw asAbort(err);
    });
    // The control API's answer as it is (ProjectListSchema).
    if (argv.json) return printJson(list);
    const { projects } = list;
    if (projects.length === 0) {
      say(`The index at ${state.url}/simple/ has no projects yet; \`pyrepo publish\` uploads some.`);
      return;
    }
    const c = colors();
    const rows = projects.map((p) => [
      c.bold(p.displayName),
      p.latestVersion ?? '-',
      String(p.versions),
      String(p.files),
      String(p.downloads),
      p.lastUpload ? p.lastUpload.slice(0, 10) : '-',
    ]);
    say(formatTable(['project', 'latest', 'versions', 'files', 'downloads', 'last upload'], rows, [2, 3, 4]));
    say(c.dim(`${projects.length} project${projects.length === 1 ? '' : 's'} at ${state.url}/simple/`));
  },
};
