/**
 * The CLI's two error kinds, printed in one place (index.ts): AbortError is something
 * the user can fix and says how; BugError is ours and asks to be reported.
 */

/** Exit status of a usage error: a wrong command, argument or flag value (EX_USAGE of sysexits.h). */
export const EXIT_USAGE = 64;

export class AbortError extends Error {
  override readonly name = 'AbortError';
  constructor(
    message: string,
    /** The next step to suggest, if any. */
    readonly nextStep?: string,
    /** Process exit code. */
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export class BugError extends Error {
  override readonly name = 'BugError';
}

/** A usage error: what was typed cannot work; the next step shows how to type it. Exit 64. */
export class UsageError extends AbortError {
  constructor(message: string, nextStep?: string) {
    super(message, nextStep, EXIT_USAGE);
  }
}
