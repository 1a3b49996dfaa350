/**
 * Errors raised by the shared parsers. Each carries a message a person can act on;
 * the daemon maps them to 400 responses, the CLI prints them as they are.
 */

/** A filename that is not a valid wheel or sdist name, or is unsafe as a path. */
export class DistFilenameError extends Error {
  override readonly name = 'DistFilenameError';
}

/** An archive that cannot be read, or whose core metadata is missing or malformed. */
export class DistContentError extends Error {
  override readonly name = 'DistContentError';
}

/** An archive whose metadata disagrees with its filename or with the upload form. */
export class DistMismatchError extends Error {
  override readonly name = 'DistMismatchError';
}
