/**
 * Colours of the dashboard, switched off by NO_COLOR (https://no-color.org): then the
 * screen keeps bold, dim and inverse, which carry the selection and the focus.
 */
import { createContext, useContext } from 'react';

export type Tone = 'ok' | 'warn' | 'error' | 'accent' | 'muted';

export interface Theme {
  colors: boolean;
  /** The colour of a tone, or undefined when colours are off. */
  color(tone: Tone): string | undefined;
}

const TONES: Record<Tone, string> = { ok: 'green', warn: 'yellow', error: 'red', accent: 'cyan', muted: 'gray' };

export function makeTheme(colors: boolean): Theme {
  return { colors, color: (tone) => (colors ? TONES[tone] : undefined) };
}

/** Colours unless NO_COLOR is set (to anything but the empty string) or the terminal is dumb. */
export function themeFromEnv(env: NodeJS.ProcessEnv = process.env): Theme {
  return makeTheme(!env.NO_COLOR && env.TERM !== 'dumb');
}

export const ThemeContext = createContext<Theme>(makeTheme(true));

export function useTheme(): Theme {
  return useContext(ThemeContext);
}
