/**
 * Which installer downloaded a file, and whether it ran in CI, from its User-Agent.
 *
 * What the clients send (captured from the real ones, except uv, which is not installed
 * here: its format is the one it documents and PyPI's linehaul reads):
 *
 * - pip (22.3 to 23.2 seen; pipenv installs with its vendored pip and sends the same):
 *   `pip/23.2.1 {"ci":null,…,"installer":{"name":"pip","version":"23.2.1"},…}`, where
 *   `ci` is true when pip saw a CI environment (CI, BUILD_BUILDID, …) and null otherwise;
 * - uv: `uv/0.4.0 {"installer":{"name":"uv","version":"0.4.0"},…,"ci":null}` (the same
 *   linehaul JSON; newer uv names `uv-pip` for `uv pip` commands);
 * - pdm 2.2: `pdm/2.2.1 CPython/3.11.2`;
 * - poetry 1.7 and later: `poetry/1.8.3 CPython/3.12.1 Linux/6.1.0`; poetry 1.3 (Debian's)
 *   sends python-requests' own `python-requests/2.28.1`, which is `other`;
 * - MicroPython boards send no User-Agent (upip) or urllib's (`mpremote mip`): they are
 *   told by the routes they ask, not here.
 */
import type { Installer } from '../../shared/api.js';
import { Memo } from '../../shared/memo.js';

export interface DownloadClient {
  installer: Installer;
  /** The client said it runs in CI (only pip's and uv's user agents say). */
  ci: boolean;
}

const OTHER: DownloadClient = { installer: 'other', ci: false };

function fromName(name: string): Installer {
  const n = name.toLowerCase();
  if (n === 'pip' || n === 'pipenv') return 'pip';
  if (n === 'uv' || n.startsWith('uv-')) return 'uv';
  if (n === 'poetry') return 'poetry';
  if (n === 'pdm') return 'pdm';
  return 'other';
}

function classify(agent: string): DownloadClient {
  const brace = agent.indexOf('{');
  if (brace !== -1) {
    try {
      const data = JSON.parse(agent.slice(brace)) as { installer?: { name?: unknown }; ci?: unknown };
      const name = data?.installer?.name;
      if (typeof name === 'string') return { installer: fromName(name), ci: data.ci === true };
    } catch {
      // Not pip's JSON: read the product token below.
    }
  }
  const slash = agent.indexOf('/');
  return { installer: slash > 0 ? fromName(agent.slice(0, slash)) : 'other', ci: false };
}

/** Agents seen lately, classified: a storm of downloads comes from a handful of them. */
const clients = new Memo(classify);

/** The installer and CI flag a User-Agent header names; `other` when it names none. */
export function downloadClientOf(userAgent: string | string[] | undefined): DownloadClient {
  if (typeof userAgent !== 'string' || userAgent === '') return OTHER;
  return clients.get(userAgent);
}
