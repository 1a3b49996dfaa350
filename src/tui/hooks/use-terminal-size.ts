/** The terminal's size, following resizes (Ink 6.8 has no useWindowSize). */
import { useStdout } from 'ink';
import { useEffect, useState } from 'react';
import type { Size } from '../state/layout.js';

/** The size of Ink's stdout; `fixed` (tests) wins. */
export function useTerminalSize(fixed?: Size): Size {
  const { stdout } = useStdout();
  const read = (): Size => fixed ?? { columns: stdout.columns || 80, rows: stdout.rows || 24 };
  const [size, setSize] = useState(read);
  useEffect(() => {
    if (fixed) return;
    const onResize = () => setSize({ columns: stdout.columns || 80, rows: stdout.rows || 24 });
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout, fixed]);
  return fixed ?? size;
}
