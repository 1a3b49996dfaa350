/**
 * The client-config editors (src/cli/client-config/*-edit.ts) against a corpus of
 * real-world-looking ~/.pypirc, pip.conf, poetry config.toml/auth.toml, pdm config.toml
 * and uv.toml files. For every file:
 *
 * - configure gives a file that parses (ini.ts / smol-toml) and says what pyrepo wants;
 *   for the INI files also as the tools read them, through /usr/bin/python3's
 *   `configparser.RawConfigParser` (one process for the whole corpus): twine's view of
 *   `[distutils] index-servers` and the repository section, pip's view of `[global]`;
 *   and every option the file had before still has its value;
 * - configure a second time changes no byte;
 * - the surgical undo (what unconfigure does when the file changed since configure, so
 *   the backup cannot be used) gives back the original byte for byte.
 *
 * Then the refusals: a foreign [pyrepo] section, a foreign TOML table, malformed files
 * (with the line), and edits that would make a TOML file invalid.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { IniSyntaxError, iniGet, parseIni } from '../../src/cli/client-config/ini.js';
import { addIniListValue, iniListValues, removeIniListValue, removeIniOption, removeIniSection, setIniOption } from '../../src/cli/client-config/ini-edit.js';
import { configurePip, pipUses, unconfigurePip } from '../../src/cli/client-config/pip-edit.js';
import { configurePypirc, foreignPypircSection, pypircCreates, unconfigurePypirc } from '../../src/cli/client-config/pypirc-edit.js';
import { dropTomlTable, ensureTomlTable, readToml, removeTomlArrayEntry, removeTomlTable, TomlConflictError, TomlEditError, tomlValue, type OwnedTable } from '../../src/cli/client-config/toml-edit.js';

const PYTHON = '/usr/bin/python3';
const BASE = 'http://127.0.0.1:8645';
const INDEX_URL = `${BASE}/simple/`;
const UPLOAD_URL = `${BASE}/legacy/`;
const NAME = 'pyrepo';
const USER = 'admin';
const PASSWORD = 'Zk3_%x#y;z=Q-9aB0cD1eF2gH3iJ4kL5';

// ---------------------------------------------------------------------------------------
// The corpus

interface Sample {
  label: string;
  text: string;
}

const PYPIRC: Sample[] = [
  { label: 'empty file', text: '' },
  {
    label: "twine's documented layout with tokens",
    text: [
      '[distutils]',
      'index-servers =',
      '    pypi',
      '    testpypi',
      '',
      '[pypi]',
      'username = __token__',
      'password = pypi-AgEIcHlwaS5vcmcCJGE0ZjQ1YjE2LTk4ZjktNDdhYi1iMjQ1',
      '',
      '[testpypi]',
      'repository = https://test.pypi.org/legacy/',
      'username = __token__',
      'password = pypi-AgENdGVzdC5weXBpLm9yZwIkNmQ4',
      '',
    ].join('\n'),
  },
  { label: 'single-line index-servers with a private repository', text: '[distutils]\nindex-servers = pypi testpypi nexus\n\n[nexus]\nrepository = https://nexus.corp.example/repository/pypi-internal/\nusername = deploy\n' },
  { label: 'no [distutils] (what flit writes)', text: '[pypi]\nusername = alice\n' },
  { label: '[distutils] without index-servers', text: '[distutils]\n\n[pypi]\nusername = __token__\npassword = pypi-abc\n' },
  { label: '[distutils] with another option but no index-servers', text: '# shared settings\n[distutils]\nverbose = 1\n\n[pypi]\nusername = __token__\n' },
  {
    label: 'CRLF line endings',
    text: '[distutils]\r\nindex-servers =\r\n    pypi\r\n    artifactory\r\n\r\n[artifactory]\r\nrepository = https://corp.jfrog.io/artifactory/api/pypi/pypi-local\r\nusername = ci-bot\r\npassword = AKCp8k\r\n',
  },
  { label: "':' delimiters", text: '[distutils]\nindex-servers:\n  pypi\n  internal\n\n[internal]\nrepository: https://pypi.internal.example/\nusername: bob\npassword: hunter2\n' },
  { label: 'tabs', text: '[distutils]\nindex-servers =\n\tpypi\n\tlocal\n\n[local]\nrepository\t=\thttp://localhost:8080\nusername\t=\tme\n' },
  {
    label: 'multi-line index-servers with blank lines and indented comments',
    text: [
      '[distutils]',
      'index-servers =',
      '    pypi',
      '',
      '    # the old mirror, kept for a while',
      '    testpypi',
      '    ; nexus comes last',
      '    nexus',
      '',
      '',
      '[nexus]',
      'repository = https://nexus.example/repository/pypi/',
      'username = jenkins',
      '',
    ].join('\n'),
  },
  { label: 'no final newline', text: '[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__\npassword = pypi-xyz' },
  {
    label: 'comments at the top and the end',
    text: '# ~/.pypirc\n; managed by hand, do not lose this comment\n\n[distutils]\nindex-servers =\n  pypi\n\n[pypi]\nusername = __token__\n\n# gitlab:\n# [gitlab]\n# repository = https://gitlab.example.com/api/v4/projects/42/packages/pypi\n',
  },
  { label: '[DEFAULT] username shared by all', text: '[DEFAULT]\nusername = carol\n\n[distutils]\nindex-servers =\n    pypi\n    devpi\n\n[devpi]\nrepository = http://devpi.lan:3141/carol/dev/\n' },
  {
    label: 'legacy [server-login], odd spacing and mixed-case keys',
    text: '[server-login]\nusername:legacy\npassword:old\n\n  [distutils]\n  Index-Servers=pypi    gemfury\n\n[gemfury]\nRepository=https://pypi.fury.io/acme/\nUserName   =   acme-token\n',
  },
  { label: 'trailing blank and whitespace-only lines', text: '[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__\n\n   \n\n' },
  {
    label: 'passwords with % # ; = and a section called pyrepo-old',
    text: '[distutils]\nindex-servers =\n    pypi\n    pyrepo-old\n\n[pyrepo-old]\nrepository = http://127.0.0.1:8080/\nusername = admin\npassword = 100%real#not;a=comment\n',
  },
];

/** pip's name for a config key (pip's configuration._normalize_name), written out here so that the test does not trust the code under test. */
function pipOptionName(key: string): string {
  const name = key.toLowerCase().replace(/_/g, '-');
  return name.startsWith('--') ? name.slice(2) : name;
}

interface PipSample extends Sample {
  primary?: boolean;
}

const PIP: PipSample[] = [
  { label: 'empty file', text: '' },
  { label: 'only comments', text: '# pip configuration\n# see https://pip.pypa.io/en/stable/topics/configuration/\n' },
  {
    label: '[global] with index-url, timeout and comments',
    text: '[global]\n# our mirror\nindex-url = https://mirror.example/pypi/simple\ntimeout = 60\n\n[install]\nno-compile = yes\n',
  },
  {
    label: 'multi-line extra-index-url with comments inside',
    text: '[global]\nextra-index-url =\n    https://download.pytorch.org/whl/cpu\n\n    # nvidia\n    https://pypi.nvidia.com\ntimeout = 30\n',
  },
  { label: 'single-line extra-index-url with two URLs', text: '[global]\nextra-index-url = https://a.example/simple https://b.example/simple\ndisable-pip-version-check = true\n' },
  { label: 'no [global], no final newline', text: '; only install settings\n[install]\nuser = true\nprogress-bar = off' },
  { label: 'CRLF with trusted-host', text: '[global]\r\ntrusted-host = pypi.lan\r\nindex-url = http://pypi.lan/simple\r\n\r\n[list]\r\nformat = columns\r\n' },
  { label: "':' delimiters", text: '[global]\nindex-url: https://mirror.example/simple\nextra-index-url: https://extra.example/simple\n' },
  { label: 'tabs and indented keys', text: '[global]\n\ttimeout = 15\n\textra-index-url =\n\t\thttps://one.example/simple\n\t\thttps://two.example/simple\n' },
  { label: 'other sections before [global], trailing blank lines', text: '[freeze]\nall = true\n\n[global]\nrequire-virtualenv = true\n\n\n' },
  { label: '--primary replaces an index-url, and puts it back', text: '[global]\nindex-url=https://pypi.org/simple\ntimeout = 60\n', primary: true },
  { label: '--primary without an index-url', text: '# pip\n[global]\nextra-index-url = https://x.example/simple\n', primary: true },
  { label: '--primary when our URL was also an extra-index-url... of another port', text: '[global]\nextra-index-url =\n    http://127.0.0.1:9999/simple/\n', primary: true },
  // pip reads a key in any spelling (lower-cased, '_' as '-', a leading '--' dropped): a second spelling would shadow one of the two.
  { label: 'extra_index_url spelled with underscores', text: '[global]\nextra_index_url = https://corp.example/simple\n' },
  { label: 'Extra-Index-Url in mixed case', text: '[global]\nExtra-Index-Url =\n    https://corp.example/simple\n' },
  { label: '--extra-index-url with leading dashes', text: '[global]\n--extra-index-url = https://corp.example/simple\n' },
  { label: 'two spellings, of which pip keeps the last', text: '[global]\nextra-index-url = https://old.example/simple\nextra_index_url = https://corp.example/simple\n' },
  { label: "[install]'s own extra-index-url, which replaces [global]'s for pip install", text: '[global]\ntimeout = 30\n\n[install]\nextra_index_url = https://corp.example/simple\n' },
  { label: '--primary over index_url spelled with an underscore', text: '[global]\nindex_url = https://mirror.example/simple\n', primary: true },
  { label: '--primary over --index-url with leading dashes', text: '[global]\n--index-url = https://mirror.example/simple\n', primary: true },
];

/** The tables client-setup asks for (planConfigure), with the password in the file or in the keychain. */
function poetryConfigTables(): OwnedTable[] {
  return [{ header: `repositories.${NAME}`, values: [['url', UPLOAD_URL]], what: `a poetry repository '${NAME}'` }];
}
function poetryAuthTables(inFiles: boolean): OwnedTable[] {
  return [{ header: `http-basic.${NAME}`, values: inFiles ? [['username', USER], ['password', PASSWORD]] : [['username', USER]], what: `poetry credentials for '${NAME}'` }];
}
function pdmTables(inFiles: boolean): OwnedTable[] {
  const creds: [string, string][] = inFiles ? [['username', USER], ['password', PASSWORD]] : [['username', USER]];
  return [
    { header: `pypi.${NAME}`, values: [['url', INDEX_URL], ...creds], what: `a pdm index '${NAME}'` },
    { header: `repository.${NAME}`, values: [['url', UPLOAD_URL], ...creds], what: `a pdm repository '${NAME}'` },
  ];
}
function uvTables(): OwnedTable[] {
  return [{ header: 'index', arrayName: NAME, values: [['name', NAME], ['url', INDEX_URL], ['publish-url', UPLOAD_URL]], what: `a uv index named '${NAME}'` }];
}

const POETRY_CONFIG: Sample[] = [
  { label: 'empty file', text: '' },
  { label: 'virtualenvs settings', text: '[virtualenvs]\nin-project = true\nprefer-active-python = true\n' },
  { label: 'top-level keys, tables and another repository', text: 'cache-dir = "/srv/cache/pypoetry"\n\n[virtualenvs]\ncreate = true\n\n[repositories.testpypi]\nurl = "https://test.pypi.org/legacy/"\n' },
  { label: 'dotted keys only', text: 'virtualenvs.in-project = true\nrepositories.foo.url = "https://foo.example/legacy/"\n' },
  { label: 'inline tables under [repositories]', text: '[repositories]\ntestpypi = { url = "https://test.pypi.org/legacy/" }\ncorp = { url = "https://corp.example/legacy/" }\n' },
  { label: 'CRLF', text: '[virtualenvs]\r\nin-project = true\r\n\r\n[installer]\r\nmax-workers = 4\r\n' },
  { label: 'comment at the end, no final newline', text: '[installer]\nparallel = true # faster\n\n# keep this' },
  { label: 'trailing blank lines', text: '[virtualenvs]\ncreate = false\n\n\n' },
  { label: 'certificates for another source', text: '[certificates.internal]\ncert = "/etc/ssl/certs/internal-ca.pem"\n\n[repositories.internal]\nurl = "https://pypi.internal.example/legacy/"\n' },
  { label: 'arrays and a multi-line string before', text: '[virtualenvs.options]\nno-pip = false\nsystem-site-packages = false\n\n[solver]\nlazy-wheel = true\nnotes = """\nsee [docs]\n"""\n' },
  { label: 'whitespace-only trailing line', text: '[virtualenvs]\ncreate = true\n   \n' },
];

const POETRY_AUTH: Sample[] = [
  { label: 'empty file', text: '' },
  { label: 'another http-basic', text: '[http-basic.corp]\nusername = "jane"\npassword = "s3cret"\n' },
  { label: 'pypi-token table', text: '[pypi-token]\npypi = "pypi-AgEIcHlwaS5vcmcCJDk5"\n' },
  { label: 'http-basic parent table with a child', text: '[http-basic]\n\n[http-basic.corp]\nusername = "x"\n' },
  { label: 'CRLF', text: '[http-basic.corp]\r\nusername = "jane"\r\n' },
  { label: 'no final newline', text: '[pypi-token]\npypi = "pypi-x"' },
  { label: 'comments everywhere', text: '# poetry auth\n[http-basic.corp] # corporate\nusername = "jane" # me\n# end\n' },
  { label: 'dotted keys at the root', text: 'http-basic.corp.username = "x"\nhttp-basic.corp.password = "y"\n' },
  { label: 'trailing blank lines', text: '[http-basic.a]\nusername = "a"\n\n\n\n' },
  { label: 'literal strings', text: "[http-basic.corp]\nusername = 'DOMAIN\\user'\npassword = 'p\"w'\n" },
];

const PDM: Sample[] = [
  { label: 'empty file', text: '' },
  { label: 'python and install settings', text: '[python]\nuse_venv = true\n\n[install]\ncache = true\n' },
  { label: 'a default pypi mirror', text: '[pypi]\nurl = "https://mirror.example/simple"\nverify_ssl = true\n' },
  { label: 'another extra index', text: '[pypi.extra]\nurl = "https://extra.example/simple"\nusername = "bob"\n\n[pypi]\njson_api = false\n' },
  { label: 'a pypi repository with a token', text: '[repository.pypi]\nusername = "__token__"\npassword = "pypi-AgE"\n' },
  { label: 'top-level keys only, no final newline', text: 'check_update = false\nstrategy.save = "minimum"' },
  { label: 'CRLF', text: '[venv]\r\nbackend = "venv"\r\nin_project = true\r\n' },
  { label: 'comments at the end', text: '[python]\nuse_venv = false\n\n# [pypi]\n# url = "https://old.example/simple"\n' },
  { label: 'dotted keys and inline tables', text: 'pypi.url = "https://pypi.org/simple"\nrepository.testpypi = { url = "https://test.pypi.org/legacy/" }\n' },
  { label: 'trailing blank lines', text: '[install]\nparallel = true\n\n\n' },
];

const UV: Sample[] = [
  { label: 'empty file', text: '' },
  { label: 'another [[index]]', text: '[[index]]\nname = "pytorch"\nurl = "https://download.pytorch.org/whl/cpu"\nexplicit = true\n' },
  { label: 'two [[index]] entries and a [pip] table after them', text: '[[index]]\nname = "a"\nurl = "https://a.example/simple"\n\n[[index]]\nname = "b"\nurl = "https://b.example/simple"\ndefault = true\n\n[pip]\nindex-url = "https://pypi.org/simple"\n' },
  { label: 'top-level settings', text: 'native-tls = true\nconcurrent-downloads = 8\ncache-dir = "/tmp/uv-cache"\n' },
  { label: 'inline tables', text: 'cache-keys = [{ file = "pyproject.toml" }, { git = { commit = true } }]\n\n[pip]\nextra-index-url = ["https://x.example/simple"]\n' },
  { label: 'CRLF', text: '[[index]]\r\nname = "corp"\r\nurl = "https://corp.example/simple"\r\n' },
  { label: 'no final newline', text: 'python-preference = "managed"' },
  { label: 'comments at the end', text: '[[index]]\nname = \'lit\'\nurl = "https://lit.example/simple"\n# a trailing note\n' },
  { label: 'trailing blank lines', text: 'offline = false\n\n\n' },
  { label: 'multi-line array before', text: 'environments = [\n  "sys_platform == \'linux\'",\n  "sys_platform == \'darwin\'",\n]\n' },
];

// ---------------------------------------------------------------------------------------
// What configparser (pip, twine) sees: one /usr/bin/python3 for the whole corpus

interface PyView {
  error?: string;
  sections?: Record<string, Record<string, string>>;
  defaults?: Record<string, string>;
  /** twine: index-servers (or its default). */
  servers?: string[];
  repository?: string | null;
  username?: string | null;
  password?: string | null;
  /** pip: [global] index-url and extra-index-url split. */
  index?: string | null;
  extra?: string[];
}

const PY_SCRIPT = String.raw`
import configparser, io, json, sys
cases = json.load(sys.stdin)
out = {}
for c in cases:
    try:
        p = configparser.RawConfigParser()
        p.read_file(io.StringIO(c['text'], newline=None), source=c['id'])
        r = {
            'sections': {s: {k: v for k, v in p.items(s)} for s in p.sections()},
            'defaults': dict(p.defaults()),
        }
        if c['kind'] == 'pypirc':
            # twine/utils.py: get_config
            r['servers'] = p.get('distutils', 'index-servers').split() if p.has_option('distutils', 'index-servers') else ['pypi', 'testpypi']
            n = c['name']
            if p.has_section(n):
                r['repository'] = p.get(n, 'repository', fallback=None)
                r['username'] = p.get(n, 'username', fallback=None)
                r['password'] = p.get(n, 'password', fallback=None)
        else:
            # pip install's view (pip's ConfigOptionParser): [global], then [install] over it;
            # names normalized as pip does, the last spelling in a section wins, empty values ignored
            from pip._internal.configuration import _normalize_name
            d = {}
            for sec in ('global', 'install'):
                if p.has_section(sec):
                    for k, v in p.items(sec):
                        if v:
                            d[_normalize_name(k)] = v
            r['index'] = d.get('index-url')
            r['extra'] = d.get('extra-index-url', '').split()
        out[c['id']] = r
    except Exception as e:
        out[c['id']] = {'error': type(e).__name__ + ': ' + str(e)}
json.dump(out, sys.stdout)
`;

interface PyCase {
  id: string;
  kind: 'pypirc' | 'pip';
  text: string;
  name?: string;
}

function pythonViews(cases: PyCase[]): Record<string, PyView> {
  const res = spawnSync(PYTHON, ['-c', PY_SCRIPT], { input: JSON.stringify(cases), encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  if (res.status !== 0) throw new Error(`python3 failed: ${res.stderr}`);
  return JSON.parse(res.stdout) as Record<string, PyView>;
}

const havePython = existsSync(PYTHON);
// Skips only on a developer's machine without Python: CI has it (.ci/run), and fails without it.
if (!havePython && process.env.CI) throw new Error(`${PYTHON} is required in CI`);

// ---------------------------------------------------------------------------------------
// The editors as client-setup uses them

function pypircConfigure(text: string, password?: string): string {
  return configurePypirc(text, { name: NAME, repository: UPLOAD_URL, username: USER, ...(password !== undefined ? { password } : {}) });
}

function tomlConfigure(text: string, tables: OwnedTable[], owned = false): string {
  let out = text;
  for (const t of tables) out = ensureTomlTable(out, t, owned);
  return out;
}

function tomlUnconfigure(text: string, tables: OwnedTable[]): string {
  let out = text;
  for (const t of tables) out = dropTomlTable(out, t);
  return out;
}

/** Parsed TOML without pyrepo's tables (to compare with the original's). */
function withoutOwned(doc: Record<string, unknown>, tables: OwnedTable[]): Record<string, unknown> {
  const copy = structuredClone(doc);
  for (const t of tables) {
    const path = t.header.split('.');
    const parent = tomlValue(copy, path.slice(0, -1)) as Record<string, unknown>;
    const last = path[path.length - 1] as string;
    if (t.arrayName === undefined) {
      delete parent[last];
      // A parent table that only pyrepo's table created goes too.
      if (path.length > 1 && Object.keys(parent).length === 0 && tomlValue(doc, path.slice(0, -1)) !== undefined) deleteEmptyParents(copy, path.slice(0, -1));
    } else {
      const list = (parent[last] as Record<string, unknown>[]).filter((e) => e.name !== t.arrayName);
      if (list.length === 0) delete parent[last];
      else parent[last] = list;
    }
  }
  return copy;
}

function deleteEmptyParents(doc: Record<string, unknown>, path: string[]): void {
  for (let n = path.length; n > 0; n--) {
    const t = tomlValue(doc, path.slice(0, n)) as Record<string, unknown>;
    if (Object.keys(t).length > 0) return;
    delete (tomlValue(doc, path.slice(0, n - 1)) as Record<string, unknown>)[path[n - 1] as string];
  }
}

// ---------------------------------------------------------------------------------------
// ~/.pypirc and pip.conf

describe.skipIf(!havePython)('INI corpus (configparser is the judge)', () => {
  let views: Record<string, PyView>;
  const pypircVariants = [
    { variant: 'password in the file', password: PASSWORD as string | undefined },
    { variant: 'password in the keychain', password: undefined },
  ];

  beforeAll(() => {
    const cases: PyCase[] = [];
    for (const s of PYPIRC) {
      cases.push({ id: `pypirc:${s.label}:original`, kind: 'pypirc', text: s.text, name: NAME });
      for (const v of pypircVariants) cases.push({ id: `pypirc:${s.label}:${v.variant}`, kind: 'pypirc', text: pypircConfigure(s.text, v.password), name: NAME });
    }
    for (const s of PIP) {
      cases.push({ id: `pip:${s.label}:original`, kind: 'pip', text: s.text });
      cases.push({ id: `pip:${s.label}:configured`, kind: 'pip', text: configurePip(s.text, { url: INDEX_URL, primary: s.primary ?? false }).text });
    }
    views = pythonViews(cases);
  });

  describe.each(PYPIRC)('.pypirc: $label', (sample) => {
    it.each(pypircVariants)('configure ($variant): twine sees the section; twice is a no-op; the undo gives the original back', ({ variant, password }) => {
      const original = views[`pypirc:${sample.label}:original`] as PyView;
      expect(original.error).toBeUndefined();
      const created = pypircCreates(sample.text);
      const configured = pypircConfigure(sample.text, password);
      expect(configured).not.toBe(sample.text);

      // ini.ts's view
      const doc = parseIni(configured);
      expect(iniListValues(iniGet(doc, 'distutils', 'index-servers'))).toContain(NAME);
      expect(iniGet(doc, NAME, 'repository')).toBe(UPLOAD_URL);
      expect(iniGet(doc, NAME, 'username')).toBe(USER);
      expect(iniGet(doc, NAME, 'password')).toBe(password);

      // twine's view (configparser)
      const view = views[`pypirc:${sample.label}:${variant}`] as PyView;
      expect(view.error).toBeUndefined();
      expect(view.servers).toContain(NAME);
      // Adding pyrepo keeps every server twine saw before (the implicit pypi and testpypi too).
      for (const s of original.servers ?? []) expect(view.servers).toContain(s);
      expect(view.repository).toBe(UPLOAD_URL);
      expect(view.username).toBe(USER);
      expect(view.password).toBe(password ?? (original.defaults?.password ?? null));
      // Every other option keeps its value.
      for (const [section, options] of Object.entries(original.sections ?? {})) {
        for (const [key, value] of Object.entries(options)) {
          if (section === 'distutils' && key === 'index-servers') continue;
          expect(view.sections?.[section]?.[key], `[${section}] ${key}`).toBe(value);
        }
      }
      expect(Object.keys(view.sections ?? {}).sort()).toEqual([...new Set([...Object.keys(original.sections ?? {}), 'distutils', NAME])].sort());

      // Idempotent
      expect(pypircConfigure(configured, password)).toBe(configured);
      // The surgical undo
      expect(unconfigurePypirc(configured, NAME, created)).toBe(sample.text);
      // Also the undo of a configure done twice (password first in the file, then in the keychain).
      const again = pypircConfigure(removeIniOption(pypircConfigure(sample.text, PASSWORD), NAME, 'password'), password);
      expect(unconfigurePypirc(again, NAME, created)).toBe(sample.text);
    });
  });

  describe.each(PIP)('pip.conf: $label', (sample) => {
    it('configure: pip sees the index; twice is a no-op; the undo gives the original back', () => {
      const primary = sample.primary ?? false;
      const original = views[`pip:${sample.label}:original`] as PyView;
      expect(original.error).toBeUndefined();
      const configured = configurePip(sample.text, { url: INDEX_URL, primary });
      expect(configured.text).not.toBe(sample.text);
      expect(pipUses(configured.text, INDEX_URL)).toBe(true);

      const view = views[`pip:${sample.label}:configured`] as PyView;
      expect(view.error).toBeUndefined();
      if (primary) {
        expect(view.index).toBe(INDEX_URL);
        expect(view.extra).not.toContain(INDEX_URL);
        expect(configured.replacedIndexUrl).toBe(original.index ?? undefined);
      } else {
        expect(view.extra).toContain(INDEX_URL);
        expect(view.extra?.slice(0, original.extra?.length)).toEqual(original.extra);
        expect(view.index).toBe(original.index);
      }
      for (const [section, options] of Object.entries(original.sections ?? {})) {
        for (const [key, value] of Object.entries(options)) {
          if (pipOptionName(key) === 'extra-index-url' || (section === 'global' && primary && pipOptionName(key) === 'index-url')) continue;
          expect(view.sections?.[section]?.[key], `[${section}] ${key}`).toBe(value);
        }
      }

      expect(configurePip(configured.text, { url: INDEX_URL, primary }).text).toBe(configured.text);
      expect(unconfigurePip(configured.text, INDEX_URL, configured)).toBe(sample.text);
    });
  });
});

describe('.pypirc refusals and details', () => {
  it("refuses a user's own [pyrepo] section that points elsewhere, and accepts one pointing here", () => {
    const foreign = '[distutils]\nindex-servers = pyrepo\n\n[pyrepo]\nrepository = https://pyrepo.example.com/upload/\nusername = me\n';
    expect(foreignPypircSection(foreign, { name: NAME, repository: UPLOAD_URL, username: USER })).toBe('https://pyrepo.example.com/upload/');
    expect(foreignPypircSection('[pyrepo]\nusername = me\n', { name: NAME, repository: UPLOAD_URL, username: USER })).toBe('(no repository)');
    expect(foreignPypircSection(`[pyrepo]\nrepository = ${UPLOAD_URL}\n`, { name: NAME, repository: UPLOAD_URL, username: USER })).toBeUndefined();
    expect(foreignPypircSection('[pypi]\nusername = x\n', { name: NAME, repository: UPLOAD_URL, username: USER })).toBeUndefined();
  });

  it('writes twine\'s implicit servers when it creates the list, and takes them out again', () => {
    const out = pypircConfigure('', PASSWORD);
    expect(out).toBe(`[distutils]\nindex-servers =\n    pypi\n    testpypi\n    ${NAME}\n\n[${NAME}]\nrepository = ${UPLOAD_URL}\nusername = ${USER}\npassword = ${PASSWORD}\n`);
    expect(unconfigurePypirc(out, NAME, pypircCreates(''))).toBe('');
  });

  it('keeps a hand edit made after configure, and a server the user added to the list', () => {
    const original = PYPIRC[1]?.text as string;
    const configured = pypircConfigure(original, PASSWORD);
    const edited = configured.replace('    testpypi\n', '    testpypi\n    mine\n') + '\n[mine]\nrepository = https://mine.example/\n';
    const undone = unconfigurePypirc(edited, NAME, pypircCreates(original));
    expect(undone).toBe(original.replace('    testpypi\n', '    testpypi\n    mine\n') + '\n[mine]\nrepository = https://mine.example/\n');
  });

  it('reports a malformed file with its line', () => {
    const bad = '[distutils]\nindex-servers = pypi\nthis is not ini\n';
    expect(() => pypircConfigure(bad)).toThrow(IniSyntaxError);
    try {
      pypircConfigure(bad);
    } catch (err) {
      expect((err as IniSyntaxError).line).toBe(3);
      expect((err as Error).message).toMatch(/^line 3:/);
    }
    const dup = '[pypi]\nusername = a\n\n[pypi]\nusername = b\n';
    expect(() => pypircConfigure(dup)).toThrow(expect.objectContaining({ line: 4 }));
  });
});

describe('pip.conf details', () => {
  it('moves from one URL to another (the port changed) and back to the original', () => {
    const original = PIP[3]?.text as string;
    const first = configurePip(original, { url: INDEX_URL, primary: false });
    const otherUrl = 'http://127.0.0.1:9000/simple/';
    const moved = configurePip(unconfigurePip(first.text, INDEX_URL, first), { url: otherUrl, primary: false });
    expect(pipUses(moved.text, otherUrl)).toBe(true);
    expect(pipUses(moved.text, INDEX_URL)).toBe(false);
    expect(unconfigurePip(moved.text, otherUrl, moved)).toBe(original);
  });

  it("keeps a hand edit made after configure and removes only pyrepo's URL", () => {
    const original = PIP[2]?.text as string;
    const configured = configurePip(original, { url: INDEX_URL, primary: false });
    const edited = configured.text.replace('timeout = 60\n', 'timeout = 60\nretries = 2\n');
    expect(unconfigurePip(edited, INDEX_URL, configured)).toBe(original.replace('timeout = 60\n', 'timeout = 60\nretries = 2\n'));
  });

  it('does not add the URL a second time when it is already the index-url, and leaves that line alone on undo', () => {
    const original = `[global]\nindex-url = ${INDEX_URL}\n`;
    const configured = configurePip(original, { url: INDEX_URL, primary: false });
    expect(configured.text).toBe(original);
    expect(unconfigurePip(configured.text, INDEX_URL, configured)).toBe(original);
  });

  it('reports a malformed file with its line', () => {
    expect(() => configurePip('[global]\ntimeout = 5\nthis is not ini\n', { url: INDEX_URL, primary: false })).toThrow(expect.objectContaining({ name: 'IniSyntaxError', line: 3 }));
    expect(() => configurePip('[global]\na = 1\n[global]\nb = 2\n', { url: INDEX_URL, primary: false })).toThrow(expect.objectContaining({ name: 'IniSyntaxError', line: 3 }));
    expect(() => configurePip('index-url = x\n', { url: INDEX_URL, primary: false })).toThrow(expect.objectContaining({ name: 'IniSyntaxError', line: 1 }));
  });
});

describe('INI edit primitives', () => {
  it('setIniOption keeps the key spelling, the delimiter and trailing blanks, and is a no-op when set', () => {
    const text = '[a]\nIndex-URL:   old   \nb = 1\n';
    const set = setIniOption(text, 'a', 'index-url', 'new');
    expect(set).toBe('[a]\nIndex-URL:   new   \nb = 1\n');
    expect(setIniOption(set, 'a', 'index-url', 'new')).toBe(set);
    expect(setIniOption(set, 'a', 'index-url', 'old')).toBe(text);
  });

  it('setIniOption adds after the last option (before comments and blanks) and keeps a missing final newline', () => {
    expect(setIniOption('[a]\nx = 1\n# c\n\n[b]\n', 'a', 'y', '2')).toBe('[a]\nx = 1\ny = 2\n# c\n\n[b]\n');
    expect(setIniOption('[a]\nx = 1', 'a', 'y', '2')).toBe('[a]\nx = 1\ny = 2');
    expect(removeIniOption('[a]\nx = 1\ny = 2', 'a', 'y')).toBe('[a]\nx = 1');
  });

  it('removeIniSection takes the section and the blank line before it, and keeps the next header\'s comments', () => {
    expect(removeIniSection('[a]\nx = 1\n\n[b]\ny = 2\n', 'b')).toBe('[a]\nx = 1\n');
    expect(removeIniSection('[a]\nx = 1\n\n# about b\n[b]\ny = 2\n', 'a')).toBe('# about b\n[b]\ny = 2\n');
    expect(removeIniSection('[a]\nx = 1\n', 'missing')).toBe('[a]\nx = 1\n');
    expect(removeIniSection('[a]\nx = 1\n', 'a')).toBe('');
    // A file that was only blank lines gets them back; at the top, the blank lines before what follows go too.
    expect(removeIniSection('[a]\nx = 1\n\n\n', 'a')).toBe('\n\n');
    expect(removeIniSection('[a]\nx = 1\n\n[b]\n', 'a')).toBe('[b]\n');
  });

  it('addIniListValue / removeIniListValue: continuation lines, one-line lists, and a new option', () => {
    const multi = '[g]\nextra =\n\thttps://a\n\thttps://b\n';
    const added = addIniListValue(multi, 'g', 'extra', 'https://c');
    expect(added).toBe('[g]\nextra =\n\thttps://a\n\thttps://b\n\thttps://c\n');
    expect(addIniListValue(added, 'g', 'extra', 'https://c')).toBe(added);
    expect(removeIniListValue(added, 'g', 'extra', 'https://c')).toBe(multi);
    expect(removeIniListValue(added, 'g', 'extra', 'https://a')).toBe('[g]\nextra =\n\thttps://b\n\thttps://c\n');

    const one = '[g]\nextra = https://a   \n';
    const one2 = addIniListValue(one, 'g', 'extra', 'https://c');
    expect(one2).toBe('[g]\nextra = https://a https://c   \n');
    expect(removeIniListValue(one2, 'g', 'extra', 'https://c')).toBe(one);
    expect(removeIniListValue(one2, 'g', 'extra', 'https://a')).toBe('[g]\nextra = https://c   \n');

    const created = addIniListValue('[g]\n', 'g', 'extra', 'https://c');
    expect(created).toBe('[g]\nextra = https://c\n');
    expect(removeIniListValue(created, 'g', 'extra', 'https://c')).toBe('[g]\n');
    // A value that only contains ours is not ours.
    expect(removeIniListValue('[g]\nextra = https://cc\n', 'g', 'extra', 'https://c')).toBe('[g]\nextra = https://cc\n');
  });

  it('keeps old Mac (\\r) line endings and the final one', () => {
    const text = '[global]\rtimeout = 5\r';
    const configured = configurePip(text, { url: INDEX_URL, primary: false });
    expect(configured.text).toBe(`[global]\rtimeout = 5\rextra-index-url = ${INDEX_URL}\r`);
    expect(unconfigurePip(configured.text, INDEX_URL, configured)).toBe(text);
  });
});

// ---------------------------------------------------------------------------------------
// TOML: poetry, pdm, uv

interface TomlCorpus {
  tool: string;
  samples: Sample[];
  variants: { variant: string; tables: OwnedTable[] }[];
}

const TOML_CORPORA: TomlCorpus[] = [
  { tool: 'poetry config.toml', samples: POETRY_CONFIG, variants: [{ variant: 'repository', tables: poetryConfigTables() }] },
  {
    tool: 'poetry auth.toml',
    samples: POETRY_AUTH,
    variants: [
      { variant: 'password in the file', tables: poetryAuthTables(true) },
      { variant: 'password in the keychain', tables: poetryAuthTables(false) },
    ],
  },
  {
    tool: 'pdm config.toml',
    samples: PDM,
    variants: [
      { variant: 'password in the file', tables: pdmTables(true) },
      { variant: 'password in the keychain', tables: pdmTables(false) },
    ],
  },
  { tool: 'uv.toml', samples: UV, variants: [{ variant: 'index', tables: uvTables() }] },
];

for (const corpus of TOML_CORPORA) {
  describe.each(corpus.samples)(`${corpus.tool}: $label`, (sample) => {
    it.each(corpus.variants)('configure ($variant): parses with our values; twice is a no-op; the undo gives the original back', ({ tables }) => {
      const before = readToml(sample.text);
      const configured = tomlConfigure(sample.text, tables);
      const doc = readToml(configured);
      for (const t of tables) {
        const entry = t.arrayName === undefined
          ? tomlValue(doc, t.header.split('.'))
          : (tomlValue(doc, t.header.split('.')) as Record<string, unknown>[]).find((e) => e.name === t.arrayName);
        expect(entry, t.header).toEqual(Object.fromEntries(t.values));
      }
      expect(withoutOwned(doc, tables)).toEqual(before);
      // Our [[index]] comes after the user's own (uv consults indexes in order).
      if (tables[0]?.arrayName) expect((tomlValue(doc, ['index']) as { name: string }[]).at(-1)?.name).toBe(NAME);

      expect(tomlConfigure(configured, tables, true)).toBe(configured);
      expect(tomlConfigure(configured, tables, false)).toBe(configured);
      expect(tomlUnconfigure(configured, tables)).toBe(sample.text);
    });

    it('switching the password between file and keychain, then the undo', () => {
      const [a, b] = [corpus.variants[0]?.tables ?? [], corpus.variants.at(-1)?.tables ?? []];
      const switched = tomlConfigure(tomlConfigure(sample.text, a), b, true);
      expect(tomlConfigure(switched, b, true)).toBe(switched);
      expect(tomlUnconfigure(switched, b)).toBe(sample.text);
    });
  });
}

describe('TOML refusals and details', () => {
  it("throws TomlConflictError for the user's own table by the same name, and leaves it alone", () => {
    const text = '[repositories.pyrepo]\nurl = "https://elsewhere.example/legacy/"\n';
    expect(() => ensureTomlTable(text, poetryConfigTables()[0] as OwnedTable, false)).toThrow(TomlConflictError);
    const uv = '[[index]]\nname = "pyrepo"\nurl = "https://elsewhere.example/simple/"\n';
    expect(() => ensureTomlTable(uv, uvTables()[0] as OwnedTable, false)).toThrow(TomlConflictError);
    // pyrepo's own (owned) table with an old URL is replaced.
    const replaced = ensureTomlTable(text, poetryConfigTables()[0] as OwnedTable, true);
    expect(tomlValue(readToml(replaced), ['repositories', 'pyrepo', 'url'])).toBe(UPLOAD_URL);
  });

  it('refuses an edit that would make the file invalid (an inline table or static array by that name)', () => {
    const inline = 'http-basic = { corp = { username = "x" } }\n';
    expect(() => ensureTomlTable(inline, poetryAuthTables(false)[0] as OwnedTable, false)).toThrow(TomlEditError);
    const array = 'index = [{ name = "a", url = "https://a.example/simple" }]\n';
    expect(() => ensureTomlTable(array, uvTables()[0] as OwnedTable, false)).toThrow(/invalid TOML/);
  });

  it('reports a malformed file with its line', () => {
    const bad = '[virtualenvs]\nin-project = true\n[repositories\nurl = "x"\n';
    let caught: unknown;
    try {
      ensureTomlTable(bad, poetryConfigTables()[0] as OwnedTable, false);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TomlEditError);
    expect((caught as TomlEditError).line).toBe(3);
    expect((caught as Error).message).toMatch(/^line 3:/);
    expect(() => readToml('a = 1\na = 2\n')).toThrow(expect.objectContaining({ line: 2 }));
  });

  it('removeTomlTable and removeTomlArrayEntry touch only their own table', () => {
    const text = '[a]\nx = 1\n\n[b]\ny = 2\n\n# about c\n[c]\nz = 3\n';
    expect(removeTomlTable(text, 'b')).toBe('[a]\nx = 1\n\n# about c\n[c]\nz = 3\n');
    expect(removeTomlTable(text, 'c')).toBe('[a]\nx = 1\n\n[b]\ny = 2\n\n# about c\n');
    expect(removeTomlTable(text, 'nope')).toBe(text);
    const arr = '[[index]]\nname = "a"\n\n[[index]]\nname = "b"\n\n[[index]]\nname = "c"\n';
    expect(removeTomlArrayEntry(arr, 'index', 'b')).toBe('[[index]]\nname = "a"\n\n[[index]]\nname = "c"\n');
    expect(removeTomlArrayEntry(arr, 'index', 'zz')).toBe(arr);
  });

  it('keeps a hand edit made after configure', () => {
    const original = POETRY_CONFIG[2]?.text as string;
    const configured = tomlConfigure(original, poetryConfigTables());
    const edited = configured.replace('create = true\n', 'create = true\nin-project = true\n') + '\n[installer]\nparallel = false\n';
    expect(tomlUnconfigure(edited, poetryConfigTables())).toBe(original.replace('create = true\n', 'create = true\nin-project = true\n') + '\n[installer]\nparallel = false\n');
  });
});
