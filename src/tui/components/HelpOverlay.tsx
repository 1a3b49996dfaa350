/** `?`: every key, generated from the keymap, in two columns. */
import { Box, Text } from 'ink';
import { helpSections } from '../keymap.js';
import { fit } from '../state/format.js';

export function HelpOverlay({ width, height, readonly }: { width: number; height: number; readonly: boolean }) {
  const sections = helpSections(readonly).filter((s) => s.rows.length > 0);
  const half = Math.ceil(sections.reduce((a, s) => a + s.rows.length + 2, 0) / 2);
  const columns: (typeof sections)[] = [[], []];
  // Sections stay in order: the first column takes them while they fit in half the lines.
  let used = 0;
  for (const s of sections) {
    used += s.rows.length + 2;
    (used <= half && columns[1]?.length === 0 ? columns[0] : columns[1])?.push(s);
  }
  const colWidth = Math.floor((width - 4) / 2);
  const keysWidth = Math.min(14, Math.max(...sections.flatMap((s) => s.rows.map((r) => r.keys.length))) + 1);
  return (
    <Box flexDirection="column" width={width} height={height} borderStyle="round" paddingX={1} overflow="hidden">
      <Text bold wrap="truncate-end">
        {`Keys of the pyrepo dashboard${readonly ? ' (read-only: admin keys are off)' : ''}   ? or esc closes`}
      </Text>
      <Box flexDirection="row">
        {columns.map((col, i) => (
          <Box key={i} flexDirection="column" width={colWidth}>
            {col.map((s) => (
              <Box key={s.title} flexDirection="column" marginTop={1}>
                <Text bold underline>
                  {s.title}
                </Text>
                {s.rows.map((r) => (
                  <Text key={r.keys} wrap="truncate-end">
                    {fit(r.keys, keysWidth)}
                    <Text dimColor>{r.description}</Text>
                  </Text>
                ))}
              </Box>
            ))}
          </Box>
        ))}
      </Box>
    </Box>
  );
}
