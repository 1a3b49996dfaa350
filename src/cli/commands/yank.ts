/** `pyrepo yank` and `pyrepo unyank`: PEP 592, a release resolvers skip unless it is pinned. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { resolvePaths } from '../../shared/paths.js';
import { UsageError } from '../errors.js';
import { withJson } from '../options.js';
import { printJson, say } from '../output.js';
import { parseReleaseSpec } from '../release-spec.js';
import { connectToDaemon } from '../services/daemon-access.js';
import { aboutProject } from '../services/project-lookup.js';
import { COMMAND_HEADS } from '../command-heads.js';

interface YankFlags {
  spec: string;
  reason?: string;
  json: boolean;
}

export const yankCommand: CommandModule<object, YankFlags> = {
  ...COMMAND_HEADS.yank,
  builder: (yargs: Argv) =>
    withJson(yargs)
      .positional('spec', { type: 'string', describe: '<project>==<version>', demandOption: true })
      .option('reason', { type: 'string', describe: 'Why, shown by pip when someone installs it anyway' })
      .example('$0 yank mypkg==1.0.1 --reason "breaks on Python 3.8"', 'Yank with a reason') as unknown as Argv<YankFlags>,
  handler: async (argv: ArgumentsCamelCase<YankFlags>) => {
    const { project, version } = parseReleaseSpec(argv.spec, true);
    if (argv.reason !== undefined && argv.reason.length > 1000) throw new UsageError('--reason is limited to 1,000 characters.');
    const { client } = await connectToDaemon(resolvePaths());
    const result = await aboutProject(client, project, () => client.yank(project, version as string, argv.reason));
    if (argv.json) return printJson(result);
    say(`Yanked ${result.project} ${result.version}${result.yankedReason ? ` (${result.yankedReason})` : ''}. \`pyrepo unyank ${argv.spec}\` undoes it.`);
  },
};

export const unyankCommand: CommandModule<object, YankFlags> = {
  ...COMMAND_HEADS.unyank,
  builder: (yargs: Argv) =>
    withJson(yargs)
      .positional('spec', { type: 'string', describe: '<project>==<version>', demandOption: true })
      .example('$0 unyank mypkg==1.0.1', 'Make 1.0.1 installable again') as unknown as Argv<YankFlags>,
  handler: async (argv: ArgumentsCamelCase<YankFlags>) => {
    const { project, version } = parseReleaseSpec(argv.spec, true);
    const { client } = await connectToDaemon(resolvePaths());
    const result = await aboutProject(client, project, () => client.unyank(project, version as string));
    if (argv.json) return printJson(result);
    say(`${result.project} ${result.version} is no longer yanked.`);
  },
};
