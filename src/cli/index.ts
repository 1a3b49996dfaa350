#!/usr/bin/env node
/** The `pyrepo` command: parses arguments, runs one command, prints every error in one place. */
import { hideBin } from 'yargs/helpers';
import { AbortError } from './errors.js';
import { buildParser } from './parser.js';

function printError(err: unknown, debug: boolean): number {
  const color = process.stderr.isTTY && !process.env.NO_COLOR;
  const red = (s: string) => (color ? `\u001b[31m${s}\u001b[39m` : s);
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

export async function main(args: string[]): Promise<void> {
  try {
    await buildParser(args).parseAsync();
  } catch (err) {
    process.exitCode = printError(err, args.includes('--debug'));
  }
}

await main(hideBin(process.argv));
