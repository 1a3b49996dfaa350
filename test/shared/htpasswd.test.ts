/** htpasswd files: every hash Debian's `htpasswd` writes verifies; edits keep other lines. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashPassword, hashScheme, isValidUserName, parseHtpasswd, removeHtpasswdUser, setHtpasswdUser, verifyPassword, verifyPasswordAside } from '../../src/shared/htpasswd.js';

/** `htpasswd -nb <flags> user password` from apache2-utils (installed by .ci/run). */
function htpasswd(flags: string[], user: string, password: string): string {
  const out = execFileSync('htpasswd', ['-nb', ...flags, user, password], { encoding: 'utf8' }).trim();
  return out.slice(out.indexOf(':') + 1);
}

describe('verifying what htpasswd writes', () => {
  const cases: [string, string[], string][] = [
    ['bcrypt (-B)', ['-B', '-C', '5'], 'bcrypt'],
    ['Apache MD5 (-m)', ['-m'], 'apr1'],
    ['SHA-1 (-s)', ['-s'], 'sha1'],
    ['SHA-256 crypt (-2)', ['-2'], 'sha256-crypt'],
    ['SHA-512 crypt (-5)', ['-5', '-r', '6000'], 'sha512-crypt'],
    ['DES crypt (-d)', ['-d'], 'crypt'],
  ];
  for (const [label, flags, scheme] of cases) {
    it(label, async () => {
      const password = 's3cret-Pässwörd';
      // DES crypt uses only 8 ASCII characters; keep that case to its real limits.
      const pw = scheme === 'crypt' ? 'secret12' : password;
      const hash = htpasswd(flags, 'alice', pw);
      expect(hashScheme(hash)).toBe(scheme);
      expect(await verifyPassword(pw, hash)).toBe(true);
      expect(await verifyPassword(`${pw}x`.slice(scheme === 'crypt' ? 1 : 0), hash)).toBe(false);
      expect(await verifyPassword('', hash)).toBe(false);
      // The same answers on a thread of its own (bcrypt) or here (the others).
      expect(await verifyPasswordAside(pw, hash)).toBe(true);
      expect(await verifyPasswordAside(`${pw}x`.slice(scheme === 'crypt' ? 1 : 0), hash)).toBe(false);
    });
  }

  it('refuses plaintext entries (-p), even with the right password', async () => {
    expect(hashScheme('plain')).toBe('plaintext');
    expect(await verifyPassword('plain', 'plain')).toBe(false);
  });

  it('hashes new passwords with bcrypt as $2y$, which htpasswd -v accepts', async () => {
    const hash = await hashPassword('new-password', 4);
    expect(hash).toMatch(/^\$2y\$04\$/);
    expect(await verifyPassword('new-password', hash)).toBe(true);
    const file = `bob:${hash}\n`;
    const dir = mkdtempSync(join(tmpdir(), 'pyrepo-htpasswd-'));
    writeFileSync(join(dir, 'users'), file);
    expect(() => execFileSync('htpasswd', ['-vb', join(dir, 'users'), 'bob', 'new-password'], { stdio: 'pipe' })).not.toThrow();
    rmSync(dir, { recursive: true });
  });
});

describe('the file', () => {
  it('parses users, skips comments and blank lines, reports bad and repeated lines', () => {
    const { entries, problems } = parseHtpasswd('# users\nalice:$apr1$x$y\n\nnot a line\nbob:{SHA}abc:extra\nalice:again\n');
    expect(entries.map((e) => [e.user, e.hash, e.line])).toEqual([
      ['alice', '$apr1$x$y', 1],
      ['bob', '{SHA}abc', 4],
    ]);
    expect(problems).toEqual(['line 4 is not user:hash', "line 6: user 'alice' appears again (the first entry counts)"]);
  });

  it('sets and removes users without touching other lines', () => {
    const text = '# team\r\nalice:A\r\nbob:B\r\n';
    expect(setHtpasswdUser(text, 'bob', 'B2')).toBe('# team\r\nalice:A\r\nbob:B2\r\n');
    expect(setHtpasswdUser(text, 'carol', 'C')).toBe('# team\r\nalice:A\r\nbob:B\r\ncarol:C\r\n');
    expect(setHtpasswdUser('', 'dave', 'D')).toBe('dave:D\n');
    expect(removeHtpasswdUser(text, 'alice')).toBe('# team\r\nbob:B\r\n');
    expect(removeHtpasswdUser('x:1\n', 'x')).toBe('');
    expect(removeHtpasswdUser(text, 'nobody')).toBe(text);
  });

  it('accepts only user names Basic auth can carry', () => {
    for (const ok of ['alice', 'ci-bot', 'ünï', 'a.b@c']) expect(isValidUserName(ok), ok).toBe(true);
    for (const bad of ['', 'a:b', 'a b', 'tab\t', 'nl\n', 'x'.repeat(256)]) expect(isValidUserName(bad), JSON.stringify(bad)).toBe(false);
    expect(() => setHtpasswdUser('', 'a:b', 'h')).toThrow(/cannot be a user name/);
  });
});
