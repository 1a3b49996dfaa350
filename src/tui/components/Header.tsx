/** The top lines: the daemon (version, URL, connection, uptime, counts), who may do what, and problems. */
import { Box, Text } from 'ink';
import { memo } from 'react';
import { formatBytes, formatDuration } from '../../shared/format.js';
import type { LiveIndexState } from '../state/live-index.js';
import { useTheme } from '../theme.js';

/** Lines the header takes (one more for watched folders, one more for problems). */
export function headerHeight(live: LiveIndexState): number {
  return 2 + (watchesText(live) ? 1 : 0) + (problemsOf(live).length > 0 ? 1 : 0);
}

/** A watched folder by its last two parts (`demo/dist`): the project is what tells them apart. */
function shortDir(dir: string): string {
  return dir.split(/[\\/]+/).filter(Boolean).slice(-2).join('/');
}

/** The daemon's problems, and watched folders that are missing or failed. */
export function problemsOf(live: LiveIndexState): string[] {
  const watchProblems = (live.watches ?? [])
    .filter((w) => w.state !== 'watching')
    .map((w) => `watched folder ${shortDir(w.dir)} ${w.state === 'missing' ? 'is missing' : `failed${w.stateDetail ? `: ${w.stateDetail}` : ''}`}`);
  return [...(live.health?.problems ?? []), ...watchProblems];
}

/** Auto-publish, short: `auto-publish  demo/dist, tools/dist (polling)`; empty without watched folders. */
export function watchesText(live: LiveIndexState): string {
  const watches = live.watches;
  if (watches !== undefined) {
    if (watches.length === 0) return '';
    return `auto-publish  ${watches.map((w) => `${shortDir(w.dir)}${w.mode === 'polling' ? ' (polling)' : ''}`).join(', ')}`;
  }
  const folders = live.health?.watchedFolders ?? [];
  return folders.length > 0 ? `auto-publish  ${folders.map(shortDir).join(', ')}` : '';
}

interface HeaderProps {
  live: LiveIndexState;
  now: number;
  width: number;
  readonly: boolean;
}

function connectionText(live: LiveIndexState, now: number): { text: string; tone: 'ok' | 'warn' | 'muted' } {
  const c = live.connection;
  if (c.state === 'live') return { text: '● live', tone: 'ok' };
  if (c.state === 'connecting') return { text: '○ connecting…', tone: 'muted' };
  const wait = Math.max(0, Math.ceil((c.retryAt - now) / 1000));
  return { text: wait > 0 ? `○ reconnecting in ${wait} s (attempt ${c.attempt})` : `○ reconnecting (attempt ${c.attempt})…`, tone: 'warn' };
}

const ACTIONS = [
  ['list', 'index'],
  ['download', 'downloads'],
  ['upload', 'uploads'],
] as const;

/** Who may do what, short: `anyone: index, downloads · credentials: uploads, control API`. */
export function accessText(authenticate: readonly string[]): string {
  const open = ACTIONS.filter(([a]) => !authenticate.includes(a)).map(([, label]) => label);
  const closed = [...ACTIONS.filter(([a]) => authenticate.includes(a)).map(([, label]) => label), 'control API'];
  return `${open.length > 0 ? `anyone: ${open.join(', ')} · ` : ''}credentials: ${closed.join(', ')}`;
}

/** The upstream cache, short: `upstream cache 12.5 MiB, 93% hits`; empty without an upstream. */
export function upstreamText(live: LiveIndexState): string {
  const u = live.health?.upstream;
  if (!u) return '';
  return `upstream cache ${formatBytes(u.bytes)}${u.hitRate === null ? '' : `, ${Math.round(u.hitRate * 100)}% hits`}`;
}

/** Uptime to the minute (seconds only in the first minute), so the header does not tick every second. */
function uptimeText(seconds: number): string {
  return formatDuration(seconds < 60 ? seconds : Math.floor(seconds / 60) * 60);
}

export const Header = memo(function Header({ live, now, width, readonly }: HeaderProps) {
  const theme = useTheme();
  const h = live.health;
  const conn = connectionText(live, now);
  const problems = problemsOf(live);
  const watches = watchesText(live);
  const uptime = h && live.healthAt !== undefined && live.connection.state === 'live' ? uptimeText(h.uptimeSeconds + Math.max(0, now - live.healthAt) / 1000) : undefined;
  const upstream = upstreamText(live);
  const counts = h ? `${live.projects.size} project${live.projects.size === 1 ? '' : 's'}  ${h.files} file${h.files === 1 ? '' : 's'}${upstream ? `  ${upstream}` : ''}` : '';
  const second =
    live.connection.state === 'reconnecting'
      ? { text: live.connection.reason, tone: 'warn' as const }
      : {
          text: h ? `access  ${accessText(h.authenticate)}` : 'Waiting for the daemon…',
          tone: undefined,
        };
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate-end">
        <Text bold>pyrepo {h?.version ?? ''}</Text>
        {'  '}
        <Text color={theme.color('accent')}>{live.url ?? ''}</Text>
        {'  '}
        <Text color={theme.color(conn.tone)}>{conn.text}</Text>
        {readonly ? <Text color={theme.color('warn')}>{'  read-only'}</Text> : ''}
        {uptime ? `  up ${uptime}` : ''}
        {h?.indexing ? '  indexing…' : ''}
        {counts ? `  ${counts}` : ''}
      </Text>
      <Text wrap="truncate-end" color={second.tone ? theme.color(second.tone) : undefined} dimColor={!second.tone}>
        {second.text}
      </Text>
      {watches ? (
        <Text wrap="truncate-end" dimColor>
          {watches}
        </Text>
      ) : null}
      {problems.length > 0 ? (
        <Text wrap="truncate-end" color={theme.color('error')} bold>
          {`! ${problems.join(' · ')}`}
        </Text>
      ) : null}
    </Box>
  );
});
