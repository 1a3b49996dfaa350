/**
 * What `pyrepo service install` writes, as pure functions: a systemd user unit on Linux,
 * a launchd agent on macOS, where each lives, and the escaping each format needs.
 * Nothing here touches the disk or runs a program (service-manager.ts does).
 *
 * Both run `<node> <pyrepo>/dist/cli/index.js serve` in the foreground: the service
 * manager is the supervisor (restart on failure, start at login), not `pyrepo start`.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { AbortError } from '../errors.js';
import { DAEMON_MALLOC_ARENAS, DAEMON_NODE_FLAGS } from '../../shared/heap-limits.js';

/** The first line of every file pyrepo writes; a file without it is not ours to replace or remove. */
export const SERVICE_MARKER = 'Written by pyrepo service install; pyrepo service uninstall removes it.';

/** The systemd unit's name. */
export const SYSTEMD_UNIT = 'pyrepo.service';
/** The launchd job's label (and the plist's name, with `.plist`). */
export const LAUNCHD_LABEL = 'dev.pyrepo.daemon';

/** What the service runs, and with which environment. */
export interface ServiceSpec {
  /** Absolute path of the Node.js binary. */
  nodePath: string;
  /** Absolute path of pyrepo's built CLI entry (dist/cli/index.js). */
  cliEntry: string;
  /** Variables set for the daemon (PYREPO_HOME, …), in this order. */
  environment: [name: string, value: string][];
}

/** The launchd agent also names its log files (launchd has no journal to send output to). */
export interface LaunchdSpec extends ServiceSpec {
  /** Absolute path of the daemon log (stdout and stderr). */
  logFile: string;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function checkValue(what: string, value: string): void {
  if (CONTROL.test(value)) throw new AbortError(`${what} contains a control character (a newline?), which a service file cannot hold: ${JSON.stringify(value)}`);
}

function checkPaths(spec: ServiceSpec): void {
  for (const [what, path] of [
    ['The Node.js path', spec.nodePath],
    ["pyrepo's CLI entry", spec.cliEntry],
  ] as const) {
    if (!isAbsolute(path)) throw new AbortError(`${what} must be absolute for a service, not '${path}'.`);
    checkValue(what, path);
  }
  for (const [name, value] of spec.environment) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new AbortError(`'${name}' is not a valid environment variable name.`);
    checkValue(name, value);
  }
}

/**
 * One word of a systemd command line (`ExecStart=`): `%` doubled (specifiers) and `$`
 * doubled (variable expansion), and the word double-quoted with `\` and `"` escaped when
 * it holds anything but plain path characters.
 */
export function systemdExecArg(arg: string): string {
  const escaped = arg.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (arg !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return escaped;
  return `"${escaped.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * An `Environment=` value for NAME=value: `%` doubled (systemd expands specifiers there
 * too); the whole assignment double-quoted, with `\` and `"` escaped, when the value has
 * spaces, quotes, backslashes or is empty. No `$` escaping: Environment= does not expand
 * variables.
 */
export function systemdEnvironment(name: string, value: string): string {
  const assignment = `${name}=${value.replace(/%/g, '%%')}`;
  if (value !== '' && /^[A-Za-z0-9_@%+=:,./~-]+$/.test(value)) return assignment;
  return `"${assignment.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The systemd user unit (`pyrepo.service`). */
export function renderSystemdUnit(spec: ServiceSpec): string {
  checkPaths(spec);
  const exec = [spec.nodePath, ...DAEMON_NODE_FLAGS, spec.cliEntry, 'serve'].map(systemdExecArg).join(' ');
  return [
    `# ${SERVICE_MARKER}`,
    '# Re-run `pyrepo service install` after moving pyrepo or changing the Node.js install.',
    '[Unit]',
    'Description=pyrepo private Python package index',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${exec}`,
    // Fewer malloc arenas: less memory for the same speed (DAEMON_MALLOC_ARENAS says why).
    `Environment=MALLOC_ARENA_MAX=${DAEMON_MALLOC_ARENAS}`,
    ...spec.environment.map(([name, value]) => `Environment=${systemdEnvironment(name, value)}`),
    'Restart=on-failure',
    'RestartSec=2',
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
}

/** Text for an XML element or attribute: `& < > " '` escaped. */
export function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** The launchd agent (`dev.pyrepo.daemon.plist`). */
export function renderLaunchdPlist(spec: LaunchdSpec): string {
  checkPaths(spec);
  if (!isAbsolute(spec.logFile)) throw new AbortError(`The log file must be absolute, not '${spec.logFile}'.`);
  checkValue('The log file', spec.logFile);
  const str = (s: string) => `<string>${xmlEscape(s)}</string>`;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<!-- ${SERVICE_MARKER} -->`,
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    '<dict>',
    '  <key>Label</key>',
    `  ${str(LAUNCHD_LABEL)}`,
    '  <key>ProgramArguments</key>',
    '  <array>',
    ...[spec.nodePath, ...DAEMON_NODE_FLAGS, spec.cliEntry, 'serve'].map((a) => `    ${str(a)}`),
    '  </array>',
    '  <key>RunAtLoad</key>',
    '  <true/>',
    '  <key>KeepAlive</key>',
    '  <dict>',
    '    <key>SuccessfulExit</key>',
    '    <false/>',
    '  </dict>',
  ];
  if (spec.environment.length > 0) {
    lines.push('  <key>EnvironmentVariables</key>', '  <dict>');
    for (const [name, value] of spec.environment) lines.push(`    <key>${xmlEscape(name)}</key>`, `    ${str(value)}`);
    lines.push('  </dict>');
  }
  lines.push('  <key>StandardOutPath</key>', `  ${str(spec.logFile)}`, '  <key>StandardErrorPath</key>', `  ${str(spec.logFile)}`, '</dict>', '</plist>', '');
  return lines.join('\n');
}

/** Whether a service file was written by pyrepo (its marker is on one of the first lines). */
export function isOurs(text: string): boolean {
  return text.split('\n', 3).some((line) => line.includes(SERVICE_MARKER));
}

/** Where the systemd user unit goes: `$XDG_CONFIG_HOME/systemd/user/` (an absolute one), else `~/.config/systemd/user/`. */
export function systemdUnitDir(env: NodeJS.ProcessEnv, home: string): string {
  const xdg = env.XDG_CONFIG_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(home, '.config'), 'systemd', 'user');
}

/** The systemd user unit's path. */
export function systemdUnitPath(env: NodeJS.ProcessEnv, home: string): string {
  return join(systemdUnitDir(env, home), SYSTEMD_UNIT);
}

/** The launchd agent's path: `~/Library/LaunchAgents/dev.pyrepo.daemon.plist`. */
export function launchdPlistPath(home: string): string {
  return join(home, 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`);
}

/**
 * The variables the service needs to find the same folders as the CLI that installed it:
 * PYREPO_HOME when set (made absolute); otherwise, on Linux, the XDG folders that decide
 * pyrepo's default data, settings and log folders, when the user set them (a service
 * manager's environment usually lacks them).
 */
export function serviceEnvironment(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, cwd: string): [string, string][] {
  if (env.PYREPO_HOME) return [['PYREPO_HOME', resolve(cwd, env.PYREPO_HOME)]];
  if (platform !== 'linux') return [];
  const out: [string, string][] = [];
  for (const name of ['XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME']) {
    const value = env[name];
    // The XDG spec says relative values are to be ignored.
    if (value && isAbsolute(value)) out.push([name, value]);
  }
  return out;
}
