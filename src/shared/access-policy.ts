/**
 * Who may do what on a daemon, in words: shared by the daemon (its start-up log line and
 * `/-/health`) and the CLI (`start`, `status`), so that both say exactly the same thing.
 */
import type { AuthAction } from './settings.js';

/** Whether `host` accepts connections from this machine only. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

const NAMES: Record<AuthAction, string> = { list: 'index pages', download: 'downloads', upload: 'uploads' };

/**
 * One sentence on what anonymous callers may do and what needs credentials, e.g.
 * "open to anyone who can connect: index pages, downloads; credentials needed for uploads, the control API".
 */
export function describeAccess(settings: { authenticate: AuthAction[] }): string {
  const all: AuthAction[] = ['list', 'download', 'upload'];
  const open = all.filter((a) => !settings.authenticate.includes(a));
  const openText = open.length > 0 ? `open to anyone who can connect: ${open.map((a) => NAMES[a]).join(', ')}` : 'nothing is open without credentials';
  return `${openText}; credentials needed for ${[...settings.authenticate.map((a) => NAMES[a]), 'the control API'].join(', ')}`;
}
