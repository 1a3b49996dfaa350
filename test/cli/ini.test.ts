/**
 * The INI reader (src/cli/client-config/ini.ts) against Python's configparser, which is
 * what pip, twine and flit read ~/.pypirc and pip.conf with: (a) unit cases of its own
 * rules and of the line positions the editors rely on; (b) a corpus of real-world-looking
 * files and (c) a few hundred generated ones, each parsed by /usr/bin/python3's
 * `configparser.RawConfigParser` in one process and compared section by section, key by
 * key, error by error.
 *
 * Python reads each text as pip and twine read a file: `read_file` over a text stream with
 * universal newlines (`\r\n`, `\r` and `\n` all end a line), the BOM left in (they open
 * files as UTF-8 or the locale's encoding, never utf-8-sig).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { iniGet, iniSection, IniSyntaxError, parseIni, type IniDocument } from '../../src/cli/client-config/ini.js';

// ---------------------------------------------------------------------------------------
// (a) unit cases

function errorOf(text: string): IniSyntaxError {
  try {
    parseIni(text);
  } catch (err) {
    if (err instanceof IniSyntaxError) return err;
    throw err;
  }
  throw new Error(`parsed without an error: ${JSON.stringify(text)}`);
}

describe('parseIni', () => {
  it('reads sections and options with = and :, lowercasing keys and keeping section names verbatim', () => {
    const doc = parseIni('[distutils]\nIndex-Servers = pypi\n[PyRepo]\nrepository: http://127.0.0.1:8645/legacy/\nusername=__token__\n');
    expect(doc.sections.map((s) => s.name)).toEqual(['distutils', 'PyRepo']);
    expect(iniGet(doc, 'distutils', 'index-servers')).toBe('pypi');
    expect(iniGet(doc, 'distutils', 'INDEX-SERVERS')).toBe('pypi');
    expect(iniGet(doc, 'PyRepo', 'repository')).toBe('http://127.0.0.1:8645/legacy/');
    expect(iniGet(doc, 'PyRepo', 'username')).toBe('__token__');
    expect(iniGet(doc, 'pyrepo', 'username')).toBeUndefined();
    expect(iniGet(doc, 'PyRepo', 'password')).toBeUndefined();
  });

  it('keeps # and ; after a value: there are no inline comments', () => {
    const doc = parseIni('[global]\nindex-url = http://x/simple/ # not a comment\ntimeout = 60 ; still the value\n');
    expect(iniGet(doc, 'global', 'index-url')).toBe('http://x/simple/ # not a comment');
    expect(iniGet(doc, 'global', 'timeout')).toBe('60 ; still the value');
  });

  it('splits at the first = or : and keeps the rest, % included', () => {
    const doc = parseIni('[a]\nurl = http://host:8080/x?a=b\nkey:with=both: here\npassword = 100%sure%(x)s\n');
    expect(iniGet(doc, 'a', 'url')).toBe('http://host:8080/x?a=b');
    expect(iniGet(doc, 'a', 'key')).toBe('with=both: here');
    expect(iniGet(doc, 'a', 'password')).toBe('100%sure%(x)s');
  });

  it('joins continuation lines, with blank lines inside kept and trailing ones dropped, and comments skipped', () => {
    const text = '[distutils]\nindex-servers =\n    pypi\n\n    # a comment inside\n    pyrepo\n\n\n[pypi]\nusername = a\n';
    const doc = parseIni(text);
    expect(iniGet(doc, 'distutils', 'index-servers')).toBe('\npypi\n\npyrepo');
    const opt = iniSection(doc, 'distutils')?.options[0];
    expect(opt).toMatchObject({ key: 'index-servers', line: 1, endLine: 5 });
    expect(iniSection(doc, 'distutils')?.endLine).toBe(5);
    expect(iniSection(doc, 'pypi')).toMatchObject({ line: 8, endLine: 9 });
  });

  it('continues a value only on lines indented deeper than its key line', () => {
    const doc = parseIni('[a]\n  x = 1\n  y = 2\n    more\n');
    expect(iniGet(doc, 'a', 'x')).toBe('1');
    expect(iniGet(doc, 'a', 'y')).toBe('2\nmore');
  });

  it('falls back to [DEFAULT] for every section, and answers for DEFAULT itself', () => {
    const doc = parseIni('[DEFAULT]\nusername = ann\n[a]\nusername = bob\n[b]\nrepository = x\n');
    expect(doc.sections.map((s) => s.name)).toEqual(['a', 'b']);
    expect(iniGet(doc, 'a', 'username')).toBe('bob');
    expect(iniGet(doc, 'b', 'username')).toBe('ann');
    expect(iniGet(doc, 'DEFAULT', 'username')).toBe('ann');
    expect(iniGet(doc, 'missing', 'username')).toBeUndefined();
  });

  it('knows the line ending, with or without a final newline', () => {
    expect(parseIni('[a]\r\nx = 1\r\n')).toMatchObject({ eol: '\r\n', lines: ['[a]', 'x = 1'] });
    expect(parseIni('[a]\nx = 1')).toMatchObject({ eol: '\n', lines: ['[a]', 'x = 1'] });
    expect(parseIni('[a]\rx = 1\r')).toMatchObject({ eol: '\r', lines: ['[a]', 'x = 1'] });
    expect(parseIni('')).toMatchObject({ sections: [], lines: [] });
  });

  it('reports what configparser refuses, with its exception and 1-based line', () => {
    expect(errorOf('x = 1\n[a]\n')).toMatchObject({ kind: 'MissingSectionHeaderError', line: 1 });
    expect(errorOf('[a]\n[b]\n[a]\n')).toMatchObject({ kind: 'DuplicateSectionError', line: 3 });
    expect(errorOf('[a]\nx = 1\nX: 2\n')).toMatchObject({ kind: 'DuplicateOptionError', line: 3 });
    expect(errorOf('[a]\nx = 1\nnot an option\n')).toMatchObject({ kind: 'ParsingError', line: 3 });
    expect(errorOf('[a]\n= no key\n')).toMatchObject({ kind: 'ParsingError', line: 2 });
    expect(errorOf('[a]\nx = 1\nnot an option\n').message).toMatch(/^line 3: /);
  });

  it('refuses a file that starts with a BOM, as pip and twine do, and says why', () => {
    const err = errorOf('\uFEFF[global]\nindex-url = http://x/simple/\n');
    expect(err).toMatchObject({ kind: 'MissingSectionHeaderError', line: 1 });
    expect(err.message).toMatch(/byte order mark/);
  });
});

// ---------------------------------------------------------------------------------------
// (b) and (c): conformance with configparser

const PYTHON = '/usr/bin/python3';

const PY_SCRIPT = String.raw`
import configparser, io, json, sys
out = []
for text in json.load(sys.stdin):
    p = configparser.RawConfigParser()
    try:
        p.read_file(io.StringIO(text, newline=None), source='<case>')
    except configparser.Error as e:
        line = getattr(e, 'lineno', None)
        if line is None and getattr(e, 'errors', None):
            line = e.errors[0][0]
        out.append({'error': type(e).__name__, 'line': line})
        continue
    out.append({
        'defaults': dict(p.defaults()),
        'sections': [[s, dict(p.items(s))] for s in p.sections()],
        'get': {s: {o: p.get(s, o) for o in p.options(s)} for s in p.sections()},
    })
json.dump(out, sys.stdout)
`;

type Parsed =
  | { error: string; line: number | null }
  | { defaults: Record<string, string>; sections: [string, Record<string, string>][]; get?: Record<string, Record<string, string>> };

/** What ini.ts makes of `text`, in the shape the Python script prints. */
function viaIni(text: string): Parsed {
  let doc: IniDocument;
  try {
    doc = parseIni(text);
  } catch (err) {
    if (err instanceof IniSyntaxError) return { error: err.kind, line: err.line };
    throw err;
  }
  const defaults = Object.fromEntries((doc.defaults?.options ?? []).map((o) => [o.key, o.value]));
  const sections = doc.sections.map((s): [string, Record<string, string>] => {
    // A section's options include [DEFAULT]'s, as configparser's items() and options() do.
    const keys = new Set([...Object.keys(defaults), ...s.options.map((o) => o.key)]);
    return [s.name, Object.fromEntries([...keys].map((k) => [k, iniGet(doc, s.name, k.toUpperCase()) as string]))];
  });
  return { defaults, sections };
}

/** Real-world-looking ~/.pypirc and pip.conf files, and the corners configparser has. */
const CORPUS: [name: string, text: string][] = [
  [
    'pypirc as the packaging guide shows it',
    '[distutils]\nindex-servers =\n    pypi\n    testpypi\n\n[pypi]\nusername = __token__\npassword = pypi-AgEIcHlwaS5vcmcCJDkyNmY\n\n[testpypi]\nrepository = https://test.pypi.org/legacy/\nusername = __token__\npassword = pypi-AgENdGVzdC5weXBpLm9yZwIk\n',
  ],
  [
    'pypirc with a private index, = and : mixed, no spaces',
    '[distutils]\nindex-servers=\n  pypi\n  pyrepo\n[pypi]\nusername:__token__\npassword:pypi-abc\n[pyrepo]\nrepository=http://127.0.0.1:8645/legacy/\nusername=admin\npassword=s3cr3t=with=equals\n',
  ],
  [
    'comments with # and ;, also indented inside a multi-line value',
    '# ~/.pypirc\n; written by hand\n[distutils]\nindex-servers =\n    pypi\n    # testpypi is disabled for now\n    ; so is this one\n    pyrepo\n\n[pyrepo]\n# local index\nrepository = http://localhost:8645/legacy/\n',
  ],
  [
    'values with #, ;, =, : and % (no inline comments, no interpolation)',
    '[pyrepo]\nrepository = http://host:8645/legacy/#frag\npassword = p#ss;w=rd:100%\nusername = %(user)s\ncomment = value ; trailing\n',
  ],
  [
    'index-servers with blank lines inside and trailing',
    '[distutils]\nindex-servers =\n\n    pypi\n\n\n    pyrepo\n\n\n\n[pyrepo]\nrepository = http://127.0.0.1:8645/legacy/\n\n\n',
  ],
  [
    'tabs for indentation and around delimiters',
    '[distutils]\nindex-servers =\n\tpypi\n\tpyrepo\n[pyrepo]\nrepository\t=\thttp://127.0.0.1:8645/legacy/\nusername\t:\tann\t\n',
  ],
  [
    'CRLF line endings (Notepad)',
    '[distutils]\r\nindex-servers =\r\n    pypi\r\n    pyrepo\r\n\r\n[pyrepo]\r\nrepository = http://127.0.0.1:8645/legacy/\r\nusername = ann\r\n',
  ],
  ['old Mac CR line endings', '[global]\rindex-url = http://127.0.0.1:8645/simple/\rextra-index-url =\r    https://pypi.org/simple/\r'],
  ['mixed line endings', '[global]\r\nindex-url = http://a/simple/\ntimeout = 10\r\n[install]\rtrusted-host = a\n'],
  ['a BOM (Windows editors): pip and twine cannot read it', '\uFEFF[global]\r\nindex-url = http://127.0.0.1:8645/simple/\r\n'],
  ['a BOM before a comment', '\uFEFF# pip.conf\n[global]\nindex-url = http://x/simple/\n'],
  [
    '[DEFAULT] supplies every section',
    '[DEFAULT]\nusername = ann\npassword = common\n\n[distutils]\nindex-servers = pyrepo other\n\n[pyrepo]\nrepository = http://127.0.0.1:8645/legacy/\npassword = own\n\n[other]\nrepository = http://other/legacy/\n',
  ],
  ['[DEFAULT] twice merges', '[DEFAULT]\na = 1\n[x]\nk = v\n[DEFAULT]\nb = 2\n'],
  ['[DEFAULT] twice with the same key', '[DEFAULT]\na = 1\n[DEFAULT]\na = 2\n'],
  ['[default] in lower case is an ordinary section', '[default]\na = 1\n[DEFAULT]\nb = 2\n'],
  ['key case folds, section case does not', '[Global]\nIndex-URL = http://a/simple/\n[global]\nINDEX-url = http://b/simple/\n'],
  ['empty values', '[pyrepo]\nrepository = http://x/legacy/\nusername =\npassword:\n'],
  ['keys with spaces', '[global]\nindex url = http://x/simple/\n  trusted host   =   x  \n'],
  ['pip.conf with several sections', '[global]\ntimeout = 60\nindex-url = http://127.0.0.1:8645/simple/\n\n[install]\ntrusted-host =\n    127.0.0.1\n    pypi.org\n\n[freeze]\ntimeout = 10\n'],
  ['section header with spaces and trailing text', '[ global ]\na = 1\n[install] ; comment\nb = 2\n[x]]\nc = 3\n'],
  ['an indented section header after an option is a continuation', '[a]\nx = 1\n  [b]\n  y = 2\n'],
  ['an indented section header after the header line', '[a]\n  [b]\n  y = 2\n'],
  ['duplicate section is an error', '[pypi]\nusername = a\n\n[pypi]\nusername = b\n'],
  ['duplicate key is an error, whatever its case or delimiter', '[pypi]\nusername = a\nUserName: b\n'],
  ['a line before any section is an error', 'index-url = http://x/simple/\n[global]\n'],
  ['a comment and a blank line before the first section are fine', '\n# hello\n\n[global]\na = 1\n'],
  ['a garbage line is an error', '[global]\nindex-url = http://x/simple/\nthis line means nothing\n'],
  ['garbage first, then a duplicate section: the duplicate is raised', '[a]\ngarbage\n[a]\n'],
  ['garbage first, then a duplicate key: the duplicate is raised', '[a]\ngarbage\nx = 1\nx = 2\n'],
  ['two garbage lines: the first is reported', '[a]\nfoo\nbar\n'],
  ['an option with no name is an error', '[a]\n= value\n'],
  ['two options with no name: the second is a duplicate', '[a]\n= value\n: other\n'],
  ['a value that looks like a header', '[a]\nx = [b]\n'],
  ['[] is not a section header', '[]\n'],
  ['only comments', '# nothing\n; here\n'],
  ['empty file', ''],
  ['whitespace-only file', '  \n\t\n'],
  ['a continuation indented with a no-break space', '[a]\nx = 1\n\u00a0 y\n'],
  ['unicode whitespace configparser knows and JavaScript does not', '[a]\nx = 1\n\u001c\u0085y\nz = \u0085v\u0085\n'],
  ['a BOM inside a line is not whitespace to configparser', '[a]\nx = \uFEFFv\uFEFF\n\uFEFFy = 2\n'],
  ['unicode in keys, values and names', '[café]\nnamé = välue ☃\nÉCOLE = x\n'],
  ['continuation of an empty value after a comment', '[a]\nx =\n# c\n  y\n'],
  ['comment at deeper indent ends nothing', '[a]\nx = 1\n    # comment\ny = 2\n'],
];

/** Deterministic pseudo-random numbers (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Files stitched from the pieces configparser treats differently (indents, delimiters,
 * blank and comment lines, [DEFAULT], odd whitespace), with random line endings; mostly
 * valid, with the occasional line configparser refuses.
 */
function generated(count: number): [string, string][] {
  const next = random(20240611);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const headers = ['[a]', '[A]', '[b]', '[c d]', '[DEFAULT]', ' [e] ', '[f] trailing', '[g]]'];
  const keys = ['k', 'Key', 'index-servers', 'two words', 'x.y', 'p%'];
  const values = ['v', '', 'http://h:1/x?a=b', '100%', 'a # b', 'a ; b', '[q]', 'x=y:z', '\u00a0v\u00a0', '\u0085w'];
  const delimiters = ['=', ' = ', ':', ' : ', '\t=\t', '  =', ': '];
  const indents = ['', '', '', ' ', '  ', '\t', '    ', '\u00a0', '\u001c'];
  const fillers = ['', '', '   ', '# c', '; c', '  # c', '\t; c'];
  const bad = ['garbage', '= v', ': v', '[', '[]', 'k = 1\nk = 2'];
  const eols = ['\n', '\n', '\r\n', '\r'];
  const out: [string, string][] = [];
  for (let i = 0; i < count; i++) {
    const lines: string[] = next() < 0.9 ? [pick(headers.slice(0, 5))] : [];
    let used = new Set<string>();
    /** After an option line: an indented line may continue it. */
    let inValue = false;
    const n = 1 + Math.floor(next() * 10);
    for (let j = 0; j < n; j++) {
      const r = next();
      if (r < 0.1) {
        lines.push(pick(headers));
        used = new Set();
        inValue = false;
      } else if (r < 0.45 || (r < 0.7 && !inValue)) {
        const key = pick(keys);
        // Mostly fresh keys: a repeated one is a (tested) error, not the point here.
        if (used.has(key.toLowerCase()) && next() < 0.9) continue;
        used.add(key.toLowerCase());
        lines.push(`${pick(indents)}${key}${pick(delimiters)}${pick(values)}`);
        inValue = true;
      } else if (r < 0.7) lines.push(`${pick(indents.slice(3))}${pick(values)}`);
      else if (r < 0.96) lines.push(pick(fillers));
      else lines.push(pick(bad));
    }
    const eol = pick(eols);
    out.push([`generated #${i}`, lines.join(eol).replace(/\n/g, eol) + (next() < 0.7 ? eol : '')]);
  }
  return out;
}

const CASES = [...CORPUS, ...generated(400)];

const havePython = existsSync(PYTHON);
// Skips only on a developer's machine without Python: CI has it (.ci/run), and fails without it.
if (!havePython && process.env.CI) throw new Error(`${PYTHON} is required in CI`);
let expected: Parsed[] = [];

beforeAll(() => {
  if (!havePython) return;
  const r = spawnSync(PYTHON, ['-c', PY_SCRIPT], { input: JSON.stringify(CASES.map(([, text]) => text)), encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${PYTHON} failed (${r.status ?? r.signal}): ${r.stderr}`);
  expected = JSON.parse(r.stdout) as Parsed[];
});

describe.skipIf(!havePython)(havePython ? 'conformance with configparser.RawConfigParser' : `conformance (skipped: no ${PYTHON})`, () => {
  it('ran configparser on every case', () => {
    expect(expected).toHaveLength(CASES.length);
  });

  it.each(CASES.map(([name, text], i) => ({ name, text, i })))('$name', ({ text, i }) => {
    const python = expected[i] as Parsed;
    // options(s) and get(s, o) agree with items(s), DEFAULT included.
    if ('get' in python) {
      expect(python.get).toEqual(Object.fromEntries(python.sections));
      delete python.get;
    }
    expect(viaIni(text), `text: ${JSON.stringify(text)}`).toEqual(python);
  });
});
