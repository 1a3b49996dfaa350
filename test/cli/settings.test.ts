/**
 * The settings file through conf; how flags and stored settings become daemon settings;
 * `pyrepo config` over the same table of settings; the checks made before a restart.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AbortError } from '../../src/cli/errors.js';
import {
  changedSettings,
  checkBeforeStart,
  describeValue,
  formatDuration,
  formatSize,
  mergeSettings,
  parseDuration,
  parseSetting,
  parseSize,
  resolveDaemonSettings,
  SETTINGS,
  settingsFromFlags,
  shellWord,
  undoCommands,
} from '../../src/cli/services/daemon-settings.js';
import { getSetting, listSettings, setSettings, unsetSettings } from '../../src/cli/services/settings-edit.js';
import { describeAccess, isLoopback } from '../../src/shared/access-policy.js';
import { defaultSettings, hasSettings, loadSettings, saveSettings, settingsFile } from '../../src/cli/services/settings-store.js';
import { resolvePaths, type PyrepoPaths } from '../../src/shared/paths.js';
import { DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_PORT, PYPI_SIMPLE_URL, type AuthAction } from '../../src/shared/settings.js';
import { upstreamConfigOf } from '../../src/shared/upstream-config.js';
import { makeTlsPair } from '../helpers/tls.js';

let root: string;
let paths: PyrepoPaths;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'pyrepo-settings-'));
  paths = resolvePaths({ PYREPO_HOME: root });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('settings store', () => {
  it('reading before init gives the defaults and creates nothing', () => {
    expect(loadSettings(paths)).toEqual(defaultSettings());
    expect(loadSettings(paths).port).toBe(DEFAULT_PORT);
    expect(hasSettings(paths)).toBe(false);
    expect(existsSync(paths.configDir)).toBe(false);
  });

  it('saves a patch, keeps other values, and reads it back', () => {
    saveSettings(paths, { port: 9000 });
    saveSettings(paths, { overwrite: true });
    const s = loadSettings(paths);
    expect(s).toMatchObject({ port: 9000, overwrite: true, host: '127.0.0.1', adminUser: 'admin' });
    expect(JSON.parse(readFileSync(settingsFile(paths), 'utf8'))).toMatchObject({ port: 9000, overwrite: true });
  });

  it('refuses an invalid value without touching the file', () => {
    saveSettings(paths, { port: 9000 });
    const before = readFileSync(settingsFile(paths), 'utf8');
    expect(() => saveSettings(paths, { port: 70000 })).toThrow(AbortError);
    expect(() => saveSettings(paths, { adminUser: 'has:colon' })).toThrow(/adminUser/);
    expect(readFileSync(settingsFile(paths), 'utf8')).toBe(before);
  });

  it('a settings file that is not JSON is reported with the fix, never replaced', () => {
    mkdirSync(paths.configDir, { recursive: true });
    writeFileSync(settingsFile(paths), '{ "port": 80,');
    expect(() => loadSettings(paths)).toThrow(/cannot be used: it is not valid JSON/);
    try {
      loadSettings(paths);
    } catch (err) {
      expect((err as AbortError).nextStep).toContain('pyrepo init');
    }
    expect(readFileSync(settingsFile(paths), 'utf8')).toBe('{ "port": 80,');
  });

  it('a value the schema refuses is named', () => {
    mkdirSync(paths.configDir, { recursive: true });
    writeFileSync(settingsFile(paths), JSON.stringify({ port: 'eighty' }));
    expect(() => loadSettings(paths)).toThrow(/port/);
  });
});

describe('daemon settings', () => {
  it('flags override stored settings; folders come from the paths module', () => {
    const stored = { ...defaultSettings(), port: 9000, overwrite: true };
    const s = resolveDaemonSettings({ port: 9100 }, stored, paths);
    expect(s).toMatchObject({ port: 9100, overwrite: true, dataDir: join(root, 'data'), packagesDir: join(root, 'data', 'packages') });
    expect(resolveDaemonSettings({}, { ...stored, packagesDir: '/srv/pkgs' }, paths).packagesDir).toBe('/srv/pkgs');
    expect(resolveDaemonSettings({ dataDir: join(root, 'other') }, stored, paths).packagesDir).toBe(join(root, 'other', 'packages'));
  });

  it('absent flags leave no keys behind (so they never override the file)', () => {
    expect(settingsFromFlags({})).toEqual({});
    expect(settingsFromFlags({ maxUploadSize: '2MB', packagesDir: 'rel' })).toEqual({ maxUploadBytes: 2 * 1024 * 1024, packagesDir: join(process.cwd(), 'rel') });
  });

  it('bad flags are refused with the flag named', () => {
    expect(() => settingsFromFlags({ port: 70000 })).toThrow(/--port must be a whole number from 0 to 65535/);
    expect(() => settingsFromFlags({ port: Number.NaN })).toThrow(/--port/);
    expect(() => settingsFromFlags({ port: 6000 })).toThrow(/Port 6000 is one that browsers and fetch refuse to connect to/);
    expect(() => settingsFromFlags({ publicUrl: 'ftp://x' })).toThrow(/--public-url/);
    expect(() => settingsFromFlags({ host: ' ' })).toThrow(/--host/);
    expect(() => settingsFromFlags({ maxUploadSize: 'lots' })).toThrow(/is not a size/);
  });

  it('--lan listens everywhere with reads open and uploads authenticated, and refuses to open uploads', () => {
    expect(settingsFromFlags({ lan: true })).toEqual({ host: '0.0.0.0', authenticate: ['upload'] });
    expect(settingsFromFlags({ lan: true, authenticate: 'download,upload' })).toEqual({ host: '0.0.0.0', authenticate: ['download', 'upload'] });
    expect(() => settingsFromFlags({ lan: true, authenticate: 'none' })).toThrow(/--lan keeps uploads authenticated/);
    expect(() => settingsFromFlags({ lan: true, host: '127.0.0.1' })).toThrow(/--lan listens on every address/);
    expect(() => settingsFromFlags({ authenticate: 'list,everything' })).toThrow(/not 'everything'/);
    expect(settingsFromFlags({ authenticate: 'none' })).toEqual({ authenticate: [] });
  });

  it('says in one sentence what is open and what needs credentials', () => {
    expect(describeAccess({ authenticate: ['upload'] })).toBe('open to anyone who can connect: index pages, downloads; credentials needed for uploads, the control API');
    expect(describeAccess({ authenticate: ['list', 'download', 'upload'] })).toBe('nothing is open without credentials; credentials needed for index pages, downloads, uploads, the control API');
    expect(describeAccess({ authenticate: [] })).toBe('open to anyone who can connect: index pages, downloads, uploads; credentials needed for the control API');
    expect([isLoopback('127.0.0.1'), isLoopback('127.1.2.3'), isLoopback('::1'), isLoopback('localhost'), isLoopback('0.0.0.0'), isLoopback('192.168.1.5')]).toEqual([true, true, true, true, false, false]);
  });

  it('parses sizes in binary units', () => {
    expect(parseSize('100MB')).toBe(100 * 1024 * 1024);
    expect(parseSize('512k')).toBe(512 * 1024);
    expect(parseSize('1.5 GiB')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('10')).toBe(10);
    expect(() => parseSize('0')).toThrow(/at least one byte/);
  });
});

describe('upstream settings', () => {
  it('are off by default; on (or pypi) means PyPI, a URL is kept, off switches it off again', () => {
    expect(defaultSettings().upstream).toBeUndefined();
    expect(upstreamConfigOf(resolveDaemonSettings({}, defaultSettings(), paths))).toBeUndefined();
    expect(settingsFromFlags({ upstream: 'on' })).toEqual({ upstream: PYPI_SIMPLE_URL });
    expect(settingsFromFlags({ upstream: 'PyPI' })).toEqual({ upstream: PYPI_SIMPLE_URL });
    expect(settingsFromFlags({ upstream: 'http://127.0.0.1:9000/simple' })).toEqual({ upstream: 'http://127.0.0.1:9000/simple' });
    expect(settingsFromFlags({ upstream: 'off' })).toEqual({ upstream: undefined });
    expect(() => settingsFromFlags({ upstream: 'ftp://mirror/simple/' })).toThrow(/--upstream 'ftp:\/\/mirror\/simple\/' is not an http\(s\) URL/);
  });

  it('reads name patterns (normalized), durations, sizes and hosts, and refuses what they are not', () => {
    expect(settingsFromFlags({ private: 'Acme_*, internal.tools', upstreamDeny: 'evil-pkg', upstreamMinAge: '3d', upstreamTtl: '90s', upstreamCacheSize: '200MB', upstreamCacheMaxAge: '0', upstreamFileHosts: 'Files.Example.org,127.0.0.1:9001' })).toEqual({
      private: ['acme-*', 'internal-tools'],
      upstreamDeny: ['evil-pkg'],
      upstreamMinAge: 3 * 86_400,
      upstreamTtl: 90,
      upstreamCacheSize: 200 * 1024 * 1024,
      upstreamCacheMaxAge: 0,
      upstreamFileHosts: ['files.example.org', '127.0.0.1:9001'],
    });
    expect(settingsFromFlags({ private: 'none' })).toEqual({ private: [] });
    expect(() => settingsFromFlags({ private: 'acme/*' })).toThrow(/'acme\/\*' is not a project name pattern/);
    expect(() => settingsFromFlags({ upstreamMinAge: 'three days' })).toThrow(/--upstream-min-age 'three days' is not a duration/);
    expect(() => settingsFromFlags({ upstreamFileHosts: 'https://files.example.org/' })).toThrow(/is not a host name/);
    expect(formatDuration(3 * 86_400)).toBe('3d');
    expect(formatDuration(600)).toBe('10m');
    expect(formatDuration(90)).toBe('90s');
    expect(parseDuration('1.5h', 'x')).toBe(5400);
  });

  it('resolve into what the daemon uses: the hosts that may be fetched, times in milliseconds', () => {
    const stored = mergeSettings(defaultSettings(), settingsFromFlags({ upstream: 'on', upstreamMinAge: '1h' }));
    const pypi = upstreamConfigOf(resolveDaemonSettings({}, stored, paths));
    expect(pypi).toMatchObject({ url: 'https://pypi.org/simple/', hosts: ['pypi.org', 'files.pythonhosted.org'], minAgeMs: 3_600_000, ttlMs: 600_000 });
    const local = upstreamConfigOf(resolveDaemonSettings({ upstream: 'http://127.0.0.1:9000/simple', upstreamFileHosts: '127.0.0.1:9001' }, defaultSettings(), paths));
    expect(local).toMatchObject({ url: 'http://127.0.0.1:9000/simple/', hosts: ['127.0.0.1:9000', '127.0.0.1:9001'] });
  });

  it('pyrepo config sets and unsets them by name', () => {
    setSettings(paths, ['upstream', 'on', 'private', 'acme-*']);
    expect(getSetting(paths, 'upstream')).toBe(PYPI_SIMPLE_URL);
    expect(getSetting(paths, 'private')).toBe('acme-*');
    unsetSettings(paths, ['upstream', 'private']);
    expect(loadSettings(paths)).toMatchObject({ private: [] });
    expect(loadSettings(paths).upstream).toBeUndefined();
  });
});

describe('the settings table: one source for flags and `pyrepo config`', () => {
  it('every default is shown as text that reads back to it', () => {
    const defaults = defaultSettings() as Record<string, unknown>;
    for (const spec of SETTINGS) {
      const text = spec.format(defaults[spec.key]);
      if (text === '') continue; // not set by default
      expect(parseSetting(spec, text), spec.name).toEqual(defaults[spec.key]);
    }
    expect(formatSize(100 * 1024 * 1024)).toBe('100MB');
    expect(formatSize(1536 * 1024)).toBe('1536KB');
    expect(formatSize(1000)).toBe('1000');
    expect(parseSize(formatSize(3 * 1024 ** 3))).toBe(3 * 1024 ** 3);
  });

  it('a bad flag value is a usage error (exit 64) that quotes what was typed', () => {
    const err = (() => {
      try {
        settingsFromFlags({ port: 'abc' });
      } catch (e) {
        return e as AbortError;
      }
    })();
    expect(err?.message).toBe("--port must be a whole number from 0 to 65535, not 'abc'.");
    expect(err?.exitCode).toBe(64);
    expect(() => settingsFromFlags({ logLevel: 'loud' })).toThrow("--log-level takes fatal, error, warn, info, debug or silent; not 'loud'.");
  });

  it('--no-lan goes back to loopback; --lan with the TLS pair split across file and flags is fine', () => {
    expect(settingsFromFlags({ lan: false })).toEqual({ host: '127.0.0.1' });
    expect(settingsFromFlags({ lan: false, host: '10.0.0.5' })).toEqual({ host: '10.0.0.5' });
    const stored = { ...defaultSettings(), tlsKey: '/k.pem' };
    expect(mergeSettings(stored, settingsFromFlags({ tlsCert: '/c.pem' }))).toMatchObject({ tlsCert: '/c.pem', tlsKey: '/k.pem' });
    expect(() => mergeSettings(defaultSettings(), settingsFromFlags({ tlsCert: '/c.pem' }))).toThrow('HTTPS needs both --tls-cert and --tls-key.');
  });

  it('says what changed and which config commands undo it', () => {
    const before = { ...defaultSettings(), port: 9000 };
    const after = { ...before, port: 9100, authenticate: ['list', 'upload'] as AuthAction[], tlsCert: '/c.pem', tlsKey: '/k.pem' };
    const changes = changedSettings(before, after);
    expect(changes.map((c) => [c.name, c.before, c.after])).toEqual([
      ['port', '9000', '9100'],
      ['authenticate', 'upload', 'list,upload'],
      ['tls-cert', '', '/c.pem'],
      ['tls-key', '', '/k.pem'],
    ]);
    expect(undoCommands(changes)).toEqual(['pyrepo config set port 9000', 'pyrepo config unset authenticate tls-cert tls-key']);
    expect(describeValue('tls-cert', '')).toBe('tls-cert (not set)');
    expect(shellWord("/my dir/it's.pem")).toBe(`'/my dir/it'\\''s.pem'`);
  });
});

describe('pyrepo config', () => {
  const refusal = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return err as AbortError;
    }
    throw new Error('not refused');
  };

  it('lists every setting with its default; nothing is written by reading', () => {
    const before = listSettings(paths);
    expect(before.exists).toBe(false);
    expect(before.settings.map((s) => s.name)).toEqual([...SETTINGS.map((s) => s.name), 'admin-user']);
    expect(before.settings.every((s) => s.isDefault)).toBe(true);
    expect(before.settings.find((s) => s.name === 'max-upload-size')).toMatchObject({ text: '100MB', value: DEFAULT_MAX_UPLOAD_BYTES, defaultText: '100MB' });
    setSettings(paths, ['port', '9000']);
    const after = listSettings(paths);
    expect(after.exists).toBe(true);
    expect(after.settings.find((s) => s.name === 'port')).toMatchObject({ text: '9000', value: 9000, isDefault: false, defaultText: String(DEFAULT_PORT) });
    expect(getSetting(paths, 'port')).toBe('9000');
    expect(getSetting(paths, 'tls-cert')).toBe('');
  });

  it('reads each value as its flag does, with the same message, and saves nothing when one pair is refused', () => {
    const fromConfig = refusal(() => setSettings(paths, ['port', '70000']));
    const fromFlag = refusal(() => settingsFromFlags({ port: '70000' }));
    expect(fromConfig.message).toBe("port must be a whole number from 0 to 65535, not '70000'.");
    expect(fromConfig.message).toBe(fromFlag.message.replace('--port', 'port'));
    expect(fromConfig.exitCode).toBe(64);
    expect(refusal(() => setSettings(paths, ['max-upload-size', 'lots'])).message).toBe("max-upload-size 'lots' is not a size.");
    expect(refusal(() => setSettings(paths, ['overwrite', 'maybe'])).message).toBe("overwrite takes true or false, not 'maybe'.");
    expect(refusal(() => setSettings(paths, ['authenticate', 'all'])).message).toBe("authenticate takes list, download and upload (comma-separated), or none; not 'all'.");
    expect(refusal(() => setSettings(paths, ['port', '9000', 'max-upload-size', 'lots'])).message).toContain('is not a size');
    expect(hasSettings(paths)).toBe(false);
    expect(refusal(() => setSettings(paths, ['port'])).exitCode).toBe(64);
  });

  it('saves several pairs together, and the undo commands put the file back', () => {
    setSettings(paths, ['port', '9000']);
    const before = readFileSync(settingsFile(paths), 'utf8');
    const { changes } = setSettings(paths, ['port', '9100', 'max-upload-size', '200MB', 'overwrite', 'yes', 'packages-dir', 'pkgs']);
    expect(loadSettings(paths)).toMatchObject({ port: 9100, maxUploadBytes: 200 * 1024 * 1024, overwrite: true, packagesDir: join(process.cwd(), 'pkgs') });
    for (const command of undoCommands(changes)) {
      const [, , verb, ...rest] = command.split(' ');
      if (verb === 'set') setSettings(paths, rest);
      else unsetSettings(paths, rest);
    }
    expect(readFileSync(settingsFile(paths), 'utf8')).toBe(before);
    expect(setSettings(paths, ['port', '9000']).changes).toEqual([]);
  });

  it('lan stands for every address with uploads authenticated; unset puts loopback back', () => {
    setSettings(paths, ['authenticate', 'list,download,upload']);
    setSettings(paths, ['lan', 'true']);
    expect(loadSettings(paths)).toMatchObject({ host: '0.0.0.0', authenticate: ['upload'] });
    expect(getSetting(paths, 'lan')).toBe('true');
    const open = refusal(() => setSettings(paths, ['authenticate', 'none']));
    expect(open.message).toMatch(/^Refusing to listen on 0\.0\.0\.0 with uploads open to anyone/);
    expect(open.message).toContain('allow-anonymous-lan-uploads true');
    expect(open.message).not.toContain('--');
    unsetSettings(paths, ['lan']);
    expect(loadSettings(paths).host).toBe('127.0.0.1');
    expect(getSetting(paths, 'lan')).toBe('false');
  });

  it('TLS: the pair together, and only a pair that can serve', () => {
    const pair = makeTlsPair(root, 'a');
    const other = makeTlsPair(root, 'b');
    expect(refusal(() => setSettings(paths, ['tls-cert', pair.cert])).message).toBe('HTTPS needs both tls-cert and tls-key.');
    expect(refusal(() => setSettings(paths, ['tls-cert', pair.cert, 'tls-key', other.key])).message).toMatch(/does not belong to the certificate/);
    expect(hasSettings(paths)).toBe(false);
    setSettings(paths, ['tls-cert', pair.cert, 'tls-key', pair.key]);
    expect(loadSettings(paths)).toMatchObject({ tlsCert: pair.cert, tlsKey: pair.key });
    expect(refusal(() => unsetSettings(paths, ['tls-key'])).message).toBe('HTTPS needs both tls-cert and tls-key.');
    unsetSettings(paths, ['tls-cert', 'tls-key']);
    expect(loadSettings(paths).tlsCert).toBeUndefined();
  });

  it('unknown names get the close ones; admin-user is init\'s', () => {
    const typo = refusal(() => getSetting(paths, 'prot'));
    expect(typo.message).toBe("There is no setting named 'prot'. Did you mean 'port'?");
    expect(typo.nextStep).toContain('pyrepo config list');
    expect(typo.exitCode).toBe(64);
    expect(refusal(() => setSettings(paths, ['admin-user', 'root'])).message).toContain('pyrepo init --admin-user');
    expect(getSetting(paths, 'admin-user')).toBe('admin');
  });
});

describe('checks before a daemon is stopped for a restart', () => {
  const base = () => resolveDaemonSettings({}, defaultSettings(), paths);
  const held = async (run: (port: number) => Promise<void>) => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      await run((server.address() as AddressInfo).port);
    } finally {
      await new Promise((r) => server.close(r));
    }
  };

  it('a port another program holds is refused (exit 2); the port the running daemon holds is not checked', async () => {
    await held(async (port) => {
      const err = await checkBeforeStart({ ...base(), port }).catch((e: unknown) => e as AbortError);
      expect(err).toBeInstanceOf(AbortError);
      expect((err as AbortError).message).toBe(`Port ${port} on 127.0.0.1 is already in use by another program.`);
      expect((err as AbortError).nextStep).toContain(`pyrepo restart --port ${port + 1}`);
      expect((err as AbortError).exitCode).toBe(2);
      const running = { pid: 1, url: `http://127.0.0.1:${port}`, host: '127.0.0.1', port, version: '0', startedAt: '', dataDir: '', packagesDir: '' };
      await expect(checkBeforeStart({ ...base(), port }, running)).resolves.toBeUndefined();
    });
    await expect(checkBeforeStart({ ...base(), port: 0 })).resolves.toBeUndefined();
  });

  it('anonymous uploads beyond loopback and TLS files that cannot serve are refused', async () => {
    await expect(checkBeforeStart({ ...base(), port: 0, host: '0.0.0.0', authenticate: [] })).rejects.toThrow(/uploads open to anyone/);
    const pair = makeTlsPair(root, 'c');
    await expect(checkBeforeStart({ ...base(), port: 0, tlsCert: pair.cert, tlsKey: join(root, 'nope.key') })).rejects.toThrow(`Cannot read the TLS key ${join(root, 'nope.key')}: no such file.`);
    await expect(checkBeforeStart({ ...base(), port: 0, tlsCert: pair.cert, tlsKey: pair.key })).resolves.toBeUndefined();
  });
});
