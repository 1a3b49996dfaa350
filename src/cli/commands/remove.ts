/** `pyrepo remove`: delete a file, a release or a whole project from the index (asks first). */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { ProjectDetail } from '../../shared/api.js';
import { resolvePaths } from '../../shared/paths.js';
import { AbortError } from '../errors.js';
import { withJson } from '../options.js';
import { colors, printJson, say } from '../output.js';
import { confirmOrAbort } from '../prompt.js';
import { parseReleaseSpec } from '../release-spec.js';
import { releaseKey } from '../../shared/versions.js';
import { asAbort, connectToDaemon } from '../services/daemon-access.js';
import { findProject } from '../services/project-lookup.js';
import { COMMAND_HEADS } from '../command-heads.js';

interface RemoveFlags {
  spec: string;
  filename?: string;
  yes: boolean;
  json: boolean;
}

/** The files a removal would delete, grouped for the question. */
function selectFiles(detail: ProjectDetail, version: string | undefined, filename: string | undefined): { version: string; filename: string }[] {
  // 1.0 and 1.0.0 are one release (PEP 440), as yank and the daemon see it.
  const releases = version === undefined ? detail.releases : detail.releases.filter((r) => releaseKey(r.version) === releaseKey(version));
  if (version !== undefined && releases.length === 0) {
    throw new AbortError(`${detail.displayName} has no release ${version}.`, `\`pyrepo info ${detail.name}\` lists its versions.`);
  }
  const files = releases.flatMap((r) => r.files.map((f) => ({ version: r.version, filename: f.filename })));
  if (filename === undefined) return files;
  const match = files.filter((f) => f.filename === filename);
  if (match.length === 0) throw new AbortError(`${detail.displayName}${version ? ` ${version}` : ''} has no file named ${filename}.`, `\`pyrepo info ${detail.name}\` lists its files.`);
  return match;
}

export const removeCommand: CommandModule<object, RemoveFlags> = {
  ...COMMAND_HEADS.remove,
  builder: (yargs: Argv) =>
    withJson(yargs)
      .positional('spec', { type: 'string', describe: '<project> or <project>==<version>', demandOption: true })
      .positional('filename', { type: 'string', describe: 'Only this file of the project or release' })
      .option('yes', { alias: 'y', type: 'boolean', describe: 'Do not ask for confirmation', default: false })
      .epilog('Files are deleted from the packages folder. To hide a release from resolvers without deleting it, use `pyrepo yank`.')
      .example('$0 remove mypkg==1.0.0', 'Delete every file of release 1.0.0 (asks first)')
      .example('$0 remove mypkg mypkg-1.0.0-py3-none-any.whl --yes', 'Delete one file without asking')
      .example('$0 remove mypkg --yes', 'Delete the whole project') as unknown as Argv<RemoveFlags>,
  handler: async (argv: ArgumentsCamelCase<RemoveFlags>) => {
    const spec = parseReleaseSpec(argv.spec, false);
    const { client } = await connectToDaemon(resolvePaths());
    const fail = (err: unknown) => {
      throw asAbort(err);
    };
    const detail = await findProject(client, spec.project);
    const files = selectFiles(detail, spec.version, argv.filename);
    if (files.length === 0) throw new AbortError(`${detail.displayName} has no files to remove.`);
    const what = argv.filename
      ? argv.filename
      : spec.version
        ? `${detail.displayName} ${spec.version} (${files.length} file${files.length === 1 ? '' : 's'})`
        : `the whole project ${detail.displayName} (${files.length} file${files.length === 1 ? '' : 's'} in ${detail.releases.length} release${detail.releases.length === 1 ? '' : 's'})`;
    if (!argv.yes && !argv.json) for (const f of files) say(`  ${f.filename}`);
    await confirmOrAbort(`Delete ${what}? This cannot be undone.`, argv.yes);
    const deleted: string[] = [];
    if (argv.filename) {
      deleted.push(...(await client.deleteFile(detail.name, argv.filename).catch(fail)).deleted);
    } else {
      for (const version of new Set(files.map((f) => f.version))) deleted.push(...(await client.deleteRelease(detail.name, version).catch(fail)).deleted);
    }
    if (argv.json) return printJson({ project: detail.name, deleted });
    say(colors().green(`Deleted ${deleted.length} file${deleted.length === 1 ? '' : 's'} of ${detail.displayName}.`));
  },
};
