/**
 * Project names as the packaging specs define them (PEP 503 normalization, the
 * core-metadata `Name` grammar, and the escaped form used inside filenames).
 */

/** The valid-name grammar from the name-normalization spec (anchored at both ends, no trailing newline). */
export const PROJECT_NAME_RE = /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;

/** True when `name` is a valid project name. */
export function isValidProjectName(name: string): boolean {
  return PROJECT_NAME_RE.test(name);
}

/** PEP 503 normalization: lowercase, and every run of `-`, `_` and `.` becomes one `-`. */
export function normalizeName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

/** A valid name in its normalized form: lowercase letters and digits, runs of them joined by single `-`. */
const NORMALIZED_VALID_NAME_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * True when `name` is a valid project name already in its normalized form (`normalizeName`
 * leaves it as it is). A test, where comparing with `normalizeName(name)` makes two strings:
 * the hot paths ask it of every project page.
 */
export function isNormalizedValidName(name: string): boolean {
  return NORMALIZED_VALID_NAME_RE.test(name);
}

/** The name as it appears in wheel and PEP 625 sdist filenames: normalized, then `-` → `_`. */
export function filenameEscapedName(name: string): string {
  return normalizeName(name).replace(/-/g, '_');
}
