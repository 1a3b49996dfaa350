/** `pyrepo user add | remove | passwd | role | list | import`: who may use the index, and as what. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { RoleSchema, type Role } from '../../shared/access-file.js';
import { resolvePaths } from '../../shared/paths.js';
import { AbortError } from '../errors.js';
import { withJson } from '../options.js';
import { colors, formatTable, note, printJson, say } from '../output.js';
import { askNewPassword, canAsk, readFirstLineOfStdin } from '../prompt.js';
import { changeAdminPassword, generatePassword } from '../services/admin-identity.js';
import { removeUserEverywhere, type UserRemoval } from '../services/user-removal.js';
import { addUser, checkPassword, importUsers, installationUsers, listUsers, setUserPassword, setUserRole } from '../services/users.js';
import { COMMAND_HEADS } from '../command-heads.js';

const ROLES = RoleSchema.anyOf.map((s) => s.const) as Role[];
const ROLE_HELP = 'admin: everything, including the control API; uploader: upload to projects they own or maintain, and read; reader: read only';

interface PasswordFlags {
  passwordStdin?: boolean;
  generate?: boolean;
}

/** This installation's user files and admin user. */
const context = () => installationUsers(resolvePaths());

function withPasswordOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('password-stdin', { type: 'boolean', describe: 'Read the password from the first line of standard input (for scripts)' })
    .option('generate', { type: 'boolean', describe: 'Make up a strong password and print it once' })
    .conflicts('password-stdin', 'generate');
}

/** The new password: generated, from stdin, or asked twice on a terminal. */
async function newPassword(flags: PasswordFlags, who: string): Promise<{ password: string; generated: boolean }> {
  if (flags.generate) return { password: generatePassword(), generated: true };
  let password: string;
  if (flags.passwordStdin) password = await readFirstLineOfStdin('password');
  else if (canAsk()) {
    password = await askNewPassword(`Password for ${who}`, (v) => {
      try {
        checkPassword(v);
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    });
  } else {
    throw new AbortError('No password given, and this is not a terminal to ask on.', 'Pass --password-stdin (and the password on standard input), or --generate.');
  }
  checkPassword(password);
  return { password, generated: false };
}

function roleOption<T>(yargs: Argv<T>, describe: string, fallback?: Role) {
  return yargs.option('role', { type: 'string', choices: ROLES, describe, ...(fallback ? { default: fallback } : {}) });
}

interface AddFlags extends PasswordFlags {
  name: string;
  role: Role;
}

const addCommand: CommandModule<object, AddFlags> = {
  command: 'add <name>',
  describe: 'Add a user with a password and a role',
  builder: (yargs: Argv) =>
    withPasswordOptions(roleOption(yargs.positional('name', { type: 'string', demandOption: true, describe: 'User name (no ":" or spaces)' }), ROLE_HELP, 'uploader'))
      .epilog('The password is stored as a bcrypt hash; the running daemon accepts the user within a second, no restart needed.')
      .example('$0 user add ann', 'Asks for the password twice (an uploader)')
      .example("printf '%s\\n' \"$PW\" | $0 user add ci --role uploader --password-stdin", 'From a script')
      .example('$0 user add board --role reader --generate', 'A read-only user with a generated password') as unknown as Argv<AddFlags>,
  handler: async (argv: ArgumentsCamelCase<AddFlags>) => {
    const { files } = context();
    const { password, generated } = await newPassword(argv, argv.name);
    await addUser(files, argv.name, password, argv.role);
    say(`Added the user '${argv.name}' (${argv.role}).`);
    if (generated) say(`Password: ${password}\n${colors().yellow('Shown once: keep it now (e.g. in a password manager).')}`);
  },
};

interface NameFlags {
  name: string;
}

/** What `user remove` did to the user's projects, in words. */
export function describeOwnerships(r: UserRemoval): string[] {
  const { user, ownerships } = r;
  const lines: string[] = [];
  const list = (ps: { project: string; role: string }[]) => ps.map((p) => `${p.project} (${p.role})`).join(', ');
  if (ownerships.removed.length === 0 && ownerships.kept.length === 0) lines.push(`'${user}' owned or maintained no project.`);
  if (ownerships.removed.length > 0) lines.push(`Took '${user}' off ${ownerships.removed.length === 1 ? 'the project' : `${ownerships.removed.length} projects`}: ${list(ownerships.removed)}.`);
  if (ownerships.kept.length > 0) {
    const one = ownerships.kept.length === 1;
    lines.push(
      `'${user}' stays listed on ${list(ownerships.kept)}: nobody else owns ${one ? 'it' : 'them'}, and a project without an owner goes to whoever uploads it next. ` +
        `Until you hand ${one ? 'it' : 'them'} over, only admins (and other maintainers) may upload there:`,
      ...ownerships.kept.map((p) => `  pyrepo owner add ${p.project} <new owner> --role owner && pyrepo owner remove ${p.project} ${user}`),
    );
  }
  return lines;
}

const removeCommand: CommandModule<object, NameFlags & { json: boolean }> = {
  command: 'remove <name>',
  aliases: ['rm'],
  describe: 'Remove a user, with their role, API tokens and the project ownerships others can take over',
  builder: (yargs: Argv) =>
    withJson(yargs)
      .positional('name', { type: 'string', demandOption: true })
      .epilog(
        'They are taken off every project that keeps an owner without them. Projects they alone own keep them listed as owner, ' +
          'so that nobody can claim them by uploading; only admins may upload there until `pyrepo owner add` hands them over. Needs the daemon running.',
      )
      .example('$0 user remove ann', "Ann can no longer log in; her tokens stop working; says what happened to her projects") as unknown as Argv<NameFlags & { json: boolean }>,
  handler: async (argv: ArgumentsCamelCase<NameFlags & { json: boolean }>) => {
    const { files, adminUser } = context();
    const r = await removeUserEverywhere(resolvePaths(), files, argv.name, adminUser);
    if (argv.json) return printJson(r);
    say(`Removed the user '${argv.name}'${r.tokens > 0 ? ` and revoked ${r.tokens} token${r.tokens === 1 ? '' : 's'}` : ''}.`);
    for (const line of describeOwnerships(r)) say(line);
  },
};

const passwdCommand: CommandModule<object, NameFlags & PasswordFlags> = {
  command: 'passwd <name>',
  describe: "Change a user's password",
  builder: (yargs: Argv) =>
    withPasswordOptions(yargs.positional('name', { type: 'string', demandOption: true }))
      .epilog("For the admin identity the new password also goes where pyrepo keeps it (the OS keychain or its 0600 file), so the CLI keeps working; run `pyrepo configure` again so that your tools have it too.")
      .example('$0 user passwd ann', 'Asks for the new password twice')
      .example('$0 user passwd admin --generate', 'A new random password for the admin identity') as unknown as Argv<NameFlags & PasswordFlags>,
  handler: async (argv: ArgumentsCamelCase<NameFlags & PasswordFlags>) => {
    const { files, adminUser } = context();
    const { password, generated } = await newPassword(argv, argv.name);
    if (argv.name !== adminUser) {
      await setUserPassword(files, argv.name, password);
      say(`Changed the password of '${argv.name}'.`);
      if (generated) say(`Password: ${password}\n${colors().yellow('Shown once: keep it now.')}`);
      return;
    }
    const store = await changeAdminPassword(resolvePaths(), files, adminUser, password);
    say(`Changed the password of the admin identity '${adminUser}'; it is kept in ${store.backend.description}.`);
    say('Tools configured with the old one need it again: run `pyrepo configure`.');
  },
};

interface RoleFlags {
  name: string;
  role: string;
}

const roleCommand: CommandModule<object, RoleFlags> = {
  command: 'role <name> <role>',
  describe: "Change a user's role (also for users of an adopted htpasswd file)",
  builder: (yargs: Argv) =>
    yargs
      .positional('name', { type: 'string', demandOption: true })
      .positional('role', { type: 'string', choices: ROLES, demandOption: true, describe: ROLE_HELP })
      .example('$0 user role ann reader', 'Ann may read but no longer upload') as unknown as Argv<RoleFlags>,
  handler: (argv: ArgumentsCamelCase<RoleFlags>) => {
    const { files, adminUser } = context();
    if (argv.name === adminUser && argv.role !== 'admin') throw new AbortError(`'${adminUser}' is the admin identity the pyrepo CLI uses; it stays an admin.`);
    setUserRole(files, argv.name, argv.role as Role);
    say(`'${argv.name}' is now ${argv.role === 'admin' ? 'an' : 'a'} ${argv.role}.`);
  },
};

const listCommand: CommandModule<object, { json: boolean }> = {
  command: 'list',
  aliases: ['ls'],
  describe: 'List the users, their roles and where they come from',
  builder: (yargs: Argv) => withJson(yargs).example('$0 user list', 'Users, roles, hash schemes, tokens') as unknown as Argv<{ json: boolean }>,
  handler: (argv: ArgumentsCamelCase<{ json: boolean }>) => {
    const { files } = context();
    const users = listUsers(files);
    if (argv.json) return printJson({ users });
    if (users.length === 0) return say('No users yet. `pyrepo init` creates the admin identity; `pyrepo user add` adds more.');
    say(
      formatTable(
        ['user', 'role', 'tokens', 'hash', 'from'],
        users.map((u) => [u.name, u.roleSet ? u.role : `${u.role} (default)`, String(u.tokens), u.scheme, u.source]),
        [2],
      ),
    );
  },
};

interface ImportFlags {
  file: string;
  role?: Role;
  replace: boolean;
}

const importCommand: CommandModule<object, ImportFlags> = {
  command: 'import <file>',
  describe: "Copy the users of an htpasswd file (pypiserver's, Apache's) into pyrepo's, passwords as they are",
  builder: (yargs: Argv) =>
    roleOption(yargs.positional('file', { type: 'string', demandOption: true, describe: 'An htpasswd file (htpasswd -B, -m, -s or crypt entries)' }), `Role of the imported users (${ROLE_HELP})`, undefined)
      .option('replace', { type: 'boolean', default: false, describe: 'Replace users pyrepo already has (default: keep them)' })
      .epilog('To use such a file in place instead, without copying it: `pyrepo init --htpasswd <file>`. Users without a role are uploaders, as pypiserver treated them.')
      .example('$0 user import /etc/pypiserver/htpasswd', 'Bring the pypiserver users along')
      .example('$0 user import team.htpasswd --role reader', 'As readers') as unknown as Argv<ImportFlags>,
  handler: (argv: ArgumentsCamelCase<ImportFlags>) => {
    const { files } = context();
    const r = importUsers(files, argv.file, { replace: argv.replace, ...(argv.role ? { role: argv.role } : {}) });
    const list = (names: string[]) => names.join(', ');
    if (r.added.length > 0) say(`Imported ${r.added.length} user${r.added.length === 1 ? '' : 's'}: ${list(r.added)}.`);
    if (r.replaced.length > 0) say(`Replaced ${r.replaced.length}: ${list(r.replaced)}.`);
    if (r.kept.length > 0) say(`Kept ${r.kept.length} that pyrepo already had (--replace takes the file's): ${list(r.kept)}.`);
    for (const why of r.refused) note(colors(process.stderr).yellow(`Skipped: ${why}`));
    if (r.added.length + r.replaced.length + r.kept.length === 0) throw new AbortError(`${argv.file} has no user pyrepo can take.`);
  },
};

export const userCommand: CommandModule = {
  ...COMMAND_HEADS.user,
  builder: (yargs: Argv) =>
    yargs
      .command(addCommand)
      .command(removeCommand)
      .command(passwdCommand)
      .command(roleCommand)
      .command(listCommand)
      .command(importCommand)
      .demandCommand(1, 'Say which: `pyrepo user add`, `remove`, `passwd`, `role`, `list` or `import`.')
      .epilog(`Roles: ${ROLE_HELP}. The first user to upload a project owns it; \`pyrepo owner add\` lets others upload there too.`)
      .example('$0 user add ann', 'A new uploader')
      .example('$0 user list', 'Who is there')
      .example('$0 user import htpasswd', 'Adopt the users of a pypiserver'),
  handler: () => undefined,
};
