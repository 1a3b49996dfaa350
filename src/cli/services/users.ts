/**
 * Users, roles and API tokens: the CLI's side of access control. Passwords live as hashes
 * in pyrepo's htpasswd file, roles and token digests in the access file, both in the data
 * folder (see src/shared/access-file.ts). The daemon reads both and notices changes
 * within a second, so nothing here needs the daemon running or restarted.
 *
 * An adopted htpasswd file (`--htpasswd`, a pypiserver or Apache one) is read in place and
 * never written: its users can be given roles and tokens here, but their passwords are
 * changed with the tool that owns that file.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AccessFileError, accessFiles, newToken, readAccessFile, writeAccessFile, type AccessFile, type Role, type TokenRecord } from '../../shared/access-file.js';
import { writeFileAtomic } from '../../shared/atomic-file.js';
import { hashPassword, hashScheme, isValidUserName, parseHtpasswd, removeHtpasswdUser, setHtpasswdUser, type HashScheme } from '../../shared/htpasswd.js';
import { normalizeName, isValidProjectName } from '../../shared/names.js';
import type { PyrepoPaths } from '../../shared/paths.js';
import { AbortError } from '../errors.js';
import { loadSettings } from './settings-store.js';

/** Shortest password accepted for a new user or a new password. */
export const MIN_PASSWORD_LENGTH = 8;

/** Where the users of one installation are. */
export interface UserFiles {
  /** pyrepo's own htpasswd file (written here). */
  htpasswd: string;
  /** Roles and tokens (written here). */
  access: string;
  /** An adopted htpasswd file, read only. */
  adopted?: string;
}

/** The user files of a data folder, with the adopted file the settings name. */
export function userFiles(dataDir: string, adopted?: string): UserFiles {
  return { ...accessFiles(dataDir), ...(adopted ? { adopted } : {}) };
}

/** This installation's user files (with the adopted htpasswd file its settings name) and its admin user. */
export function installationUsers(paths: PyrepoPaths): { files: UserFiles; adminUser: string } {
  const settings = loadSettings(paths);
  return { files: userFiles(paths.dataDir, settings.htpasswdFile), adminUser: settings.adminUser };
}

/** One user, as `pyrepo user list` shows it. */
export interface UserInfo {
  name: string;
  role: Role;
  /** Whether the role was given explicitly (else the default for adopted users applies). */
  roleSet: boolean;
  /** `pyrepo` for pyrepo's own file, else the adopted file's path. */
  source: string;
  scheme: HashScheme;
  /** Tokens of this user that are neither revoked nor expired. */
  tokens: number;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new AbortError(`Cannot read ${path}: ${(err as Error).message}`);
  }
}

function readAccess(files: UserFiles): AccessFile {
  try {
    return readAccessFile(files.access);
  } catch (err) {
    if (err instanceof AccessFileError) throw new AbortError(err.message);
    throw err;
  }
}

function writeAccess(files: UserFiles, data: AccessFile): void {
  mkdirSync(dirname(files.access), { recursive: true });
  writeAccessFile(files.access, data);
}

function writeHtpasswd(files: UserFiles, text: string): void {
  mkdirSync(dirname(files.htpasswd), { recursive: true });
  writeFileAtomic(files.htpasswd, text, { mode: 0o600 });
}

function ownEntries(files: UserFiles) {
  return parseHtpasswd(readText(files.htpasswd)).entries;
}

function adoptedEntries(files: UserFiles) {
  if (!files.adopted) return [];
  if (!existsSync(files.adopted)) throw new AbortError(`The adopted htpasswd file ${files.adopted} does not exist any more.`, 'Restore it, or run `pyrepo init --htpasswd <file>` with its new place.');
  return parseHtpasswd(readText(files.adopted)).entries;
}

/** Where a user is defined: `own` (pyrepo's file, first), `adopted`, or nowhere. */
function whereIs(files: UserFiles, name: string): 'own' | 'adopted' | undefined {
  if (ownEntries(files).some((e) => e.user === name)) return 'own';
  if (adoptedEntries(files).some((e) => e.user === name)) return 'adopted';
  return undefined;
}

function checkUserName(name: string): void {
  if (!isValidUserName(name)) throw new AbortError(`'${name}' cannot be a user name: it may not contain ':', spaces or control characters.`);
  if (name === '__token__') throw new AbortError("'__token__' is the user name clients send with API tokens; choose another name.");
}

/** Refuses passwords too short to be worth hashing. */
export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw new AbortError(`The password is too short: at least ${MIN_PASSWORD_LENGTH} characters.`);
  if (/[\r\n]/.test(password)) throw new AbortError('The password may not contain line breaks.');
}

function activeTokens(access: AccessFile, user: string, now = Date.now()): TokenRecord[] {
  return access.tokens.filter((t) => t.user === user && !(t.expires && Date.parse(t.expires) <= now));
}

/** Every user of pyrepo's file and the adopted one (pyrepo's first, as the daemon reads them). */
export function listUsers(files: UserFiles): UserInfo[] {
  const access = readAccess(files);
  const seen = new Set<string>();
  const out: UserInfo[] = [];
  const add = (entries: ReturnType<typeof ownEntries>, source: string) => {
    for (const e of entries) {
      if (seen.has(e.user)) continue;
      seen.add(e.user);
      const set = access.roles[e.user];
      out.push({ name: e.user, role: set ?? 'uploader', roleSet: set !== undefined, source, scheme: hashScheme(e.hash), tokens: activeTokens(access, e.user).length });
    }
  };
  add(ownEntries(files), 'pyrepo');
  if (files.adopted) add(adoptedEntries(files), files.adopted);
  return out;
}

/** Adds a user with a password and a role; an existing name is an error. */
export async function addUser(files: UserFiles, name: string, password: string, role: Role): Promise<void> {
  checkUserName(name);
  checkPassword(password);
  const where = whereIs(files, name);
  if (where === 'own') throw new AbortError(`There is already a user '${name}'.`, `Change the password with \`pyrepo user passwd ${name}\`, the role with \`pyrepo user role ${name} <role>\`.`);
  if (where === 'adopted') {
    throw new AbortError(`'${name}' is a user of the adopted file ${files.adopted as string}.`, `Give them a role with \`pyrepo user role ${name} <role>\`; their password stays in that file.`);
  }
  const access = readAccess(files);
  writeHtpasswd(files, setHtpasswdUser(readText(files.htpasswd), name, await hashPassword(password)));
  writeAccess(files, { ...access, roles: { ...access.roles, [name]: role } });
}

/** Sets a user's password in pyrepo's file. */
export async function setUserPassword(files: UserFiles, name: string, password: string): Promise<void> {
  checkPassword(password);
  const where = whereIs(files, name);
  if (where === undefined) throw new AbortError(`There is no user '${name}'.`, '`pyrepo user list` shows them; `pyrepo user add` makes one.');
  if (where === 'adopted') throw new AbortError(`'${name}' is a user of the adopted file ${files.adopted as string}, which pyrepo does not write.`, `Change the password there, e.g. \`htpasswd -B ${files.adopted as string} ${name}\`.`);
  writeHtpasswd(files, setHtpasswdUser(readText(files.htpasswd), name, await hashPassword(password)));
}

/** Gives a user (of either file) a role. */
export function setUserRole(files: UserFiles, name: string, role: Role): void {
  if (whereIs(files, name) === undefined) throw new AbortError(`There is no user '${name}'.`, '`pyrepo user list` shows them.');
  const access = readAccess(files);
  if (access.roles[name] === role) return;
  writeAccess(files, { ...access, roles: { ...access.roles, [name]: role } });
}

/** Throws the reason a user cannot be removed (the admin identity, unknown, or in the adopted file). */
export function checkRemovable(files: UserFiles, name: string, adminUser: string): void {
  if (name === adminUser) {
    throw new AbortError(`'${name}' is the admin identity the pyrepo CLI itself uses; removing it would lock the CLI out of the index.`, 'Keep it, or change its password with `pyrepo user passwd --generate`.');
  }
  const where = whereIs(files, name);
  if (where === undefined) throw new AbortError(`There is no user '${name}'.`, '`pyrepo user list` shows them.');
  if (where === 'adopted') throw new AbortError(`'${name}' is a user of the adopted file ${files.adopted as string}, which pyrepo does not write.`, `Remove them there, e.g. \`htpasswd -D ${files.adopted as string} ${name}\`.`);
}

/**
 * Removes a user of pyrepo's file with their role and tokens; returns how many tokens went
 * with them. Their project ownerships are the daemon's (see user-removal.ts).
 */
export function removeUser(files: UserFiles, name: string, adminUser: string): { tokens: number } {
  checkRemovable(files, name, adminUser);
  const access = readAccess(files);
  const tokens = access.tokens.filter((t) => t.user === name).length;
  const roles = { ...access.roles };
  delete roles[name];
  // Tokens first: a crash between the two writes leaves a user without tokens, never tokens without a user.
  writeAccess(files, { ...access, roles, tokens: access.tokens.filter((t) => t.user !== name) });
  writeHtpasswd(files, removeHtpasswdUser(readText(files.htpasswd), name));
  return { tokens };
}

/** What `importUsers` did. */
export interface ImportResult {
  added: string[];
  replaced: string[];
  /** Users already in pyrepo's file, left as they were (without `replace`). */
  kept: string[];
  /** Lines that could not be taken, with the reason. */
  refused: string[];
}

/**
 * Copies the users of an htpasswd file (made by `htpasswd -B`, `-m`, `-s`, pypiserver…)
 * into pyrepo's own, hashes as they are: nobody needs a new password. Plaintext entries
 * are refused (the daemon would never accept them).
 */
export function importUsers(files: UserFiles, source: string, opts: { role?: Role; replace: boolean }): ImportResult {
  if (!existsSync(source)) throw new AbortError(`There is no file ${source}.`);
  const { entries, problems } = parseHtpasswd(readText(source));
  const result: ImportResult = { added: [], replaced: [], kept: [], refused: problems.map((p) => `${source}: ${p}`) };
  let text = readText(files.htpasswd);
  const existing = new Set(parseHtpasswd(text).entries.map((e) => e.user));
  const access = readAccess(files);
  const roles = { ...access.roles };
  for (const e of entries) {
    if (!isValidUserName(e.user) || e.user === '__token__') {
      result.refused.push(`${source}: line ${e.line + 1}: '${e.user}' cannot be a user name`);
      continue;
    }
    if (hashScheme(e.hash) === 'plaintext') {
      result.refused.push(`${source}: line ${e.line + 1}: '${e.user}' has a plaintext password (htpasswd -p), which pyrepo does not accept; set a new one with \`pyrepo user passwd ${e.user}\` after the import`);
      continue;
    }
    if (existing.has(e.user) && !opts.replace) {
      result.kept.push(e.user);
      continue;
    }
    (existing.has(e.user) ? result.replaced : result.added).push(e.user);
    text = setHtpasswdUser(text, e.user, e.hash);
    if (opts.role) roles[e.user] = opts.role;
  }
  if (result.added.length + result.replaced.length > 0) {
    writeHtpasswd(files, text);
    if (opts.role) writeAccess(files, { ...access, roles });
  }
  return result;
}

const DURATION = /^(\d+)\s*(h|d|w)$/i;
const UNIT_MS: Record<string, number> = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** `--expires`: `12h`, `30d`, `2w`, or a date / date-time (ISO 8601) in the future. */
export function parseExpiry(text: string, now = new Date()): Date {
  const m = DURATION.exec(text.trim());
  let when: Date;
  if (m) {
    when = new Date(now.getTime() + Number(m[1]) * (UNIT_MS[(m[2] as string).toLowerCase()] as number));
  } else if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())) {
    when = new Date(text.trim());
  } else {
    throw new AbortError(`--expires '${text}' is neither a duration nor a date.`, 'Examples: --expires 30d, --expires 12h, --expires 2w, --expires 2027-01-31');
  }
  if (Number.isNaN(when.getTime())) throw new AbortError(`--expires '${text}' is not a real date.`);
  if (when.getTime() <= now.getTime()) throw new AbortError(`--expires '${text}' is in the past.`);
  return when;
}

/** What a new token may do. */
export interface TokenRequest {
  user: string;
  name?: string;
  /** Project names as typed; stored normalized. */
  projects?: string[];
  readOnly: boolean;
  expires?: Date;
}

/** Creates a token; the returned `token` is the only time its secret exists in clear. */
export function createToken(files: UserFiles, request: TokenRequest): { token: string; record: TokenRecord } {
  if (whereIs(files, request.user) === undefined) throw new AbortError(`There is no user '${request.user}' to make a token for.`, '`pyrepo user list` shows them.');
  const bad = (request.projects ?? []).filter((p) => !isValidProjectName(p));
  if (bad.length > 0) throw new AbortError(`Not a project name: ${bad.map((p) => `'${p}'`).join(', ')}.`);
  if (request.name !== undefined && (request.name.length > 100 || /[\r\n]/.test(request.name))) throw new AbortError('--name is one line of at most 100 characters.');
  const access = readAccess(files);
  const projects = request.projects && request.projects.length > 0 ? [...new Set(request.projects.map(normalizeName))] : undefined;
  const made = newToken({
    user: request.user,
    readOnly: request.readOnly,
    ...(request.name ? { name: request.name } : {}),
    ...(projects ? { projects } : {}),
    ...(request.expires ? { expires: request.expires.toISOString() } : {}),
  });
  writeAccess(files, { ...access, tokens: [...access.tokens, made.record] });
  return made;
}

/** Every token (no secrets: they are not kept). */
export function listTokens(files: UserFiles): TokenRecord[] {
  return readAccess(files).tokens;
}

/** Revokes the token with this id (the `pyrepo_<id>_…` part, as `token list` shows it). */
export function revokeToken(files: UserFiles, id: string): TokenRecord {
  const access = readAccess(files);
  const wanted = id.replace(/^pyrepo_/, '').split('_')[0] as string;
  const record = access.tokens.find((t) => t.id === wanted);
  if (!record) throw new AbortError(`There is no token '${id}'.`, '`pyrepo token list` shows the ids.');
  writeAccess(files, { ...access, tokens: access.tokens.filter((t) => t !== record) });
  return record;
}
