/**
 * The API tokens `pyrepo configure` gives the tools instead of the admin password: one for
 * uploads and, when reading the index needs credentials, a read-only one. The admin
 * password opens the control API (delete releases, manage users); the tools keep what they
 * are given in their config files or the keychain, so they get no more than they need,
 * and a token is revoked on its own (`pyrepo unconfigure`, `pyrepo token revoke`).
 *
 * Tokens live in the access file (src/shared/access-file.ts); pyrepo keeps its own copy of
 * each one's secret in its secret store (the keychain, or the 0600 file that already holds
 * the admin password), so that configure run again reuses the tokens it made instead of
 * minting more. A token revoked or expired meanwhile, or whose copy is lost, is replaced.
 */
import { tokenMatches, splitToken, type TokenRecord } from '../../shared/access-file.js';
import type { SecretStore } from '../../shared/secrets.js';
import type { TokenRecordRef } from './client-manifest.js';
import { createToken, listTokens, revokeToken, type UserFiles } from './users.js';

export type TokenPurpose = TokenRecordRef['purpose'];

/** What `pyrepo token list` shows for each token configure makes. */
export const TOKEN_NAMES: Record<TokenPurpose, string> = {
  upload: 'configure: uploads',
  read: 'configure: reads (read-only)',
};

/** The user name tools send with a token, as on PyPI. */
export const TOKEN_USER = '__token__';

/** The service pyrepo keeps its copy of each configure token under (the account is the token's id). */
export const CLIENT_TOKEN_SERVICE = 'pyrepo-configure-token';

/** Stands for a token that a dry run would make. */
export const TOKEN_PLACEHOLDER = '********';

/** A token for the tools: its id (empty for a dry run's placeholder) and the full token string. */
export interface ClientToken {
  purpose: TokenPurpose;
  id: string;
  token: string;
  /** Made by this run (revoked again if the run fails). */
  fresh: boolean;
}

export interface ClientTokens {
  tokens: Partial<Record<TokenPurpose, ClientToken>>;
  /** Recorded tokens that are not used any more (replaced, or for reads that are open now): revoke once the new ones are in place. */
  retire: TokenRecordRef[];
}

export interface TokenContext {
  files: UserFiles;
  /** pyrepo's own secret store (keychain or 0600 file). */
  store: SecretStore;
  /** The user the tokens act for (the admin identity). */
  user: string;
}

function usable(record: TokenRecord | undefined, now: number): record is TokenRecord {
  return record !== undefined && !(record.expires && Date.parse(record.expires) <= now);
}

/** The secret of a recorded token when it can be used as it is (still in the access file, not expired, and pyrepo's copy matches). */
async function reusable(ctx: TokenContext, ref: TokenRecordRef, records: TokenRecord[]): Promise<string | undefined> {
  const record = records.find((t) => t.id === ref.id);
  if (!usable(record, Date.now())) return undefined;
  const token = await ctx.store.get(CLIENT_TOKEN_SERVICE, ref.id);
  const parts = token === undefined ? undefined : splitToken(token);
  return parts && parts.id === ref.id && tokenMatches(record, parts.secret) ? token : undefined;
}

/**
 * The tokens for `purposes`: the recorded ones when still good, else new ones. With
 * `dryRun` nothing is made: a new token is TOKEN_PLACEHOLDER.
 */
export async function prepareClientTokens(ctx: TokenContext, recorded: TokenRecordRef[], purposes: TokenPurpose[], dryRun: boolean): Promise<ClientTokens> {
  const records = listTokens(ctx.files);
  const out: ClientTokens = { tokens: {}, retire: [] };
  const made: ClientToken[] = [];
  try {
    for (const purpose of purposes) {
      const ref = recorded.find((r) => r.purpose === purpose);
      const kept = ref ? await reusable(ctx, ref, records) : undefined;
      if (ref && kept !== undefined) {
        out.tokens[purpose] = { purpose, id: ref.id, token: kept, fresh: false };
        continue;
      }
      if (dryRun) {
        out.tokens[purpose] = { purpose, id: '', token: TOKEN_PLACEHOLDER, fresh: true };
        continue;
      }
      const { token, record } = createToken(ctx.files, { user: ctx.user, name: TOKEN_NAMES[purpose], readOnly: purpose === 'read' });
      const fresh: ClientToken = { purpose, id: record.id, token, fresh: true };
      made.push(fresh);
      await ctx.store.set(CLIENT_TOKEN_SERVICE, record.id, token);
      out.tokens[purpose] = fresh;
    }
  } catch (err) {
    await discardTokens(ctx, made);
    throw err;
  }
  const used = new Set(Object.values(out.tokens).map((t) => t.id));
  out.retire = recorded.filter((r) => !used.has(r.id));
  return out;
}

/** The references to record in the manifest. */
export function tokenRefs(tokens: ClientTokens): TokenRecordRef[] {
  return Object.values(tokens.tokens).filter((t) => t.id !== '').map((t) => ({ id: t.id, purpose: t.purpose }));
}

/** Revokes tokens made by a run that then failed. */
export async function discardTokens(ctx: TokenContext, tokens: ClientToken[]): Promise<void> {
  await retireTokens(ctx, tokens.filter((t) => t.fresh && t.id !== '').map((t) => ({ id: t.id, purpose: t.purpose })));
}

/** Revokes tokens (those already gone are fine) and forgets pyrepo's copies; returns the ids revoked. */
export async function retireTokens(ctx: Pick<TokenContext, 'files' | 'store'>, refs: TokenRecordRef[]): Promise<string[]> {
  const present = new Set(listTokens(ctx.files).map((t) => t.id));
  const revoked: string[] = [];
  for (const ref of refs) {
    if (present.has(ref.id)) {
      revokeToken(ctx.files, ref.id);
      revoked.push(ref.id);
    }
    await ctx.store.delete(CLIENT_TOKEN_SERVICE, ref.id);
  }
  return revoked;
}

/** The secrets of recorded tokens pyrepo still has (to mask them in a dry run's diff). */
export async function recordedSecrets(store: SecretStore, refs: TokenRecordRef[]): Promise<string[]> {
  const out: string[] = [];
  for (const ref of refs) {
    const s = await store.get(CLIENT_TOKEN_SERVICE, ref.id).catch(() => undefined);
    if (s) out.push(s);
  }
  return out;
}
