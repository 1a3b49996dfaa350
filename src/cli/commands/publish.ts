/** `pyrepo publish`: upload wheels and sdists to the pyrepo index, or to any index. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { resolvePaths } from '../../shared/paths.js';
import { AbortError, UsageError } from '../errors.js';
import type { PublishedFile } from '../json-output.js';
import { withJson } from '../options.js';
import { colors, note, printJson, say } from '../output.js';
import { progressView, summaryTable } from '../publish-view.js';
import { collectDistFiles, prepareFiles, resolveTarget, runBuild, uploadFiles, type PublishTarget } from '../services/publish.js';
import { COMMAND_HEADS } from '../command-heads.js';

interface PublishFlags {
  paths?: string[];
  repositoryUrl?: string;
  repository?: string;
  configFile?: string;
  username?: string;
  password?: string;
  build: boolean;
  python: string;
  project?: string;
  isolation: boolean;
  timeout: number;
  json: boolean;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The error that ends a run in which some files were not published, with what to do about it. */
function failure(results: readonly PublishedFile[], target: PublishTarget): AbortError | undefined {
  const conflicts = results.filter((r) => r.result === 'conflict');
  const failed = results.filter((r) => r.result === 'failed');
  const skipped = results.filter((r) => r.result === 'not-attempted');
  if (conflicts.length === 0 && failed.length === 0 && skipped.length === 0) return undefined;
  const parts: string[] = [];
  if (conflicts.length > 0) {
    parts.push(`${plural(conflicts.length, 'file')} conflict${conflicts.length === 1 ? 's' : ''} with a different file of the same name on the index (${conflicts.map((r) => r.file).join(', ')})`);
  }
  if (failed.length > 0) parts.push(`${plural(failed.length, 'file')} failed`);
  if (skipped.length > 0) parts.push(`${plural(skipped.length, 'file')} not sent`);
  const message = `${parts.join('; ')}.`;
  const first = failed[0];
  let next: string;
  if (first?.httpStatus === 401) {
    next =
      target.source === 'pyrepo'
        ? 'Run `pyrepo init` to create the admin identity publish uses, or pass -u/--username and -p/--password.'
        : `Pass -u/--username and -p/--password, set PYREPO_USERNAME and PYREPO_PASSWORD${target.source === 'pypirc' ? ', or add username and password to the section in .pypirc' : ''}.`;
  } else if (first?.httpStatus === 403) {
    next = 'Check that these credentials may upload to this project.';
  } else if (conflicts.length > 0) {
    next =
      'A published file never changes: raise the version and build again' +
      (target.source === 'pyrepo' ? ', or delete the old file first with `pyrepo remove`.' : '.');
  } else {
    next = "The index's reasons are listed under the table; files already on the index are skipped when you run publish again.";
  }
  return new AbortError(message, next, 1);
}

export const publishCommand: CommandModule<object, PublishFlags> = {
  ...COMMAND_HEADS.publish,
  builder: (yargs: Argv) =>
    withJson(yargs)
      .positional('paths', { type: 'string', array: true, describe: 'Wheels, sdists, or folders holding them', defaultDescription: './dist' })
      .option('repository-url', { type: 'string', describe: 'Upload to this URL instead (any index, e.g. https://host/legacy/)' })
      .option('repository', { alias: 'r', type: 'string', describe: 'Upload to this repository of ~/.pypirc (listed in [distutils] index-servers)' })
      .option('config-file', { type: 'string', describe: 'The .pypirc to read for -r', defaultDescription: '~/.pypirc' })
      .option('username', { alias: 'u', type: 'string', describe: 'User name for the upload (env PYREPO_USERNAME)' })
      .option('password', { alias: 'p', type: 'string', describe: 'Password or token (env PYREPO_PASSWORD); with no user name, the user is __token__' })
      .option('build', { type: 'boolean', default: false, describe: 'Build the project with `python -m build` first, then publish what it built' })
      .option('python', { type: 'string', default: 'python3', describe: 'Python that runs the build (with --build)' })
      .option('project', { type: 'string', describe: 'Project folder to build (with --build)', defaultDescription: 'the current folder' })
      .option('isolation', {
        type: 'boolean',
        default: true,
        describe: 'Build in an isolated environment; --no-isolation uses the installed build dependencies (works offline)',
      })
      .option('timeout', { type: 'number', default: 60, describe: 'Give up on a file after this many seconds without progress' })
      .conflicts('repository-url', 'repository')
      .check((argv) => {
        // UsageError passes through the parser's failure handler as it is (exit 64).
        if (argv.build && (argv.paths as string[] | undefined)?.length) throw new UsageError('--build publishes what it builds; leave out the file arguments (or leave out --build).');
        if (!argv.build && argv.project !== undefined) throw new UsageError('--project says what --build builds; add --build, or name the files to publish.');
        if (!(Number(argv.timeout) > 0)) throw new UsageError('--timeout must be a positive number of seconds.');
        return true;
      })
      .epilog(
        [
          'Without --repository-url or -r the files go to the running pyrepo index, as its admin.',
          'A file the index already has with the same content is skipped; a different file under',
          'the same name is a conflict. Exit status: 0 when every file is uploaded or already there,',
          '1 when any conflicts or fails, 3 when the pyrepo index is not running.',
        ].join('\n'),
      )
      .example('$0 publish', 'Upload everything in ./dist to the pyrepo index')
      .example('$0 publish --build', 'Build the project here (python -m build), then upload what it built')
      .example('$0 publish dist/*.whl', 'Upload these files')
      .example('$0 publish -r testpypi', 'Upload to a repository named in ~/.pypirc')
      .example('$0 publish --repository-url URL -p "$TOKEN"', 'Upload to any index (as __token__)')
      .example('$0 publish --json', 'One result per file, for scripts') as unknown as Argv<PublishFlags>,
  handler: async (argv: ArgumentsCamelCase<PublishFlags>) => {
    const cwd = process.cwd();
    // Files first (a local check), then the target (is the index there?), then the build.
    const files = argv.build ? undefined : await collectDistFiles(argv.paths ?? [], cwd);
    const target = await resolveTarget({
      ...(argv.repositoryUrl !== undefined ? { repositoryUrl: argv.repositoryUrl } : {}),
      ...(argv.repository !== undefined ? { repository: argv.repository } : {}),
      ...(argv.configFile !== undefined ? { configFile: argv.configFile } : {}),
      ...(argv.username !== undefined ? { username: argv.username } : {}),
      ...(argv.password !== undefined ? { password: argv.password } : {}),
      env: process.env,
      paths: resolvePaths(),
    });
    let paths = files;
    if (!paths) {
      const projectDir = argv.project ?? cwd;
      note(`Building ${projectDir} with ${argv.python} -m build${argv.isolation ? '' : ' --no-isolation'}…`);
      paths = await runBuild({ python: argv.python, projectDir, isolation: argv.isolation });
    }
    const prepared = await prepareFiles(paths);
    const c = colors(process.stderr);
    note(`Publishing ${plural(prepared.length, 'file')} to ${c.bold(target.displayUrl)}${target.username ? ` as ${target.username}` : ''}`);
    const view = progressView(prepared);
    let results: PublishedFile[];
    try {
      results = await uploadFiles(prepared, target, view, { inactivityMs: argv.timeout * 1000 });
    } finally {
      view.finish();
    }
    if (argv.json) printJson(results);
    else {
      say(summaryTable(results));
      for (const r of results) for (const w of r.warnings ?? []) note(c.yellow(`Warning: ${r.file}: ${w}`));
      const uploaded = results.filter((r) => r.result === 'uploaded' || r.result === 'replaced').length;
      const identical = results.filter((r) => r.result === 'identical').length;
      if (uploaded + identical === results.length) {
        const out = colors();
        say(
          out.dim(
            uploaded === 0
              ? `Nothing new: ${identical === 1 ? 'the file is' : `all ${identical} files are`} already on ${target.displayUrl}`
              : `${plural(uploaded, 'file')} uploaded${identical ? ` (${identical} already there)` : ''} to ${target.displayUrl}`,
          ),
        );
      }
    }
    const error = failure(results, target);
    if (error) throw error;
  },
};
