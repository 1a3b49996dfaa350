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

/** The name as it appears in wheel and PEP 625 sdist filenames: normalized, then `-` → `_`. */
export function filenameEscapedName(name: string): string {
  return normalizeName(name).replace(/-/g, '_');
}
