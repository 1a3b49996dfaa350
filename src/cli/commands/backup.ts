/** `pyrepo backup DIR`: a consistent, self-describing copy of everything the index knows. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { formatBytes } from '../../shared/format.js';
import { resolvePaths } from '../../shared/paths.js';
import { AbortError } from '../errors.js';
import { withJson } from '../options.js';
import { colors, note, printJson, say } from '../output.js';
import { backupTo } from '../services/backup.js';
import { PACKAGES_PREFIX, plural, SETTINGS_NAME, type BackupManifest } from '../services/backup-format.js';
import { COMMAND_HEADS } from '../command-heads.js';

interface BackupFlags {
  dir: string;
  json: boolean;
}

/** The counts of a manifest, in words (shared with `restore`). */
export function describeContents(m: BackupManifest): string[] {
  const c = m.counts;
  const bytes = Object.entries(m.files)
    .filter(([name]) => name.startsWith(PACKAGES_PREFIX))
    .reduce((n, [, d]) => n + d.size, 0);
  return [
    `${plural(c.projects, 'project')}, ${plural(c.files - m.missing.length, 'file')} (${formatBytes(bytes)}), ${plural(c.owners, 'owner or maintainer', 'owners and maintainers')}, ` +
      `${plural(c.yankedReleases, 'yanked release')}, ${plural(c.downloads, 'download')}, ${plural(c.activity, 'journal entry', 'journal entries')}`,
    `${plural(c.users, 'user')}, ${plural(c.tokens, 'API token')}${m.files[SETTINGS_NAME] ? ', the settings file' : ''}`,
  ];
}

export const backupCommand: CommandModule<object, BackupFlags> = {
  ...COMMAND_HEADS.backup,
  builder: (yargs: Argv) =>
    withJson(yargs)
      .positional('dir', { type: 'string', describe: 'A new or empty folder, outside the data and packages folders', demandOption: true })
      .epilog(
        'Works with the daemon running (uploads go on; the daemon hands over a consistent snapshot of its catalog) or stopped. ' +
          'Every distribution file is checked against the sha256 the snapshot lists; a file replaced or removed meanwhile is named, in the output and in manifest.json, and the exit status is 1. ' +
          'The admin password stays where pyrepo keeps it (the OS keychain or its 0600 file), as does an adopted htpasswd file (--htpasswd). `pyrepo restore <dir>` brings the backup back.',
      )
      .example('$0 backup ~/pyrepo-backup-$(date +%F)', 'A dated backup')
      .example('$0 backup /mnt/backups/pyrepo --json', 'For scripts: the manifest\'s counts and what could not be copied') as unknown as Argv<BackupFlags>,
  handler: async (argv: ArgumentsCamelCase<BackupFlags>) => {
    const { dir, manifest } = await backupTo(resolvePaths(), argv.dir);
    if (argv.json) {
      printJson({ dir, createdAt: manifest.createdAt, takenFrom: manifest.takenFrom, counts: manifest.counts, missing: manifest.missing });
    } else {
      say(`Backed up the index to ${colors().bold(dir)} (a snapshot of ${manifest.createdAt}, from the ${manifest.takenFrom}):`);
      for (const line of describeContents(manifest)) say(`  ${line}`);
      say(`  manifest.json lists every file with its sha256; \`pyrepo restore ${argv.dir}\` brings it back.`);
      if (manifest.adoptedHtpasswd) note(`The adopted htpasswd file ${manifest.adoptedHtpasswd} is read in place by pyrepo and was not copied: back it up with the rest of your files.`);
    }
    if (manifest.missing.length > 0) {
      for (const m of manifest.missing) note(colors(process.stderr).yellow(`Not in the backup: ${m.relpath}: ${m.reason}.`));
      throw new AbortError(
        `${plural(manifest.missing.length, 'file')} the snapshot lists changed before ${manifest.missing.length === 1 ? 'it' : 'they'} could be copied; the backup says so in its manifest and is otherwise complete.`,
        `Run \`pyrepo backup\` again into a new folder to include ${manifest.missing.length === 1 ? 'it' : 'them'}.`,
      );
    }
  },
};
