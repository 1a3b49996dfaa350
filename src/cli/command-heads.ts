/**
 * Every command's name, aliases and one-line description, without its code: `pyrepo --help`,
 * `--version` and a mistyped command need only these, and a command loads only its own
 * module (parser.ts), so that `pyrepo status` does not load the dashboard, the prompts and
 * the upload machinery first. Each command module spreads its head from here.
 */
export interface CommandHead {
  /** yargs' command string: the name, then its positional arguments. */
  readonly command: string;
  readonly aliases?: readonly string[];
  readonly describe: string;
}

export const COMMAND_HEADS = {
  init: { command: 'init', describe: 'Set up pyrepo: data folder, settings and an admin identity' },
  start: { command: 'start', describe: 'Start the package index in the background' },
  stop: { command: 'stop', describe: 'Stop the background package index' },
  restart: { command: 'restart', describe: 'Stop the background package index and start it again' },
  status: { command: 'status', describe: 'Show whether the package index runs, and where' },
  logs: { command: 'logs', describe: "Show the background daemon's log" },
  publish: { command: 'publish [paths..]', describe: 'Upload wheels and sdists (default ./dist) to the index' },
  watch: { command: 'watch [dir]', describe: 'Publish the builds of a folder as they finish (the daemon watches it, also after this terminal closes)' },
  serve: { command: 'serve', describe: 'Run the package index in the foreground (Ctrl-C stops it)' },
  config: { command: 'config', describe: 'Show and change the saved settings (`config` alone lists them)' },
  service: { command: 'service', describe: 'Run the package index at login: install, uninstall or check the system service' },
  list: { command: 'list', aliases: ['ls'], describe: 'List the projects on the index' },
  info: { command: 'info <project>', aliases: ['show'], describe: "Show a project's releases and files" },
  remove: { command: 'remove <spec> [filename]', aliases: ['rm'], describe: 'Delete a project, a release or one file from the index' },
  yank: { command: 'yank <spec>', describe: 'Mark a release as yanked: installers skip it unless it is pinned with ==' },
  unyank: { command: 'unyank <spec>', describe: 'Undo a yank' },
  configure: { command: 'configure', describe: 'Point pip, twine, flit, poetry, pdm and uv at this index' },
  unconfigure: { command: 'unconfigure', describe: 'Undo `pyrepo configure`: every file back as it was, its API tokens revoked' },
  user: { command: 'user', describe: 'Manage users: add, remove, passwd, role, list, import' },
  token: { command: 'token', describe: 'Manage API tokens: create, list, revoke' },
  owner: { command: 'owner', describe: 'Manage who may upload to a project: add, remove, list' },
  doctor: { command: 'doctor', describe: 'Check the daemon, port, folders, secrets, client files and Python tools' },
  board: { command: 'board [project]', aliases: ['micropython'], describe: 'Show what to type on a MicroPython board to install from this index (mip, upip, mpremote)' },
  backup: { command: 'backup <dir>', describe: 'Copy the whole index (owners, yanks, uploaders, downloads, users, tokens, settings, files) into a new folder' },
  restore: { command: 'restore <dir>', describe: 'Bring back a backup made by `pyrepo backup` (the daemon must be stopped)' },
  migrate: { command: 'migrate', describe: 'Copy this index into a shared one on PostgreSQL and S3, or a shared one into this installation' },
  cache: { command: 'cache', describe: 'Show, prune or purge the cache of projects served from the upstream index' },
  tui: { command: 'tui', aliases: ['dashboard'], describe: 'A live dashboard of the index: projects, releases, files, downloads and activity' },
} as const satisfies Record<string, CommandHead>;

export type CommandName = keyof typeof COMMAND_HEADS;
