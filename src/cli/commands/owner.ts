/** `pyrepo owner add | remove | list`: who besides admins may upload to a project. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { OwnerList, OwnerRole } from '../../shared/api.js';
import { resolvePaths } from '../../shared/paths.js';
import { withJson } from '../options.js';
import { formatTable, printJson, say } from '../output.js';
import { asAbort, connectToDaemon } from '../services/daemon-access.js';
import { COMMAND_HEADS } from '../command-heads.js';

interface OwnerFlags {
  project: string;
  user: string;
  role: OwnerRole;
  json: boolean;
}

async function client() {
  return (await connectToDaemon(resolvePaths())).client;
}

function fail(err: unknown): never {
  throw asAbort(err);
}

function printOwners(list: OwnerList): void {
  if (list.owners.length === 0) {
    say(`${list.project} has no owners yet: the first user to upload it becomes its owner. Admins may always upload.`);
    return;
  }
  say(formatTable(['user', 'role'], list.owners.map((o) => [o.user, o.role])));
}

const addCommand: CommandModule<object, OwnerFlags> = {
  command: 'add <project> <user>',
  describe: 'Let a user upload to a project',
  builder: (yargs: Argv) =>
    withJson(yargs)
      .positional('project', { type: 'string', demandOption: true })
      .positional('user', { type: 'string', demandOption: true })
      .option('role', { type: 'string', choices: ['maintainer', 'owner'], default: 'maintainer', describe: 'Both may upload; owner marks who the project belongs to' })
      .epilog('The project need not exist yet: adding an owner first reserves the name for them.')
      .example('$0 owner add mypkg ann', 'Ann may upload mypkg too') as unknown as Argv<OwnerFlags>,
  handler: async (argv: ArgumentsCamelCase<OwnerFlags>) => {
    const list = await (await client()).addOwner(argv.project, argv.user, argv.role).catch(fail);
    if (argv.json) return printJson(list);
    say(`'${argv.user}' is now ${argv.role === 'owner' ? 'an owner' : 'a maintainer'} of ${list.project}.`);
  },
};

const removeCommand: CommandModule<object, OwnerFlags> = {
  command: 'remove <project> <user>',
  aliases: ['rm'],
  describe: "Take a user off a project's owners and maintainers",
  builder: (yargs: Argv) =>
    withJson(yargs)
      .positional('project', { type: 'string', demandOption: true })
      .positional('user', { type: 'string', demandOption: true })
      .epilog('With no owner left, the next user to upload the project becomes its owner.')
      .example('$0 owner remove mypkg ann', 'Ann may no longer upload mypkg') as unknown as Argv<OwnerFlags>,
  handler: async (argv: ArgumentsCamelCase<OwnerFlags>) => {
    const list = await (await client()).removeOwner(argv.project, argv.user).catch(fail);
    if (argv.json) return printJson(list);
    say(`'${argv.user}' may no longer upload ${list.project}.`);
  },
};

const listCommand: CommandModule<object, OwnerFlags> = {
  command: 'list <project>',
  aliases: ['ls'],
  describe: "Show a project's owners and maintainers",
  builder: (yargs: Argv) =>
    withJson(yargs)
      .positional('project', { type: 'string', demandOption: true })
      .example('$0 owner list mypkg', 'Who may upload mypkg') as unknown as Argv<OwnerFlags>,
  handler: async (argv: ArgumentsCamelCase<OwnerFlags>) => {
    const list = await (await client()).owners(argv.project).catch(fail);
    if (argv.json) return printJson(list);
    printOwners(list);
  },
};

export const ownerCommand: CommandModule = {
  ...COMMAND_HEADS.owner,
  builder: (yargs: Argv) =>
    yargs
      .command(addCommand)
      .command(removeCommand)
      .command(listCommand)
      .demandCommand(1, 'Say which: `pyrepo owner add`, `remove` or `list`.')
      .epilog('The first user to upload a project owns it; others get 403 unless they are admins or listed here. Needs the daemon running.')
      .example('$0 owner add mypkg ann', 'Ann may upload mypkg')
      .example('$0 owner list mypkg', 'Who may'),
  handler: () => undefined,
};
