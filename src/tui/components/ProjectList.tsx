/** The project list: a title with the sort and filter, column headers, and only the rows on screen. */
import { Box, Text } from 'ink';
import { memo } from 'react';
import { ago, fit, formatCount, NONE, sparkline } from '../state/format.js';
import type { ProjectSummary } from '../../shared/api.js';
import { columnsFor, GAP, type Sort, type TableColumn } from '../state/project-table.js';
import { useTheme } from '../theme.js';

interface ProjectListProps {
  /** The list's order (filtered and sorted); only the rows on screen are looked up and rendered. */
  names: readonly string[];
  projects: ReadonlyMap<string, ProjectSummary>;
  cursor: number;
  offset: number;
  width: number;
  height: number;
  sort: Sort;
  filter: string;
  focused: boolean;
  loaded: boolean;
  now: number;
}

function cell(p: ProjectSummary, c: TableColumn, now: number): string {
  switch (c.id) {
    case 'name':
      return p.displayName;
    case 'latest':
      return p.latestVersion ?? NONE;
    case 'versions':
      return formatCount(p.versions);
    case 'files':
      return formatCount(p.files);
    case 'downloads':
      return formatCount(p.downloads);
    case 'trend':
      return sparkline(p.downloads30d, c.width);
    case 'uploaded':
      return ago(p.lastUpload, now);
    case 'uploader':
      return p.lastUploadedBy ?? NONE;
  }
}

export function rowText(p: ProjectSummary, columns: readonly TableColumn[], now: number): string {
  return columns.map((c) => fit(cell(p, c, now), c.width, c.align)).join(' '.repeat(GAP));
}

/** Marks the selected row in text too, for terminals without colours and for screen readers. */
export const CURSOR = '› ';
const NO_CURSOR = '  ';

const Row = memo(function Row({ text, selected, focused }: { text: string; selected: boolean; focused: boolean }) {
  return (
    <Text wrap="truncate-end" inverse={selected && focused} bold={selected && !focused}>
      {selected ? CURSOR : NO_CURSOR}
      {text}
    </Text>
  );
});

export const ProjectList = memo(function ProjectList(props: ProjectListProps) {
  const { names, projects, cursor, offset, width, height, sort, filter, focused, loaded, now } = props;
  const total = projects.size;
  const theme = useTheme();
  const columns = columnsFor(width - CURSOR.length);
  const visible = names
    .slice(offset, offset + Math.max(0, height - 2))
    .map((name) => projects.get(name))
    .filter((p): p is ProjectSummary => p !== undefined);
  const arrow = sort.descending ? '▼' : '▲';
  const header = columns.map((c) => fit(c.id === sort.column ? `${c.title}${arrow}` : c.title, c.width, c.align)).join(' '.repeat(GAP));
  const count = names.length === total ? `${total}` : `${names.length} of ${total}`;
  const sortedBy = columns.find((c) => c.id === sort.column)?.title ?? sort.column;
  let empty: string | undefined;
  if (!loaded) empty = 'Loading projects…';
  else if (total === 0) empty = 'No projects yet: `pyrepo publish` (or twine, poetry, pdm) uploads some.';
  else if (names.length === 0) empty = `Nothing matches /${filter} (esc clears the filter).`;
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Text wrap="truncate-end">
        <Text bold inverse={focused}>{' Projects '}</Text>
        {` ${count}  by ${sortedBy} ${arrow}`}
        {filter ? <Text color={theme.color('accent')}>{`  /${filter}`}</Text> : ''}
      </Text>
      <Text wrap="truncate-end" dimColor>
        {NO_CURSOR + header}
      </Text>
      {empty ? (
        <Text wrap="truncate-end" dimColor>
          {empty}
        </Text>
      ) : (
        visible.map((p, i) => <Row key={p.name} text={rowText(p, columns, now)} selected={offset + i === cursor} focused={focused} />)
      )}
    </Box>
  );
});
