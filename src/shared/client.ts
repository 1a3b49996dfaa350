/**
 * The typed client of the daemon's control API, shared by the CLI and the dashboard.
 * Every response is checked against the schema the daemon serves it with.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync, rmSync } from 'node:fs';
import type { Agent as HttpsAgent } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { Check } from '@sinclair/typebox/value';
import { Type, type TSchema, type Static } from '@sinclair/typebox';
import {
  ActivityListSchema,
  ApiErrorSchema,
  CacheRemovalSchema,
  ControlRoutes,
  DeleteResultSchema,
  HealthSchema,
  INSTANCE_HEADER,
  IndexEventSchema,
  OwnerListSchema,
  OwnershipRemovalSchema,
  OwnershipsSchema,
  ProjectDetailSchema,
  ProjectListSchema,
  PublicHealthSchema,
  SNAPSHOT_SHA256_HEADER,
  UpstreamStatusSchema,
  WatchListSchema,
  WatchRegistrationSchema,
  WatchRemovalSchema,
  YankResultSchema,
  type ActivityList,
  type ActivityQuery,
  type CacheRemoval,
  type DaemonState,
  type DeleteResult,
  type Health,
  type IndexEvent,
  type OwnerList,
  type OwnerRole,
  type OwnershipRemoval,
  type Ownerships,
  type ProjectDetail,
  type ProjectList,
  type PublicHealth,
  type UpstreamStatus,
  type WatchList,
  type WatchRegistration,
  type WatchRemoval,
  type WatchRequest,
  type YankResult,
} from './api.js';
import { pinnedAgent, sendRequest, type HttpReply } from './http-request.js';
import { SseParser } from './sse.js';

/**
 * A control API call that failed; `status` is 0 when the daemon could not be reached
 * (`code` PYREPO_CLIENT_UNREACHABLE: nothing listens; PYREPO_CLIENT_TIMEOUT: no answer in
 * time; PYREPO_CLIENT_TLS: the certificate was refused; PYREPO_CLIENT_FAILED: anything else).
 * PYREPO_CLIENT_HEALTH_WITHHELD (status 200): see {@link DaemonClient.health}. The event stream adds
 * PYREPO_CLIENT_STREAM_ENDED: the daemon closed it (see {@link DaemonClient.events}).
 */
export class DaemonRequestError extends Error {
  override readonly name = 'DaemonRequestError';
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Options of {@link DaemonClient}. */
export interface DaemonClientOptions {
  /** Sent as `Authorization` on every request. */
  authorization?: string;
  /** Per-request time limit in milliseconds. Default: 10,000. */
  timeoutMs?: number;
  /**
   * PEM of the certificate an HTTPS daemon serves: trusted as the only authority for it,
   * without checking the host name. It is this installation's own daemon, reached at a
   * loopback address its certificate (made for the LAN name) need not list.
   */
  tlsCertificate?: string;
  /**
   * The daemon's instance id from its state file, sent with `/-/health` only: it gets the
   * whole answer from a daemon whose reads need credentials, without the admin password.
   */
  instance?: string;
}

/**
 * A client for the daemon a state file describes, trusting the certificate it serves
 * HTTPS with and showing its instance id to `/-/health`. An unreadable certificate is a
 * DaemonRequestError naming the file.
 */
export function daemonClientFor(state: DaemonState, given: Omit<DaemonClientOptions, 'tlsCertificate' | 'instance'> = {}): DaemonClient {
  const options: DaemonClientOptions = state.instance ? { ...given, instance: state.instance } : given;
  if (!state.tlsCert) return new DaemonClient(state.url, options);
  let pem: string;
  try {
    pem = readFileSync(state.tlsCert, 'utf8');
  } catch (err) {
    throw new DaemonRequestError(`Cannot read the daemon's TLS certificate ${state.tlsCert}: ${(err as Error).message}`, 0, 'PYREPO_CLIENT_TLS');
  }
  return new DaemonClient(state.url, { ...options, tlsCertificate: pem });
}

/** Options of {@link DaemonClient.events}. */
export interface EventStreamOptions {
  /** Aborting it ends the stream (events() then resolves). */
  signal: AbortSignal;
  /** Sent as `Last-Event-ID`: the daemon replays the events after it, or sends one `resync` event. */
  lastEventId?: string;
  /** Called once the daemon accepted the stream. */
  onOpen?: () => void;
  /** Each event, with its `id:` (every event of a daemon that numbers them has one). */
  onEvent: (event: IndexEvent, id: string | undefined) => void;
  /** An event that does not match the schema (a newer daemon's), with its `event:` type. */
  onUnknown?: (type: string, data: unknown, id: string | undefined) => void;
  /** How long a silent stream is trusted; the daemon sends a heartbeat every 15 s. Default: 40,000. */
  idleMs?: number;
}

/** Connection errors that mean nothing accepts connections at that address. */
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EADDRNOTAVAIL', 'EAI_AGAIN']);

/** Talks to one daemon at `baseUrl` (for example `http://127.0.0.1:8645`). */
export class DaemonClient {
  readonly baseUrl: string;
  private readonly options: DaemonClientOptions;

  /** The https agent that trusts `tlsCertificate`, made on first use. */
  private pinned?: HttpsAgent;

  constructor(baseUrl: string, options: DaemonClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.options = options;
  }

  /**
   * `GET /-/health`, the whole answer. A daemon whose reads need credentials tells only
   * that it is up unless the admin asks or the instance id matches; that answer is a
   * DaemonRequestError with code PYREPO_CLIENT_HEALTH_WITHHELD (status 200): the daemon
   * there is up, but it is not the one the instance id came from, or the credentials are
   * not an admin's.
   */
  async health(): Promise<Health> {
    const body = await this.call('GET', '/-/health', Type.Union([HealthSchema, PublicHealthSchema]));
    if (Check(HealthSchema, body)) return body;
    throw new DaemonRequestError(`The daemon at ${this.baseUrl} is up but tells only its admin or its own CLI more.`, 200, 'PYREPO_CLIENT_HEALTH_WITHHELD');
  }

  /** `GET /-/health` as it comes: the whole answer, or only that the daemon is up. */
  ping(): Promise<Health | PublicHealth> {
    return this.call('GET', '/-/health', Type.Union([HealthSchema, PublicHealthSchema]));
  }

  /** The HTTP status the daemon answers `GET path` with (any path, not only the control API). */
  async statusOf(path: string): Promise<number> {
    const res = await this.fetch('GET', path);
    await res.bytes();
    return res.status;
  }

  /** Every project with its counts. */
  listProjects(): Promise<ProjectList> {
    return this.call('GET', '/-/api/projects', ProjectListSchema);
  }

  /** One project with its releases, files and downloads. */
  project(name: string): Promise<ProjectDetail> {
    return this.call('GET', `/-/api/projects/${enc(name)}`, ProjectDetailSchema);
  }

  /** Deletes every file of a release. */
  deleteRelease(project: string, version: string): Promise<DeleteResult> {
    return this.call('DELETE', `/-/api/projects/${enc(project)}/releases/${enc(version)}`, DeleteResultSchema);
  }

  /** Deletes one file. */
  deleteFile(project: string, filename: string): Promise<DeleteResult> {
    return this.call('DELETE', `/-/api/projects/${enc(project)}/files/${enc(filename)}`, DeleteResultSchema);
  }

  /** Yanks a release (PEP 592), with an optional reason. */
  yank(project: string, version: string, reason?: string): Promise<YankResult> {
    return this.call('POST', `/-/api/projects/${enc(project)}/releases/${enc(version)}/yank`, YankResultSchema, {
      ...(reason !== undefined ? { reason } : {}),
    });
  }

  /** Undoes a yank. */
  unyank(project: string, version: string): Promise<YankResult> {
    return this.call('POST', `/-/api/projects/${enc(project)}/releases/${enc(version)}/unyank`, YankResultSchema, {});
  }

  /** A project's owners and maintainers. */
  owners(project: string): Promise<OwnerList> {
    return this.call('GET', `/-/api/projects/${enc(project)}/owners`, OwnerListSchema);
  }

  /** Makes a user an owner or maintainer of a project (who may then upload to it). */
  addOwner(project: string, user: string, role: OwnerRole): Promise<OwnerList> {
    return this.call('PUT', `/-/api/projects/${enc(project)}/owners/${enc(user)}`, OwnerListSchema, { role });
  }

  /** Takes a user off a project's owners and maintainers. */
  removeOwner(project: string, user: string): Promise<OwnerList> {
    return this.call('DELETE', `/-/api/projects/${enc(project)}/owners/${enc(user)}`, OwnerListSchema);
  }

  /** The projects a user owns or maintains. */
  ownershipsOf(user: string): Promise<Ownerships> {
    return this.call('GET', `/-/api/users/${enc(user)}/ownerships`, OwnershipsSchema);
  }

  /**
   * Takes a user (being removed) off the projects someone else also owns; they stay the
   * owner of the ones nobody else owns (`kept`), which only admins may then upload to.
   */
  removeOwnerships(user: string): Promise<OwnershipRemoval> {
    return this.call('DELETE', `/-/api/users/${enc(user)}/ownerships`, OwnershipRemovalSchema);
  }

  /**
   * Saves a consistent copy of the daemon's catalog (see SNAPSHOT_SHA256_HEADER) into
   * `dest`, checking its sha256 as it arrives; resolves with the sha256 and size. A copy
   * cut off or damaged on the way is a DaemonRequestError (PYREPO_CLIENT_BAD_RESPONSE),
   * and `dest` is removed.
   */
  async catalogSnapshot(dest: string, timeoutMs = 10 * 60_000): Promise<{ sha256: string; size: number }> {
    const res = await this.fetch('GET', '/-/api/catalog-snapshot', undefined, AbortSignal.timeout(timeoutMs), false);
    if (!res.ok) throw await this.failure(res);
    const expected = res.header(SNAPSHOT_SHA256_HEADER);
    const hash = createHash('sha256');
    let size = 0;
    try {
      await pipeline(
        res.body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            size += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(dest, { flags: 'wx', mode: 0o600 }),
      );
      const sha256 = hash.digest('hex');
      if (sha256 !== expected) {
        throw new DaemonRequestError(`The catalog copy from ${this.baseUrl} arrived damaged or cut off (sha256 ${sha256}, expected ${expected ?? 'none'}).`, res.status, 'PYREPO_CLIENT_BAD_RESPONSE');
      }
      return { sha256, size };
    } catch (err) {
      rmSync(dest, { force: true });
      if (err instanceof DaemonRequestError) throw err;
      throw new DaemonRequestError(`Receiving the catalog copy from ${this.baseUrl} failed: ${(err as Error).message}`, 0, 'PYREPO_CLIENT_FAILED');
    }
  }

  /** The build folders the daemon watches to publish from, each with its state, last publish and refusals. */
  watches(): Promise<WatchList> {
    return this.call('GET', '/-/api/watches', WatchListSchema);
  }

  /**
   * Watches a build folder (absolute path): its builds are published as they finish. A
   * folder watched already keeps watching with the options given (and looks at its files
   * again, refused ones too).
   */
  addWatch(request: WatchRequest): Promise<WatchRegistration> {
    return this.call('POST', '/-/api/watches', WatchRegistrationSchema, request);
  }

  /** Stops watching a folder (by the `id` the list gives); what it published stays. */
  removeWatch(id: string): Promise<WatchRemoval> {
    return this.call('DELETE', `/-/api/watches/${enc(id)}`, WatchRemovalSchema);
  }

  /** The upstream proxy's cache: size, cap, hit rate, downloads (404 when no upstream is set). */
  upstream(): Promise<UpstreamStatus> {
    return this.call('GET', '/-/api/upstream', UpstreamStatusSchema);
  }

  /** Applies the upstream cache's age limit and size cap now. */
  pruneUpstreamCache(): Promise<CacheRemoval> {
    return this.call('POST', '/-/api/upstream/prune', CacheRemovalSchema);
  }

  /** Forgets what was cached from upstream: of one project, or everything. */
  purgeUpstreamCache(project?: string): Promise<CacheRemoval> {
    return this.call('DELETE', project === undefined ? '/-/api/upstream/cache' : `/-/api/upstream/cache/${enc(project)}`, CacheRemovalSchema);
  }

  /** Uploads, deletions, yanks and unyanks made through the API, newest first. */
  activity(query: ActivityQuery = {}): Promise<ActivityList> {
    const params = new URLSearchParams();
    if (query.project !== undefined) params.set('project', query.project);
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    const qs = params.size > 0 ? `?${params.toString()}` : '';
    return this.call('GET', `/-/api/activity${qs}`, ActivityListSchema);
  }

  /**
   * Follows `/-/events` until `signal` aborts (resolves), or the stream cannot be opened,
   * breaks off, goes silent past the daemon's heartbeat or is closed by the daemon (rejects
   * with a DaemonRequestError saying which), so that a caller can reconnect, passing the
   * last id it saw as `lastEventId`.
   */
  async events(options: EventStreamOptions): Promise<void> {
    const idleMs = options.idleMs ?? 40_000;
    const local = new AbortController();
    let silent = false;
    let idle: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        silent = true;
        local.abort();
      }, idleMs);
    };
    // One controller for both ways of ending (a signal made by AbortSignal.any of another
    // may never reach fetch: the stream's connection would stay open on the daemon).
    const stop = () => local.abort();
    options.signal.addEventListener('abort', stop, { once: true });
    const signal = local.signal;
    const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache' };
    if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
    const silence = () => new DaemonRequestError(`The event stream of ${this.baseUrl} went silent for ${Math.round(idleMs / 1000)} s.`, 0, 'PYREPO_CLIENT_TIMEOUT');
    try {
      arm();
      let res: HttpReply;
      try {
        res = await this.fetch('GET', ControlRoutes.events, undefined, signal, false, headers);
      } catch (err) {
        if (options.signal.aborted) return;
        throw silent ? silence() : err;
      }
      if (!res.ok) throw await this.failure(res);
      options.onOpen?.();
      const parser = new SseParser();
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          arm();
          for (const message of parser.push(decoder.decode(chunk, { stream: true }))) {
            let data: unknown;
            try {
              data = JSON.parse(message.data);
            } catch {
              data = message.data;
            }
            if (Check(IndexEventSchema, data)) options.onEvent(data, message.id);
            else options.onUnknown?.(message.event, data, message.id);
          }
        }
      } catch (err) {
        if (options.signal.aborted) return;
        if (silent) throw silence();
        throw new DaemonRequestError(`The event stream of ${this.baseUrl} broke off: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`, 0, 'PYREPO_CLIENT_FAILED');
      }
      if (!options.signal.aborted) throw new DaemonRequestError(`The daemon at ${this.baseUrl} closed the event stream.`, 0, 'PYREPO_CLIENT_STREAM_ENDED');
    } finally {
      clearTimeout(idle);
      options.signal.removeEventListener('abort', stop);
    }
  }

  private async call<S extends TSchema>(method: string, path: string, schema: S, body?: unknown): Promise<Static<S>> {
    const res = await this.fetch(method, path, body);
    if (!res.ok) throw await this.failure(res);
    const json: unknown = await res.json();
    if (!Check(schema, json)) {
      throw new DaemonRequestError(
        `The daemon at ${this.baseUrl} answered ${method} ${path} with an unexpected body; is it a different pyrepo version?`,
        res.status,
        'PYREPO_CLIENT_BAD_RESPONSE',
      );
    }
    return json;
  }

  private async fetch(method: string, path: string, body?: unknown, signal?: AbortSignal, timeout = true, extraHeaders: Record<string, string> = {}): Promise<HttpReply> {
    const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders };
    if (this.options.authorization) headers.authorization = this.options.authorization;
    if (this.options.instance && path === '/-/health') headers[INSTANCE_HEADER] = this.options.instance;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const signals = [signal, timeout ? AbortSignal.timeout(this.options.timeoutMs ?? 10_000) : undefined].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    if (this.options.tlsCertificate) this.pinned ??= pinnedAgent(this.options.tlsCertificate);
    try {
      return await sendRequest(this.baseUrl + path, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(signals.length > 0 ? { signal: signals.length === 1 ? signals[0] : AbortSignal.any(signals) } : {}),
        ...(this.pinned ? { agent: this.pinned } : {}),
      });
    } catch (err) {
      if (err instanceof Error && err.name === 'TimeoutError') {
        throw new DaemonRequestError(`${method} ${this.baseUrl}${path} got no answer within ${this.options.timeoutMs ?? 10_000} ms.`, 0, 'PYREPO_CLIENT_TIMEOUT');
      }
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== undefined && (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT'))) {
        throw new DaemonRequestError(`${method} ${this.baseUrl}${path}: the TLS connection failed (${code}).`, 0, 'PYREPO_CLIENT_TLS');
      }
      if (code !== undefined && CONNECT_FAILURES.has(code)) {
        throw new DaemonRequestError(`${method} ${this.baseUrl}${path} could not connect (${code}).`, 0, 'PYREPO_CLIENT_UNREACHABLE');
      }
      // Anything else is not proof that nothing listens there (callers clean up state on that proof).
      throw new DaemonRequestError(`${method} ${this.baseUrl}${path} failed: ${code ?? (err as Error).message}.`, 0, 'PYREPO_CLIENT_FAILED');
    }
  }

  private async failure(res: HttpReply): Promise<DaemonRequestError> {
    const text = await res.text().catch(() => '');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (Check(ApiErrorSchema, parsed)) return new DaemonRequestError(parsed.message, res.status, parsed.code);
    return new DaemonRequestError(text.trim() || `HTTP ${res.status} ${res.statusText}`, res.status, 'PYREPO_CLIENT_HTTP');
  }
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}
