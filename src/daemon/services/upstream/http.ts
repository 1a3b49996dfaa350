/**
 * The daemon's only way out to the network: GET requests to the upstream's own hosts.
 *
 * undici rather than node:http (shared/http-request.ts): its dispatcher gives connect, header
 * and body timeouts and keep-alive pooling per host in one place, where node:http needs each
 * hand-wired; the CLI avoids undici for start-up time, which does not matter in the daemon.
 *
 * Every URL, a redirect's included, must be http(s) on a host of the settings' list, so that
 * a page (or a redirect) can never send pyrepo anywhere else, and no private name can leak
 * through one. Nothing of the client's request is passed on: no credentials, no cookies.
 */
import type { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { PYREPO_VERSION } from '../../../shared/version.js';

/** An upstream that cannot be used for this request: unreachable, too slow, refused, or its answer unusable. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
}

/** An answer whose body is still to be read. */
export interface UpstreamResponse {
  status: number;
  /** The URL that answered (after redirects). */
  url: string;
  header(name: string): string | undefined;
  body: Readable;
  /** Drops the body unread (and the connection with it). */
  discard(): void;
}

/** Destroys a body without the error undici then emits ('Request aborted') reaching anyone. */
function destroyQuietly(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

/** How long a connection, the headers, or a pause in the body may take: a slow upstream never holds a request longer. */
export const UPSTREAM_TIMEOUT_MS = 5000;
const MAX_REDIRECTS = 3;

export class UpstreamHttp {
  private readonly hosts: ReadonlySet<string>;
  private readonly agent: Agent;

  constructor(hosts: readonly string[], timeoutMs = UPSTREAM_TIMEOUT_MS) {
    this.hosts = new Set(hosts.map((h) => h.toLowerCase()));
    this.agent = new Agent({ connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connections: 8 });
  }

  /** Whether `url` may be fetched: http(s), on one of the upstream's hosts. */
  allows(url: string): boolean {
    try {
      const u = new URL(url);
      return (u.protocol === 'http:' || u.protocol === 'https:') && this.hosts.has(u.host.toLowerCase());
    } catch {
      return false;
    }
  }

  /** GETs `url`, following redirects only to allowed hosts; rejects with an UpstreamError. */
  async get(url: string, headers: Record<string, string> = {}): Promise<UpstreamResponse> {
    let current = url;
    for (let hop = 0; ; hop++) {
      if (!this.allows(current)) throw new UpstreamError(`${describeHost(current)} is not one of the upstream's hosts (the upstream-file-hosts setting lists the others it may use)`);
      let res;
      try {
        res = await request(current, { method: 'GET', dispatcher: this.agent, headers: { 'user-agent': `pyrepo/${PYREPO_VERSION}`, ...headers } });
      } catch (err) {
        throw new UpstreamError(`${describeHost(current)} did not answer: ${reasonOf(err)}`);
      }
      const location = res.headers.location;
      if (res.statusCode >= 300 && res.statusCode < 400 && res.statusCode !== 304 && typeof location === 'string') {
        await res.body.dump().catch(() => undefined);
        if (hop >= MAX_REDIRECTS) throw new UpstreamError(`${describeHost(url)} redirected more than ${MAX_REDIRECTS} times`);
        current = new URL(location, current).toString();
        continue;
      }
      const answered = current;
      return {
        status: res.statusCode,
        url: answered,
        header: (name) => {
          const v = res.headers[name.toLowerCase()];
          return Array.isArray(v) ? v[0] : v;
        },
        body: res.body,
        discard: () => destroyQuietly(res.body),
      };
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** The whole body, refused past `maxBytes` (the connection is dropped then). */
export async function readLimited(body: Readable, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) {
        destroyQuietly(body);
        throw new UpstreamError(`${what} is larger than ${maxBytes} bytes, more than pyrepo takes from upstream`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof UpstreamError) throw err;
    throw new UpstreamError(`${what} stopped arriving: ${reasonOf(err)}`);
  }
  return Buffer.concat(chunks);
}

/** `host:port` of a URL, for messages. */
export function describeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'an invalid URL';
  }
}

/** A network error in words (undici's codes and messages). */
export function reasonOf(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'no connection within the timeout';
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'no answer within the timeout';
    case 'UND_ERR_BODY_TIMEOUT':
      return 'the answer stalled';
    case 'ENOTFOUND':
      return 'unknown host';
    default:
      return e.message ?? String(err);
  }
}
