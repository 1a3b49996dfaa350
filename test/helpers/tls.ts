/** Self-signed certificates for tests, made by openssl (EC keys: fast to make). */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export interface TlsPair {
  cert: string;
  key: string;
}

/** Writes `<name>.crt` and `<name>.key` (PEM, no passphrase) for 127.0.0.1 and localhost into `dir`. */
export function makeTlsPair(dir: string, name = 'server'): TlsPair {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=pyrepo.test', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { stdio: 'pipe' },
  );
  return { cert, key };
}

/** The key of `pair` written out again with a passphrase, as `<name>.enc.key`. */
export function encryptKey(dir: string, pair: TlsPair, name = 'server'): string {
  const out = join(dir, `${name}.enc.key`);
  execFileSync('openssl', ['pkey', '-in', pair.key, '-aes256', '-passout', 'pass:secret', '-out', out], { stdio: 'pipe' });
  return out;
}
