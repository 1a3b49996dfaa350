/** `pyrepo restore DIR`: brings back a `pyrepo backup`, checked in full before anything is written. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { resolvePaths } from '../../shared/paths.js';
import { withJson } from '../options.js';
import { colors, note, printJson, say } from '../output.js';
import { plural } from '../services/backup-format.js';
import { restoreFrom } from '../services/restore.js';
import { describeContents } from './backup.js';
import { COMMAND_HEADS } from '../command-heads.js';

interface RestoreFlags {
  dir: string;
  force: boolean;
  json: boolean;
}

export const restoreCommand: CommandModule<object, RestoreFlags> = {
  ...COMMAND_HEADS.restore,
  builder: (yargs: Argv) =>
    withJson(yargs)
      .positional('dir', { type: 'string', describe: 'A folder `pyrepo backup` made', demandOption: true })
      .option('force', { type: 'boolean', default: false, describe: 'Replace an index that is already there (catalog, users, distribution files)' })
      .epilog(
        'Every file of the backup is checked against its manifest (and the catalog against both) before anything is written; a damaged or unfinished backup is refused with the reason. ' +
          'A running daemon is refused rather than stopped: other people\'s uploads in flight would be cut off. The files are moved into place all together: ' +
          'an interrupted restore is rolled back by the next one, and the daemon will not start on a half-restored index.',
      )
      .example('$0 stop && $0 restore ~/pyrepo-backup-2026-01-31 && $0 start', 'Back to the state of that day')
      .example('$0 restore ~/pyrepo-backup --force', 'Replace the index that is there now') as unknown as Argv<RestoreFlags>,
  handler: async (argv: ArgumentsCamelCase<RestoreFlags>) => {
    const r = await restoreFrom(resolvePaths(), argv.dir, { force: argv.force });
    const m = r.manifest;
    if (argv.json) {
      return printJson({
        dir: r.dir,
        createdAt: m.createdAt,
        pyrepoVersion: m.pyrepoVersion,
        dataDir: r.dataDir,
        packagesDir: r.packagesDir,
        replaced: r.replaced,
        counts: m.counts,
        missing: m.missing,
        ...(r.previousSettings ? { previousSettings: r.previousSettings } : {}),
        rolledBack: r.rolledBack,
      });
    }
    if (r.rolledBack) note('An earlier restore had been interrupted; what was there before it was put back first.');
    say(`Restored the backup of ${m.createdAt} (pyrepo ${m.pyrepoVersion}) from ${r.dir}${r.replaced ? ', replacing the index that was there' : ''}:`);
    for (const line of describeContents(m)) say(`  ${line}`);
    say(`  into ${r.dataDir} (packages: ${r.packagesDir})`);
    if (m.missing.length > 0) {
      note(colors(process.stderr).yellow(`The backup lacks ${plural(m.missing.length, 'file')} that changed while it was made (${m.missing.map((x) => x.relpath).join(', ')}); the index forgets them when it starts.`));
    }
    if (r.previousSettings) say(`The settings file that was here is kept as ${r.previousSettings}.`);
    if (m.adoptedHtpasswd) note(`The settings name the adopted htpasswd file ${m.adoptedHtpasswd}, which backups do not copy: make sure it is there.`);
    say('Start the index with `pyrepo start` (it keeps the admin password this machine has).');
  },
};
