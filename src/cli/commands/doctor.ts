/** `pyrepo doctor`: one line per check, with the fix for anything wrong; exit 1 if a check fails. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { resolvePaths } from '../../shared/paths.js';
import { withJson } from '../options.js';
import { colors, printJson, say } from '../output.js';
import { runChecks, type DoctorProgress, type Verdict } from '../services/doctor.js';
import { COMMAND_HEADS } from '../command-heads.js';

/**
 * On a terminal: one line, rewritten in place, naming the checks still running; cleared
 * when the last one ends. (Elsewhere nothing but the verdicts is printed.)
 */
function liveLine(stream: NodeJS.WriteStream): DoctorProgress {
  const c = colors(stream);
  return (pending) => {
    const columns = stream.columns || 80;
    const text = pending.length > 0 ? `checking: ${pending.join(', ')}…` : '';
    const fitted = text.length < columns ? text : `${text.slice(0, columns - 2)}…`;
    stream.write(`\r\u001b[2K${fitted ? c.dim(fitted) : ''}`);
  };
}

interface DoctorFlags {
  json: boolean;
}

export const doctorCommand: CommandModule<object, DoctorFlags> = {
  ...COMMAND_HEADS.doctor,
  builder: (yargs: Argv) =>
    withJson(yargs)
      .epilog('Exit status 1 when a check fails; warnings do not fail.')
      .example('$0 doctor', 'A verdict per check, and what to do')
      .example('$0 doctor --json', 'The same for scripts') as unknown as Argv<DoctorFlags>,
  handler: async (argv: ArgumentsCamelCase<DoctorFlags>) => {
    const live = !argv.json && process.stdout.isTTY === true;
    const checks = await runChecks(resolvePaths(), live ? liveLine(process.stdout) : undefined);
    if (argv.json) printJson({ checks });
    else {
      const c = colors();
      const mark: Record<Verdict, string> = { ok: c.green('ok  '), warn: c.yellow('warn'), fail: c.red('FAIL'), info: c.dim('info') };
      const width = Math.max(...checks.map((r) => r.check.length));
      for (const r of checks) {
        say(`${mark[r.verdict]}  ${r.check.padEnd(width)}  ${r.detail}`);
        if (r.fix && r.verdict !== 'ok') say(`      ${' '.repeat(width)}  ${c.dim('fix:')} ${r.fix}`);
      }
    }
    if (checks.some((r) => r.verdict === 'fail')) process.exitCode = 1;
  },
};
