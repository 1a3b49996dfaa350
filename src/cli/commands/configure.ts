/** `pyrepo configure`: point pip, twine/flit, poetry, pdm and uv at the index, secrets in the keychain. */
import { createTwoFilesPatch } from 'diff';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { resolvePaths, type PyrepoPaths } from '../../shared/paths.js';
import type { AuthAction } from '../../shared/settings.js';
import { AbortError } from '../errors.js';
import { colors, note, say } from '../output.js';
import { readAdminCredentials, secretStore } from '../services/admin-identity.js';
import { probeDaemon, type DaemonProbe } from '../services/daemon-control.js';
import { applyConfigure, detectTargets, planConfigure, TARGETS, type FileOutcome, type Target } from '../services/client-setup.js';
import { readManifest } from '../services/client-manifest.js';
import { loadSettings } from '../services/settings-store.js';

export type TargetFlags = Partial<Record<Target, boolean>> & { dryRun: boolean };

export interface ConfigureFlags extends TargetFlags {
  primary: boolean;
  name: string;
  url?: string;
  keychain: boolean;
}

/** `--pip --pypirc …`: the targets asked for, or undefined for "the default set". */
export function chosenTargets(flags: TargetFlags): Target[] | undefined {
  const chosen = TARGETS.filter((t) => flags[t] === true);
  return chosen.length > 0 ? chosen : undefined;
}

export function withTargetOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('pypirc', { type: 'boolean', describe: '~/.pypirc (twine, flit)' })
    .option('pip', { type: 'boolean', describe: "pip's user pip.conf" })
    .option('poetry', { type: 'boolean', describe: "poetry's config.toml and auth.toml" })
    .option('pdm', { type: 'boolean', describe: "pdm's config.toml" })
    .option('uv', { type: 'boolean', describe: "uv's uv.toml" })
    .option('dry-run', { type: 'boolean', describe: 'Show the changes as a diff; change nothing', default: false });
}

/** Prints unified diffs of planned file changes (a dry run), with `secrets` shown as ********. */
export function printDiffs(changes: { path: string; before?: string; after?: string }[], secrets: string[] = []): void {
  const c = colors();
  const mask = (line: string) => secrets.reduce((l, s) => (s ? l.split(s).join('********') : l), line);
  let any = false;
  for (const ch of changes) {
    if ((ch.before ?? '') === (ch.after ?? '') && ch.after !== undefined) continue;
    any = true;
    const patch = createTwoFilesPatch(ch.before === undefined ? '/dev/null' : ch.path, ch.after === undefined ? '/dev/null' : ch.path, ch.before ?? '', ch.after ?? '', '', '', { context: 3 });
    for (const line of patch.split('\n').slice(1)) {
      const shown = mask(line);
      say(line.startsWith('+') && !line.startsWith('+++') ? c.green(shown) : line.startsWith('-') && !line.startsWith('---') ? c.red(shown) : shown);
    }
  }
  if (!any) say('Nothing to change.');
}

/** The index's base URL for the tools: --url, else the public URL, else the running daemon, else the settings. */
function baseUrlFor(paths: PyrepoPaths, flag: string | undefined, probe: DaemonProbe): string {
  if (flag !== undefined) {
    if (!/^https?:\/\/[^/\s]+/.test(flag)) throw new AbortError(`--url '${flag}' is not an http(s) URL.`, 'Example: --url http://192.168.1.20:8645');
    return flag.replace(/\/+$/, '').replace(/\/simple$/, '');
  }
  const settings = loadSettings(paths);
  if (settings.publicUrl) return settings.publicUrl.replace(/\/+$/, '');
  if (probe.kind !== 'stopped') return probe.state.url;
  if (settings.port === 0) throw new AbortError('The port is picked when pyrepo starts (port 0), so the tools cannot be told it yet.', 'Start pyrepo first (`pyrepo start`), or give a port: `pyrepo init --port 8645`.');
  const host = settings.host === '0.0.0.0' || settings.host === '::' ? '127.0.0.1' : settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  return `http://${host}:${settings.port}`;
}

/** What needs credentials: as the running daemon says, else as the settings say. */
function readPolicy(paths: PyrepoPaths, probe: DaemonProbe): AuthAction[] {
  return probe.kind === 'running' ? probe.health.authenticate : loadSettings(paths).authenticate;
}

const VERB: Record<FileOutcome['status'], string> = {
  created: 'created',
  updated: 'updated',
  unchanged: 'already set',
  restored: 'restored as it was',
  deleted: 'removed (pyrepo had created it)',
  cleaned: "pyrepo's entries removed (the file had changed since, so the rest was kept)",
  absent: 'already gone',
};

/** One line per file touched. */
export function printOutcomes(outcomes: FileOutcome[]): void {
  const width = Math.max(0, ...outcomes.map((o) => o.target.length));
  for (const o of outcomes) say(`  ${o.target.padEnd(width)}  ${o.path}: ${VERB[o.status]}${o.backup ? ` (backup: ${o.backup})` : ''}`);
}

export const configureCommand: CommandModule<object, ConfigureFlags> = {
  command: 'configure',
  describe: 'Point pip, twine, flit, poetry, pdm and uv at this index',
  builder: (yargs: Argv) =>
    withTargetOptions(yargs)
      .option('primary', { type: 'boolean', describe: "pip: make this the index-url (PyPI is no longer used) instead of an extra-index-url", default: false })
      .option('name', { type: 'string', describe: 'Repository name in the tools', default: 'pyrepo' })
      .option('url', { type: 'string', describe: 'Base URL of the index as the tools should reach it', defaultDescription: 'the running daemon' })
      .option('keychain', { type: 'boolean', describe: 'Keep the password in the OS keychain (--no-keychain: in the tools\' files, mode 0600)', default: true })
      .epilog('Without tool flags: ~/.pypirc, pip, and every other tool found on this machine. `pyrepo unconfigure` undoes it all.')
      .example('$0 configure --dry-run', 'Show what would change, as a diff')
      .example('$0 configure', 'Configure every tool found')
      .example('$0 configure --pip --primary', 'Make pip use only this index') as unknown as Argv<ConfigureFlags>,
  handler: async (argv: ArgumentsCamelCase<ConfigureFlags>) => configureAndReport(resolvePaths(), argv),
};

/** Configures the tools as the flags say and prints what happened (also used by `pyrepo init`). */
export async function configureAndReport(paths: PyrepoPaths, argv: ConfigureFlags): Promise<void> {
  if (!/^[a-z0-9][a-z0-9_]*$/.test(argv.name)) {
    throw new AbortError(`--name '${argv.name}' must be lowercase letters, digits and '_'`, 'poetry and uv turn other characters into "_" in environment variable names, which makes names ambiguous.');
  }
  const settings = loadSettings(paths);
  const store = secretStore(paths);
  const admin = await readAdminCredentials(store, settings.adminUser);
  if (!admin) throw new AbortError(`There is no admin identity '${settings.adminUser}' yet.`, 'Run `pyrepo init` first.');
  const opened = await store.open();
  const useKeychain = argv.keychain && store.backend.kind === 'keychain';
  const probe = await probeDaemon(paths.dataDir);
  const baseUrl = baseUrlFor(paths, argv.url, probe);
  const targets = chosenTargets(argv) ?? (await detectTargets());
  const manifest = readManifest(paths.configDir);
  const readsNeedCredentials = readPolicy(paths, probe).some((a) => a === 'list' || a === 'download');
  const plan = planConfigure(
    { baseUrl, name: argv.name, username: admin.username, password: admin.password, primary: argv.primary, targets, readsNeedCredentials, ...(useKeychain ? { keychain: store } : {}) },
    manifest,
  );
  const c = colors();
  if (argv.dryRun) {
    printDiffs(plan.files, [admin.password]);
    for (const s of plan.secrets) say(c.dim(`keychain: would store the password for service '${s.service}', user '${s.account}'`));
    return;
  }
  // The keychain also when not used for this plan (--no-keychain): copies stored there earlier are deleted.
  const outcomes = await applyConfigure(paths, plan, baseUrl, store.backend.kind === 'keychain' ? store : undefined);
  say(`Configured ${targets.join(', ')} for ${baseUrl}/simple/ (uploads: ${baseUrl}/legacy/):`);
  printOutcomes(outcomes);
  if (useKeychain) say(`Passwords: in ${store.backend.description}, under the names each tool looks up; none is written in a file.`);
  else {
    const why = argv.keychain ? `no OS keychain is usable (${opened.keychainProblem ?? 'unknown reason'})` : '--no-keychain was given';
    note(c.yellow(`Passwords: written into the tools' own files (mode 0600), since ${why}.`));
  }
  for (const n of plan.notes) say(c.dim(n));
}
