/** The settings file through conf, and how flags and stored settings become daemon settings. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AbortError } from '../../src/cli/errors.js';
import { parseSize, resolveDaemonSettings, settingsFromFlags } from '../../src/cli/services/daemon-settings.js';
import { describeAccess, isLoopback } from '../../src/shared/access-policy.js';
import { defaultSettings, hasSettings, loadSettings, saveSettings, settingsFile } from '../../src/cli/services/settings-store.js';
import { resolvePaths, type PyrepoPaths } from '../../src/shared/paths.js';
import { DEFAULT_PORT } from '../../src/shared/settings.js';

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
