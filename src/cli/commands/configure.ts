/** `pyrepo configure`: point pip, twine/flit, poetry, pdm and uv at the index, secrets in the keychain. */
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { splitToken } from '../../shared/access-file.js';
import type { Health } from '../../shared/api.js';
import { DaemonClient, daemonClientFor } from '../../shared/client.js';
import { resolvePaths, type PyrepoPaths } from '../../shared/paths.js';
import type { AuthAction } from '../../shared/settings.js';
import { AbortError } from '../errors.js';
import { colors, note, say } from '../output.js';
import { readAdminCredentials, secretStore } from '../services/admin-identity.js';
import { probeDaemon, type DaemonProbe } from '../services/daemon-control.js';
import { applyConfigure, detectTargets, planConfigure, TARGETS, type ConfigureRequest, type Credential, type FileOutcome, type Plan, type Target } from '../services/client-setup.js';
import { readManifest } from '../services/client-manifest.js';
import { discardTokens, prepareClientTokens, retireTokens, TOKEN_NAMES, TOKEN_USER, tokenRefs, type ClientToken, type ClientTokens, type TokenContext, type TokenPurpose } from '../services/client-tokens.js';
import { findTool } from '../services/python-tools.js';
import { loadSettings } from '../services/settings-store.js';
import { installationUsers } from '../services/users.js';
import { COMMAND_HEADS } from '../command-heads.js';

export type TargetFlags = Partial<Record<Target, boolean>> & { dryRun: boolean };

export interface ConfigureFlags extends TargetFlags {
  primary: boolean;
  name: string;
  url?: string;
  token?: string;
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

/** The index the tools are pointed at, and whether it is this installation's own (whose access file makes its tokens). */
interface IndexTarget {
  baseUrl: string;
  local: boolean;
  /** Why a --url is not taken for this installation's index. */
  foreign?: string;
  /** What needs credentials there. */
  authenticate: AuthAction[];
  /** It serves PyPI's projects through an upstream: it can be the tools' only index. */
  upstream: boolean;
}

function sameFolder(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return real(a) === real(b);
}

/**
 * Whether the index at `--url` is this installation's: a URL it is known by, or one whose
 * `/-/health` (open to all) names this data folder (a LAN address, a reverse proxy). Any
 * other index has its own users and tokens, which this machine's access file knows nothing of.
 */
async function resolveIndex(paths: PyrepoPaths, flag: string | undefined, probe: DaemonProbe): Promise<IndexTarget> {
  const settings = loadSettings(paths);
  const own: AuthAction[] = probe.kind === 'running' ? probe.health.authenticate : settings.authenticate;
  // The running daemon's upstream, else the saved one (it is used from the next start).
  const ownUpstream = probe.kind === 'running' ? probe.health.upstream !== undefined || settings.upstream !== undefined : settings.upstream !== undefined;
  const baseUrl = baseUrlFor(paths, flag, probe);
  if (flag === undefined) return { baseUrl, local: true, authenticate: own, upstream: ownUpstream };
  const known = [baseUrlFor(paths, undefined, probe), ...(probe.kind !== 'stopped' ? [probe.state.url] : [])];
  if (known.includes(baseUrl)) return { baseUrl, local: true, authenticate: own, upstream: ownUpstream };
  let health: Health | undefined;
  try {
    const client = probe.kind !== 'stopped' ? daemonClientFor({ ...probe.state, url: baseUrl }, { timeoutMs: 3000 }) : new DaemonClient(baseUrl, { timeoutMs: 3000 });
    health = await client.health();
  } catch {
    health = undefined;
  }
  if (health && sameFolder(health.dataDir, paths.dataDir)) return { baseUrl, local: true, authenticate: health.authenticate, upstream: health.upstream !== undefined };
  const foreign = health ? `it is another pyrepo (its data folder is ${health.dataDir}, this one's is ${paths.dataDir})` : `${baseUrl}/-/health did not answer as this installation's daemon`;
  return { baseUrl, local: false, foreign, authenticate: health?.authenticate ?? [], upstream: health?.upstream !== undefined };
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
  ...COMMAND_HEADS.configure,
  builder: (yargs: Argv) =>
    withTargetOptions(yargs)
      .option('primary', { type: 'boolean', describe: "pip: make this the index-url (PyPI is no longer used) instead of an extra-index-url", default: false })
      .option('name', { type: 'string', describe: 'Repository name in the tools', default: 'pyrepo' })
      .option('url', { type: 'string', describe: 'Base URL of the index as the tools should reach it', defaultDescription: 'the running daemon' })
      .option('token', { type: 'string', describe: 'An API token made on the index at --url (for an index this machine does not run)' })
      .option('keychain', { type: 'boolean', describe: "Keep the tokens in the OS keychain where the tools read it (--no-keychain: in the tools' files, mode 0600)", default: true })
      .epilog(
        'Without tool flags: ~/.pypirc, pip, and every other tool found on this machine. The tools get API tokens (uploads; a read-only one when reads need credentials), never the admin password; `pyrepo unconfigure` undoes it all and revokes them.',
      )
      .example('$0 configure --dry-run', 'Show what would change, as a diff')
      .example('$0 configure', 'Configure every tool found')
      .example('$0 configure --pip --primary', 'Make pip use only this index')
      .example('$0 configure --url http://pkgs.lan:8645 --token pyrepo_...', "Another machine's index, with a token made there") as unknown as Argv<ConfigureFlags>,
  handler: async (argv: ArgumentsCamelCase<ConfigureFlags>) => configureAndReport(resolvePaths(), argv),
};

/** The tool that reads each target's file. */
const TOOL_OF: Record<Target, string> = { pypirc: 'twine', pip: 'pip', poetry: 'poetry', pdm: 'pdm', uv: 'uv' };

/** "Tokens: for twine and poetry in <keychain>; for pdm in its own file (mode 0600), the only place it reads one." */
function whereTokensAre(plan: Plan, keychain: string): string {
  const names = (targets: Target[]) => [...new Set(targets.map((t) => TOOL_OF[t]))];
  const list = (tools: string[]) => (tools.length > 1 ? `${tools.slice(0, -1).join(', ')} and ${tools.at(-1) as string}` : (tools[0] ?? ''));
  const inKeychain = names(plan.secrets.map((s) => s.target as Target));
  const inFiles = names(plan.files.filter((f) => f.holdsSecret).map((f) => f.target));
  const parts = [
    ...(inKeychain.length > 0 ? [`for ${list(inKeychain)} in ${keychain}`] : []),
    ...(inFiles.length > 0 ? [`for ${list(inFiles)} in ${inFiles.length > 1 ? 'their own files' : 'its own file'} (mode 0600), the only place ${inFiles.length > 1 ? 'they read' : 'it reads'} one`] : []),
  ];
  return `Tokens: ${parts.join('; ')}.`;
}

/** The tools' credential for a token. */
function credentialOf(token: ClientToken | undefined): Credential | undefined {
  return token ? { username: TOKEN_USER, password: token.token } : undefined;
}

/** Configures the tools as the flags say and prints what happened (also used by `pyrepo init`). */
export async function configureAndReport(paths: PyrepoPaths, argv: ConfigureFlags): Promise<void> {
  if (!/^[a-z0-9][a-z0-9_]*$/.test(argv.name)) {
    throw new AbortError(`--name '${argv.name}' must be lowercase letters, digits and '_'`, 'poetry and uv turn other characters into "_" in environment variable names, which makes names ambiguous.');
  }
  if (argv.token !== undefined && !splitToken(argv.token)) throw new AbortError('--token is not a pyrepo API token (pyrepo_<id>_<secret>).', 'Make one on that index with `pyrepo token create`.');
  const settings = loadSettings(paths);
  const store = secretStore(paths);
  const admin = await readAdminCredentials(store, settings.adminUser);
  if (!admin) throw new AbortError(`There is no admin identity '${settings.adminUser}' yet.`, 'Run `pyrepo init` first.');
  const opened = await store.open();
  const useKeychain = argv.keychain && store.backend.kind === 'keychain';
  const probe = await probeDaemon(paths.dataDir);
  const index = await resolveIndex(paths, argv.url, probe);
  const { baseUrl } = index;
  const targets = chosenTargets(argv) ?? detectTargets();
  const manifest = readManifest(paths.configDir);
  const readsNeedCredentials = index.authenticate.some((a) => a === 'list' || a === 'download');
  const poetryVersion = targets.includes('poetry') ? (await findTool('poetry')).version : undefined;
  // Tokens this machine makes for its own index; for another one, only a token given with --token.
  const purposes: TokenPurpose[] = index.local && argv.token === undefined ? ['upload', ...(readsNeedCredentials ? (['read'] as const) : [])] : [];
  const ctx: TokenContext = { files: installationUsers(paths).files, store, user: settings.adminUser };
  const recorded = manifest.tokens ?? [];
  const given: Credential | undefined = argv.token !== undefined ? { username: TOKEN_USER, password: argv.token } : undefined;
  const requestFor = (tokens: ClientTokens): ConfigureRequest => {
    const upload = given ?? credentialOf(tokens.tokens.upload);
    const read = readsNeedCredentials ? (given ?? credentialOf(tokens.tokens.read)) : undefined;
    return {
      baseUrl,
      name: argv.name,
      primary: argv.primary,
      onlyIndex: index.upstream,
      targets,
      readsNeedCredentials,
      ...(poetryVersion !== undefined ? { poetryVersion } : {}),
      ...(useKeychain ? { keychain: store } : {}),
      ...(upload ? { upload } : {}),
      ...(read ? { read } : {}),
    };
  };
  const c = colors();
  // Planned with the tokens as they would be first: a malformed file stops everything before a token is made.
  const preview = await prepareClientTokens(ctx, recorded, purposes, true);
  const previewPlan = planConfigure(requestFor(preview), manifest);
  if (argv.dryRun) {
    const secrets = [admin.password, ...Object.values(preview.tokens).map((t) => t.token), ...(given ? [given.password] : [])];
    printDiffs(previewPlan.files, secrets);
    for (const t of Object.values(preview.tokens)) say(c.dim(t.fresh ? `token: would make an API token '${TOKEN_NAMES[t.purpose]}' (shown above as ********)` : `token: would reuse ${t.id} ('${TOKEN_NAMES[t.purpose]}')`));
    for (const s of previewPlan.secrets) say(c.dim(`keychain: would store the token for service '${s.service}', user '${s.account}'`));
    for (const w of previewPlan.warnings) note(c.yellow(w));
    return;
  }
  const tokens = await prepareClientTokens(ctx, recorded, purposes, false);
  let outcomes: FileOutcome[];
  let plan: Plan;
  try {
    plan = planConfigure(requestFor(tokens), manifest);
    // The keychain also when not used for this plan (--no-keychain): copies stored there earlier are deleted.
    outcomes = await applyConfigure(paths, plan, baseUrl, store.backend.kind === 'keychain' ? store : undefined, tokenRefs(tokens));
  } catch (err) {
    await discardTokens(ctx, Object.values(tokens.tokens));
    throw err;
  }
  const revoked = await retireTokens(ctx, tokens.retire);
  say(`Configured ${targets.join(', ')} for ${baseUrl}/simple/ (uploads: ${baseUrl}/legacy/):`);
  if (index.upstream) say("It serves PyPI's projects through its upstream, so it is the tools' only index: none asks PyPI beside it.");
  printOutcomes(outcomes);
  for (const t of Object.values(tokens.tokens)) {
    say(t.fresh ? `Made API token ${t.id} ('${TOKEN_NAMES[t.purpose]}') for the tools; the admin password stays out of their files.` : `Reused API token ${t.id} ('${TOKEN_NAMES[t.purpose]}').`);
  }
  if (revoked.length > 0) say(`Revoked the tokens configure no longer uses: ${revoked.join(', ')}.`);
  if (index.foreign) {
    say(
      given
        ? `${baseUrl} is not the index this machine runs (${index.foreign}): the tools use the token given with --token, which pyrepo will not revoke.`
        : `${baseUrl} is not the index this machine runs (${index.foreign}), so pyrepo cannot make a token for it.`,
    );
    if (!given) note(c.yellow(`To upload there without being asked, make a token on that index (\`pyrepo token create\` there) and run \`pyrepo configure --url ${baseUrl} --token <token>\`.`));
  }
  if (plan.files.some((f) => f.holdsSecret) || plan.secrets.length > 0) {
    if (useKeychain) say(whereTokensAre(plan, store.backend.description));
    else {
      const why = argv.keychain ? `no OS keychain is usable (${opened.keychainProblem ?? 'unknown reason'})` : '--no-keychain was given';
      note(c.yellow(`Tokens: written into the tools' own files (mode 0600), since ${why}.`));
    }
  }
  for (const n of plan.notes) say(c.dim(n));
  for (const w of plan.warnings) note(c.yellow(w));
}
