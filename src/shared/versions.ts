/**
 * PEP 440 versions: normalization, release identity (`1.0` is `1.0.0`) and ordering.
 * Parsing and ordering come from `@renovatebot/pep440` (a port of Python's `packaging`);
 * its `clean()` joins local segments with commas, so normal forms are built from `explain()`.
 */
import { compare, explain as parseVersion } from '@renovatebot/pep440';
import { Memo } from './memo.js';

type Explained = ReturnType<typeof parseVersion>;

/**
 * Parsed versions, kept: a packages folder holds the same few versions thousands of times
 * over, and sorting a project's files asks for both sides of every comparison. A regular
 * expression per call was a few percent of a first indexing.
 */
const parsed = new Memo<Explained>(parseVersion, 4096);

function explain(version: string): Explained {
  return parsed.get(version);
}

/** The normalized form of a PEP 440 version (`1.0-r4` → `1.0.post4`), or `null` if it is not one. */
export function normalizeVersion(version: string): string | null {
  const parsed = explain(version.trim());
  if (!parsed) return null;
  return parsed.local ? `${parsed.public}+${parsed.local}` : parsed.public;
}

/** True when `version` parses as PEP 440. */
export function isValidVersion(version: string): boolean {
  return explain(version.trim()) !== null;
}

/**
 * The release key, like `packaging.utils.canonicalize_version`: normalized with trailing
 * `.0` release segments stripped, so `1.0`, `1.0.0` and `1` name the same release.
 * Strings that are not PEP 440 versions are returned unchanged (legacy files still get a key).
 */
export function releaseKey(version: string): string {
  const parsed = explain(version.trim());
  if (!parsed) return version;
  const release = [...parsed.release];
  while (release.length > 1 && release[release.length - 1] === 0) release.pop();
  let key = parsed.epoch ? `${parsed.epoch}!` : '';
  key += release.join('.');
  if (parsed.pre) key += `${parsed.pre[0]}${parsed.pre[1]}`;
  if (parsed.post !== null) key += `.post${parsed.post}`;
  if (parsed.dev !== null) key += `.dev${parsed.dev}`;
  if (parsed.local) key += `+${parsed.local}`;
  return key;
}

/** A release of numbers and dots only (`1.2.0`), each number short enough to be exact as a double. */
const NUMERIC_RELEASE = /^\d{1,15}(?:\.\d{1,15})*$/;

/**
 * The order of two versions made of numbers and dots only (nearly every release), as PEP 440
 * orders them: number by number, a missing number as 0 (`1.0` is `1.0.0`); or undefined when
 * either is anything else. The library's compare() parses both sides with a regular
 * expression at every call: its match objects were a third of what the web home's first
 * rendering allocated at 10,000 projects (37 of 107 MB), several megabytes of it promoted to
 * V8's old generation and kept there until its next full collection.
 */
function compareNumericReleases(a: string, b: string): number | undefined {
  if (!NUMERIC_RELEASE.test(a) || !NUMERIC_RELEASE.test(b)) return undefined;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let x = 0;
    for (; i < a.length && a.charCodeAt(i) !== 46; i++) x = x * 10 + a.charCodeAt(i) - 48;
    let y = 0;
    for (; j < b.length && b.charCodeAt(j) !== 46; j++) y = y * 10 + b.charCodeAt(j) - 48;
    if (x !== y) return x < y ? -1 : 1;
    // Past the dot (or the end).
    i += 1;
    j += 1;
  }
  return 0;
}

/** True for pre-releases and development releases. */
export function isPrerelease(version: string): boolean {
  if (NUMERIC_RELEASE.test(version)) return false;
  const parsed = explain(version.trim());
  return parsed ? parsed.is_prerelease || parsed.is_devrelease : false;
}

/** PEP 440 ordering; strings that are not versions sort before every version, by text. */
export function compareVersions(a: string, b: string): number {
  const numeric = compareNumericReleases(a, b);
  if (numeric !== undefined) return numeric;
  const va = explain(a.trim());
  const vb = explain(b.trim());
  if (va && vb) return compare(a.trim(), b.trim());
  if (va) return 1;
  if (vb) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}
