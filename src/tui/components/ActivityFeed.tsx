/** The live activity feed: uploads, downloads (a burst of one file is one line), yanks and deletions. */
import { Box, Text } from 'ink';
import { memo } from 'react';
import { formatBytes } from '../../shared/format.js';
import type { InstallerCount } from '../../shared/api.js';
import { addInstallers, type FeedItem } from '../state/live-index.js';
import { clockTime, formatCount } from '../state/format.js';
import { useTheme, type Tone } from '../theme.js';

interface ActivityFeedProps {
  feed: readonly FeedItem[];
  /** While paused: the newest line shown. */
  anchor: number | undefined;
  offset: number;
  width: number;
  height: number;
  focused: boolean;
}

/** How an upload arrived, when not through the upload API. */
const HOW: Readonly<Record<string, string>> = { folder: ' (packages folder)', watch: ' (auto-published)' };

/** Who downloaded, short: `pip`, or `pip 3, uv 1`. */
export function installersText(installers: readonly InstallerCount[]): string {
  if (installers.length === 1) return (installers[0] as InstallerCount).installer;
  return installers.map((c) => `${c.installer} ${formatCount(c.downloads)}`).join(', ');
}

/** One feed line's verb, text and tone. */
export function describeItem(item: FeedItem): { verb: string; text: string; tone?: Tone } {
  const e = item.event;
  switch (e.type) {
    case 'upload': {
      const who = e.user ? ` by ${e.user}` : '';
      return { verb: 'upload', text: `${e.project} ${e.version}  ${e.filename} ${formatBytes(e.size)}${HOW[e.source] ?? ''}${who}`, tone: 'ok' };
    }
    case 'download': {
      const n = item.count;
      return { verb: 'download', text: `${n > 1 ? `${formatCount(n)}× ` : ''}${e.filename}${e.installers.length > 0 ? ` (${installersText(e.installers)})` : ''}` };
    }
    case 'downloads': {
      // A batch of many files: how many, by whom, and the busiest file.
      const top = [...e.files].sort((a, b) => b.downloads - a.downloads)[0];
      const installers = e.files.reduce<InstallerCount[]>((acc, f) => addInstallers(acc, f.installers), []);
      return {
        verb: 'downloads',
        text: `${formatCount(item.count)} of ${formatCount(e.files.length)} files (${installersText(installers)})${top ? `; most ${top.filename} ${formatCount(top.downloads)}×` : ''}`,
      };
    }
    case 'yank':
      return { verb: 'yank', text: `${e.project} ${e.version}${e.reason ? `: ${e.reason}` : ''}`, tone: 'warn' };
    case 'unyank':
      return { verb: 'unyank', text: `${e.project} ${e.version}`, tone: 'accent' };
    case 'delete':
      return { verb: 'delete', text: e.filename, tone: 'error' };
    case 'refused':
      // The fix first: at 80 columns the reason is what gets cut.
      return { verb: 'refused', text: `${e.filename}: ${e.fix ?? e.reason}${e.fix ? ` (${e.reason})` : ''}`, tone: 'error' };
    case 'watch':
      return { verb: 'watch', text: e.detail, tone: e.state === 'watching' ? 'accent' : 'warn' };
    case 'other':
      return { verb: e.name, text: `${e.project} ${e.summary}`.trim() };
  }
}

export const ActivityFeed = memo(function ActivityFeed({ feed, anchor, offset, width, height, focused }: ActivityFeedProps) {
  const theme = useTheme();
  const shownFeed = anchor === undefined ? feed : feed.filter((f) => f.seq <= anchor);
  const newer = feed.length - shownFeed.length;
  const lines = shownFeed.slice(offset, offset + Math.max(0, height - 1));
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Text wrap="truncate-end">
        <Text bold inverse={focused}>{' Activity '}</Text>
        {anchor !== undefined ? <Text color={theme.color('warn')}>{`  paused, ${newer} new (p resumes)`}</Text> : ''}
      </Text>
      {lines.length === 0 ? (
        <Text wrap="truncate-end" dimColor>
          Waiting for uploads, downloads, yanks, deletions and auto-publishes…
        </Text>
      ) : (
        lines.map((item) => {
          const d = describeItem(item);
          return (
            <Text key={item.seq} wrap="truncate-end">
              <Text dimColor>{clockTime(item.event.time)} </Text>
              <Text color={d.tone ? theme.color(d.tone) : undefined} bold>
                {`${d.verb.padEnd(8)} `}
              </Text>
              {d.text}
            </Text>
          );
        })
      )}
    </Box>
  );
});
