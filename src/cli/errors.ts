/**
 * The CLI's two error kinds, printed in one place (index.ts): AbortError is something
 * the user can fix and says how; BugError is ours and asks to be reported.
 */

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
