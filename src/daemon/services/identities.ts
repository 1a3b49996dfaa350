/**
 * Who is asking: checks Basic credentials against the htpasswd file (passwords) and the
 * access file (roles, API tokens). Both are files the CLI or an administrator edit; they
 * are read again when they change (looked at no more than once a second), so a new user
 * or a revoked token counts at once and nothing needs a restart.
 *
 * Password hashes are slow on purpose (bcrypt), and clients send credentials with every
 * request, so a successful check is remembered for a few minutes under a digest of the
 * credentials (never the password itself); any change to the files forgets them all.
 */
import { createHash, randomBytes } from 'node:crypto';
import { statSync, readFileSync } from 'node:fs';
import { DEFAULT_ROLE, readAccessFile, splitToken, tokenMatches, type AccessFile, type Role, type TokenRecord } from '../../shared/access-file.js';
import { hashPassword, parseHtpasswd, verifyPassword, type HtpasswdEntry } from '../../shared/htpasswd.js';

/** A verified caller. */
export interface Identity {
  user: string;
  role: Role;
  /** Set when the caller used an API token: its limits apply on top of the user's. */
  token?: Pick<TokenRecord, 'id' | 'name' | 'projects' | 'readOnly'>;
}

/**
 * How a caller is named in the records of who did what (catalog, events, access log):
 * the user, or for a token its user, public id and name, as `alice (token ab12cd34 "ci")`.
 * Never the token's secret.
 */
export function actorName(identity: Identity): string {
  if (!identity.token) return identity.user;
  const name = identity.token.name ? ` ${JSON.stringify(identity.token.name)}` : '';
  return `${identity.user} (token ${identity.token.id}${name})`;
}

/** The outcome of a credentials check. */
export type CheckResult = { ok: true; identity: Identity } | { ok: false; reason: string };

let dummyHash: Promise<string> | undefined;

/**
 * A bcrypt hash of a random password, at the cost new passwords get, checked against when
 * the user does not exist. It must be a well-formed hash: bcryptjs answers false at once
 * for a malformed one, which would tell names that exist from names that do not.
 */
export function unknownUserHash(): Promise<string> {
  return (dummyHash ??= hashPassword(randomBytes(16).toString('hex')));
}

const CACHE_MS = 5 * 60 * 1000;
const CACHE_MAX = 10_000;
const RELOAD_CHECK_MS = 1000;

function stamp(path: string): string {
  try {
    const st = statSync(path);
    return `${st.mtimeMs}:${st.size}:${st.ino}`;
  } catch {
    return 'absent';
  }
}

export interface IdentitiesOptions {
  /** pyrepo's own htpasswd file first, then an adopted one (read in place, never written); the first entry of a user counts. */
  htpasswdFiles: string[];
  /**
   * pyrepo's own access file first, then (in the shared mode) the shared index's: a user's
   * role from the first that names it, the tokens of all of them.
   */
  accessFiles: string[];
  /** Told about problems in the files (bad lines, a damaged access file), once per change. */
  warn: (message: string) => void;
}

export class Identities {
  private users = new Map<string, HtpasswdEntry>();
  private access: AccessFile = { version: 1, roles: {}, tokens: [] };
  private stamps = '';
  private checkedAt = 0;
  private readonly verified = new Map<string, { identity: Identity; until: number }>();

  constructor(private readonly opts: IdentitiesOptions) {
    this.reloadIfChanged(true);
  }

  /** How many users the htpasswd file has (for the start-up message). */
  get userCount(): number {
    this.reloadIfChanged();
    return this.users.size;
  }

  /** Whether a user of that name exists in any of the htpasswd files. */
  has(user: string): boolean {
    this.reloadIfChanged();
    return this.users.has(user) || (this.reloadIfChanged(true) && this.users.has(user));
  }

  /**
   * A user as they are now (their current role), without a password: for what the daemon
   * does on a user's behalf later (a watched build folder publishes as the user who
   * registered it). Undefined when the user no longer exists.
   */
  identityOf(user: string): Identity | undefined {
    return this.has(user) ? { user, role: this.roleOf(user) } : undefined;
  }

  /**
   * Reads the files again if they changed (looked at once a second at most, unless
   * forced); true when they had. Misses force a look: a user or token added a moment ago
   * (`pyrepo user add`, then at once `twine upload`) must count.
   */
  private reloadIfChanged(force = false): boolean {
    const now = Date.now();
    if (!force && now - this.checkedAt < RELOAD_CHECK_MS) return false;
    this.checkedAt = now;
    const stamps = [...this.opts.htpasswdFiles, ...this.opts.accessFiles].map(stamp).join('|');
    if (stamps === this.stamps) return false;
    this.stamps = stamps;
    this.verified.clear();
    this.users = new Map();
    for (const file of this.opts.htpasswdFiles) {
      try {
        const { entries, problems } = parseHtpasswd(readFileSync(file, 'utf8'));
        for (const e of entries) if (!this.users.has(e.user)) this.users.set(e.user, e);
        for (const p of problems) this.opts.warn(`${file}: ${p}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.warn(`Cannot read ${file}: ${(err as Error).message}`);
      }
    }
    try {
      const all = this.opts.accessFiles.map((file) => readAccessFile(file));
      const access: AccessFile = { version: 1, roles: {}, tokens: [] };
      for (const a of all) {
        for (const [user, role] of Object.entries(a.roles)) access.roles[user] ??= role;
        for (const t of a.tokens) if (!access.tokens.some((x) => x.id === t.id)) access.tokens.push(t);
      }
      this.access = access;
    } catch (err) {
      // Keep the last good version rather than lock everybody out over a typo.
      this.opts.warn(`${(err as Error).message} The previous access rules stay in force.`);
    }
    return true;
  }

  private roleOf(user: string): Role {
    return this.access.roles[user] ?? DEFAULT_ROLE;
  }

  private checkToken(token: string, claimedUser: string): CheckResult {
    const parts = splitToken(token);
    const record = parts && this.access.tokens.find((t) => t.id === parts.id);
    if (!parts || !record || !tokenMatches(record, parts.secret)) return { ok: false, reason: 'Invalid or revoked token.' };
    if (claimedUser !== '__token__' && claimedUser !== record.user) return { ok: false, reason: 'Invalid or revoked token.' };
    if (record.expires && Date.parse(record.expires) <= Date.now()) return { ok: false, reason: `The token ${record.id} expired on ${record.expires}.` };
    if (!this.users.has(record.user)) return { ok: false, reason: `The token's user '${record.user}' no longer exists.` };
    return {
      ok: true,
      identity: {
        user: record.user,
        role: this.roleOf(record.user),
        token: { id: record.id, readOnly: record.readOnly, ...(record.name ? { name: record.name } : {}), ...(record.projects ? { projects: record.projects } : {}) },
      },
    };
  }

  /** Checks a user name and password (or `__token__` / a user and a token). */
  async check(user: string, password: string): Promise<CheckResult> {
    this.reloadIfChanged();
    const key = createHash('sha256').update(`${user}\0${password}`).digest('hex');
    const hit = this.verified.get(key);
    if (hit && hit.until > Date.now()) return { ok: true, identity: hit.identity };
    const first = await this.verify(user, password, key);
    return first.ok || !this.reloadIfChanged(true) ? first : this.verify(user, password, key);
  }

  private async verify(user: string, password: string, key: string): Promise<CheckResult> {
    let result: CheckResult;
    if (password.startsWith('pyrepo_') && (user === '__token__' || this.users.has(user))) {
      result = this.checkToken(password, user);
    } else {
      const entry = this.users.get(user);
      // An unknown user costs a real bcrypt check too, so timing does not tell which names exist.
      const ok = await verifyPassword(password, entry?.hash ?? (await unknownUserHash()));
      result = entry && ok ? { ok: true, identity: { user, role: this.roleOf(user) } } : { ok: false, reason: 'Invalid username or password.' };
    }
    if (result.ok) {
      if (this.verified.size >= CACHE_MAX) this.verified.clear();
      this.verified.set(key, { identity: result.identity, until: Date.now() + CACHE_MS });
    }
    return result;
  }
}
