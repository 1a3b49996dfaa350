#!/usr/bin/env node
/** The `pyrepo` command: parses arguments, runs one command, prints every error in one place. */
import { hideBin } from 'yargs/helpers';
import { AbortError } from './errors.js';
import { colors } from './output.js';
import { buildParser } from './parser.js';

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
  try {
    await (await buildParser(args)).parseAsync();
  } catch (err) {
    process.exitCode = printError(err, args.includes('--debug'));
  }
}

await main(hideBin(process.argv));
