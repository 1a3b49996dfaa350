/** `pyrepo info <project>`: releases, files, hashes and downloads of one project. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { FileInfo, ProjectDetail } from '../../shared/api.js';
import { formatBytes } from '../../shared/format.js';
import { resolvePaths } from '../../shared/paths.js';
import { withJson } from '../options.js';
import { colors, formatTable, printJson, say } from '../output.js';
import { connectToDaemon } from '../services/daemon-access.js';
import { findProject } from '../services/project-lookup.js';
import { COMMAND_HEADS } from '../command-heads.js';

/** Who uploaded a file and from where, in words (the control API's `source`, `uploadedBy`, `uploadedFrom`). */
export function uploaderText(f: Pick<FileInfo, 'source' | 'uploadedBy' | 'uploadedFrom'>): string {
  if (f.source === 'folder') return 'found in the packages folder';
  if (f.source === null) return 'not recorded';
  return `${f.uploadedBy ?? 'anonymous'}${f.uploadedFrom ? ` from ${f.uploadedFrom}` : ''}`;
}

/**
 * Downloads by installer in words, with the share from CI: `pip 8 (2 from CI), uv 3 (all
 * from CI), pdm 1`, and the downloads counted before installers were recorded.
 */
export function installersText(d: Pick<ProjectDetail, 'downloads' | 'downloadsByInstaller'>): string {
  const parts = d.downloadsByInstaller.map((c) => `${c.installer} ${c.downloads}${c.ci === 0 ? '' : c.ci === c.downloads ? ' (all from CI)' : ` (${c.ci} from CI)`}`);
  const unrecorded = d.downloads - d.downloadsByInstaller.reduce((a, c) => a + c.downloads, 0);
  if (unrecorded > 0) parts.push(`${unrecorded} not recorded`);
  return parts.join(', ');
}

interface InfoFlags {
  project: string;
  json: boolean;
}

export const infoCommand: CommandModule<object, InfoFlags> = {
  ...COMMAND_HEADS.info,
  builder: (yargs: Argv) =>
    withJson(yargs)
      .positional('project', { type: 'string', describe: 'Project name (any spelling: My_Pkg finds my-pkg)', demandOption: true })
      .example('$0 info requests-toolbelt', 'Releases, files, sizes and downloads')
      .example('$0 info mypkg --json', 'The same for scripts, with sha256 digests') as unknown as Argv<InfoFlags>,
  handler: async (argv: ArgumentsCamelCase<InfoFlags>) => {
    const { client, state } = await connectToDaemon(resolvePaths());
    const detail = await findProject(client, argv.project);
    if (argv.json) return printJson(detail);
    const c = colors();
    say(`${c.bold(detail.displayName)} ${detail.latestVersion ? `(latest ${detail.latestVersion})` : '(only yanked or pre-releases)'}`);
    say(`  ${state.url}/simple/${detail.name}/   ${detail.downloads} download${detail.downloads === 1 ? '' : 's'}`);
    if (detail.downloads > 0) say(c.dim(`  by installer: ${installersText(detail)}`));
    for (const release of detail.releases) {
      const yankedBy = release.yankedBy ? ` by ${release.yankedBy}` : '';
      const yank = release.yanked ? c.yellow(` yanked${yankedBy}${release.yankedReason ? `: ${release.yankedReason}` : ''}`) : '';
      say(`\n${c.bold(release.version)}${yank}${release.summary ? c.dim(`  ${release.summary}`) : ''}`);
      const rows = release.files.map((f) => [f.filename, formatBytes(f.size), String(f.downloads), f.uploadTime.slice(0, 16).replace('T', ' '), uploaderText(f), f.requiresPython ?? '']);
      say(formatTable(['file', 'size', 'downloads', 'uploaded (UTC)', 'uploaded by', 'requires-python'], rows, [1, 2]).replace(/^/gm, '  '));
    }
  },
};
