/** The confirmation of an admin action; a yank takes its reason here. */
import { Box, Text } from 'ink';
import { describeAction, type Mode } from '../state/view.js';
import { useTheme } from '../theme.js';

export function ConfirmDialog({ mode, width }: { mode: Mode & { kind: 'confirm' }; width: number }) {
  const theme = useTheme();
  const { action } = mode;
  const destructive = action.kind === 'delete-release' || action.kind === 'delete-file';
  const verb = action.kind === 'yank' ? 'yank' : action.kind === 'unyank' ? 'unyank' : 'delete';
  return (
    <Box flexDirection="column" width={width} borderStyle="double" borderColor={theme.color(destructive ? 'error' : 'warn')} paddingX={1}>
      <Text bold>{describeAction(action)}</Text>
      {action.kind === 'yank' ? (
        <Text wrap="truncate-start">
          {'Reason (optional, shown by pip): '}
          <Text color={theme.color('accent')}>{mode.reason}</Text>
          <Text inverse> </Text>
        </Text>
      ) : null}
      <Text dimColor>{action.kind === 'yank' ? 'enter yanks · esc cancels' : `y ${verb}s · n or esc cancels`}</Text>
    </Box>
  );
}
