/** The bottom line: the filter being typed, the outcome of the last action, or the keys of the focused pane. */
import { Text } from 'ink';
import { memo } from 'react';
import { hintsFor } from '../keymap.js';
import type { Pane, Status, ViewState } from '../state/view.js';
import { useTheme } from '../theme.js';

interface FooterProps {
  mode: ViewState['mode']['kind'];
  filter: string;
  status: Status | undefined;
  focus: Pane;
  readonly: boolean;
}

export const Footer = memo(function Footer({ mode, filter, status, focus, readonly }: FooterProps) {
  const theme = useTheme();
  if (mode === 'filter') {
    return (
      <Text wrap="truncate-start">
        <Text color={theme.color('accent')}>/{filter}</Text>
        <Text inverse> </Text>
        <Text dimColor>{'  enter keeps · esc clears · !text shows the others'}</Text>
      </Text>
    );
  }
  if (status) {
    const tone = status.tone === 'error' ? 'error' : status.tone === 'ok' ? 'ok' : 'accent';
    return (
      <Text wrap="truncate-end" color={theme.color(tone)} bold={status.tone === 'error'}>
        {status.text}
      </Text>
    );
  }
  const hints = hintsFor(focus, readonly);
  return (
    <Text wrap="truncate-end">
      {hints.map((h, i) => (
        <Text key={h.label}>
          {i > 0 ? '  ' : ''}
          <Text bold>{h.key}</Text>
          <Text dimColor> {h.label}</Text>
        </Text>
      ))}
    </Text>
  );
});
