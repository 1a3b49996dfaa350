/** `pyrepo board [project]`: what to type on a MicroPython board to install from this index. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { resolvePaths } from '../../shared/paths.js';
import type { BoardOutput } from '../json-output.js';
import { withJson } from '../options.js';
import { colors, printJson, say } from '../output.js';
import { askYesNo } from '../prompt.js';
import { gatherBoardGuide } from '../services/board.js';
import { restartAndReport } from './restart.js';
import { COMMAND_HEADS } from '../command-heads.js';

interface BoardFlags {
  project?: string;
  json: boolean;
}

function printGuide(g: BoardOutput): void {
  const c = colors();
  for (const w of g.warnings) say(c.yellow(`! ${w}`));
  if (g.warnings.length > 0) say();
  const indent = (lines: string[]) => lines.map((l) => `    ${c.cyan(l)}`).join('\n');
  for (const a of g.addresses) {
    const where = a.interface ? ` (${a.interface})` : '';
    say(c.bold(`Boards reaching this machine at ${a.address}${where}${g.reachable ? '' : ', once the above is fixed'}:`));
    say('  MicroPython 1.20 and later (mip), at the board\'s REPL once it is on the network:');
    say(indent(a.mip));
    say('  MicroPython 1.19 and older (upip):');
    say(indent(a.upip));
    say();
  }
  say(c.bold('A board on this computer\'s USB (mpremote downloads here and copies to the board):'));
  say(indent([g.mpremote]));
  // A version the index has (the latest), so the line can be typed as it is.
  const version = g.version ?? 'VERSION';
  say(c.dim(`\nOne version: mip.install("${g.project}", version="${version}", index=...), upip.install("${g.project}==${version}"). mip serves .py files to every firmware.`));
}

export const boardCommand: CommandModule<object, BoardFlags> = {
  ...COMMAND_HEADS.board,
  builder: (yargs: Argv) =>
    withJson(yargs)
      .positional('project', { type: 'string', describe: 'Project to put in the lines (default: PACKAGE)' })
      .epilog(
        'Boards send no credentials: the index and downloads must be open to them, and the daemon must listen beyond loopback. ' +
          '`pyrepo restart --lan` does both and keeps uploads authenticated. Exit status 3 when the daemon is not running.',
      )
      .example('$0 board', 'The lines for every network address of this machine')
      .example('$0 board my-sensor-lib', 'The same with the project filled in')
      .example('$0 board --json', 'The same for scripts') as unknown as Argv<BoardFlags>,
  handler: async (argv: ArgumentsCamelCase<BoardFlags>) => {
    const paths = resolvePaths();
    const guide = await gatherBoardGuide(paths, argv.project);
    if (argv.json) return printJson(guide);
    printGuide(guide);
    if (guide.reachable || guide.addresses.length === 0) return;
    // On a terminal, offer what the warnings ask for; in scripts they name the command.
    const yes = await askYesNo('Restart pyrepo in LAN mode now (every address; the index and downloads open to the network, uploads still need credentials)?', false);
    if (!yes) return;
    await restartAndReport(paths, { lan: true }, 10);
    say();
    printGuide(await gatherBoardGuide(paths, argv.project));
  },
};
