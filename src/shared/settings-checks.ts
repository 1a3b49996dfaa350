/**
 * Checks of daemon settings that the CLI and the daemon both make: the CLI before it
 * saves a setting or stops a running daemon for a restart, the daemon when it starts.
 * One place, so that both refuse the same things with the same words.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { isLoopback } from './access-policy.js';
import type { AuthAction } from './settings.js';

/** A setting the daemon cannot start with; the message says which and why. */
export class SettingsProblem extends Error {
  override readonly name = 'SettingsProblem';
}

/**
 * Why the daemon refuses to listen with these access settings (beyond loopback with
 * uploads open to anyone, unless that risk was accepted), or undefined when it would not.
 */
export function anonymousLanUploadProblem(settings: { host: string; authenticate: readonly AuthAction[]; allowAnonymousLanUploads: boolean }): string | undefined {
  if (isLoopback(settings.host) || settings.authenticate.includes('upload') || settings.allowAnonymousLanUploads) return undefined;
  return (
    `Refusing to listen on ${settings.host} with uploads open to anyone: every machine that can reach it could publish or replace packages. ` +
    'Keep uploads authenticated (--authenticate upload, the default), or accept the risk with --allow-anonymous-lan-uploads.'
  );
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder' : (err as Error).message;
    throw new SettingsProblem(`Cannot read the TLS ${what} ${path}: ${why}.`);
  }
}

/**
 * Reads the HTTPS certificate and key and checks that they can serve: both readable,
 * the certificate a PEM (or DER) X.509 certificate, the key a private key without a
 * passphrase, and the key the certificate's own. Throws a {@link SettingsProblem} naming
 * the file that is wrong.
 */
export function loadTlsFiles(certFile: string, keyFile: string): { cert: Buffer; key: Buffer } {
  const cert = readPem(certFile, 'certificate');
  const key = readPem(keyFile, 'key');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new SettingsProblem(`The TLS certificate ${certFile} is not a certificate (a PEM file starts with -----BEGIN CERTIFICATE-----).`);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // OpenSSL 3 says "interrupted or cancelled" where it would have asked for the passphrase.
    const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(key.toString('latin1'));
    if (encrypted || code === 'ERR_MISSING_PASSPHRASE' || code === 'ERR_OSSL_CRYPTO_INTERRUPTED_OR_CANCELLED') {
      throw new SettingsProblem(`The TLS key ${keyFile} is protected by a passphrase, which pyrepo cannot ask for: write it out without one (openssl pkey -in KEY -out KEY.plain).`);
    }
    throw new SettingsProblem(`The TLS key ${keyFile} is not a private key (a PEM file starts with -----BEGIN PRIVATE KEY-----).`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new SettingsProblem(`The TLS key ${keyFile} does not belong to the certificate ${certFile}: they are from different pairs.`);
  }
  try {
    // What the HTTPS server does with them; anything the checks above missed shows here.
    createSecureContext({ cert, key });
  } catch (err) {
    throw new SettingsProblem(`The TLS certificate ${certFile} and key ${keyFile} cannot serve HTTPS: ${(err as Error).message}.`);
  }
  return { cert, key };
}

/** What a failed listen means for a person, by its error code; undefined for codes without advice. */
export function listenProblem(code: string | undefined, host: string, port: number): string | undefined {
  switch (code) {
    case 'EADDRINUSE':
      return `Port ${port} on ${host} is already in use by another program. Stop it, or choose another port with --port.`;
    case 'EACCES':
      return `Not allowed to listen on ${host}:${port}. Ports below 1024 need privileges: choose another with --port.`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return `${host} is not an address of this machine. Use --host 127.0.0.1, or one of its own addresses.`;
    default:
      return undefined;
  }
}
