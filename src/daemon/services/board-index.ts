/**
 * The index as MicroPython boards see it: for each release, the files a board installs
 * (taken from a pure-Python wheel, else an sdist), its dependencies among the projects
 * this index serves, upip's JSON and tarball, and mip's package JSON and files.
 *
 * What a distribution gives a board is worked out once, on first request, and kept in the
 * board cache (board-cache.ts), keyed by the distribution's sha256. Dependencies are
 * resolved when asked, since they follow what the index holds at that moment: a specifier
 * picks the most preferred release that meets it (the latest when none does).
 *
 * mip has no cycle detection (a dependency cycle recurses until the board runs out of
 * memory), so a package's JSON never lists a cycle: the releases of a strongly connected
 * group of dependencies are installed as one, each one's JSON listing the files of all of
 * them and the group's dependencies outside it, as micropython-lib flattens its own
 * interdependent packages. upip removes duplicates itself and follows each release's
 * direct dependencies.
 */
import { createHash } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { readDistContents, readDistMembers } from '../../shared/dist-reader.js';
import { parseDistFilename } from '../../shared/distfiles.js';
import { DistContentError } from '../../shared/errors.js';
import { filenameEscapedName } from '../../shared/names.js';
import { compareVersions, releaseKey } from '../../shared/versions.js';
import { boardIncompatibility, boardLayoutOf } from './board-files.js';
import { BoardCache, type BoardManifest } from './board-cache.js';
import { buildUpipTarball, upipTopFolder } from './board-tarball.js';
import type { FileRecord } from './catalog.js';
import type { IndexReader } from './index-reader.js';
import { boardRequirement, meets } from './requirements.js';
import { ShortHashes } from './short-hashes.js';

/** Most bytes of board files read out of one distribution. */
const MAX_BOARD_BYTES = 16 * 1024 * 1024;
/** Most releases one dependency graph may span (a guard against pathological indexes). */
const MAX_GRAPH = 500;
/** Rendered JSON bodies kept in memory between changes. */
const MAX_PAGES = 2000;

/** A release a board can install, with the distribution its files come from. */
interface BoardRelease {
  project: string;
  version: string;
  key: string;
  file: FileRecord;
  manifest: BoardManifest;
}

/** A dependency as the JSON names it: the release it resolved to, and `latest` or that version. */
interface Edge {
  release: BoardRelease;
  label: string;
}

/** Which releases count as installable: every good one for mip, those upip can unpack for upip. */
type Client = 'mip' | 'upip';

/** The answer to a request: a body, or why there is none. */
export type BoardAnswer<T> = { ok: true; value: T } | { ok: false; message: string };

const id = (r: BoardRelease) => `${r.project}@${r.key}`;

function wheelIsPure(filename: string): boolean {
  const parts = filename.slice(0, -'.whl'.length).split('-');
  return parts[parts.length - 2] === 'none' && parts[parts.length - 1] === 'any';
}

/** Where board files come from, best first: pure-Python wheels (their tree is the install tree), then sdists. */
function sourceRank(file: FileRecord): number {
  if (file.packagetype === 'bdist_wheel') return wheelIsPure(file.filename) ? 0 : -1;
  return file.filename.endsWith('.tar.gz') ? 1 : 2;
}

/** Per-request memo of the catalog's files, releases and their dependencies. */
class Resolution {
  readonly releases = new Map<string, Promise<BoardRelease | undefined>>();
  readonly edges = new Map<string, Promise<Edge[]>>();
  private readonly files = new Map<string, Promise<FileRecord[]>>();

  constructor(private readonly reader: IndexReader) {}

  /** A project's files, read from the catalog once per request. */
  filesOf(project: string): Promise<FileRecord[]> {
    let files = this.files.get(project);
    if (!files) {
      files = this.reader.filesOf(project);
      this.files.set(project, files);
    }
    return files;
  }
}

export interface BoardIndexOptions {
  reader: IndexReader;
  cacheDir: string;
  log: FastifyBaseLogger;
}

export class BoardIndex {
  private readonly reader: IndexReader;
  private readonly cache: BoardCache;
  private readonly log: FastifyBaseLogger;
  private readonly manifests = new Map<string, BoardManifest>();
  /** sha256s of the manifests made from each distribution filename. */
  private readonly bySource = new Map<string, Set<string>>();
  /** Which distributions (by sha256) hold each board file (by sha256). */
  private readonly owners = new Map<string, Set<string>>();
  private readonly hashes = new ShortHashes();
  private readonly building = new Map<string, Promise<BoardManifest | undefined>>();
  private readonly pages = new Map<string, Buffer>();
  /** The catalog serial and manifest generation the pages were rendered at. */
  private pagesAt = '';
  private generation = 0;
  private loaded: Promise<void> | undefined;
  /** True once load() has finished (whether or not the cache could be read). */
  private loadedNow = false;

  constructor(opts: BoardIndexOptions) {
    this.reader = opts.reader;
    this.cache = new BoardCache(opts.cacheDir);
    this.log = opts.log;
  }

  /** Loads the board cache (dropping what no longer matches a file of the index); every request waits for it. */
  load(): Promise<void> {
    this.loaded ??= this.cache
      .load(async (m) => (await this.reader.file(m.source))?.sha256 === m.sourceSha256)
      .then((manifests) => {
        for (const m of manifests) this.remember(m);
      })
      .finally(() => {
        this.loadedNow = true;
      })
      .catch((err: unknown) => {
        this.log.error({ err }, 'Could not read the board cache; it is built again as boards ask');
      });
    return this.loaded;
  }

  private remember(manifest: BoardManifest): void {
    this.manifests.set(manifest.sourceSha256, manifest);
    this.bySource.set(manifest.source, (this.bySource.get(manifest.source) ?? new Set()).add(manifest.sourceSha256));
    for (const f of manifest.files) {
      const set = this.owners.get(f.sha256) ?? new Set<string>();
      set.add(manifest.sourceSha256);
      this.owners.set(f.sha256, set);
      this.hashes.add(f.sha256);
    }
    this.generation += 1;
  }

  private forget(manifest: BoardManifest): void {
    this.manifests.delete(manifest.sourceSha256);
    this.bySource.get(manifest.source)?.delete(manifest.sourceSha256);
    if (this.bySource.get(manifest.source)?.size === 0) this.bySource.delete(manifest.source);
    for (const f of manifest.files) {
      const set = this.owners.get(f.sha256);
      set?.delete(manifest.sourceSha256);
      if (set?.size === 0) {
        this.owners.delete(f.sha256);
        this.hashes.delete(f.sha256);
      }
    }
    this.generation += 1;
  }

  /**
   * A distribution file changed or left the index: drop what was derived from an older
   * content of it, so that its files are no longer served.
   */
  /**
   * Whether a change to `filename` may concern the board cache: false once the cache is
   * loaded and holds nothing made from that file (the first indexing of a big folder
   * announces every file, and must not queue work for each).
   */
  concerns(filename: string): boolean {
    return this.loadedNow === false || this.bySource.has(filename);
  }

  async fileChanged(filename: string): Promise<void> {
    await this.load();
    const current = (await this.reader.file(filename))?.sha256;
    for (const sha of [...(this.bySource.get(filename) ?? [])]) {
      const m = this.manifests.get(sha);
      if (!m || sha === current) continue;
      this.forget(m);
      await this.cache.remove(sha);
    }
  }

  // ---- what one distribution gives a board ------------------------------------------

  /** The manifest of a distribution file, built and cached on first use; undefined when it cannot be read now. */
  private manifestOf(file: FileRecord): Promise<BoardManifest | undefined> {
    const known = this.manifests.get(file.sha256);
    if (known && known.source === file.filename) return Promise.resolve(known);
    const pending = this.building.get(file.sha256);
    if (pending) return pending;
    const run = this.build(file).finally(() => this.building.delete(file.sha256));
    this.building.set(file.sha256, run);
    return run;
  }

  private async build(file: FileRecord): Promise<BoardManifest | undefined> {
    const dist = parseDistFilename(file.filename);
    const path = this.reader.blobs.pathOf(file.relpath);
    const base = { source: file.filename, sourceSha256: file.sha256, project: file.project, version: file.version };
    let manifest: BoardManifest;
    const blobs = new Map<string, Buffer>();
    try {
      const contents = await readDistContents(path, dist, file.size);
      const layout = boardLayoutOf(dist.kind, contents.members);
      const requires = contents.metadata.requiresDist;
      const incompatible = boardIncompatibility(file.filename, layout);
      const followed = requires.map(boardRequirement).filter((r) => r !== null);
      const problem =
        incompatible ??
        (layout.files.length === 0 && followed.length === 0 ? `${file.filename} has no Python modules for a board to install.` : null);
      const files: BoardManifest['files'] = [];
      if (!problem) {
        const bytes = await readDistMembers(path, dist, new Set(layout.files.map((f) => f.member)), MAX_BOARD_BYTES);
        for (const f of layout.files) {
          const data = bytes.get(f.member);
          if (!data) throw new DistContentError(`${file.filename}: member ${f.member} could not be read.`);
          const sha256 = createHash('sha256').update(data).digest('hex');
          blobs.set(sha256, data);
          files.push({ path: f.target, sha256, size: data.length });
        }
      }
      const upip = upipTopFolder(filenameEscapedName(file.project), file.version, files.map((f) => f.path));
      manifest = { ...base, files, requires, problem, upip };
    } catch (err) {
      if (!(err instanceof DistContentError)) {
        // The file may have left the folder a moment ago: nothing is cached, the next request tries again.
        this.log.warn({ err }, `Could not read ${file.filename} for boards`);
        return undefined;
      }
      manifest = { ...base, files: [], requires: [], problem: err.message, upip: { problem: err.message } };
    }
    // The file may have been replaced or removed while it was read.
    if ((await this.reader.file(file.filename))?.sha256 !== file.sha256) return undefined;
    await this.cache.store(manifest, blobs);
    if (!this.manifests.has(manifest.sourceSha256)) this.remember(manifest);
    return manifest;
  }

  // ---- releases and dependencies ----------------------------------------------------

  /** A release, with the distribution boards install it from; undefined when none of its files will do. */
  private release(project: string, key: string, client: Client, memo: Resolution): Promise<BoardRelease | undefined> {
    const memoKey = `${client}|${project}@${key}`;
    let found = memo.releases.get(memoKey);
    if (!found) {
      found = this.findRelease(project, key, client, memo);
      memo.releases.set(memoKey, found);
    }
    return found;
  }

  private async findRelease(project: string, key: string, client: Client, memo: Resolution): Promise<BoardRelease | undefined> {
    const files = (await memo.filesOf(project))
      .filter((f) => f.releaseKey === key && sourceRank(f) >= 0)
      .sort((a, b) => sourceRank(a) - sourceRank(b) || (a.filename < b.filename ? -1 : 1));
    for (const file of files) {
      const manifest = await this.manifestOf(file);
      if (!manifest || manifest.problem) continue;
      if (client === 'upip' && !('top' in manifest.upip)) continue;
      return { project, version: file.version, key, file, manifest };
    }
    return undefined;
  }

  /** Why no release of `project` (or of `key`) can be installed, for the 404 message. */
  private async whyNot(project: string, key: string | undefined): Promise<string> {
    const files = (await this.reader.filesOf(project)).filter((f) => key === undefined || f.releaseKey === key);
    const sources = files.filter((f) => sourceRank(f) >= 0);
    if (sources.length === 0) return `${project} has no pure-Python wheel or sdist${key ? ` for ${key}` : ''}: MicroPython boards cannot install its compiled wheels.`;
    for (const f of sources) {
      const m = await this.manifestOf(f);
      if (m?.problem) return m.problem;
      if (m && 'problem' in m.upip) return m.upip.problem;
    }
    return `${project} has nothing a board can install.`;
  }

  /** The most preferred installable release (PyPI's "latest" rule), optionally one meeting `accept`. */
  private async preferred(project: string, client: Client, memo: Resolution, accept: (version: string) => boolean = () => true): Promise<BoardRelease | undefined> {
    const files = await memo.filesOf(project);
    for (const key of await this.reader.releasesByPreference(project)) {
      const version = files.find((f) => f.releaseKey === key)?.version ?? key;
      if (!accept(version)) continue;
      const release = await this.release(project, key, client, memo);
      if (release) return release;
    }
    return undefined;
  }

  /** A release's dependencies that this index serves to boards, resolved to releases. */
  private edges(release: BoardRelease, client: Client, memo: Resolution): Promise<Edge[]> {
    const memoKey = `${client}|${id(release)}`;
    let found = memo.edges.get(memoKey);
    if (!found) {
      found = this.resolveEdges(release, client, memo);
      memo.edges.set(memoKey, found);
    }
    return found;
  }

  private async resolveEdges(release: BoardRelease, client: Client, memo: Resolution): Promise<Edge[]> {
    const edges: Edge[] = [];
    const seen = new Set<string>([release.project]);
    for (const value of release.manifest.requires) {
      const req = boardRequirement(value);
      if (!req || seen.has(req.project) || !(await this.reader.project(req.project))) continue;
      seen.add(req.project);
      if (req.specifier === '') {
        const latest = await this.preferred(req.project, client, memo);
        if (latest) edges.push({ release: latest, label: 'latest' });
        continue;
      }
      const chosen = (await this.preferred(req.project, client, memo, (v) => meets(req, v))) ?? (await this.preferred(req.project, client, memo));
      if (chosen) edges.push({ release: chosen, label: chosen.version });
    }
    return edges;
  }

  /**
   * The releases installed together with `start` (its strongly connected group of
   * dependencies, `start` first) and the group's dependencies outside it.
   */
  private async group(start: BoardRelease, memo: Resolution): Promise<{ members: BoardRelease[]; deps: Edge[] }> {
    const reach = new Map<string, BoardRelease>([[id(start), start]]);
    const out = new Map<string, Edge[]>();
    const queue = [start];
    while (queue.length > 0 && reach.size <= MAX_GRAPH) {
      const r = queue.shift() as BoardRelease;
      const edges = await this.edges(r, 'mip', memo);
      out.set(id(r), edges);
      for (const e of edges) {
        if (!reach.has(id(e.release))) {
          reach.set(id(e.release), e.release);
          queue.push(e.release);
        }
      }
    }
    // The group: every release reachable from `start` that also reaches back to it.
    const back = new Map<string, string[]>();
    for (const [from, edges] of out) for (const e of edges) back.set(id(e.release), [...(back.get(id(e.release)) ?? []), from]);
    const inGroup = new Set<string>([id(start)]);
    const todo = [id(start)];
    while (todo.length > 0) {
      for (const from of back.get(todo.pop() as string) ?? []) {
        if (!inGroup.has(from)) {
          inGroup.add(from);
          todo.push(from);
        }
      }
    }
    const members = [start, ...[...inGroup].filter((k) => k !== id(start)).sort().map((k) => reach.get(k) as BoardRelease)];
    const deps: Edge[] = [];
    const named = new Set<string>();
    for (const m of members) {
      for (const e of out.get(id(m)) ?? []) {
        if (inGroup.has(id(e.release)) || named.has(e.release.project)) continue;
        named.add(e.release.project);
        deps.push(e);
      }
    }
    return { members, deps };
  }

  /** The release a request names: `latest` (the most preferred installable one) or a version. */
  private async requested(project: string, version: string, client: Client, memo: Resolution): Promise<BoardAnswer<BoardRelease>> {
    if (!(await this.reader.project(project))) return { ok: false, message: `No project named '${project}' on this index.` };
    if (version === 'latest' || version === '') {
      const release = await this.preferred(project, client, memo);
      return release ? { ok: true, value: release } : { ok: false, message: await this.whyNot(project, undefined) };
    }
    const key = releaseKey(version);
    if (!(await memo.filesOf(project)).some((f) => f.releaseKey === key)) {
      return { ok: false, message: `Project '${project}' has no release '${version}'.` };
    }
    const release = await this.release(project, key, client, memo);
    return release ? { ok: true, value: release } : { ok: false, message: await this.whyNot(project, key) };
  }

  // ---- what the routes serve --------------------------------------------------------

  /** A rendered JSON body, kept until the index or the board cache changes. */
  private async page(key: string, render: () => Promise<BoardAnswer<unknown>>): Promise<BoardAnswer<Buffer>> {
    const at = `${this.reader.serial}:${this.generation}`;
    if (this.pagesAt !== at || this.pages.size > MAX_PAGES) {
      this.pages.clear();
      this.pagesAt = at;
    }
    const cached = this.pages.get(key);
    if (cached) return { ok: true, value: cached };
    const answer = await render();
    if (!answer.ok) return answer;
    const body = Buffer.from(JSON.stringify(answer.value), 'utf8');
    // Rendering may have built manifests, which can lengthen short hashes: cache only if nothing moved.
    if (this.pagesAt === `${this.reader.serial}:${this.generation}`) this.pages.set(key, body);
    return { ok: true, value: body };
  }

  /**
   * upip's JSON: `info.version` and, for each release upip can install, one tarball URL
   * (upip asserts that there is exactly one).
   */
  async upipJson(project: string, baseUrl: string): Promise<BoardAnswer<Buffer>> {
    await this.load();
    return this.page(`upip|${baseUrl}|${project}`, async () => {
      const memo = new Resolution(this.reader);
      const latest = await this.preferred(project, 'upip', memo);
      if (!latest) {
        const message = (await this.reader.project(project)) ? await this.whyNot(project, undefined) : `No project named '${project}' on this index.`;
        return { ok: false, message };
      }
      const releases: Record<string, { url: string }[]> = {};
      const keys = [...new Set((await memo.filesOf(project)).map((f) => f.releaseKey))];
      const found = (await Promise.all(keys.map((k) => this.release(project, k, 'upip', memo)))).filter((r) => r !== undefined);
      found.sort((a, b) => compareVersions(b.version, a.version));
      for (const r of found) releases[r.version] = [{ url: `${baseUrl}${upipTarballPath(r.project, r.version)}` }];
      return { ok: true, value: { info: { name: (await this.reader.project(project))?.displayName ?? project, version: latest.version }, releases } };
    });
  }

  /**
   * The tarball upip installs a release from, with the distribution it was made from
   * (for download counts). Its requires.txt lists the release's dependencies on this
   * index, pinned (`name==version`) where the latest would not do.
   */
  async upipTarball(project: string, version: string, retry = true): Promise<BoardAnswer<{ bytes: Buffer; file: FileRecord }>> {
    await this.load();
    const memo = new Resolution(this.reader);
    const found = await this.requested(project, version, 'upip', memo);
    if (!found.ok) return found;
    const release = found.value;
    const requires = (await this.edges(release, 'upip', memo)).map((e) => (e.label === 'latest' ? e.release.project : `${e.release.project}==${e.release.version}`));
    const top = (release.manifest.upip as { top: string }).top;
    const key = createHash('sha256').update(JSON.stringify([top, requires])).digest('hex').slice(0, 16);
    let bytes: Buffer;
    try {
      bytes = await this.cache.tarball(release.file.sha256, key, async () => {
        const files = [];
        for (const f of release.manifest.files) files.push({ target: f.path, bytes: await this.cache.readBlob(release.file.sha256, f.sha256) });
        return buildUpipTarball({ top, escapedName: filenameEscapedName(project), files, requires, mtime: new Date(release.file.uploadTime) });
      });
    } catch (err) {
      // The cached files are gone (the cache folder was deleted): derive them again, once.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !retry) throw err;
      this.forget(release.manifest);
      await this.cache.remove(release.file.sha256);
      return this.upipTarball(project, version, false);
    }
    return { ok: true, value: { bytes, file: release.file } };
  }

  /**
   * mip's package JSON (`/package/{mpy}/{name}/{version}.json`): the files by short hash,
   * the dependencies as `[name, version or "latest"]`, and the release's version. The
   * files are .py sources whatever `mpy` asks for (see the mip routes).
   */
  async mipPackage(project: string, version: string): Promise<BoardAnswer<{ body: Buffer; file: FileRecord }>> {
    await this.load();
    const memo = new Resolution(this.reader);
    const found = await this.requested(project, version, 'mip', memo);
    if (!found.ok) return found;
    const release = found.value;
    const body = await this.page(`mip|${id(release)}`, async () => {
      const { members, deps } = await this.group(release, memo);
      return {
        ok: true,
        value: {
          v: 1,
          hashes: this.filesOf(members).map((f) => [f.path, this.hashes.short(f.sha256)]),
          deps: deps.map((d) => [d.release.project, d.label]),
          version: release.version,
        },
      };
    });
    return body.ok ? { ok: true, value: { body: body.value, file: release.file } } : body;
  }

  /**
   * `package.json` for mip's URL installs (`mip.install("http://host:port/mip/name")`):
   * absolute `urls`, since mip fetches `hashes` from its default index in that mode, and
   * dependencies as URLs of their own package.json.
   */
  async mipUrlPackage(project: string, version: string, baseUrl: string): Promise<BoardAnswer<{ body: Buffer; file: FileRecord }>> {
    await this.load();
    const memo = new Resolution(this.reader);
    const found = await this.requested(project, version, 'mip', memo);
    if (!found.ok) return found;
    const release = found.value;
    const body = await this.page(`mip-url|${baseUrl}|${id(release)}`, async () => {
      const { members, deps } = await this.group(release, memo);
      return {
        ok: true,
        value: {
          urls: this.filesOf(members).map((f) => {
            const h = this.hashes.short(f.sha256);
            return [f.path, `${baseUrl}/mip/file/${h.slice(0, 2)}/${h}`];
          }),
          deps: deps.map((d) => [`${baseUrl}/mip/${encodeURIComponent(d.release.project)}${d.label === 'latest' ? '' : `@${encodeURIComponent(d.label)}`}`, null]),
          version: release.version,
        },
      };
    });
    return body.ok ? { ok: true, value: { body: body.value, file: release.file } } : body;
  }

  /** The board files of a group of releases, the first one's winning where paths repeat. */
  private filesOf(members: BoardRelease[]): BoardManifest['files'] {
    const files: BoardManifest['files'] = [];
    const paths = new Set<string>();
    for (const m of members) {
      for (const f of m.manifest.files) {
        if (paths.has(f.path)) continue;
        paths.add(f.path);
        files.push(f);
      }
    }
    return files;
  }

  /** A board file by a hash prefix mip was given; undefined when no file (or more than one) has it. */
  async mipFile(prefix: string): Promise<Buffer | undefined> {
    await this.load();
    const sha256 = this.hashes.resolve(prefix);
    const owner = sha256 && this.owners.get(sha256)?.values().next().value;
    if (!sha256 || !owner) return undefined;
    const bytes = await this.cache.readBlob(owner, sha256).catch(() => undefined);
    if (bytes && createHash('sha256').update(bytes).digest('hex') === sha256) return bytes;
    // The cached copy is gone or damaged: drop the entry; the next package request rebuilds it.
    const manifest = this.manifests.get(owner);
    if (manifest) {
      this.forget(manifest);
      await this.cache.remove(owner);
    }
    return undefined;
  }
}

/** Where upip fetches a release's tarball. */
export function upipTarballPath(project: string, version: string): string {
  return `/upip/${encodeURIComponent(project)}/${encodeURIComponent(version)}.tar.gz`;
}
