/** The selected project: releases, files, downloads and install commands, one tab at a time. */
import { Box, Text } from 'ink';
import { memo, type ReactNode } from 'react';
import { formatBytes } from '../../shared/format.js';
import type { DetailState } from '../state/live-index.js';
import type { ProjectDetail, ReleaseInfo } from '../../shared/api.js';
import { ago, dailySeries, fit, formatCount, NONE, percent, sparkline } from '../state/format.js';
import { scrollOffset } from '../state/project-table.js';
import { DETAIL_TABS, type DetailTab } from '../state/view.js';
import { useTheme, type Tone } from '../theme.js';
import { CURSOR } from './ProjectList.js';

interface DetailPaneProps {
  name: string | undefined;
  detail: DetailState | undefined;
  tab: DetailTab;
  cursor: number;
  offset: number;
  width: number;
  height: number;
  focused: boolean;
  /** The daemon's base URL, for the install commands. */
  url: string | undefined;
  now: number;
}

const TAB_TITLES: Record<DetailTab, string> = { releases: 'Releases', files: 'Files', downloads: 'Downloads', install: 'Install' };

interface Line {
  text: string;
  tone?: Tone;
  dim?: boolean;
  /** A row the cursor can be on. */
  row?: boolean;
}

/** When a release was uploaded: its first file's upload time. */
function releaseTime(r: ReleaseInfo): string | undefined {
  return r.files.map((f) => f.uploadTime).sort()[0];
}

/** Who uploaded a release: its first file's uploader, `folder` for files found in the packages folder. */
function releaseUploader(r: ReleaseInfo): string {
  const first = [...r.files].sort((a, b) => (a.uploadTime < b.uploadTime ? -1 : 1))[0];
  if (!first) return NONE;
  if (first.source === 'folder') return 'folder';
  return first.uploadedBy ?? NONE;
}

function releaseLines(d: ProjectDetail, width: number, now: number): { header: string; lines: Line[] } {
  const fixed = [
    { title: 'version', width: 12 },
    { title: 'python', width: 9 },
    { title: 'uploaded', width: 9, right: true },
    { title: 'by', width: 8 },
    { title: 'files', width: 5, right: true },
    { title: 'dls', width: 6, right: true },
  ];
  const stateWidth = Math.max(8, width - fixed.reduce((a, c) => a + c.width + 1, 0));
  const cols = [fixed[0], { title: 'state', width: stateWidth }, ...fixed.slice(1)] as { title: string; width: number; right?: boolean }[];
  const row = (cells: string[]) => cells.map((c, i) => fit(c, cols[i]?.width ?? 0, cols[i]?.right ? 'right' : 'left')).join(' ');
  return {
    header: row(cols.map((c) => c.title)),
    lines: d.releases.map((r) => ({
      row: true,
      tone: r.yanked ? 'warn' : undefined,
      text: row([
        r.version,
        r.yanked ? `yanked${r.yankedReason ? `: ${r.yankedReason}` : ''}` : '',
        r.files.find((f) => f.requiresPython)?.requiresPython ?? '',
        ago(releaseTime(r), now),
        releaseUploader(r),
        String(r.files.length),
        formatCount(r.downloads),
      ]),
    })),
  };
}

function fileLines(d: ProjectDetail, width: number, now: number): { header: string; lines: Line[] } {
  const fixed = [
    { title: 'size', width: 9, right: true },
    { title: 'sha256', width: 13 },
    { title: 'dls', width: 6, right: true },
    { title: 'uploaded', width: 9, right: true },
  ];
  const nameWidth = Math.max(12, width - fixed.reduce((a, c) => a + c.width + 1, 0));
  const cols = [{ title: 'file', width: nameWidth }, ...fixed] as { title: string; width: number; right?: boolean }[];
  const row = (cells: string[]) => cells.map((c, i) => fit(c, cols[i]?.width ?? 0, cols[i]?.right ? 'right' : 'left')).join(' ');
  return {
    header: row(cols.map((c) => c.title)),
    lines: d.releases.flatMap((r) =>
      r.files.map((f) => ({
        row: true,
        tone: r.yanked ? ('warn' as const) : undefined,
        text: row([f.filename, formatBytes(f.size), `${f.sha256.slice(0, 12)}…`, formatCount(f.downloads), ago(f.uploadTime, now)]),
      })),
    ),
  };
}

function downloadLines(d: ProjectDetail, now: number): Line[] {
  const today = new Date(now).toISOString().slice(0, 10);
  const month = dailySeries(d.downloadsByDay, 30, today);
  const monthTotal = month.reduce((a, b) => a + b, 0);
  const counted = d.downloadsByInstaller.reduce((a, c) => a + c.downloads, 0);
  const ci = d.downloadsByInstaller.reduce((a, c) => a + c.ci, 0);
  const installers: Line[] = d.downloadsByInstaller.map((c) => ({
    text: `  ${fit(c.installer, 7)}${fit(formatCount(c.downloads), 7, 'right')}  ${fit(percent(c.downloads, counted), 4, 'right')}${c.ci > 0 ? `   ${percent(c.ci, c.downloads)} from CI` : ''}`,
  }));
  const unrecorded = d.downloads - counted;
  const max = Math.max(1, ...d.downloadsByDay.map((x) => x.downloads));
  const days = [...d.downloadsByDay].reverse().map((x) => ({
    text: `${x.day}  ${fit('█'.repeat(Math.max(1, Math.round((x.downloads / max) * 20))), 20)} ${formatCount(x.downloads)}`,
  }));
  return [
    { text: `${formatCount(d.downloads)} download${d.downloads === 1 ? '' : 's'} in all; ${formatCount(monthTotal)} in the last 30 days ${sparkline(month, 30)}` },
    {
      text: counted > 0 ? `by installer${ci > 0 ? `  (${percent(ci, counted)} from CI)` : ''}` : 'by installer  none counted yet',
      dim: counted === 0,
    },
    ...installers,
    ...(unrecorded > 0 ? [{ text: `  ${formatCount(unrecorded)} counted before pyrepo recorded installers`, dim: true }] : []),
    { text: '' },
    ...(days.length > 0 ? days : [{ text: 'No downloads yet.', dim: true }]),
  ];
}

function installLines(name: string, url: string | undefined): Line[] {
  if (!url) return [{ text: 'Waiting for the daemon…', dim: true }];
  const simple = `${url}/simple/`;
  return [
    { text: `pip     pip install -i ${simple} ${name}` },
    { text: `uv      uv pip install -i ${simple} ${name}` },
    { text: `poetry  poetry source add pyrepo ${simple}` },
    { text: `        poetry add ${name}` },
    { text: `pdm     PDM_PYPI_URL=${simple} pdm add ${name}` },
    { text: `boards  mip.install("${name}", index="${url}/mip")` },
    { text: '' },
    { text: `After \`pyrepo configure\`: just pip install ${name} (uv, poetry, pdm alike).`, dim: true },
  ];
}

const TABS_WIDTH = DETAIL_TABS.reduce((a, t, i) => a + `  ${i + 1} ${TAB_TITLES[t]}`.length, 0);

function TabBar({ title, tab, focused, width }: { title: string; tab: DetailTab; focused: boolean; width: number }): ReactNode {
  return (
    <Text wrap="truncate-end">
      <Text bold inverse={focused}>{` ${fit(title, Math.max(8, width - TABS_WIDTH - 2)).trimEnd()} `}</Text>
      {DETAIL_TABS.map((t, i) => (
        <Text key={t} bold={t === tab} underline={t === tab} dimColor={t !== tab}>
          {`  ${i + 1} ${TAB_TITLES[t]}`}
        </Text>
      ))}
    </Text>
  );
}

export const DetailPane = memo(function DetailPane(props: DetailPaneProps) {
  const { name, detail, tab, width, height, focused, url, now } = props;
  const theme = useTheme();
  const data = detail?.name === name ? detail?.data : undefined;
  const title = data ? `${data.displayName} ${data.latestVersion ?? ''}`.trim() : (name ?? 'Detail');
  let header = '';
  let lines: Line[];
  if (!name) lines = [{ text: 'No project selected.', dim: true }];
  else if (!data && detail?.error) lines = [{ text: `Cannot show ${name}: ${detail.error}`, tone: 'error' }];
  else if (!data) lines = [{ text: `Loading ${name}…`, dim: true }];
  else if (tab === 'releases') ({ header, lines } = releaseLines(data, width - CURSOR.length, now));
  else if (tab === 'files') ({ header, lines } = fileLines(data, width - CURSOR.length, now));
  else if (tab === 'downloads') lines = downloadLines(data, now);
  else lines = installLines(data.name, url);

  const bodyHeight = Math.max(0, height - 1 - (header ? 1 : 0));
  const rows = lines.filter((l) => l.row).length;
  const cursor = rows > 0 ? Math.min(props.cursor, rows - 1) : -1;
  // The sha256 of the file under the cursor, in full, under the Files tab.
  const footer = tab === 'files' && data && cursor >= 0 ? data.releases.flatMap((r) => r.files)[cursor] : undefined;
  const space = bodyHeight - (footer ? 1 : 0);
  const offset = rows > 0 ? scrollOffset(lines.length, cursor, space, props.offset) : 0;
  const shown = lines.slice(offset, offset + space);
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <TabBar title={title} tab={tab} focused={focused} width={width} />
      {header ? (
        <Text wrap="truncate-end" dimColor>
          {' '.repeat(CURSOR.length) + header}
        </Text>
      ) : null}
      {shown.map((l, i) => (
        <Text
          key={offset + i}
          wrap="truncate-end"
          color={l.tone ? theme.color(l.tone) : undefined}
          dimColor={l.dim}
          inverse={l.row && offset + i === cursor && focused}
          bold={l.row && offset + i === cursor && !focused}
        >
          {l.row ? (offset + i === cursor ? CURSOR : ' '.repeat(CURSOR.length)) : ''}
          {l.text || ' '}
        </Text>
      ))}
      {footer ? (
        <Box flexGrow={1} alignItems="flex-end">
          <Text wrap="truncate-end" dimColor>{`sha256 ${footer.sha256}`}</Text>
        </Box>
      ) : null}
    </Box>
  );
});
