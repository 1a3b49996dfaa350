/** Small CLI pieces: release specs, tables, log lines, the start lock, and the parser. */
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AbortError } from '../../src/cli/errors.js';
import { formatTable } from '../../src/cli/output.js';
import { buildParser } from '../../src/cli/parser.js';
import { COMMAND_HEADS } from '../../src/cli/command-heads.js';
import { parseReleaseSpec } from '../../src/cli/release-spec.js';
import { explainingLines, followLog, formatLogLine, lastLines, logSize, rotateIfLarge } from '../../src/cli/services/daemon-log.js';
import { closestNames, editDistance } from '../../src/cli/suggest.js';
import { withStartLock } from '../../src/cli/services/start-lock.js';
import { generatePassword } from '../../src/cli/services/admin-identity.js';
import { formatBytes, formatDuration } from '../../src/shared/format.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyrepo-cli-pieces-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('generated passwords', () => {
  it('are 32 base64url characters and never start with a dash that a tool would read as a flag', () => {
    // Without the guard, one password in 64 starts with '-' (2,000 draws miss it with odds of about 1e-14).
    const passwords = Array.from({ length: 2000 }, generatePassword);
    for (const p of passwords) expect(p).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{31}$/);
    expect(new Set(passwords).size).toBe(passwords.length);
  });
});

describe('release specs', () => {
  it('splits project==version', () => {
    expect(parseReleaseSpec('pkg==1.0', true)).toEqual({ project: 'pkg', version: '1.0' });
    expect(parseReleaseSpec('pkg', false)).toEqual({ project: 'pkg' });
  });
  it('refuses what is not a pin, as a usage error (exit 64)', () => {
    expect(() => parseReleaseSpec('pkg', true)).toThrow(/Say which release: pkg==<version>/);
    for (const [spec, pin] of [['alpha', true], ['pkg>=1', false]] as const) {
      try {
        parseReleaseSpec(spec, pin);
      } catch (err) {
        expect((err as AbortError).exitCode, spec).toBe(64);
      }
    }
    for (const bad of ['pkg>=1.0', '==1.0', 'pkg==', 'pkg==1.0,2.0', 'p kg==1']) expect(() => parseReleaseSpec(bad, false), bad).toThrow(AbortError);
  });
});

describe('output', () => {
  it('aligns columns, numbers to the right, and ignores colour codes when measuring', () => {
    const t = formatTable(['name', 'n'], [['\u001b[1mab\u001b[22m', '5'], ['abcd', '100']], [1]);
    expect(t.split('\n')).toEqual(['name    n', '----  ---', '\u001b[1mab\u001b[22m      5', 'abcd  100']);
  });
  it('formats sizes and durations', () => {
    expect(formatBytes(1)).toBe('1 byte');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(100 * 1024 * 1024)).toBe('100 MiB');
    expect(formatDuration(59)).toBe('59 s');
    expect(formatDuration(3 * 3600 + 12 * 60)).toBe('3 h 12 min');
    expect(formatDuration(2 * 86400 + 4 * 3600 + 5)).toBe('2 d 4 h');
  });
});

describe('daemon log', () => {
  it('formats pino lines, access lines and errors; passes other lines through', () => {
    const time = new Date(2026, 10, 22, 14, 3, 7).getTime();
    expect(formatLogLine(JSON.stringify({ level: 30, time, msg: 'Server listening at http://127.0.0.1:8645' }))).toBe('2026-11-22 14:03:07 INFO  Server listening at http://127.0.0.1:8645');
    expect(formatLogLine(JSON.stringify({ level: 30, time, msg: 'request', method: 'GET', url: '/simple/', status: 200, ms: 3 }))).toBe('2026-11-22 14:03:07 INFO  GET /simple/ 200 3 ms');
    expect(formatLogLine(JSON.stringify({ level: 50, time, msg: 'Could not write', err: { message: 'EIO' } }))).toBe('2026-11-22 14:03:07 ERROR Could not write: EIO');
    expect(formatLogLine('Received SIGTERM; finishing requests in flight and stopping.')).toBe('Received SIGTERM; finishing requests in flight and stopping.');
    expect(formatLogLine('{not json')).toBe('{not json');
  });

  it('reads the last lines of a file, however long it is', () => {
    const file = join(dir, 'log');
    expect(lastLines(file, 5)).toEqual([]);
    writeFileSync(file, Array.from({ length: 20_000 }, (_, i) => `line ${i} ${'x'.repeat(100)}`).join('\n') + '\n');
    const last = lastLines(file, 3);
    expect(last.map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['line 19997', 'line 19998', 'line 19999']);
    expect(lastLines(file, 5000)).toHaveLength(5000);
    expect(lastLines(file, 0)).toEqual([]);
  });

  it('a failed start is explained by the lines it wrote, as text: warnings and errors, no access lines, no stack frames, no JSON', () => {
    const file = join(dir, 'start.log');
    const time = new Date(2026, 10, 22, 14, 3, 7).getTime();
    const line = (o: object) => `${JSON.stringify({ time, pid: 1, hostname: 'h', ...o })}\n`;
    writeFileSync(file, line({ level: 50, msg: 'an error of an earlier run' }));
    const from = logSize(file);
    appendFileSync(
      file,
      line({ level: 30, msg: 'Packages folder indexed in 4 ms' }) +
        line({ level: 30, msg: 'request', method: 'GET', url: '/-/health', status: 200, ms: 1 }) +
        line({ level: 40, msg: 'The packages folder is not writable' }) +
        line({ level: 50, msg: 'Cannot open the catalog', err: { message: 'SQLITE_CANTOPEN' } }) +
        'pyrepo daemon: Cannot open the catalog\n' +
        'Error: boom\n    at main (file:///x.js:1:1)\n    at run (file:///y.js:2:2)\nNode.js v20.19.0\n',
    );
    const lines = explainingLines(file, from, { skip: (l) => l.startsWith('pyrepo daemon: ') });
    expect(lines).toEqual([
      '2026-11-22 14:03:07 WARN  The packages folder is not writable',
      '2026-11-22 14:03:07 ERROR Cannot open the catalog: SQLITE_CANTOPEN',
      'Error: boom',
    ]);
    for (const l of lines) expect(l.startsWith('{')).toBe(false);
    // Nothing serious: the last lines it wrote, unless only serious ones are wanted.
    const quiet = join(dir, 'quiet.log');
    writeFileSync(quiet, line({ level: 30, msg: 'Server listening at http://127.0.0.1:1' }));
    expect(explainingLines(quiet, 0)).toEqual(['2026-11-22 14:03:07 INFO  Server listening at http://127.0.0.1:1']);
    expect(explainingLines(quiet, 0, { onlySerious: true })).toEqual([]);
    expect(explainingLines(quiet, logSize(quiet))).toEqual([]);
  });

  it('rotates a large log to .1', () => {
    const file = join(dir, 'daemon.log');
    writeFileSync(file, 'x'.repeat(100));
    expect(rotateIfLarge(file, 1000)).toBe(false);
    expect(rotateIfLarge(file, 50)).toBe(true);
    expect(existsSync(file)).toBe(false);
    expect(readFileSync(`${file}.1`, 'utf8')).toHaveLength(100);
  });

  it('follows appended lines, including a partial line finished later', async () => {
    const file = join(dir, 'follow.log');
    writeFileSync(file, 'old\n');
    const seen: string[] = [];
    const stop = new AbortController();
    const done = followLog(file, (l) => seen.push(l), stop.signal);
    appendFileSync(file, 'new 1\nnew ');
    await waitFor('the first new line', () => seen.includes('new 1'), 3_000);
    appendFileSync(file, '2\n');
    await waitFor('a second line', () => seen.length >= 2, 3_000);
    stop.abort();
    await done;
    expect(seen).toEqual(['new 1', 'new 2']);
  });
});

describe('did you mean', () => {
  it('finds names a few edits away, transpositions counting once, and names that start with the word', () => {
    expect(editDistance('pyrpeo', 'pyrepo')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(closestNames('prot', ['port', 'host', 'packages-dir'])).toEqual(['port']);
    expect(closestNames('reqeusts', ['requests', 'requests-toolbelt', 'flask'])).toEqual(['requests']);
    expect(closestNames('reque', ['requests-toolbelt', 'requests', 'flask'])).toEqual(['requests', 'requests-toolbelt']);
    expect(closestNames('zzz', ['requests', 'flask'])).toEqual([]);
    expect(closestNames('Port', ['port'])).toEqual([]);
  });
});

describe('start lock', () => {
  it('runs holders one after the other and removes the lock', async () => {
    const lock = join(dir, 'start.lock');
    const order: string[] = [];
    const task = (name: string) => async () => {
      order.push(`${name} in`);
      // A holder that takes a while is the point: the other one must wait for it.
      await new Promise((r) => setTimeout(r, 150));
      order.push(`${name} out`);
    };
    await Promise.all([withStartLock(lock, task('a')), withStartLock(lock, task('b'))]);
    expect(order).toEqual(['a in', 'a out', 'b in', 'b out']);
    expect(existsSync(lock)).toBe(false);
  });

  it('takes over a lock whose holder is gone', async () => {
    const lock = join(dir, 'start.lock');
    writeFileSync(lock, '999999999');
    expect(await withStartLock(lock, async () => 'ran', 1000)).toBe('ran');
  });

  it('gives up after its time limit with the holder named', async () => {
    const lock = join(dir, 'start.lock');
    writeFileSync(lock, String(process.pid));
    await expect(withStartLock(lock, async () => 'ran', 300)).rejects.toThrow(`Another pyrepo command (pid ${process.pid})`);
  });
});

describe('parser', () => {
  const parse = async (args: string[]) => {
    try {
      await (await buildParser(args)).exitProcess(false).parseAsync();
      return undefined;
    } catch (err) {
      return err as AbortError;
    }
  };

  it("every command's help is plain ASCII: yargs renders it each time a command runs, and one '…' loaded the Unicode width tables (70 ms of every start)", async () => {
    for (const name of Object.keys(COMMAND_HEADS)) {
      const help = await (await buildParser([name])).exitProcess(false).getHelp();
      expect(help, name).toContain(`pyrepo ${name}`);
      expect(help.match(/[^\t\n\x20-\x7e]/g) ?? [], name).toEqual([]);
    }
  });

  it('an unknown flag is a usage error with exit 64', async () => {
    const err = await parse(['status', '--bogus']);
    expect(err).toBeInstanceOf(AbortError);
    expect(err?.exitCode).toBe(64);
    expect(err?.message).toContain('bogus');
  });

  it('a missing positional is a usage error that names it and shows the usage', async () => {
    const err = await parse(['info']);
    expect(err?.exitCode).toBe(64);
    expect(err?.message).toBe('`pyrepo info` needs <project>.');
    expect(err?.nextStep).toContain('Usage: pyrepo info <project>');
    const owner = await parse(['owner', 'add', 'x']);
    expect(owner?.message).toBe('`pyrepo owner add` needs <user>.');
    const set = await parse(['config', 'set', 'port']);
    expect(set?.message).toBe('`pyrepo config set` needs <value>.');
  });

  it("yargs' other messages are plain sentences too, all exit 64", async () => {
    const cases: [string[], string][] = [
      [['frobnicate'], "There is no command 'frobnicate'."],
      [['stauts'], "There is no command 'stauts'. Did you mean `pyrepo status`?"],
      [['status', '--bogus'], '`pyrepo status` has no option --bogus.'],
      [['info', 'a', 'b'], "`pyrepo info` does not take the argument 'b'."],
      [['start', '--port'], '--port needs a value.'],
      [['start', '--log-level', 'loud'], "--log-level takes fatal, error, warn, info, debug or silent; not 'loud'."],
      [['publish', '-r', 'a', '--repository-url', 'b'], '--repository-url and --repository cannot be used together.'],
      [['publish', '--max-upload-size', '5MB'], '`pyrepo publish` has no option --max-upload-size.'],
      [['publish', '--build', 'x.whl'], '--build publishes what it builds; leave out the file arguments (or leave out --build).'],
      [['publish', '--timeout', '0'], '--timeout must be a positive number of seconds.'],
    ];
    for (const [args, message] of cases) {
      const err = await parse(args);
      expect(err, args.join(' ')).toBeInstanceOf(AbortError);
      expect(err?.message, args.join(' ')).toBe(message);
      expect(err?.exitCode, args.join(' ')).toBe(64);
    }
  });

  it('daemon flags are grouped by whether they are saved', async () => {
    const help = async (args: string[]) =>
      new Promise<string>((resolve) => {
        void buildParser(args).then((parser) => parser.exitProcess(false).parse(args, {}, (_err, _argv, output) => resolve(output)));
      });
    for (const command of ['start', 'restart', 'init']) expect(await help([command, '--help']), command).toContain('Settings (saved in the settings file');
    const serve = await help(['serve', '--help']);
    expect(serve).toContain('Settings for this run only');
    expect(serve).not.toContain('Settings (saved');
    for (const flag of ['--max-upload-size', '--authenticate', '--tls-cert', '--lan', '--data-dir']) expect(serve).toContain(flag);
  });

  it('every command has help with examples', async () => {
    const commands = ['init', 'start', 'stop', 'restart', 'status', 'logs', 'serve', 'config', 'config get', 'config set', 'config unset', 'config list', 'publish', 'list', 'info', 'remove', 'yank', 'unyank', 'configure', 'unconfigure', 'service install', 'service uninstall', 'doctor', 'board',
      'user', 'user add', 'user remove', 'user passwd', 'user role', 'user list', 'user import', 'token', 'token create', 'token list', 'token revoke', 'owner', 'owner add', 'owner remove', 'owner list'];
    for (const command of commands) {
      // The parse callback receives the help text instead of printing it.
      const help = await new Promise<string>((resolve) => {
        const args = [...command.split(' '), '--help'];
        void buildParser(args).then((parser) => parser.exitProcess(false).parse(args, {}, (_err, _argv, output) => resolve(output)));
      });
      expect(help, command).toContain('Examples:');
    }
  });
});
