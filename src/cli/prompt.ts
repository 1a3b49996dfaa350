/** Questions to the user: asked on a terminal, never waited for in scripts. */
import { confirm, input } from '@inquirer/prompts';
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
