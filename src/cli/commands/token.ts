/** `pyrepo token create | list | revoke`: API tokens for CI and tools, used with the user name `__token__`. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { resolvePaths } from '../../shared/paths.js';
import { withJson } from '../options.js';
import { colors, formatTable, note, printJson, say } from '../output.js';
import { createToken, installationUsers, listTokens, parseExpiry, revokeToken } from '../services/users.js';
import { COMMAND_HEADS } from '../command-heads.js';

const files = () => installationUsers(resolvePaths());

interface CreateFlags {
  user?: string;
  project?: string[];
  readOnly: boolean;
  expires?: string;
  name?: string;
  json: boolean;
}

const createCommand: CommandModule<object, CreateFlags> = {
  command: 'create',
  describe: 'Make a new token and print it once',
  builder: (yargs: Argv) =>
    withJson(yargs)
      .option('user', { type: 'string', describe: 'The user it acts for (it never has more rights than they do)', defaultDescription: 'the admin identity' })
      .option('project', { type: 'string', array: true, describe: 'Only these projects may be uploaded to (repeat the flag)', defaultDescription: 'every project the user may' })
      .option('read-only', { type: 'boolean', default: false, describe: 'Only for reading (pip, when reads need credentials)' })
      .option('expires', { type: 'string', describe: 'After 12h, 30d, 2w, or on a date (2027-01-31)', defaultDescription: 'never' })
      .option('name', { type: 'string', describe: 'What it is for, shown by `token list`' })
      .epilog(
        'Use it as the password with the user name __token__, as on PyPI: twine upload -u __token__ -p <token>, ' +
          'poetry config pypi-token.pyrepo <token>, uv publish --token <token>. Only its SHA-256 is kept: lost means revoke and create another.',
      )
      .example('$0 token create --project mypkg --name ci --expires 90d', 'For a CI job that publishes mypkg')
      .example('$0 token create --user board --read-only', 'For pip where reads need credentials') as unknown as Argv<CreateFlags>,
  handler: (argv: ArgumentsCamelCase<CreateFlags>) => {
    const { files: f, adminUser } = files();
    const expires = argv.expires === undefined ? undefined : parseExpiry(argv.expires);
    const { token, record } = createToken(f, {
      user: argv.user ?? adminUser,
      readOnly: argv.readOnly,
      ...(argv.project ? { projects: argv.project } : {}),
      ...(argv.name !== undefined ? { name: argv.name } : {}),
      ...(expires ? { expires } : {}),
    });
    if (argv.json) return printJson({ token, ...record });
    say(token);
    const scope = [
      `for ${record.user}`,
      record.readOnly ? 'read-only' : record.projects ? `uploads to ${record.projects.join(', ')} only` : 'every project the user may upload to',
      record.expires ? `expires ${record.expires}` : 'no expiry',
    ];
    note(`Token ${record.id} (${scope.join('; ')}). Shown once: keep it now. Use it with the user name __token__.`);
  },
};

function describeScope(t: { readOnly: boolean; projects?: string[] }): string {
  if (t.readOnly) return 'read-only';
  return t.projects ? t.projects.join(',') : 'all';
}

const listCommand: CommandModule<object, { json: boolean }> = {
  command: 'list',
  aliases: ['ls'],
  describe: 'List the tokens (never their secrets: pyrepo does not keep them)',
  builder: (yargs: Argv) => withJson(yargs).example('$0 token list', 'Ids, users, scopes, expiry') as unknown as Argv<{ json: boolean }>,
  handler: (argv: ArgumentsCamelCase<{ json: boolean }>) => {
    const tokens = listTokens(files().files);
    if (argv.json) return printJson({ tokens });
    if (tokens.length === 0) return say('No tokens. `pyrepo token create` makes one.');
    const c = colors();
    const now = Date.now();
    say(
      formatTable(
        ['id', 'user', 'name', 'projects', 'expires', 'created'],
        tokens.map((t) => [
          t.id,
          t.user,
          t.name ?? '',
          describeScope(t),
          t.expires ? (Date.parse(t.expires) <= now ? c.red(`expired ${t.expires.slice(0, 10)}`) : t.expires.slice(0, 16).replace('T', ' ')) : 'never',
          t.created.slice(0, 10),
        ]),
      ),
    );
  },
};

const revokeCommand: CommandModule<object, { id: string }> = {
  command: 'revoke <id>',
  describe: 'Revoke a token at once',
  builder: (yargs: Argv) =>
    yargs
      .positional('id', { type: 'string', demandOption: true, describe: 'Its id from `token list` (or the whole token)' })
      .example('$0 token revoke 3f9a1c0b', 'That token stops working within a second') as unknown as Argv<{ id: string }>,
  handler: (argv: ArgumentsCamelCase<{ id: string }>) => {
    const record = revokeToken(files().files, argv.id);
    say(`Revoked the token ${record.id}${record.name ? ` (${record.name})` : ''} of ${record.user}.`);
  },
};

export const tokenCommand: CommandModule = {
  ...COMMAND_HEADS.token,
  builder: (yargs: Argv) =>
    yargs
      .command(createCommand)
      .command(listCommand)
      .command(revokeCommand)
      .demandCommand(1, 'Say which: `pyrepo token create`, `list` or `revoke`.')
      .example('$0 token create --project mypkg', 'A token that can upload mypkg only')
      .example('$0 token revoke 3f9a1c0b', 'Revoke it'),
  handler: () => undefined,
};
