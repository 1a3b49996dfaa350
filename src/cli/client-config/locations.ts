/**
 * Where each Python tool keeps the user-level config pyrepo edits, per OS, following
 * each tool's own rules (standards digest §5): pip's appdirs, poetry's and pdm's
 * platformdirs, uv's XDG-everywhere-but-Windows.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface ClientFiles {
  /** twine and flit: one file on every OS. */
  pypirc: string;
  /** pip's current user config file (pip.conf; pip.ini on Windows). */
  pip: string;
  /** poetry's config.toml (repositories) and auth.toml (http-basic). */
  poetryConfig: string;
  poetryAuth: string;
  /** pdm's global config.toml. */
  pdm: string;
  /** uv's user uv.toml. */
  uv: string;
}

/** Resolves the files from an environment and platform (both injectable for tests). */
export function clientFiles(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): ClientFiles {
  const home = env.HOME && platform !== 'win32' ? env.HOME : homedir();
  const xdgConfig = env.XDG_CONFIG_HOME || join(home, '.config');
  const appData = env.APPDATA || join(home, 'AppData', 'Roaming');
  const localAppData = env.LOCALAPPDATA || join(home, 'AppData', 'Local');
  const macSupport = join(home, 'Library', 'Application Support');

  let pip: string;
  if (platform === 'win32') pip = join(appData, 'pip', 'pip.ini');
  // pip uses the macOS folder only if it exists (appdirs.py: _macos_user_config_dir).
  else if (platform === 'darwin' && existsSync(join(macSupport, 'pip'))) pip = join(macSupport, 'pip', 'pip.conf');
  else pip = join(xdgConfig, 'pip', 'pip.conf');

  const poetryDir =
    env.POETRY_CONFIG_DIR || (platform === 'win32' ? join(appData, 'pypoetry') : platform === 'darwin' ? join(macSupport, 'pypoetry') : join(xdgConfig, 'pypoetry'));
  const pdm =
    env.PDM_CONFIG_FILE ||
    (platform === 'win32' ? join(localAppData, 'pdm', 'pdm', 'config.toml') : platform === 'darwin' ? join(macSupport, 'pdm', 'config.toml') : join(xdgConfig, 'pdm', 'config.toml'));
  const uv = platform === 'win32' ? join(appData, 'uv', 'uv.toml') : join(xdgConfig, 'uv', 'uv.toml');

  return {
    pypirc: join(home, '.pypirc'),
    pip,
    poetryConfig: join(poetryDir, 'config.toml'),
    poetryAuth: join(poetryDir, 'auth.toml'),
    pdm,
    uv,
  };
}
