/**
 * `pyrepo configure` and `pyrepo unconfigure`: point pip, twine/flit (.pypirc), poetry,
 * pdm and uv at the index, and take it all back.
 *
 * The tools get API tokens, never the admin password (see client-tokens.ts): an upload
 * token, and a read-only one when reading needs credentials. They are kept where each tool
 * really looks them up: in the keychain for twine and poetry when there is one, else in
 * their files; in pdm's file always (pdm asks the keychain only at a prompt); in pip's
 * index URL (pip in a virtual environment has no keyring).
 *
 * Every change is planned first (so a malformed file stops everything before anything is
 * written), then applied file by file: a backup before the first change, an atomic write,
 * modes kept (0600 for files holding a token), and a record in the manifest. A file that
 * is a symbolic link stays one: the file it points to is edited. Unconfigure restores the
 * backup byte for byte when the file is still as pyrepo left it, and otherwise removes
 * only pyrepo's entries.
 *
 * The files are edited directly even when a tool's own command exists (`pip config`,
 * `poetry config`): those rewrite the whole file through configparser or tomlkit, which
 * drops comments (pip) or reflows tables, and could not be undone byte for byte.
 */
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, realpathSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { PyrepoPaths } from '../../shared/paths.js';
import type { SecretStore } from '../../shared/secrets.js';
import { writeFileAtomic } from '../../shared/atomic-file.js';
import { IniSyntaxError, parseIni } from '../client-config/ini.js';
import { clientFiles, type ClientFiles } from '../client-config/locations.js';
import { removeIniOption } from '../client-config/ini-edit.js';
import { configurePip, DEPENDENCY_CONFUSION, pipMixesWithPypi, unconfigurePip } from '../client-config/pip-edit.js';
import { pipfileSourceSnippet, poetrySourceSnippet } from '../client-config/snippets.js';
import { configurePypirc, foreignPypircSection, pypircCreates, unconfigurePypirc } from '../client-config/pypirc-edit.js';
import { dropTomlTable, ensureTomlTable, readToml, TomlEditError, type OwnedTable } from '../client-config/toml-edit.js';
import { AbortError, BugError } from '../errors.js';
import { readManifest, sha256, writeManifest, type FileRecord, type Manifest, type SecretRecord, type TokenRecordRef, type Undo } from './client-manifest.js';
import { retireTokens, type TokenContext } from './client-tokens.js';
import { findOnPath } from './python-tools.js';

/** The environment variable the Pipfile snippet takes a read token from when reads need credentials. */
export const PIPENV_TOKEN_VARIABLE = 'PYREPO_READ_TOKEN';

/** The tools pyrepo configures. */
export const TARGETS = ['pypirc', 'pip', 'poetry', 'pdm', 'uv'] as const;
export type Target = (typeof TARGETS)[number];

/** A user name and password (here: `__token__` and an API token) for the tools. */
export interface Credential {
  username: string;
  password: string;
}

export interface ConfigureRequest {
  /** `http://127.0.0.1:8645`: the index is `<base>/simple/`, uploads go to `<base>/legacy/`. */
  baseUrl: string;
  /** Repository name in every tool (`pyrepo`). */
  name: string;
  /** pip: `index-url` instead of `extra-index-url`. */
  primary: boolean;
  /**
   * The index serves PyPI's projects through its upstream: make it the only index of every
   * tool (pip's index-url, uv's default index, pdm's main index, poetry's default source), so
   * that none asks PyPI beside it.
   */
  onlyIndex?: boolean;
  targets: Target[];
  /** The keychain to store secrets in, or undefined to write them into the tools' files (0600). */
  keychain?: SecretStore;
  /** For uploads (twine, flit, poetry, pdm): an API token. undefined: none is known for this index, and the tools ask. */
  upload?: Credential;
  /** For reads, when the index wants credentials for them (pip, pdm's source): the read-only token. */
  read?: Credential;
  /** Reads need credentials (said when no `read` credential is known). */
  readsNeedCredentials?: boolean;
  /** The installed poetry's version, for the project snippet (undefined: not found; both forms are shown). */
  poetryVersion?: string;
}

/**
 * The index URL as pip.conf gives it: with the read credential in it when reads need one.
 *
 * Why in the URL, in the file, and not in the keychain: pip in a virtual environment
 * (`python3 -m venv`, where nearly all installs happen) has no keyring module, so a
 * password in the keychain is out of its reach: it prompts, and without a terminal dies
 * with EOFError. The URL is the one place every pip reads. What it holds is the read-only
 * token, the least-privileged credential there is (it cannot upload, let alone manage the
 * index), and pip.conf is then made readable by its owner only.
 */
function pipIndexUrl(indexUrl: string, read: Credential | undefined): string {
  if (!read) return indexUrl;
  const u = new URL(indexUrl);
  u.username = encodeURIComponent(read.username);
  u.password = encodeURIComponent(read.password);
  return u.toString();
}

/** One file as planned: its text before (undefined: absent) and after. */
export interface FileChange {
  target: Target;
  /** The path as the tool names it (the manifest's key). */
  path: string;
  /** Where to read and write: `path`, or the file a symbolic link at `path` points to. */
  writePath: string;
  before?: string;
  after: string;
  /** Mode to write with. */
  mode: number;
  undo: Undo;
  holdsSecret: boolean;
}

export interface SecretChange extends SecretRecord {
  secret: string;
}

export interface Plan {
  files: FileChange[];
  secrets: SecretChange[];
  /** Things to tell the user per target (what to type in a project, how uv gets credentials…). */
  notes: string[];
  /** Things the user should act on (a risky setup, credentials pyrepo could not give). */
  warnings: string[];
}

const MODE_PRIVATE = 0o600;

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AbortError(`Cannot read ${path}: ${(err as Error).message}`);
  }
}

/**
 * The file to read and write for `path`: `path` itself, or, when it is a symbolic link
 * (dotfiles managers make them), the file it points to, so that the link stays a link.
 * A dangling link is refused: writing would replace the link with a file.
 */
export function editTarget(path: string): string {
  let link: boolean;
  try {
    link = lstatSync(path).isSymbolicLink();
  } catch {
    return path;
  }
  if (!link) return path;
  try {
    return realpathSync(path);
  } catch {
    const to = (() => {
      try {
        return readlinkSync(path);
      } catch {
        return '?';
      }
    })();
    throw new AbortError(
      `${path} is a symbolic link to ${to}, which does not exist; pyrepo edits the file a link points to and will not replace the link.`,
      'Create that file (or remove the link), then run the command again; pyrepo changed nothing.',
    );
  }
}

/** A file's problem as one message naming the file and line; nothing has been written. */
function malformed(path: string, err: unknown): AbortError {
  if (err instanceof IniSyntaxError || err instanceof TomlEditError) {
    return new AbortError(`${path}: ${err.message}`, 'Fix that line (the tool itself cannot read the file either); pyrepo changed nothing.');
  }
  return err as AbortError;
}

function modeFor(path: string, holdsSecret: boolean): number {
  if (!existsSync(path)) return holdsSecret ? MODE_PRIVATE : 0o644;
  const mode = statSync(path).mode & 0o777;
  return holdsSecret ? mode & ~0o077 : mode;
}

/** The tools worth configuring by default: pip and .pypirc always, the others when on PATH or already configured. */
export function detectTargets(files: ClientFiles = clientFiles(), env: NodeJS.ProcessEnv = process.env): Target[] {
  const targets: Target[] = ['pypirc', 'pip'];
  if (findOnPath('poetry', env) || existsSync(files.poetryConfig)) targets.push('poetry');
  if (findOnPath('pdm', env) || existsSync(files.pdm)) targets.push('pdm');
  if (findOnPath('uv', env) || existsSync(files.uv)) targets.push('uv');
  return targets;
}

function tomlChange(target: Target, path: string, tables: OwnedTable[], owned: boolean, holdsSecret: boolean): FileChange {
  const writePath = editTarget(path);
  const before = readIfExists(writePath);
  let after = before ?? '';
  try {
    for (const table of tables) after = ensureTomlTable(after, table, owned);
  } catch (err) {
    if (err instanceof TomlEditError && !(err.message.startsWith('line'))) throw new AbortError(`${path}: ${err.message}`, 'Rename or remove that entry, or choose another name with --name.');
    throw malformed(path, err);
  }
  return {
    target,
    path,
    writePath,
    ...(before !== undefined ? { before } : {}),
    after,
    mode: modeFor(writePath, holdsSecret),
    undo: { kind: 'toml', tables: tables.map((t) => ({ header: t.header, ...(t.arrayName ? { arrayName: t.arrayName } : {}) })) },
    holdsSecret,
  };
}

/** `username`/`password` pairs for a TOML table; the password only when it goes into the file. */
function tomlCredentials(credential: Credential | undefined, withPassword: boolean): [string, string][] {
  if (!credential) return [];
  return withPassword ? [['username', credential.username], ['password', credential.password]] : [['username', credential.username]];
}

/** Plans every change for `request`; reads files, writes nothing. */
export function planConfigure(request: ConfigureRequest, manifest: Manifest, files: ClientFiles = clientFiles()): Plan {
  const { name, upload, read } = request;
  const indexUrl = `${request.baseUrl}/simple/`;
  const uploadUrl = `${request.baseUrl}/legacy/`;
  const inFiles = request.keychain === undefined;
  const owned = (path: string) => manifest.files[path] !== undefined;
  const plan: Plan = { files: [], secrets: [], notes: [], warnings: [] };
  const secret = (target: Target, service: string) => {
    if (request.keychain && upload) plan.secrets.push({ target, service, account: upload.username, secret: upload.password });
  };

  for (const target of request.targets) {
    if (target === 'pypirc') {
      const path = files.pypirc;
      const writePath = editTarget(path);
      const before = readIfExists(writePath);
      try {
        const text = before ?? '';
        const foreign = owned(path) ? undefined : foreignPypircSection(text, { name, repository: uploadUrl });
        if (foreign) throw new AbortError(`${path} already has a [${name}] section for ${foreign}.`, 'Choose another name with --name, or remove that section.');
        // A section pyrepo wrote earlier may hold a password (or user) this plan no longer puts there.
        let base = text;
        if (owned(path) && (!inFiles || !upload)) base = removeIniOption(base, name, 'password');
        if (owned(path) && !upload) base = removeIniOption(base, name, 'username');
        const previous = manifest.files[path]?.undo;
        const created =
          previous?.kind === 'pypirc' ? { createdDistutils: previous.createdDistutils, createdIndexServers: previous.createdIndexServers ?? previous.createdDistutils } : pypircCreates(text);
        const after = configurePypirc(base, { name, repository: uploadUrl, ...(upload ? { username: upload.username } : {}), ...(inFiles && upload ? { password: upload.password } : {}) });
        plan.files.push({ target, path, writePath, ...(before !== undefined ? { before } : {}), after, mode: modeFor(writePath, true), undo: { kind: 'pypirc', name, ...created }, holdsSecret: inFiles && !!upload });
      } catch (err) {
        throw malformed(path, err);
      }
      // twine looks the password up under the exact repository string.
      secret(target, uploadUrl);
    } else if (target === 'pip') {
      const path = files.pip;
      const writePath = editTarget(path);
      const before = readIfExists(writePath);
      try {
        const previous = manifest.files[path]?.undo;
        const url = pipIndexUrl(indexUrl, read);
        // Configured before for another URL (the port or the credentials changed): that entry goes first.
        const moved = previous?.kind === 'pip' && previous.url !== url;
        const base = moved ? unconfigurePip(before ?? '', previous.url, previous) : (before ?? '');
        const configured = configurePip(base, { url, primary: request.primary || request.onlyIndex === true });
        // What the first configure found stays the truth (a later --primary can still add a replaced index-url).
        const kept = previous?.kind === 'pip' && !moved ? previous : undefined;
        const replaced = kept?.replacedIndexUrl ?? configured.replacedIndexUrl;
        const trustedHost = kept ? kept.trustedHost : configured.trustedHost;
        const undo: Undo = {
          kind: 'pip',
          url,
          createdGlobal: previous?.kind === 'pip' ? previous.createdGlobal : configured.createdGlobal,
          ...(replaced !== undefined ? { replacedIndexUrl: replaced } : {}),
          ...(trustedHost !== undefined ? { trustedHost } : {}),
          setIndexUrl: (kept?.setIndexUrl ?? false) || configured.setIndexUrl,
        };
        const holdsSecret = read !== undefined;
        plan.files.push({ target, path, writePath, ...(before !== undefined ? { before } : {}), after: configured.text, mode: modeFor(writePath, holdsSecret), undo, holdsSecret });
        if (pipMixesWithPypi(configured.text, indexUrl)) {
          plan.warnings.push(`pip: ${DEPENDENCY_CONFUSION}`);
        }
      } catch (err) {
        throw malformed(path, err);
      }
    } else if (target === 'poetry') {
      plan.files.push(tomlChange(target, files.poetryConfig, [{ header: `repositories.${name}`, values: [['url', uploadUrl]], what: `a poetry repository '${name}'` }], owned(files.poetryConfig), false));
      if (upload) {
        plan.files.push(
          tomlChange(target, files.poetryAuth, [{ header: `http-basic.${name}`, values: tomlCredentials(upload, inFiles), what: `poetry credentials for '${name}'` }], owned(files.poetryAuth), inFiles),
        );
      }
      secret(target, `poetry-repository-${name}`);
      plan.notes.push(
        `poetry: publish with \`poetry publish -r ${name}\`; to install from the index in a project, add to its pyproject.toml:\n` +
          poetrySourceSnippet(indexUrl, name, request.primary || request.onlyIndex === true, request.poetryVersion).replace(/^/gm, '    '),
      );
    } else if (target === 'pdm') {
      // pdm 2.2 publishes only with a user name and password from config.toml (or PDM_PUBLISH_*):
      // it asks the keychain only at an interactive prompt, so without a terminal it fails with
      // "Username and password are required". The upload token goes into the file (0600).
      const holdsSecret = upload !== undefined || read !== undefined;
      plan.files.push(
        tomlChange(
          target,
          files.pdm,
          [
            request.onlyIndex
              ? { header: 'pypi', values: [['url', indexUrl], ...tomlCredentials(read, true)], what: "pdm's main index" }
              : { header: `pypi.${name}`, values: [['url', indexUrl], ...tomlCredentials(read, true)], what: `a pdm index '${name}'` },
            { header: `repository.${name}`, values: [['url', uploadUrl], ...tomlCredentials(upload, true)], what: `a pdm repository '${name}'` },
          ],
          owned(files.pdm),
          holdsSecret,
        ),
      );
      plan.notes.push(`pdm: publish with \`pdm publish -r ${name}\`.`);
    } else {
      plan.files.push(
        tomlChange(
          target,
          files.uv,
          [
            {
              header: 'index',
              arrayName: name,
              // `default = true`: this index replaces PyPI as uv's default.
              values: [['name', name], ['url', indexUrl], ['publish-url', uploadUrl], ...(request.onlyIndex ? [['default', true] as [string, boolean]] : [])],
              what: `a uv index named '${name}'`,
            },
          ],
          owned(files.uv),
          false,
        ),
      );
      plan.notes.push(`uv: publish with \`uv publish --index ${name} --username __token__\` and a token as the password (uv asks, or reads UV_PUBLISH_PASSWORD); uv keeps no passwords in uv.toml.`);
    }
  }
  if (request.readsNeedCredentials) {
    // pipenv hands the Pipfile's URL to its own resolver, which never sees pip.conf's credentials.
    plan.notes.push(
      `pipenv: add to a project's Pipfile:\n${pipfileSourceSnippet(indexUrl, name, PIPENV_TOKEN_VARIABLE).replace(/^/gm, '    ')}\n` +
        `  and give pipenv a read-only token in ${PIPENV_TOKEN_VARIABLE} (pipenv fills it in): export ${PIPENV_TOKEN_VARIABLE}=$(pyrepo token create --read-only --name pipenv)`,
    );
  } else {
    plan.notes.push(`pipenv: add to a project's Pipfile:\n${pipfileSourceSnippet(indexUrl, name).replace(/^/gm, '    ')}`);
  }
  if (!upload) plan.warnings.push(`No credentials were written: pyrepo makes tokens only for the index it runs here. The tools ask for a user name and password when they upload${request.readsNeedCredentials ? ' or read' : ''}.`);
  return plan;
}

export interface FileOutcome {
  target: Target;
  path: string;
  status: 'created' | 'updated' | 'unchanged' | 'restored' | 'deleted' | 'cleaned' | 'absent';
  backup?: string;
}

function backupPath(paths: PyrepoPaths, file: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return join(paths.configDir, 'backups', `${basename(file).replace(/^\./, '')}.${stamp}.bak`);
}

/** The outermost folder of `dir` that does not exist yet (what writing a file there creates). */
function outermostMissing(dir: string): string | undefined {
  let missing: string | undefined;
  for (let d = dir; !existsSync(d); d = dirname(d)) {
    missing = d;
    if (dirname(d) === d) break;
  }
  return missing;
}

/** Removes the empty folders from `dir` up to and including `top`. */
function removeEmptyFolders(dir: string, top: string): void {
  for (let d = dir; d.startsWith(top); d = dirname(d)) {
    try {
      rmdirSync(d);
    } catch {
      return; // not empty (or already gone): stop here
    }
    if (d === top) return;
  }
}

/** The fields of `record` among `keys` that are set. */
function pick<K extends keyof FileRecord>(record: FileRecord, ...keys: K[]): Partial<Pick<FileRecord, K>> {
  return Object.fromEntries(keys.filter((k) => record[k] !== undefined).map((k) => [k, record[k]])) as Partial<Pick<FileRecord, K>>;
}

/**
 * Applies a plan: backups, atomic writes, keychain items, the manifest. `keychain` is the
 * keychain whenever one is usable (also with --no-keychain): it stores the plan's secrets
 * and deletes the items pyrepo stored earlier that the plan no longer uses; without one,
 * those stay recorded for a later unconfigure. `tokens` are the API tokens the files now
 * hold, recorded for the next configure and for unconfigure.
 */
export async function applyConfigure(paths: PyrepoPaths, plan: Plan, baseUrl: string, keychain: SecretStore | undefined, tokens?: TokenRecordRef[]): Promise<FileOutcome[]> {
  const manifest = readManifest(paths.configDir);
  const outcomes: FileOutcome[] = [];
  // Passwords first: if the keychain refuses one (locked, or it reads but will not write),
  // no tool has been pointed at an index it has no password for.
  for (const s of plan.secrets) {
    if (!keychain) throw new BugError('configure planned keychain items without a keychain.');
    try {
      await keychain.set(s.service, s.account, s.secret);
    } catch (err) {
      writeManifest(paths.configDir, manifest);
      throw new AbortError(
        `The keychain did not store the token for '${s.service}': ${(err as Error).message}. No tool file was changed.`,
        "Unlock the keychain and run `pyrepo configure` again, or run `pyrepo configure --no-keychain` to keep the tokens in the tools' own files (mode 0600).",
      );
    }
    if (!manifest.secrets.some((r) => r.service === s.service && r.account === s.account)) manifest.secrets.push({ service: s.service, account: s.account, target: s.target });
  }
  for (const change of plan.files) {
    if (change.before === change.after && (change.before !== undefined || change.after === '')) {
      outcomes.push({ target: change.target, path: change.path, status: 'unchanged' });
      continue;
    }
    const record = manifest.files[change.path];
    let backup = record?.backup;
    if (!record && change.before !== undefined) {
      backup = backupPath(paths, change.path);
      mkdirSync(join(paths.configDir, 'backups'), { recursive: true });
      copyFileSync(change.writePath, backup);
    }
    const createdDir = record ? record.createdDir : outermostMissing(dirname(change.writePath));
    writeFileAtomic(change.writePath, change.after, { mode: change.mode });
    const next: FileRecord = {
      target: change.target,
      created: record ? record.created : change.before === undefined,
      ...(createdDir ? { createdDir } : {}),
      ...(backup ? { backup } : {}),
      // The file as it was before pyrepo's first change: from the record once there is one
      // (a file pyrepo created has no "before", even when a later configure changes it again).
      ...(record ? pick(record, 'beforeSha256', 'beforeMode') : change.before !== undefined ? { beforeSha256: sha256(change.before), beforeMode: statSync(backup as string).mode & 0o777 } : {}),
      afterSha256: sha256(change.after),
      undo: change.undo,
    };
    manifest.files[change.path] = next;
    outcomes.push({ target: change.target, path: change.path, status: change.before === undefined ? 'created' : 'updated', ...(backup && !record ? { backup } : {}) });
    writeManifest(paths.configDir, manifest);
  }
  // Items stored for an earlier URL or name that this plan no longer uses.
  const planned = new Set(plan.secrets.map((s) => `${s.service}\n${s.account}`));
  const configuredTargets = new Set(plan.files.map((f) => f.target));
  for (const old of manifest.secrets.filter((r) => configuredTargets.has(r.target as Target) && !planned.has(`${r.service}\n${r.account}`))) {
    if (!keychain) continue;
    await keychain.delete(old.service, old.account);
    manifest.secrets = manifest.secrets.filter((r) => r !== old);
  }
  manifest.baseUrl = baseUrl;
  if (tokens !== undefined) manifest.tokens = tokens;
  writeManifest(paths.configDir, manifest);
  return outcomes;
}

/** pyrepo's entries taken out of `text` (for a file the user changed after configure). */
function undoEntries(text: string, undo: Undo): string {
  if (undo.kind === 'pypirc') return unconfigurePypirc(text, undo.name, undo);
  if (undo.kind === 'pip') return unconfigurePip(text, undo.url, undo);
  let out = text;
  for (const t of undo.tables) out = dropTomlTable(out, { ...t, values: [], what: t.header });
  return out;
}

export interface UnconfigurePlanItem {
  target: string;
  path: string;
  current?: string;
  /** undefined: delete the file. */
  next?: string;
  mode?: number;
  how: 'restore' | 'delete' | 'clean' | 'absent';
}

/** Plans unconfigure for the recorded files (of `targets`, or all). */
export function planUnconfigure(manifest: Manifest, targets?: string[]): UnconfigurePlanItem[] {
  const items: UnconfigurePlanItem[] = [];
  for (const [path, record] of Object.entries(manifest.files)) {
    if (targets && !targets.includes(record.target)) continue;
    const current = readIfExists(path);
    if (current === undefined) {
      items.push({ target: record.target, path, how: 'absent' });
      continue;
    }
    if (sha256(current) === record.afterSha256) {
      if (record.created) {
        items.push({ target: record.target, path, current, how: 'delete' });
        continue;
      }
      const backup = record.backup ? readIfExists(record.backup) : undefined;
      if (backup !== undefined && sha256(backup) === record.beforeSha256) {
        items.push({ target: record.target, path, current, next: backup, ...(record.beforeMode !== undefined ? { mode: record.beforeMode } : {}), how: 'restore' });
        continue;
      }
    }
    try {
      if (record.undo.kind === 'toml') readToml(current);
      else parseIni(current);
    } catch (err) {
      throw malformed(path, err);
    }
    const next = undoEntries(current, record.undo);
    items.push(record.created && next.trim() === '' ? { target: record.target, path, current, how: 'delete' } : { target: record.target, path, current, next, how: 'clean' });
  }
  return items;
}

/** What unconfigure did besides the files. */
export interface UnconfigureResult {
  outcomes: FileOutcome[];
  /** Ids of the API tokens revoked (once no configured file is left to use them). */
  revokedTokens: string[];
}

/**
 * Applies an unconfigure plan and forgets what was undone; deletes the keychain items of
 * those targets; once no configured file is left, revokes the API tokens configure made
 * (with `tokens`: the user files and pyrepo's secret store).
 */
export async function applyUnconfigure(
  paths: PyrepoPaths,
  items: UnconfigurePlanItem[],
  keychain: SecretStore | undefined,
  targets?: string[],
  tokens?: Pick<TokenContext, 'files' | 'store'>,
): Promise<UnconfigureResult> {
  const manifest = readManifest(paths.configDir);
  const outcomes: FileOutcome[] = [];
  /** Folders configure created, to remove once empty: after every file is gone (one file's folder may hold another's). */
  const folders: [string, string][] = [];
  for (const item of items) {
    const record = manifest.files[item.path];
    if (item.how === 'delete') {
      rmSync(item.path, { force: true });
      if (record?.createdDir) folders.push([dirname(item.path), record.createdDir]);
    } else if (item.next !== undefined && item.next !== item.current) writeFileAtomic(editTarget(item.path), item.next, item.mode !== undefined ? { mode: item.mode } : {});
    if (item.how === 'restore' && record?.backup) rmSync(record.backup, { force: true });
    delete manifest.files[item.path];
    writeManifest(paths.configDir, manifest);
    const status = item.how === 'restore' ? 'restored' : item.how === 'delete' ? 'deleted' : item.how === 'absent' ? 'absent' : item.next === item.current ? 'unchanged' : 'cleaned';
    outcomes.push({ target: item.target as Target, path: item.path, status, ...(item.how === 'clean' && record?.backup ? { backup: record.backup } : {}) });
  }
  // Outermost last: ~/.config/pdm before the ~/.config that the first file configure wrote created.
  for (const [dir, top] of folders.sort((a, b) => b[1].length - a[1].length || b[0].length - a[0].length)) removeEmptyFolders(dir, top);
  const keep: SecretRecord[] = [];
  for (const s of manifest.secrets) {
    if (targets && !targets.includes(s.target)) {
      keep.push(s);
      continue;
    }
    if (keychain) await keychain.delete(s.service, s.account);
    else keep.push(s);
  }
  manifest.secrets = keep;
  let revokedTokens: string[] = [];
  if (Object.keys(manifest.files).length === 0 && tokens && manifest.tokens) {
    revokedTokens = await retireTokens(tokens, manifest.tokens);
    delete manifest.tokens;
  }
  if (Object.keys(manifest.files).length === 0 && keep.length === 0 && !manifest.tokens?.length) rmSync(join(paths.configDir, 'client-config.json'), { force: true });
  else writeManifest(paths.configDir, manifest);
  return { outcomes, revokedTokens };
}
