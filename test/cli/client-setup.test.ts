/**
 * planConfigure and applyConfigure on files in a temporary folder: pip's index URL when
 * reads need credentials (user name for the keychain, the password in a 0600 file without
 * one), and a keychain that refuses to store a password, which must leave every file as it was.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClientFiles } from '../../src/cli/client-config/locations.js';
import { pipUses } from '../../src/cli/client-config/pip-edit.js';
import { AbortError } from '../../src/cli/errors.js';
import { readManifest } from '../../src/cli/services/client-manifest.js';
import { applyConfigure, planConfigure, type ConfigureRequest } from '../../src/cli/services/client-setup.js';
import type { PyrepoPaths } from '../../src/shared/paths.js';
import type { SecretStore } from '../../src/shared/secrets.js';

const BASE = 'http://127.0.0.1:8645';
const PASSWORD = 'Zk3-x_y9aB0cD1eF2gH3iJ4kL5mN6oP7';

let root: string;
let files: ClientFiles;
let paths: PyrepoPaths;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'pyrepo-setup-'));
  files = {
    pypirc: join(root, 'home', '.pypirc'),
    pip: join(root, 'config', 'pip', 'pip.conf'),
    poetryConfig: join(root, 'config', 'pypoetry', 'config.toml'),
    poetryAuth: join(root, 'config', 'pypoetry', 'auth.toml'),
    pdm: join(root, 'config', 'pdm', 'config.toml'),
    uv: join(root, 'config', 'uv', 'uv.toml'),
  } as ClientFiles;
  paths = { dataDir: join(root, 'pyrepo', 'data'), configDir: join(root, 'pyrepo', 'config'), logDir: join(root, 'pyrepo', 'logs') };
  mkdirSync(join(root, 'home'), { recursive: true });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A keychain in memory; `refuse` makes `set` fail as a locked Secret Service does. */
function memoryKeychain(refuse = false): SecretStore & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return {
    items,
    backend: { kind: 'keychain', description: 'a test keychain' },
    get: async (service, account) => items.get(`${service}\n${account}`),
    set: async (service, account, secret) => {
      if (refuse) throw new Error('Cannot create an item in a locked collection');
      items.set(`${service}\n${account}`, secret);
    },
    delete: async (service, account) => items.delete(`${service}\n${account}`),
  } as SecretStore & { items: Map<string, string> };
}

function request(overrides: Partial<ConfigureRequest> = {}): ConfigureRequest {
  return { baseUrl: BASE, name: 'pyrepo', username: 'admin', password: PASSWORD, primary: false, targets: ['pip', 'pypirc'], ...overrides };
}

const pipConf = () => readFileSync(files.pip, 'utf8');
const modeOf = (path: string) => statSync(path).mode & 0o777;

describe("pip's index URL", () => {
  it('is the plain index URL when reads are open', async () => {
    await applyConfigure(paths, planConfigure(request(), readManifest(paths.configDir), files), BASE, undefined);
    expect(pipConf()).toBe(`[global]\nextra-index-url = ${BASE}/simple/\n`);
    expect(modeOf(files.pip)).toBe(0o644);
  });

  it('carries the user and password, in a 0600 file, when reads need credentials and there is no keychain', async () => {
    await applyConfigure(paths, planConfigure(request({ readsNeedCredentials: true }), readManifest(paths.configDir), files), BASE, undefined);
    expect(pipConf()).toBe(`[global]\nextra-index-url = http://admin:${PASSWORD}@127.0.0.1:8645/simple/\n`);
    expect(modeOf(files.pip)).toBe(0o600);
  });

  it('is recognised as this index with its credentials (what doctor checks)', async () => {
    await applyConfigure(paths, planConfigure(request({ readsNeedCredentials: true }), readManifest(paths.configDir), files), BASE, undefined);
    expect(pipUses(pipConf(), `${BASE}/simple/`)).toBe(true);
    expect(pipUses(pipConf(), 'http://127.0.0.1:9999/simple/')).toBe(false);
  });

  it('carries only the user with a keychain, which holds the password under the index URL', async () => {
    const keychain = memoryKeychain();
    await applyConfigure(paths, planConfigure(request({ readsNeedCredentials: true, keychain }), readManifest(paths.configDir), files), BASE, keychain);
    expect(pipConf()).toBe('[global]\nextra-index-url = http://admin@127.0.0.1:8645/simple/\n');
    expect(modeOf(files.pip)).toBe(0o644);
    expect(keychain.items.get(`${BASE}/simple/\nadmin`)).toBe(PASSWORD);
  });

  it('moves from one form to the other when the policy changes, leaving one entry', async () => {
    await applyConfigure(paths, planConfigure(request(), readManifest(paths.configDir), files), BASE, undefined);
    await applyConfigure(paths, planConfigure(request({ readsNeedCredentials: true }), readManifest(paths.configDir), files), BASE, undefined);
    expect(pipConf()).toBe(`[global]\nextra-index-url = http://admin:${PASSWORD}@127.0.0.1:8645/simple/\n`);
    await applyConfigure(paths, planConfigure(request(), readManifest(paths.configDir), files), BASE, undefined);
    expect(pipConf()).toBe(`[global]\nextra-index-url = ${BASE}/simple/\n`);
  });
});

describe('a keychain that refuses to store', () => {
  it('changes no tool file, says why and how to go on', async () => {
    const before = '# mine\n[global]\ntimeout = 30\n';
    mkdirSync(join(root, 'config', 'pip'), { recursive: true });
    writeFileSync(files.pip, before);
    const keychain = memoryKeychain(true);
    const plan = planConfigure(request({ keychain }), readManifest(paths.configDir), files);
    const err = await applyConfigure(paths, plan, BASE, keychain).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).message).toMatch(/^The keychain did not store the password for '.*': Cannot create an item in a locked collection\. No tool file was changed\.$/);
    expect((err as AbortError).nextStep).toContain('--no-keychain');
    expect(readFileSync(files.pip, 'utf8')).toBe(before);
    expect(() => statSync(files.pypirc)).toThrow();
  });
});

describe('pip for an index on another machine', () => {
  it('adds trusted-host for plain http beyond loopback (never for loopback), and takes out only what it added', async () => {
    const lan = 'http://192.168.1.20:8645';
    await applyConfigure(paths, planConfigure(request({ baseUrl: lan }), readManifest(paths.configDir), files), lan, undefined);
    expect(pipConf()).toBe(`[global]\nextra-index-url = ${lan}/simple/\ntrusted-host = 192.168.1.20:8645\n`);
    await applyConfigure(paths, planConfigure(request({ baseUrl: BASE }), readManifest(paths.configDir), files), BASE, undefined);
    expect(pipConf()).toBe(`[global]\nextra-index-url = ${BASE}/simple/\n`);
    const https = 'https://pypi.example.lan';
    await applyConfigure(paths, planConfigure(request({ baseUrl: https }), readManifest(paths.configDir), files), https, undefined);
    expect(pipConf()).not.toContain('trusted-host');
  });
});

describe('backups', () => {
  it('keeps the file as it was before the first change, once, with its mode', async () => {
    const before = '# mine\n[global]\ntimeout = 30\n';
    mkdirSync(join(root, 'config', 'pip'), { recursive: true });
    writeFileSync(files.pip, before, { mode: 0o640 });
    const first = await applyConfigure(paths, planConfigure(request({ targets: ['pip'] }), readManifest(paths.configDir), files), BASE, undefined);
    const backup = first[0]?.backup;
    expect(backup).toBeDefined();
    expect(readFileSync(backup as string, 'utf8')).toBe(before);
    expect(modeOf(files.pip)).toBe(0o640);
    // A second configure (another port) changes the file again, but the backup stays the original.
    const other = 'http://127.0.0.1:9000';
    const second = await applyConfigure(paths, planConfigure(request({ targets: ['pip'], baseUrl: other }), readManifest(paths.configDir), files), other, undefined);
    expect(second[0]?.backup).toBeUndefined();
    expect(readFileSync(backup as string, 'utf8')).toBe(before);
    expect(readManifest(paths.configDir).files[files.pip]?.backup).toBe(backup);
  });
});
