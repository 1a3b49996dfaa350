/** Questions to the user: asked on a terminal, never waited for in scripts. */
import { confirm, input, password } from '@inquirer/prompts';
import { AbortError } from './errors.js';

/** Whether questions can be asked (both stdin and stdout are a terminal). */
export function canAsk(): boolean {
  return process.stdin.isTTY === true && process.stdout.isTTY === true;
}

/** Ctrl-C at a prompt ends the command quietly, as a "no". */
async function ask<T>(prompt: Promise<T>): Promise<T> {
  try {
    return await prompt;
  } catch (err) {
    if ((err as Error).name === 'ExitPromptError') throw new AbortError('Cancelled.', undefined, 130);
    throw err;
  }
}

/**
 * Asks a yes/no question; `yes` (from --yes) answers it. Without a terminal and without
 * --yes it refuses, naming the flag, instead of waiting for input that will never come.
 */
export async function confirmOrAbort(question: string, yes: boolean, defaultAnswer = false): Promise<void> {
  if (yes) return;
  if (!canAsk()) throw new AbortError(`${question} — not asked, since this is not a terminal.`, 'Add --yes to go ahead without asking.');
  if (!(await ask(confirm({ message: question, default: defaultAnswer })))) throw new AbortError('Nothing was changed.', undefined, 1);
}

/** Asks a yes/no question on a terminal; elsewhere returns `defaultAnswer`. */
export async function askYesNo(question: string, defaultAnswer: boolean): Promise<boolean> {
  if (!canAsk()) return defaultAnswer;
  return ask(confirm({ message: question, default: defaultAnswer }));
}

/** Asks for a line of text on a terminal, checked by `validate` (a message, or true); elsewhere returns `defaultAnswer`. */
export async function askText(question: string, defaultAnswer: string, validate?: (value: string) => string | true): Promise<string> {
  if (!canAsk()) return defaultAnswer;
  return ask(input({ message: question, default: defaultAnswer, ...(validate ? { validate } : {}) }));
}

/** Asks for a new password twice, hidden, on a terminal; `check` returns a message for an unacceptable one. */
export async function askNewPassword(question: string, check: (value: string) => string | undefined): Promise<string> {
  for (;;) {
    const first = await ask(password({ message: question, mask: true, validate: (v) => check(v) ?? true }));
    const again = await ask(password({ message: 'The same again', mask: true }));
    if (first === again) return first;
    process.stderr.write('The two did not match; once more.\n');
  }
}

/** The first line of standard input (for `--password-stdin`), without its line break. */
export async function readFirstLineOfStdin(what: string): Promise<string> {
  if (process.stdin.isTTY) throw new AbortError(`--${what}-stdin reads from a pipe, not a terminal.`, `Example: printf '%s\\n' "$SECRET" | pyrepo … --${what}-stdin`);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const line = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  if (line === '') throw new AbortError(`Nothing came on standard input for --${what}-stdin.`);
  return line;
}
