/** `pyrepo unconfigure`: take back everything `pyrepo configure` changed. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { resolvePaths } from '../../shared/paths.js';
import { loadSettings } from '../services/settings-store.js';
import { say } from '../output.js';
import { readAdminCredentials, secretStore } from '../services/admin-identity.js';
import { applyUnconfigure, planUnconfigure } from '../services/client-setup.js';
import { readManifest } from '../services/client-manifest.js';
import { recordedSecrets } from '../services/client-tokens.js';
import { installationUsers } from '../services/users.js';
import { chosenTargets, printDiffs, printOutcomes, withTargetOptions, type TargetFlags } from './configure.js';
import { COMMAND_HEADS } from '../command-heads.js';

export const unconfigureCommand: CommandModule<object, TargetFlags> = {
  ...COMMAND_HEADS.unconfigure,
  builder: (yargs: Argv) =>
    withTargetOptions(yargs)
      .epilog('A file still as pyrepo left it is restored byte for byte; one you edited since keeps your edits and loses only pyrepo\'s entries.')
      .example('$0 unconfigure --dry-run', 'Show what would change')
      .example('$0 unconfigure', 'Undo everything')
      .example('$0 unconfigure --pip', 'Undo only the pip change') as unknown as Argv<TargetFlags>,
  handler: async (argv: ArgumentsCamelCase<TargetFlags>) => {
    const paths = resolvePaths();
    const manifest = readManifest(paths.configDir);
    const targets = chosenTargets(argv);
    const items = planUnconfigure(manifest, targets);
    const store = secretStore(paths);
    if (argv.dryRun) {
      const admin = await readAdminCredentials(store, loadSettings(paths).adminUser);
      printDiffs(items.filter((i) => i.how !== 'absent').map((i) => ({ path: i.path, ...(i.current !== undefined ? { before: i.current } : {}), ...(i.next !== undefined ? { after: i.next } : {}) })),
        [...(admin ? [admin.password] : []), ...(await recordedSecrets(store, manifest.tokens ?? []))],
      );
      return;
    }
    if (items.length === 0 && manifest.secrets.length === 0 && !manifest.tokens?.length) {
      say('pyrepo has not configured anything here; nothing to undo.');
      return;
    }
    const opened = await store.open();
    const { outcomes, revokedTokens } = await applyUnconfigure(paths, items, opened.store.backend.kind === 'keychain' ? store : undefined, targets, { files: installationUsers(paths).files, store });
    say('Undone:');
    printOutcomes(outcomes);
    if (revokedTokens.length > 0) say(`Revoked the API tokens configure had made: ${revokedTokens.join(', ')}.`);
  },
};
