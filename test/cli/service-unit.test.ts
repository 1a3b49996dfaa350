/** The service files `pyrepo service install` writes: systemd unit and launchd plist rendering, escaping, paths. */
import { describe, expect, it } from 'vitest';
import {
  isOurs,
  launchdPlistPath,
  renderLaunchdPlist,
  renderSystemdUnit,
  SERVICE_MARKER,
  serviceEnvironment,
  systemdEnvironment,
  systemdExecArg,
  systemdUnitPath,
  xmlEscape,
  type ServiceSpec,
} from '../../src/cli/services/service-unit.js';

const spec: ServiceSpec = { nodePath: '/usr/bin/node', cliEntry: '/opt/pyrepo/dist/cli/index.js', environment: [] };

function line(text: string, prefix: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(prefix));
}

describe('renderSystemdUnit', () => {
  it('starts with the marker line and runs `serve` with absolute paths', () => {
    const unit = renderSystemdUnit(spec);
    expect(unit.split('\n')[0]).toBe(`# ${SERVICE_MARKER}`);
    expect(isOurs(unit)).toBe(true);
    expect(line(unit, 'ExecStart=')).toEqual(['ExecStart=/usr/bin/node --max-semi-space-size=2 /opt/pyrepo/dist/cli/index.js serve']);
    expect(unit).toContain('\n[Service]\nType=simple\n');
    expect(unit).toContain('\nRestart=on-failure\nRestartSec=2\n');
    expect(unit).toContain('\nDescription=pyrepo private Python package index\n');
    expect(unit.endsWith('[Install]\nWantedBy=default.target\n')).toBe(true);
    // Two malloc arenas for the daemon (heap-limits.ts), whatever else it is given.
    expect(line(unit, 'Environment=')).toEqual(['Environment=MALLOC_ARENA_MAX=2']);
  });

  it('writes each environment variable, quoted and escaped as systemd reads it', () => {
    const unit = renderSystemdUnit({
      ...spec,
      environment: [
        ['PYREPO_HOME', '/home/ann/pyrepo'],
        ['XDG_DATA_HOME', '/home/ann/My Data'],
      ],
    });
    expect(line(unit, 'Environment=')).toEqual(['Environment=MALLOC_ARENA_MAX=2', 'Environment=PYREPO_HOME=/home/ann/pyrepo', 'Environment="XDG_DATA_HOME=/home/ann/My Data"']);
  });

  it('quotes and escapes paths with spaces, %, $, quotes and backslashes in ExecStart', () => {
    const unit = renderSystemdUnit({ ...spec, nodePath: '/opt/node 20/bin/node', cliEntry: '/srv/100%/a$b/"q"\\x/index.js' });
    expect(line(unit, 'ExecStart=')).toEqual(['ExecStart="/opt/node 20/bin/node" --max-semi-space-size=2 "/srv/100%%/a$$b/\\"q\\"\\\\x/index.js" serve']);
  });

  it('refuses relative paths, control characters and bad variable names', () => {
    expect(() => renderSystemdUnit({ ...spec, nodePath: 'node' })).toThrow(/absolute/);
    expect(() => renderSystemdUnit({ ...spec, cliEntry: 'dist/cli/index.js' })).toThrow(/absolute/);
    expect(() => renderSystemdUnit({ ...spec, cliEntry: '/a\nb/index.js' })).toThrow(/control character/);
    expect(() => renderSystemdUnit({ ...spec, environment: [['PYREPO_HOME', '/a\nExecStartPre=/bin/evil']] })).toThrow(/control character/);
    expect(() => renderSystemdUnit({ ...spec, environment: [['A B', '/x']] })).toThrow(/not a valid environment variable/);
  });
});

describe('systemdEnvironment', () => {
  it.each([
    ['/home/ann/pyrepo', 'PYREPO_HOME=/home/ann/pyrepo'],
    ['/home/ann/my pyrepo', '"PYREPO_HOME=/home/ann/my pyrepo"'],
    ['/data/100%', 'PYREPO_HOME=/data/100%%'],
    ['/data/%h and %%', '"PYREPO_HOME=/data/%%h and %%%%"'],
    ['/a"b', '"PYREPO_HOME=/a\\"b"'],
    ['/a\\b', '"PYREPO_HOME=/a\\\\b"'],
    ["/it's", '"PYREPO_HOME=/it\'s"'],
    // Environment= does not expand variables: `$` stays as it is.
    ['/a$HOME', '"PYREPO_HOME=/a$HOME"'],
    ['', '"PYREPO_HOME="'],
    ['/a;b', '"PYREPO_HOME=/a;b"'],
    ['/a#b', '"PYREPO_HOME=/a#b"'],
  ])('%j → %s', (value, expected) => {
    expect(systemdEnvironment('PYREPO_HOME', value)).toBe(expected);
  });
});

describe('systemdExecArg', () => {
  it.each([
    ['/usr/bin/node', '/usr/bin/node'],
    ['serve', 'serve'],
    ['/a b', '"/a b"'],
    ['/100%', '/100%%'],
    ['/a$b', '"/a$$b"'],
    ['/a"b', '"/a\\"b"'],
    ['', '""'],
  ])('%j → %s', (arg, expected) => {
    expect(systemdExecArg(arg)).toBe(expected);
  });
});

describe('renderLaunchdPlist', () => {
  const plistSpec = { ...spec, logFile: '/Users/ann/Library/Logs/pyrepo/daemon.log' };

  it('is a plist with the label, the program arguments, RunAtLoad, KeepAlive and the log', () => {
    const plist = renderLaunchdPlist(plistSpec);
    const lines = plist.split('\n');
    expect(lines[0]).toBe('<?xml version="1.0" encoding="UTF-8"?>');
    expect(lines[1]).toBe(`<!-- ${SERVICE_MARKER} -->`);
    expect(isOurs(plist)).toBe(true);
    expect(plist).toContain('<key>Label</key>\n  <string>dev.pyrepo.daemon</string>');
    expect(plist).toContain(
      '<key>ProgramArguments</key>\n  <array>\n    <string>/usr/bin/node</string>\n    <string>--max-semi-space-size=2</string>\n    <string>/opt/pyrepo/dist/cli/index.js</string>\n    <string>serve</string>\n  </array>',
    );
    expect(plist).toContain('<key>RunAtLoad</key>\n  <true/>');
    expect(plist).toContain('<key>KeepAlive</key>\n  <dict>\n    <key>SuccessfulExit</key>\n    <false/>\n  </dict>');
    expect(plist).toContain('<key>StandardOutPath</key>\n  <string>/Users/ann/Library/Logs/pyrepo/daemon.log</string>');
    expect(plist).toContain('<key>StandardErrorPath</key>\n  <string>/Users/ann/Library/Logs/pyrepo/daemon.log</string>');
    expect(plist).not.toContain('EnvironmentVariables');
    expect(plist.endsWith('</dict>\n</plist>\n')).toBe(true);
  });

  it('escapes XML in every value, environment included', () => {
    const plist = renderLaunchdPlist({
      nodePath: '/Apps/R&D <1>/node',
      cliEntry: `/x/"it's"/index.js`,
      environment: [['PYREPO_HOME', '/Users/ann/a&b <c>']],
      logFile: '/l/&.log',
    });
    expect(plist).toContain('<string>/Apps/R&amp;D &lt;1&gt;/node</string>');
    expect(plist).toContain('<string>/x/&quot;it&apos;s&quot;/index.js</string>');
    expect(plist).toContain('<key>EnvironmentVariables</key>\n  <dict>\n    <key>PYREPO_HOME</key>\n    <string>/Users/ann/a&amp;b &lt;c&gt;</string>\n  </dict>');
    expect(plist).toContain('<string>/l/&amp;.log</string>');
    expect(plist).not.toMatch(/&(?!amp;|lt;|gt;|quot;|apos;)/);
  });

  it('refuses a relative log file', () => {
    expect(() => renderLaunchdPlist({ ...plistSpec, logFile: 'daemon.log' })).toThrow(/absolute/);
  });

  it('xmlEscape escapes the five special characters and nothing else', () => {
    expect(xmlEscape(`a&b<c>d"e'f é %`)).toBe('a&amp;b&lt;c&gt;d&quot;e&apos;f é %');
  });
});

describe('isOurs', () => {
  it('knows a file without the marker is not pyrepo’s', () => {
    expect(isOurs('[Unit]\nDescription=mine\n')).toBe(false);
    expect(isOurs(`[Unit]\n\n\n# ${SERVICE_MARKER}\n`)).toBe(false);
    expect(isOurs(`# ${SERVICE_MARKER}\n[Unit]\n`)).toBe(true);
  });
});

describe('paths', () => {
  it('puts the unit under $XDG_CONFIG_HOME/systemd/user, else ~/.config/systemd/user', () => {
    expect(systemdUnitPath({ XDG_CONFIG_HOME: '/x/config' }, '/home/ann')).toBe('/x/config/systemd/user/pyrepo.service');
    expect(systemdUnitPath({}, '/home/ann')).toBe('/home/ann/.config/systemd/user/pyrepo.service');
    // A relative XDG_CONFIG_HOME is invalid per the XDG spec, and ignored.
    expect(systemdUnitPath({ XDG_CONFIG_HOME: 'rel' }, '/home/ann')).toBe('/home/ann/.config/systemd/user/pyrepo.service');
  });

  it('puts the plist in ~/Library/LaunchAgents', () => {
    expect(launchdPlistPath('/Users/ann')).toBe('/Users/ann/Library/LaunchAgents/dev.pyrepo.daemon.plist');
  });
});

describe('serviceEnvironment', () => {
  it('passes PYREPO_HOME, made absolute, and nothing else when it is set', () => {
    expect(serviceEnvironment({ PYREPO_HOME: '/p', XDG_DATA_HOME: '/d' }, 'linux', '/cwd')).toEqual([['PYREPO_HOME', '/p']]);
    expect(serviceEnvironment({ PYREPO_HOME: 'rel/p' }, 'darwin', '/cwd')).toEqual([['PYREPO_HOME', '/cwd/rel/p']]);
  });

  it("passes the user's absolute XDG folders on Linux, so the service finds the same settings and data", () => {
    expect(serviceEnvironment({ XDG_CONFIG_HOME: '/c', XDG_DATA_HOME: '/d', XDG_STATE_HOME: 'rel', XDG_CACHE_HOME: '/k' }, 'linux', '/cwd')).toEqual([
      ['XDG_CONFIG_HOME', '/c'],
      ['XDG_DATA_HOME', '/d'],
    ]);
    expect(serviceEnvironment({ XDG_DATA_HOME: '/d' }, 'darwin', '/cwd')).toEqual([]);
    expect(serviceEnvironment({}, 'linux', '/cwd')).toEqual([]);
  });
});
