/**
 * Requires-Dist values as a MicroPython board can follow them: a project name and a
 * PEP 440 version specifier. Requirements with an environment marker are left out: markers
 * describe CPython environments (`python_version < "3.8"`, `sys_platform == "win32"`,
 * `extra == "cli"`), and on a board they would mostly pull in backports and extras it
 * cannot use. Direct URL requirements (`name @ https://…`) are left out too.
 */
import { satisfies, validRange } from '@renovatebot/pep440';
import { normalizeName } from '../../shared/names.js';

export interface BoardRequirement {
  /** PEP 503-normalized project name. */
  project: string;
  /** PEP 440 specifier without spaces or parentheses (`>=1.0,<2`); empty for any version. */
  specifier: string;
}

const REQUIREMENT = /^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*(.*)$/s;

/** Parses one Requires-Dist value; null when a board should not follow it. */
export function boardRequirement(value: string): BoardRequirement | null {
  const m = REQUIREMENT.exec(value);
  if (!m) return null;
  const rest = m[2] as string;
  if (rest.startsWith('@')) return null;
  const semicolon = rest.indexOf(';');
  if (semicolon !== -1 && rest.slice(semicolon + 1).trim() !== '') return null;
  const specifier = (semicolon === -1 ? rest : rest.slice(0, semicolon)).replace(/[()\s]/g, '');
  // A specifier pyrepo cannot read is treated as "any version" rather than dropping the dependency.
  return { project: normalizeName(m[1] as string), specifier: specifier !== '' && validRange(specifier) ? specifier : '' };
}

/** True when `version` meets the requirement's specifier. */
export function meets(requirement: BoardRequirement, version: string): boolean {
  return requirement.specifier === '' || satisfies(version, requirement.specifier);
}
