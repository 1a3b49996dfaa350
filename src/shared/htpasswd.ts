/**
 * Apache htpasswd files, as pypiserver and nginx use them: `user:hash` lines, `#` comments.
 * Every hash `htpasswd` writes is verified: bcrypt (`$2y$`, `$2b$`, `$2a$`), Apache MD5
 * (`$apr1$`) and MD5-crypt (`$1$`), SHA-256/512-crypt (`$5$`, `$6$`), `{SHA}` and DES crypt.
 * Plaintext entries (`htpasswd -p`) are refused: a stored hash typed as a password would
 * match one. New passwords are hashed with bcrypt.
 *
 * Libraries, not hand-written crypto: bcryptjs, apache-md5, apache-crypt (what the
 * `http-auth` package uses) and unixcrypt. Results are compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import bcrypt from 'bcryptjs';
import md5crypt from 'apache-md5';
import descrypt from 'apache-crypt';
import { verify as shaCryptVerify } from 'unixcrypt';
import { startThread } from './heap-limits.js';

/** One user of the file. */
export interface HtpasswdEntry {
  user: string;
  hash: string;
  /** 0-based line in the file. */
  line: number;
}

/** The hash schemes pyrepo understands, as `htpasswd` names them. */
export type HashScheme = 'bcrypt' | 'apr1' | 'md5-crypt' | 'sha256-crypt' | 'sha512-crypt' | 'sha1' | 'crypt' | 'plaintext';

/** Which scheme a stored hash uses. */
export function hashScheme(hash: string): HashScheme {
  if (/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) return 'bcrypt';
  if (hash.startsWith('$apr1$')) return 'apr1';
  if (hash.startsWith('$1$')) return 'md5-crypt';
  if (hash.startsWith('$5$')) return 'sha256-crypt';
  if (hash.startsWith('$6$')) return 'sha512-crypt';
  if (hash.startsWith('{SHA}')) return 'sha1';
  if (/^[./A-Za-z0-9]{13}$/.test(hash)) return 'crypt';
  return 'plaintext';
}

/** A user name `htpasswd` and HTTP Basic can both carry: no ':' or whitespace or control characters, at most 255 bytes. */
export function isValidUserName(user: string): boolean {
  // eslint-disable-next-line no-control-regex
  return user.length > 0 && Buffer.byteLength(user) <= 255 && !/[:\s\u0000-\u001f\u007f]/.test(user);
}

/** Parses the file; `problems` lists lines that are not `user:hash` (skipped, with their 1-based number). */
export function parseHtpasswd(text: string): { entries: HtpasswdEntry[]; problems: string[] } {
  const entries: HtpasswdEntry[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, line) => {
    const l = raw.trim();
    if (l === '' || l.startsWith('#')) return;
    const at = l.indexOf(':');
    if (at <= 0) {
      problems.push(`line ${line + 1} is not user:hash`);
      return;
    }
    const user = l.slice(0, at);
    // Apache reads "user:hash:anything": the part after a second colon is ignored.
    const hash = l.slice(at + 1).split(':')[0] as string;
    if (seen.has(user)) {
      problems.push(`line ${line + 1}: user '${user}' appears again (the first entry counts)`);
      return;
    }
    seen.add(user);
    entries.push({ user, hash, line });
  });
  return { entries, problems };
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  // Compare equal-length buffers only; a length mismatch still costs one comparison.
  return timingSafeEqual(x.length === y.length ? x : y, y) && x.length === y.length;
}

/**
 * The password's UTF-8 bytes as a one-char-per-byte string: apache-md5 and apache-crypt
 * hash "binary" strings, while htpasswd hashes the bytes it was given (UTF-8 on any
 * modern system), so a non-ASCII password would not match otherwise.
 */
function bytes(password: string): string {
  return Buffer.from(password, 'utf8').toString('latin1');
}

/** Whether `password` matches a stored hash (false for plaintext entries, which are refused). */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  switch (hashScheme(hash)) {
    case 'bcrypt':
      return bcrypt.compare(password, hash);
    case 'apr1':
    case 'md5-crypt':
      return equal(md5crypt(bytes(password), hash), hash);
    case 'sha256-crypt':
    case 'sha512-crypt':
      return shaCryptVerify(password, hash);
    case 'sha1':
      return equal(`{SHA}${createHash('sha1').update(password, 'utf8').digest('base64')}`, hash);
    case 'crypt':
      return equal(descrypt(bytes(password), hash), hash);
    case 'plaintext':
      return false;
  }
}

const BCRYPT_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptjs);
parentPort.postMessage(bcrypt.compareSync(workerData.password, workerData.hash));
`;

/**
 * {@link verifyPassword} on a thread of its own, for a caller with other work to do
 * meanwhile: `pyrepo serve` loads the daemon while the admin's bcrypt hash is checked, which
 * otherwise put 60-180 ms of CPU on the path from the spawn to the first answer. Other
 * schemes, quick to check, are checked here; so is bcrypt if the thread cannot start.
 */
export async function verifyPasswordAside(password: string, hash: string): Promise<boolean> {
  if (hashScheme(hash) !== 'bcrypt') return verifyPassword(password, hash);
  let worker: Worker;
  try {
    const bcryptjs = createRequire(import.meta.url).resolve('bcryptjs');
    // `pyrepo serve` checks once the daemon listens, in the daemon's process.
    worker = startThread(BCRYPT_WORKER, { eval: true, workerData: { bcryptjs, password, hash } });
  } catch {
    return verifyPassword(password, hash);
  }
  try {
    const [answer] = (await once(worker, 'message')) as [unknown];
    return answer === true;
  } catch {
    return verifyPassword(password, hash);
  } finally {
    void worker.terminate();
  }
}

/** bcrypt cost for new passwords: about 60 ms per check with bcryptjs on a small machine. */
export const BCRYPT_COST = 10;

/** A bcrypt hash of `password` for the file (`$2y$`, the form `htpasswd -B` writes). */
export async function hashPassword(password: string, cost = BCRYPT_COST): Promise<string> {
  return (await bcrypt.hash(password, cost)).replace(/^\$2[ab]\$/, '$2y$');
}

/** The file with `user`'s line set to `hash` (replaced in place, or appended). */
export function setHtpasswdUser(text: string, user: string, hash: string): string {
  if (!isValidUserName(user)) throw new Error(`'${user}' cannot be a user name: no ':', spaces or control characters.`);
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/);
  const entry = parseHtpasswd(text).entries.find((e) => e.user === user);
  if (entry) lines[entry.line] = `${user}:${hash}`;
  else lines.push(`${user}:${hash}`);
  return lines.join(eol) + eol;
}

/** The file without `user`'s line. */
export function removeHtpasswdUser(text: string, user: string): string {
  const entry = parseHtpasswd(text).entries.find((e) => e.user === user);
  if (!entry) return text;
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text.replace(/\r?\n$/, '').split(/\r?\n/);
  lines.splice(entry.line, 1);
  return lines.length === 0 ? '' : lines.join(eol) + eol;
}
