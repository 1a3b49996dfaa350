/**
 * The users service: pyrepo's htpasswd and access files as `pyrepo user` and `pyrepo token`
 * write them, an adopted file left untouched, imports of files made by Debian's `htpasswd`,
 * and token expiry parsing.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readAccessFile, splitToken, tokenMatches } from '../../src/shared/access-file.js';
import { parseHtpasswd, verifyPassword } from '../../src/shared/htpasswd.js';
import { AbortError } from '../../src/cli/errors.js';
import {
  addUser,
  createToken,
  importUsers,
  listTokens,
  listUsers,
  parseExpiry,
  removeUser,
  revokeToken,
  setUserPassword,
  setUserRole,
  userFiles,
  type UserFiles,
} from '../../src/cli/services/users.js';

let dir: string;
let files: UserFiles;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyrepo-users-'));
  files = userFiles(join(dir, 'data'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const htpasswdText = () => readFileSync(files.htpasswd, 'utf8');
const hashOf = (user: string) => parseHtpasswd(htpasswdText()).entries.find((e) => e.user === user)?.hash ?? '';

async function abortMessage(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(AbortError);
    return (err as Error).message;
  }
  throw new Error('expected an AbortError');
}

describe('users', () => {
  it('adds a user with a bcrypt hash (file mode 0600) and a role; lists them; refuses a second one of the same name', async () => {
    await addUser(files, 'ann', 'ann-password', 'uploader');
    await addUser(files, 'rita', 'rita-password', 'reader');
    expect(hashOf('ann')).toMatch(/^\$2y\$10\$/);
    expect(await verifyPassword('ann-password', hashOf('ann'))).toBe(true);
    expect(statSync(files.htpasswd).mode & 0o777).toBe(0o600);
    expect(statSync(files.access).mode & 0o777).toBe(0o600);
    expect(readAccessFile(files.access).roles).toEqual({ ann: 'uploader', rita: 'reader' });
    expect(listUsers(files).map((u) => [u.name, u.role, u.source, u.scheme])).toEqual([
      ['ann', 'uploader', 'pyrepo', 'bcrypt'],
      ['rita', 'reader', 'pyrepo', 'bcrypt'],
    ]);
    expect(await abortMessage(addUser(files, 'ann', 'other-password', 'admin'))).toBe("There is already a user 'ann'.");
    expect(await abortMessage(addUser(files, 'a:b', 'password-1', 'reader'))).toContain('cannot be a user name');
    expect(await abortMessage(addUser(files, '__token__', 'password-1', 'reader'))).toContain('API tokens');
    expect(await abortMessage(addUser(files, 'short', 'short', 'reader'))).toContain('too short');
  });

  it('changes passwords and roles, and removes a user with their tokens but never the admin identity', async () => {
    await addUser(files, 'admin', 'admin-password', 'admin');
    await addUser(files, 'ann', 'ann-password', 'uploader');
    await setUserPassword(files, 'ann', 'new-ann-password');
    expect(await verifyPassword('new-ann-password', hashOf('ann'))).toBe(true);
    setUserRole(files, 'ann', 'reader');
    expect(readAccessFile(files.access).roles.ann).toBe('reader');
    createToken(files, { user: 'ann', readOnly: true });
    createToken(files, { user: 'admin', readOnly: false });
    expect(listUsers(files).find((u) => u.name === 'ann')?.tokens).toBe(1);

    expect(removeUser(files, 'ann', 'admin')).toEqual({ tokens: 1 });
    expect(parseHtpasswd(htpasswdText()).entries.map((e) => e.user)).toEqual(['admin']);
    expect(readAccessFile(files.access)).toMatchObject({ roles: { admin: 'admin' } });
    expect(listTokens(files).map((t) => t.user)).toEqual(['admin']);
    expect(await abortMessage(() => removeUser(files, 'admin', 'admin'))).toContain('admin identity');
    expect(await abortMessage(() => removeUser(files, 'ann', 'admin'))).toBe("There is no user 'ann'.");
    expect(await abortMessage(setUserPassword(files, 'ann', 'whatever-password'))).toBe("There is no user 'ann'.");
  });

  it('gives users of an adopted file roles and tokens, but never writes that file', async () => {
    const adopted = join(dir, 'pypiserver.htpasswd');
    writeFileSync(adopted, '# the team\ncarl:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n');
    const before = readFileSync(adopted, 'utf8');
    files = userFiles(join(dir, 'data'), adopted);
    expect(listUsers(files)).toEqual([{ name: 'carl', role: 'uploader', roleSet: false, source: adopted, scheme: 'sha1', tokens: 0 }]);
    setUserRole(files, 'carl', 'admin');
    expect(listUsers(files)[0]).toMatchObject({ role: 'admin', roleSet: true });
    createToken(files, { user: 'carl', readOnly: false });
    expect(await abortMessage(setUserPassword(files, 'carl', 'carl-password'))).toContain('which pyrepo does not write');
    expect(await abortMessage(() => removeUser(files, 'carl', 'admin'))).toContain('which pyrepo does not write');
    expect(await abortMessage(addUser(files, 'carl', 'carl-password', 'reader'))).toContain('adopted file');
    expect(readFileSync(adopted, 'utf8')).toBe(before);
  });
});

describe('import', () => {
  const htpasswd = (...args: string[]) => execFileSync('htpasswd', args, { stdio: 'pipe' });

  it("copies the users of a file made by Debian's htpasswd (-B, -m, -s), hashes as they are; refuses plaintext; keeps existing users unless --replace", async () => {
    const source = join(dir, 'team.htpasswd');
    htpasswd('-c', '-b', '-B', source, 'carl', 'carl-pass');
    htpasswd('-b', '-m', source, 'dora', 'dora-pass');
    htpasswd('-b', '-s', source, 'eve', 'eve-pass');
    htpasswd('-b', '-p', source, 'plain', 'plain-pass');
    writeFileSync(source, `${readFileSync(source, 'utf8')}not a line\n`);
    await addUser(files, 'eve', 'pyrepo-eve-pass', 'uploader');

    const r = importUsers(files, source, { role: 'reader', replace: false });
    expect(r.added).toEqual(['carl', 'dora']);
    expect(r.kept).toEqual(['eve']);
    expect(r.refused).toHaveLength(2);
    expect(r.refused.join('\n')).toMatch(/'plain' has a plaintext password/);
    expect(r.refused.join('\n')).toMatch(/line 5 is not user:hash/);
    expect(await verifyPassword('carl-pass', hashOf('carl'))).toBe(true);
    expect(hashOf('dora')).toMatch(/^\$apr1\$/);
    expect(await verifyPassword('dora-pass', hashOf('dora'))).toBe(true);
    expect(await verifyPassword('pyrepo-eve-pass', hashOf('eve'))).toBe(true);
    expect(readAccessFile(files.access).roles).toEqual({ eve: 'uploader', carl: 'reader', dora: 'reader' });

    const again = importUsers(files, source, { replace: true });
    expect(again.replaced).toEqual(['carl', 'dora', 'eve']);
    expect(await verifyPassword('eve-pass', hashOf('eve'))).toBe(true);
    expect(await abortMessage(() => importUsers(files, join(dir, 'missing'), { replace: false }))).toContain('There is no file');
  });
});

describe('tokens', () => {
  it('are shown once, kept as a SHA-256 digest, scoped to normalized projects, and revoked by id or whole token', async () => {
    await addUser(files, 'ann', 'ann-password', 'uploader');
    const { token, record } = createToken(files, { user: 'ann', projects: ['My_Pkg', 'my.pkg', 'other'], readOnly: false, name: 'ci', expires: new Date('2099-01-01T00:00:00Z') });
    const parts = splitToken(token);
    expect(parts?.id).toBe(record.id);
    expect(tokenMatches(record, parts?.secret ?? '')).toBe(true);
    expect(readFileSync(files.access, 'utf8')).not.toContain(parts?.secret);
    expect(record).toMatchObject({ user: 'ann', projects: ['my-pkg', 'other'], readOnly: false, name: 'ci', expires: '2099-01-01T00:00:00.000Z' });
    expect(await abortMessage(() => createToken(files, { user: 'zed', readOnly: false }))).toContain("There is no user 'zed'");
    expect(await abortMessage(() => createToken(files, { user: 'ann', readOnly: false, projects: ['-bad-'] }))).toContain('Not a project name');

    const second = createToken(files, { user: 'ann', readOnly: true });
    expect(revokeToken(files, token).id).toBe(record.id);
    expect(revokeToken(files, second.record.id).id).toBe(second.record.id);
    expect(listTokens(files)).toEqual([]);
    expect(await abortMessage(() => revokeToken(files, record.id))).toContain('There is no token');
  });

  it('expire after a duration or on a date in the future, and refuse anything else', async () => {
    const now = new Date('2026-01-01T00:00:00Z');
    expect(parseExpiry('12h', now).toISOString()).toBe('2026-01-01T12:00:00.000Z');
    expect(parseExpiry('30d', now).toISOString()).toBe('2026-01-31T00:00:00.000Z');
    expect(parseExpiry('2w', now).toISOString()).toBe('2026-01-15T00:00:00.000Z');
    expect(parseExpiry('2027-01-31', now).toISOString()).toBe('2027-01-31T00:00:00.000Z');
    expect(parseExpiry('2026-06-01T10:00:00+02:00', now).toISOString()).toBe('2026-06-01T08:00:00.000Z');
    expect(await abortMessage(() => parseExpiry('tomorrow', now))).toContain('neither a duration nor a date');
    expect(await abortMessage(() => parseExpiry('2025-12-31', now))).toContain('in the past');
    expect(await abortMessage(() => parseExpiry('2026-13-45', now))).toContain('not a real date');
  });
});
