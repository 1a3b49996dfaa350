/**
 * planConfigure and applyConfigure on files in a temporary folder: pip's index URL when
 * reads need credentials (the read-only token in the URL, in a 0600 file, keychain or not),
 * pdm's token in its file, files that are symbolic links, the dependency-confusion warning,
 * and a keychain that refuses to store a token, which must leave every file as it was.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClientFiles } from '../../src/cli/client-config/locations.js';
import { pipUses } from '../../src/cli/client-config/pip-edit.js';
import { AbortError } from '../../src/cli/errors.js';
import { readManifest } from '../../src/cli/services/client-manifest.js';
import { applyConfigure, applyUnconfigure, planConfigure, planUnconfigure, type ConfigureRequest } from '../../src/cli/services/client-setup.js';
import type { PyrepoPaths } from '../../src/shared/paths.js';
import type { SecretStore } from '../../src/shared/secrets.js';

const BASE = 'http://127.0.0.1:8645';
const UPLOAD_TOKEN = 'pyrepo_up000001_Zk3-x_y9aB0cD1eF2gH3iJ4kL5mN6oP7';
const READ_TOKEN = 'pyrepo_rd000001_Rk3-x_y9aB0cD1eF2gH3iJ4kL5mN6oP7';

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
  return { baseUrl: BASE, name: 'pyrepo', upload: { username: '__token__', password: UPLOAD_TOKEN }, primary: false, targets: ['pip', 'pypirc'], ...overrides };
}

/** What configure asks for when reads need credentials: the read-only token too. */
function reads(): Partial<ConfigureRequest> {
  return { readsNeedCredentials: true, read: { username: '__token__', password: READ_TOKEN } };
}

const pipConf = () => readFileSync(files.pip, 'utf8');
const modeOf = (path: string) => statSync(path).mode & 0o777;

describe("pip's index URL", () => {
  it('is the plain index URL when reads are open', async () => {
    await applyConfigure(paths, planConfigure(request(), readManifest(paths.configDir), files), BASE, undefined);
    expect(pipConf()).toBe(`[global]\nextra-index-url = ${BASE}/simple/\n`);
    expect(modeOf(files.pip)).toBe(0o644);
  });

  it('carries the read-only token, in a 0600 file, when reads need credentials and there is no keychain', async () => {
    await applyConfigure(paths, planConfigure(request(reads()), readManifest(paths.configDir), files), BASE, undefined);
    expect(pipConf()).toBe(`[global]\nextra-index-url = http://__token__:${READ_TOKEN}@127.0.0.1:8645/simple/\n`);
    expect(modeOf(files.pip)).toBe(0o600);
  });

  it('is recognised as this index with its credentials (what doctor checks)', async () => {
    await applyConfigure(paths, planConfigure(request(reads()), readManifest(paths.configDir), files), BASE, undefined);
    expect(pipUses(pipConf(), `${BASE}/simple/`)).toBe(true);
    expect(pipUses(pipConf(), 'http://127.0.0.1:9999/simple/')).toBe(false);
  });

  it('carries the read-only token in the URL with a keychain too (pip in a venv has no keyring), and the keychain gets no copy for pip', async () => {
    const keychain = memoryKeychain();
    await applyConfigure(paths, planConfigure(request({ ...reads(), keychain }), readManifest(paths.configDir), files), BASE, keychain);
    expect(pipConf()).toBe(`[global]\nextra-index-url = http://__token__:${READ_TOKEN}@127.0.0.1:8645/simple/\n`);
    expect(modeOf(files.pip)).toBe(0o600);
    expect([...keychain.items.keys()].some((k) => k.startsWith(`${BASE}/simple/`))).toBe(false);
    // twine's item holds the upload token, never the read one.
    expect(keychain.items.get(`${BASE}/legacy/\n__token__`)).toBe(UPLOAD_TOKEN);
  });

  it('moves from one form to the other when the policy changes, leaving one entry', async () => {
    await applyConfigure(paths, planConfigure(request(), readManifest(paths.configDir), files), BASE, undefined);
    await applyConfigure(paths, planConfigure(request(reads()), readManifest(paths.configDir), files), BASE, undefined);
    expect(pipConf()).toBe(`[global]\nextra-index-url = http://__token__:${READ_TOKEN}@127.0.0.1:8645/simple/\n`);
    await applyConfigure(paths, planConfigure(request(), readManifest(paths.configDir), files), BASE, undefined);
    expect(pipConf()).toBe(`[global]\nextra-index-url = ${BASE}/simple/\n`);
  });
});

describe('the admin password', () => {
  it('is in no plan: the tools get the upload token as __token__, and pdm keeps it in its own file even with a keychain', () => {
    const keychain = memoryKeychain();
    const plan = planConfigure(request({ ...reads(), keychain, targets: ['pypirc', 'pip', 'poetry', 'pdm', 'uv'] }), readManifest(paths.configDir), files);
    const pdm = plan.files.find((f) => f.target === 'pdm');
    expect(pdm?.after).toBe(`[pypi.pyrepo]\nurl = "${BASE}/simple/"\nusername = "__token__"\npassword = "${READ_TOKEN}"\n\n[repository.pyrepo]\nurl = "${BASE}/legacy/"\nusername = "__token__"\npassword = "${UPLOAD_TOKEN}"\n`);
    expect(pdm?.mode).toBe(0o600);
    expect(plan.secrets.map((x) => [x.service, x.account, x.secret])).toEqual([
      [`${BASE}/legacy/`, '__token__', UPLOAD_TOKEN],
      ['poetry-repository-pyrepo', '__token__', UPLOAD_TOKEN],
    ]);
    expect(plan.files.find((f) => f.path === files.poetryAuth)?.after).toBe('[http-basic.pyrepo]\nusername = "__token__"\n');
  });

  it('without an upload credential (an index this machine does not run): URLs only, and a warning that the tools will ask', () => {
    const plan = planConfigure({ baseUrl: BASE, name: 'pyrepo', primary: false, targets: ['pypirc', 'poetry', 'pdm'] }, readManifest(paths.configDir), files);
    expect(plan.files.find((f) => f.target === 'pypirc')?.after).toBe(`[distutils]\nindex-servers =\n    pypi\n    testpypi\n    pyrepo\n\n[pyrepo]\nrepository = ${BASE}/legacy/\n`);
    expect(plan.files.some((f) => f.path === files.poetryAuth)).toBe(false);
    expect(plan.files.find((f) => f.target === 'pdm')?.after).not.toContain('password');
    expect(plan.warnings.join('\n')).toContain('No credentials were written');
  });
});

describe('dependency confusion', () => {
  it('is named in one sentence, with --primary, when pip gets pyrepo beside PyPI; not with --primary or a private index-url', () => {
    const warned = (r: Partial<ConfigureRequest>) => planConfigure(request({ targets: ['pip'], ...r }), readManifest(paths.configDir), files).warnings.filter((w) => w.includes('dependency confusion'));
    expect(warned({})).toHaveLength(1);
    expect(warned({})[0]).toContain('`pyrepo configure --pip --primary`');
    expect(warned({ primary: true })).toHaveLength(0);
    mkdirSync(join(root, 'config', 'pip'), { recursive: true });
    writeFileSync(files.pip, '[global]\nindex-url = https://mirror.corp.example/simple/\n');
    expect(warned({})).toHaveLength(0);
  });
});

describe('files that are symbolic links (dotfiles managers)', () => {
  it('edits the file the link points to and leaves the link; unconfigure restores the target and the link stays', async () => {
    const dotfiles = join(root, 'dotfiles');
    mkdirSync(dotfiles, { recursive: true });
    const original = '# mine\n[global]\ntimeout = 30\n';
    writeFileSync(join(dotfiles, 'pip.conf'), original);
    mkdirSync(join(root, 'config', 'pip'), { recursive: true });
    symlinkSync(join(dotfiles, 'pip.conf'), files.pip);
    const outcomes = await applyConfigure(paths, planConfigure(request({ targets: ['pip'] }), readManifest(paths.configDir), files), BASE, undefined);
    expect(outcomes[0]?.status).toBe('updated');
    expect(lstatSync(files.pip).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dotfiles, 'pip.conf'), 'utf8')).toContain(`extra-index-url = ${BASE}/simple/`);
    const { outcomes: undone } = await applyUnconfigure(paths, planUnconfigure(readManifest(paths.configDir)), undefined);
    expect(undone[0]?.status).toBe('restored');
    expect(lstatSync(files.pip).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dotfiles, 'pip.conf'), 'utf8')).toBe(original);
  });

  it('keeps the link when the file changed since and only pyrepo\'s entries come out', async () => {
    const dotfiles = join(root, 'dotfiles');
    mkdirSync(dotfiles, { recursive: true });
    writeFileSync(join(dotfiles, '.pypirc'), '[pypi]\nusername = __token__\n');
    symlinkSync(join(dotfiles, '.pypirc'), files.pypirc);
    await applyConfigure(paths, planConfigure(request({ targets: ['pypirc'] }), readManifest(paths.configDir), files), BASE, undefined);
    writeFileSync(files.pypirc, readFileSync(files.pypirc, 'utf8').replace('[pypi]\n', '[pypi]\nrepository = https://upload.pypi.org/legacy/\n'));
    const { outcomes } = await applyUnconfigure(paths, planUnconfigure(readManifest(paths.configDir)), undefined);
    expect(outcomes[0]?.status).toBe('cleaned');
    expect(lstatSync(files.pypirc).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dotfiles, '.pypirc'), 'utf8')).toBe('[pypi]\nrepository = https://upload.pypi.org/legacy/\nusername = __token__\n');
  });

  it('refuses a dangling link, naming it and its target, before writing anything', () => {
    mkdirSync(join(root, 'config', 'pip'), { recursive: true });
    symlinkSync(join(root, 'dotfiles', 'missing.conf'), files.pip);
    const err = (() => {
      try {
        planConfigure(request({ targets: ['pip'] }), readManifest(paths.configDir), files);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).message).toBe(`${files.pip} is a symbolic link to ${join(root, 'dotfiles', 'missing.conf')}, which does not exist; pyrepo edits the file a link points to and will not replace the link.`);
    expect(lstatSync(files.pip).isSymbolicLink()).toBe(true);
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
    expect((err as AbortError).message).toMatch(/^The keychain did not store the token for '.*': Cannot create an item in a locked collection\. No tool file was changed\.$/);
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

describe('folders configure created', () => {
  it('are all removed by unconfigure, the shared outer one too (it was made for the first file)', async () => {
    const config = join(root, 'config');
    await applyConfigure(paths, planConfigure(request({ targets: ['pip', 'poetry', 'pdm', 'uv'] }), readManifest(paths.configDir), files), BASE, undefined);
    expect(readdirSync(config).sort()).toEqual(['pdm', 'pip', 'pypoetry', 'uv']);
    await applyUnconfigure(paths, planUnconfigure(readManifest(paths.configDir)), undefined);
    expect(existsSync(config)).toBe(false);
  });
});
