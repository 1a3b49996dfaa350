/**
 * With an upstream, `configure` makes pyrepo the only index of pip, uv, pdm and poetry (no
 * extra-index-url beside PyPI), `unconfigure` takes it back, and the readers doctor uses tell
 * a uv or pdm file that still asks PyPI beside pyrepo.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pdmMixesWithPypi, uvMixesWithPypi } from '../../src/cli/client-config/index-mixing.js';
import type { ClientFiles } from '../../src/cli/client-config/locations.js';
import { pipMixesWithPypi } from '../../src/cli/client-config/pip-edit.js';
import { readManifest } from '../../src/cli/services/client-manifest.js';
import { applyConfigure, applyUnconfigure, planConfigure, planUnconfigure, type ConfigureRequest } from '../../src/cli/services/client-setup.js';
import type { PyrepoPaths } from '../../src/shared/paths.js';

const BASE = 'http://127.0.0.1:8645';
const INDEX = `${BASE}/simple/`;
let root: string;
let files: ClientFiles;
let paths: PyrepoPaths;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'pyrepo-only-index-'));
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

const request = (onlyIndex: boolean): ConfigureRequest => ({
  baseUrl: BASE,
  name: 'pyrepo',
  upload: { username: '__token__', password: 'pyrepo_up000001_Zk3-x_y9aB0cD1eF2gH3iJ4kL5mN6oP7' },
  primary: false,
  onlyIndex,
  targets: ['pip', 'uv', 'pdm', 'poetry'],
});
const read = (path: string) => readFileSync(path, 'utf8');

describe('configure with an upstream', () => {
  it('makes pyrepo the only index of pip, uv, pdm and poetry', async () => {
    const plan = planConfigure(request(true), readManifest(paths.configDir), files);
    await applyConfigure(paths, plan, BASE, undefined);
    expect(read(files.pip)).toMatch(/^index-url = http:\/\/127\.0\.0\.1:8645\/simple\/$/m);
    expect(read(files.pip)).not.toContain('extra-index-url');
    expect(pipMixesWithPypi(read(files.pip), INDEX)).toBe(false);
    expect(read(files.uv)).toContain('default = true');
    expect(uvMixesWithPypi(read(files.uv), INDEX)).toBe(false);
    expect(read(files.pdm)).toMatch(/^\[pypi\]\nurl = "http:\/\/127\.0\.0\.1:8645\/simple\/"$/m);
    expect(pdmMixesWithPypi(read(files.pdm), INDEX)).toBe(false);
    expect(plan.notes.find((n) => n.startsWith('poetry'))).toMatch(/default = true|priority = "(primary|default)"/);

    // unconfigure takes all of it back
    await applyUnconfigure(paths, planUnconfigure(readManifest(paths.configDir)), undefined);
    for (const f of [files.pip, files.uv, files.pdm]) {
      let text = '';
      try {
        text = read(f);
      } catch {
        // removed: pyrepo had created it
      }
      expect(text).not.toContain(INDEX);
    }
  });

  it('without one, pyrepo stays an index beside PyPI, and the readers say so', async () => {
    await applyConfigure(paths, planConfigure(request(false), readManifest(paths.configDir), files), BASE, undefined);
    expect(read(files.pip)).toContain('extra-index-url');
    expect(uvMixesWithPypi(read(files.uv), INDEX)).toBe(true);
    expect(pdmMixesWithPypi(read(files.pdm), INDEX)).toBe(true);
  });
});

describe('the readers doctor uses', () => {
  const write = (path: string, text: string) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  };

  it('uv: pyrepo beside PyPI, unless it is the default index or index-url', () => {
    write(files.uv, `extra-index-url = ["${INDEX}"]\n`);
    expect(uvMixesWithPypi(read(files.uv), INDEX)).toBe(true);
    expect(uvMixesWithPypi(`index-url = "${INDEX}"\n`, INDEX)).toBe(false);
    expect(uvMixesWithPypi(`[[index]]\nname = "a"\nurl = "${INDEX}"\ndefault = true\n`, INDEX)).toBe(false);
    expect(uvMixesWithPypi(`[[index]]\nname = "other"\nurl = "https://example.invalid/simple/"\n`, INDEX)).toBe(false);
  });

  it('pdm: a named index of pyrepo while the main one is PyPI', () => {
    expect(pdmMixesWithPypi(`[pypi.pyrepo]\nurl = "${INDEX}"\n`, INDEX)).toBe(true);
    expect(pdmMixesWithPypi(`[pypi]\nurl = "${INDEX}"\n`, INDEX)).toBe(false);
    expect(pdmMixesWithPypi(`[pypi]\nurl = "https://pypi.org/simple"\n[pypi.pyrepo]\nurl = "http://user:pw@127.0.0.1:8645/simple"\n`, INDEX)).toBe(true);
  });
});
