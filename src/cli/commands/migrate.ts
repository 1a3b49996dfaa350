/** `pyrepo migrate`: this index into a shared one (PostgreSQL + S3), or a shared one into this installation. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { formatBytes } from '../../shared/format.js';
import { resolvePaths } from '../../shared/paths.js';
import { UsageError } from '../errors.js';
import { withJson } from '../options.js';
import { colors, note, printJson, say } from '../output.js';
import { plural } from '../services/backup-format.js';
import { migrate } from '../services/migrate.js';
import { COMMAND_HEADS } from '../command-heads.js';

interface MigrateFlags {
  to?: string;
  from?: string;
  storage: string;
  json: boolean;
}

export const migrateCommand: CommandModule<object, MigrateFlags> = {
  ...COMMAND_HEADS.migrate,
  builder: (yargs: Argv) =>
    withJson(yargs)
      .option('to', { type: 'string', describe: 'Copy this index into the shared one whose catalog is this PostgreSQL URL' })
      .option('from', { type: 'string', describe: 'Copy the shared index whose catalog is this PostgreSQL URL into this installation' })
      .option('storage', { type: 'string', demandOption: true, describe: "The shared index's files: s3://bucket/prefix" })
      .conflicts('to', 'from')
      .epilog(
        'Copies every distribution file (checked against its sha256 on the way) and everything the catalog knows: upload times, uploaders, yanks, owners, the journal and download counts; ' +
          'users and API tokens too, unless the target has its own (they are kept, and the output says so). Run it again after an interruption: it goes on where it stopped. ' +
          'The daemon must be stopped. The bucket is reached the usual AWS ways (AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or ~/.aws); ' +
          "PostgreSQL's password comes from PGPASSWORD or ~/.pgpass rather than the URL, which shows in the process list.",
      )
      .example('$0 migrate --to postgres://pyrepo@db:5432/pyrepo --storage s3://team-index/pyrepo', 'Move this index to the shared one')
      .example('$0 migrate --from postgres://pyrepo@db:5432/pyrepo --storage s3://team-index/pyrepo', 'Bring a shared index back to this machine') as unknown as Argv<MigrateFlags>,
  handler: async (argv: ArgumentsCamelCase<MigrateFlags>) => {
    const catalog = argv.to ?? argv.from;
    if (catalog === undefined) throw new UsageError('Say where to copy: --to postgres://… (this index into the shared one) or --from postgres://… (the shared one into this installation).');
    const direction = argv.to !== undefined ? 'to' : 'from';
    const onTerminal = process.stderr.isTTY === true && !argv.json;
    let shownAt = 0;
    const r = await migrate(resolvePaths(), {
      direction,
      catalog,
      storage: argv.storage,
      progress: (done, total) => {
        if (!onTerminal || (done < total && Date.now() - shownAt < 200)) return;
        shownAt = Date.now();
        process.stderr.write(`\r${done} of ${total} files${done === total ? '\n' : ''}`);
      },
    });
    if (argv.json) return printJson(r);
    const where = direction === 'to' ? `into ${r.catalog} and ${r.storage}` : `from ${r.catalog} and ${r.storage} into this installation`;
    say(`Copied ${plural(r.projects, 'project')} and ${plural(r.files, 'file')} ${where}:`);
    say(`  ${plural(r.copied, 'file')} copied now (${formatBytes(r.bytes)}), ${r.files - r.copied} already there; every one checked against its sha256`);
    say(`  ${plural(r.activity, 'journal entry', 'journal entries')} and ${plural(r.downloadRows, 'download count')} added${r.activity + r.downloadRows === 0 ? ' (already there)' : ''}`);
    if (r.usersKept) note(colors(process.stderr).yellow(`The target has its own users (${r.usersKept.join(', ')}); they were kept, and this index's users and tokens were not copied.`));
    else say(`  ${plural(r.usersCopied.length, 'user')} and ${plural(r.tokensCopied, 'API token')}`);
  },
};
