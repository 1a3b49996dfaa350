/** Options several commands share, defined once. */
import type { Argv } from 'yargs';
import { DEFAULT_PORT } from '../shared/settings.js';

/**
 * The daemon's settings as flags (`serve`, `start`, `restart`, `init`). None has a yargs
 * default: an absent flag means "as in the settings file".
 */
export function withDaemonOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('host', { type: 'string', describe: 'Address to listen on', defaultDescription: '127.0.0.1 (loopback only)' })
    .option('port', { alias: 'p', type: 'number', describe: 'TCP port (0 picks a free one)', defaultDescription: String(DEFAULT_PORT) })
    .option('packages-dir', { type: 'string', describe: 'Folder of distribution files (a pypiserver folder works)', defaultDescription: '<data folder>/packages' })
    .option('overwrite', { type: 'boolean', describe: 'Let an upload replace a file with different content', defaultDescription: 'false' })
    .option('max-upload-size', { type: 'string', describe: 'Largest accepted upload, e.g. 100MB', defaultDescription: '100MB' })
    .option('public-url', { type: 'string', describe: 'Base URL shown in pages when behind a proxy' })
    .option('watch', { type: 'boolean', describe: 'Pick up files copied into or deleted from the packages folder', defaultDescription: 'true' })
    .option('log-level', { type: 'string', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'silent'], defaultDescription: 'info' })
    .option('access-log', { type: 'boolean', describe: 'Log one line per request', defaultDescription: 'true' })
    .option('authenticate', {
      type: 'string',
      describe: 'What needs credentials: a list of list, download, upload, or none (the control API always does)',
      defaultDescription: 'upload',
    })
    .option('lan', { type: 'boolean', describe: 'Listen on every address (for boards and colleagues): reads open, uploads authenticated' })
    .option('allow-anonymous-lan-uploads', { type: 'boolean', describe: 'Accept uploads without credentials beyond loopback (anyone could replace packages)' })
    .option('tls-cert', { type: 'string', describe: 'PEM certificate: serve HTTPS (with --tls-key)' })
    .option('tls-key', { type: 'string', describe: 'PEM private key for --tls-cert' })
    .option('htpasswd', { type: 'string', describe: "Also accept the users of this htpasswd file (a pypiserver or Apache one), read in place" });
}

/** `--json`: print machine-readable output instead of text. */
export function withJson<T>(yargs: Argv<T>) {
  return yargs.option('json', { type: 'boolean', describe: 'Print JSON instead of text', default: false });
}
