/** The checks the CLI and the daemon share: TLS files that can serve, anonymous uploads beyond loopback, listen errors. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonymousLanUploadProblem, listenProblem, loadTlsFiles, SettingsProblem } from '../../src/shared/settings-checks.js';
import { encryptKey, makeTlsPair, type TlsPair } from '../helpers/tls.js';

let dir: string;
let good: TlsPair;
let other: TlsPair;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyrepo-checks-'));
  good = makeTlsPair(dir, 'good');
  other = makeTlsPair(dir, 'other');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('TLS files', () => {
  it('a certificate and its own key can serve', () => {
    const { cert, key } = loadTlsFiles(good.cert, good.key);
    expect(cert.toString()).toContain('BEGIN CERTIFICATE');
    expect(key.toString()).toContain('PRIVATE KEY');
  });

  const problem = (cert: string, key: string) => {
    try {
      loadTlsFiles(cert, key);
    } catch (err) {
      expect(err).toBeInstanceOf(SettingsProblem);
      return (err as Error).message;
    }
    throw new Error('accepted');
  };

  it('names the file that cannot be read, and why', () => {
    expect(problem(join(dir, 'missing.crt'), good.key)).toBe(`Cannot read the TLS certificate ${join(dir, 'missing.crt')}: no such file.`);
    expect(problem(good.cert, dir)).toBe(`Cannot read the TLS key ${dir}: it is a folder.`);
  });

  it('a file that is not a certificate or not a key', () => {
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'hello\n');
    expect(problem(text, good.key)).toMatch(/^The TLS certificate .*notes\.txt is not a certificate \(a PEM file starts with -----BEGIN CERTIFICATE-----\)\.$/);
    expect(problem(good.cert, good.cert)).toMatch(/^The TLS key .*good\.crt is not a private key/);
  });

  it('a key with a passphrase, and a key of another pair', () => {
    expect(problem(good.cert, encryptKey(dir, good, 'good'))).toMatch(/is protected by a passphrase, which pyrepo cannot ask for/);
    expect(problem(good.cert, other.key)).toBe(`The TLS key ${other.key} does not belong to the certificate ${good.cert}: they are from different pairs.`);
  });
});

describe('anonymous uploads beyond loopback', () => {
  it('are refused unless the risk is accepted; loopback and authenticated uploads are fine', () => {
    expect(anonymousLanUploadProblem({ host: '0.0.0.0', authenticate: [], allowAnonymousLanUploads: false })).toMatch(/^Refusing to listen on 0\.0\.0\.0 with uploads open to anyone/);
    expect(anonymousLanUploadProblem({ host: '0.0.0.0', authenticate: [], allowAnonymousLanUploads: true })).toBeUndefined();
    expect(anonymousLanUploadProblem({ host: '0.0.0.0', authenticate: ['upload'], allowAnonymousLanUploads: false })).toBeUndefined();
    expect(anonymousLanUploadProblem({ host: '127.0.0.1', authenticate: [], allowAnonymousLanUploads: false })).toBeUndefined();
  });
});

describe('listen errors', () => {
  it('say what they mean, and nothing for codes without advice', () => {
    expect(listenProblem('EADDRINUSE', '127.0.0.1', 8645)).toBe('Port 8645 on 127.0.0.1 is already in use by another program. Stop it, or choose another port with --port.');
    expect(listenProblem('EACCES', '127.0.0.1', 80)).toMatch(/Ports below 1024 need privileges/);
    expect(listenProblem('EADDRNOTAVAIL', '192.0.2.1', 8645)).toMatch(/192\.0\.2\.1 is not an address of this machine/);
    expect(listenProblem('EIO', '127.0.0.1', 8645)).toBeUndefined();
  });
});
