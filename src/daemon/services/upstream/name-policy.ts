/**
 * The rule that keeps private names private, and the allow and deny lists: which project
 * names may be looked up upstream at all. Pure: what the index holds comes in as two
 * answers, so the rule is tested without a catalog.
 *
 * The order matters. A name on this index, a name that was on it (deleted since), or one
 * matching a private pattern is local only: upstream is never asked, so the name never
 * leaves the machine and an upstream project of that name (a dependency-confusion attack)
 * can never be mixed in, whatever its version. Only then do allow and deny apply.
 */
import { normalizeName } from '../../../shared/names.js';

/** What may be done with a name that is not served from this index's own files. */
export type UpstreamDecision =
  /** Never looked up upstream: answered from this index alone (a 404 when it has no files). */
  | { kind: 'local'; reason: string }
  /** Refused by the allow or deny list, with the reason for the person who asked. */
  | { kind: 'refused'; reason: string }
  | { kind: 'upstream' };

/** The patterns, normalized (PEP 503), `*` standing for any run of characters. */
export interface NamePolicy {
  private: readonly string[];
  allow: readonly string[];
  deny: readonly string[];
}

/** What the index knows of a name. */
export interface LocalNames {
  /** The project has files on this index now. */
  isLocal(name: string): boolean;
  /** The project was on this index once (the catalog remembers deleted names). */
  wasLocal(name: string): boolean;
}

const compiled = new Map<string, RegExp>();

/** Whether the normalized `name` matches `pattern` (normalized too; `*` is any run of characters). */
export function matchesPattern(name: string, pattern: string): boolean {
  let re = compiled.get(pattern);
  if (!re) {
    const body = normalizeName(pattern)
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    re = new RegExp(`^${body}$`);
    compiled.set(pattern, re);
  }
  return re.test(name);
}

/** The first of `patterns` that `name` matches. */
export function firstMatch(name: string, patterns: readonly string[]): string | undefined {
  return patterns.find((p) => matchesPattern(name, p));
}

/** Decides whether the project `name` (any spelling) may come from upstream. */
export function decideUpstream(name: string, policy: NamePolicy, local: LocalNames): UpstreamDecision {
  const normalized = normalizeName(name);
  if (local.isLocal(normalized)) return { kind: 'local', reason: `'${normalized}' is on this index` };
  if (local.wasLocal(normalized)) return { kind: 'local', reason: `'${normalized}' was on this index (its files were deleted), so its name stays private` };
  const isPrivate = firstMatch(normalized, policy.private);
  if (isPrivate !== undefined) return { kind: 'local', reason: `'${normalized}' matches the private pattern '${isPrivate}'` };
  const denied = firstMatch(normalized, policy.deny);
  if (denied !== undefined) {
    return { kind: 'refused', reason: `The upstream project '${normalized}' is refused: it matches the upstream-deny pattern '${denied}'.` };
  }
  if (policy.allow.length > 0 && firstMatch(normalized, policy.allow) === undefined) {
    return { kind: 'refused', reason: `The upstream project '${normalized}' is refused: it matches no upstream-allow pattern (${policy.allow.join(', ')}).` };
  }
  return { kind: 'upstream' };
}
