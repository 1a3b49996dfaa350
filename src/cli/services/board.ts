/**
 * What to type on a MicroPython board to install from the running index: the lines for
 * mip (firmware 1.20 and later) and upip (1.19 and older) for each network address of
 * this machine, the mpremote command for a board on USB, and what stands in the way
 * (the daemon listens on loopback only; the index or its files need credentials, which
 * boards cannot send).
 */
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { isLoopback } from '../../shared/access-policy.js';
import type { DaemonState } from '../../shared/api.js';
import { daemonClientFor, DaemonRequestError } from '../../shared/client.js';
import type { PyrepoPaths } from '../../shared/paths.js';
import type { BoardOutput } from '../json-output.js';
import { AbortError } from '../errors.js';
import { basicAuthorization, readAdminCredentials, secretStore } from './admin-identity.js';
import { EXIT_NOT_RUNNING } from './daemon-access.js';
import { probeDaemon, WAITS } from './daemon-control.js';
import { projectNotFound } from './project-lookup.js';
import { loadSettings } from './settings-store.js';

/** Placeholder for the project name when none is given. */
export const PACKAGE_PLACEHOLDER = 'PACKAGE';

/** What anonymous callers (boards) may do, as the daemon answered; undefined when it could not be told. */
export interface AnonymousAccess {
  list?: boolean;
  download?: boolean;
}

/** Non-internal IPv4 addresses of this machine, with their interface names. */
export function lanAddresses(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): { address: string; interface: string }[] {
  const found: { address: string; interface: string }[] = [];
  for (const [name, infos] of Object.entries(interfaces)) {
    for (const info of infos ?? []) {
      // `family` was the number 4 on some Node 18 releases.
      const ipv4 = info.family === 'IPv4' || (info.family as unknown) === 4;
      if (ipv4 && !info.internal) found.push({ address: info.address, interface: name });
    }
  }
  return found;
}

function listensEverywhere(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** The board lines for one daemon (pure: the caller supplies the addresses and what is open). */
export function boardGuide(input: {
  state: Pick<DaemonState, 'url' | 'host' | 'port'>;
  addresses: { address: string; interface: string }[];
  anonymous: AnonymousAccess;
  project?: string;
  /** The project's latest version on the index, for the line that installs one version. */
  version?: string;
  /** Why the project's version could not be told (it is not on the index). */
  projectProblem?: string;
}): BoardOutput {
  const { state } = input;
  const project = input.project ?? PACKAGE_PLACEHOLDER;
  const scheme = new URL(state.url).protocol.replace(/:$/, '');
  const loopbackOnly = isLoopback(state.host);
  const everywhere = listensEverywhere(state.host);
  // A daemon bound to one address is reached there only; one bound to all, at every address.
  const addresses = everywhere || loopbackOnly ? input.addresses : [{ address: state.host, interface: '' }];
  const warnings: string[] = [];
  if (loopbackOnly) {
    warnings.push(
      `pyrepo listens on ${state.host} only: boards on your network cannot reach it. ` +
        '`pyrepo restart --lan` listens on every address, with the index and downloads open to anyone on the network and uploads needing credentials.',
    );
  }
  const locked = [input.anonymous.list === false && 'the index', input.anonymous.download === false && 'downloads'].filter(Boolean) as string[];
  if (locked.length > 0) {
    const what = locked.join(' and ');
    warnings.push(
      `${what.charAt(0).toUpperCase()}${what.slice(1)} need credentials, and upip and mip cannot send any: boards will be refused. ` +
        '`pyrepo restart --lan` (or `--authenticate upload`) opens reads and keeps uploads authenticated.',
    );
  }
  if (addresses.length === 0) warnings.push('This machine has no IPv4 network address: connect it to the network the boards are on.');
  if (input.projectProblem) warnings.push(input.projectProblem);
  if (scheme === 'https') {
    warnings.push('Boards do not check certificates, and older boards (axTLS) need RSA key-exchange ciphers; mpremote checks the certificate against this machine\'s trusted ones.');
  }
  return {
    url: state.url,
    host: state.host,
    port: state.port,
    reachable: !loopbackOnly && locked.length === 0 && addresses.length > 0,
    project,
    ...(input.version !== undefined ? { version: input.version } : {}),
    warnings,
    addresses: addresses.map(({ address, interface: iface }) => {
      const base = `${scheme}://${address}:${state.port}`;
      return {
        address,
        interface: iface,
        baseUrl: base,
        mip: ['import mip', `mip.install(${JSON.stringify(project)}, index=${JSON.stringify(`${base}/mip`)})`],
        upip: ['import upip', `upip.index_urls = [${JSON.stringify(base)}]`, `upip.install(${JSON.stringify(project)})`],
      };
    }),
    // mpremote downloads on this computer and copies to the board over USB: loopback does.
    mpremote: `mpremote mip install --index ${state.url}/mip ${project}`,
  };
}

/**
 * Asks the daemon, without credentials, whether its index pages and files are open:
 * a 401 means boards would be refused. Undefined where it could not be told.
 */
export async function probeAnonymousAccess(state: DaemonState): Promise<AnonymousAccess> {
  const ask = async (path: string): Promise<boolean | undefined> => {
    try {
      // No Authorization: what a board would get (over HTTPS, trusting the daemon's own certificate).
      return (await daemonClientFor(state, { timeoutMs: WAITS.healthMs }).statusOf(path)) !== 401;
    } catch {
      return undefined;
    }
  };
  const [list, download] = await Promise.all([ask('/simple/'), ask('/mip/file/00/00000000')]);
  return { ...(list !== undefined ? { list } : {}), ...(download !== undefined ? { download } : {}) };
}

/** The project's latest version on the running index (else its newest release), or why there is none. */
export async function projectVersion(paths: PyrepoPaths, state: DaemonState, project: string): Promise<{ version?: string; problem?: string }> {
  const admin = await readAdminCredentials(secretStore(paths), loadSettings(paths).adminUser).catch(() => undefined);
  const client = daemonClientFor(state, { timeoutMs: WAITS.healthMs, ...(admin ? { authorization: basicAuthorization(admin) } : {}) });
  try {
    const detail = await client.project(project);
    const version = detail.latestVersion ?? detail.releases[0]?.version;
    return version ? { version } : { problem: `${detail.displayName} has no release on this index yet.` };
  } catch (err) {
    if (err instanceof DaemonRequestError && err.status === 404) {
      const missing = await projectNotFound(client, project);
      return { problem: `${missing.message} Boards can install it once it is published (\`pyrepo publish\`).` };
    }
    // Not told (no credentials, a slow daemon): the lines still work without a version.
    return {};
  }
}

/** The guide for this installation's running daemon; an AbortError (exit 3) when it does not run. */
export async function gatherBoardGuide(paths: PyrepoPaths, project?: string): Promise<BoardOutput> {
  const probe = await probeDaemon(paths.dataDir);
  if (probe.kind === 'stopped') {
    throw new AbortError('The pyrepo daemon is not running.', 'Start it where boards can reach it with `pyrepo start --lan`.', EXIT_NOT_RUNNING);
  }
  const none: { version?: string; problem?: string } = {};
  const [anonymous, release] = await Promise.all([probeAnonymousAccess(probe.state), project ? projectVersion(paths, probe.state, project) : Promise.resolve(none)]);
  return boardGuide({
    state: probe.state,
    addresses: lanAddresses(),
    anonymous,
    ...(project ? { project } : {}),
    ...(release.version ? { version: release.version } : {}),
    ...(release.problem ? { projectProblem: release.problem } : {}),
  });
}
