#!/usr/bin/env node
/** The `pyrepo` command: parses arguments, runs one command, prints every error in one place. */
import { PYREPO_VERSION } from '../shared/version.js';
import { AbortError } from './errors.js';
import { colors } from './output.js';

function printError(err: unknown, debug: boolean): number {
  const { red } = colors(process.stderr);
  if (err instanceof AbortError) {
    process.stderr.write(`${red('Error:')} ${err.message}\n${err.nextStep ? `${err.nextStep}\n` : ''}`);
    if (debug && err.stack) process.stderr.write(`${err.stack}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${red('Unexpected error:')} ${message}\nThis is a bug in pyrepo; please report it with the output of the same command run with --debug.\n`);
  if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return 70;
}

// Output piped into `head` and closed early is not an error: stop quietly, as Unix tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

export async function main(args: string[]): Promise<void> {
  // Scripts ask for the version often; answering it needs no parser (yargs is most of the start-up).
  if (args.length === 1 && args[0] === '--version') {
    process.stdout.write(`${PYREPO_VERSION}\n`);
    return;
  }
  // `serve` becomes the daemon: its heap sizing from the start, before the young generation
  // grows while the command's modules load (4 MB semi-spaces it would keep).
  if (args.find((a) => !a.startsWith('-')) === 'serve') (await import('../shared/heap-limits.js')).keepHeapSmall();
  try {
    const { buildParser } = await import('./parser.js');
    await (await buildParser(args)).parseAsync();
  } catch (err) {
    process.exitCode = printError(err, args.includes('--debug'));
  }
}

await main(process.argv.slice(2));
