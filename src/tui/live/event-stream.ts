/**
 * Follows `/-/events` over HTTP: sends `Last-Event-ID` when resuming, hands each message
 * (with its id) to the caller, and gives up on a stream that stays silent past the
 * daemon's heartbeat, so that a daemon that vanished without closing the connection
 * is noticed and reconnected to.
 *
 * The shared client's `events()` neither sends `Last-Event-ID` nor passes ids on; once
 * it does, this can shrink to a call of it.
 */
import type { Agent, fetch as UndiciFetch } from 'undici';
import { ControlRoutes } from '../../shared/api.js';
import { SseParser, type SseMessage } from './sse.js';

/** Where the stream is and how to authenticate. */
export interface StreamTarget {
  baseUrl: string;
  authorization?: string;
  /** PEM of the certificate an HTTPS daemon serves, trusted as its only authority. */
  tlsCertificate?: string;
}

export interface FollowOptions {
  /** Sent as `Last-Event-ID`, so a daemon that keeps its events can replay what was missed. */
  lastEventId?: string;
  signal: AbortSignal;
  /** Called once the daemon accepted the stream. */
  onOpen?: () => void;
  onMessage: (message: SseMessage) => void;
  /** How long a silent stream is trusted; the daemon sends a heartbeat every 15 s. Default: 40,000. */
  idleMs?: number;
}

/** The stream could not be opened or broke off; the message says why, for the header. */
export class StreamError extends Error {
  override readonly name = 'StreamError';
  constructor(
    message: string,
    /** The HTTP status, when the daemon answered with one. */
    readonly status?: number,
  ) {
    super(message);
  }
}

let undici: Promise<{ fetch: typeof UndiciFetch; Agent: typeof Agent }> | undefined;
/** One agent per certificate, reused by every reconnection. */
const agents = new Map<string, Agent>();

/** undici, loaded only for an HTTPS daemon (the global fetch cannot be given a certificate). */
function loadUndici() {
  undici ??= import('undici').then((m) => {
    const u = ('default' in m ? m.default : m) as typeof m;
    return { fetch: u.fetch, Agent: u.Agent };
  });
  return undici;
}

async function open(target: StreamTarget, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
  const url = target.baseUrl.replace(/\/+$/, '') + ControlRoutes.events;
  const ca = target.tlsCertificate;
  if (!ca) return fetch(url, { headers, signal });
  const u = await loadUndici();
  // Trusted as the only authority for this daemon, whatever name it was made for (as the shared client does).
  let dispatcher = agents.get(ca);
  if (!dispatcher) {
    dispatcher = new u.Agent({ connect: { ca, checkServerIdentity: () => undefined } });
    agents.set(ca, dispatcher);
  }
  return (await u.fetch(url, { headers, signal, dispatcher })) as unknown as Response;
}

/** Follows the stream until it ends (resolves) or fails (rejects with a StreamError); aborting `signal` resolves. */
export async function followEvents(target: StreamTarget, options: FollowOptions): Promise<void> {
  const idleMs = options.idleMs ?? 40_000;
  const local = new AbortController();
  const stop = () => local.abort();
  options.signal.addEventListener('abort', stop, { once: true });
  let idle: NodeJS.Timeout | undefined;
  let silent = false;
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      silent = true;
      local.abort();
    }, idleMs);
  };
  const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache' };
  if (target.authorization) headers.authorization = target.authorization;
  if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
  try {
    arm();
    let res: Response;
    try {
      res = await open(target, headers, local.signal);
    } catch (err) {
      if (options.signal.aborted) return;
      throw new StreamError(silent ? `${target.baseUrl} accepted the connection but did not answer.` : `Cannot reach ${target.baseUrl}: ${reason(err)}.`);
    }
    if (!res.ok || !res.body) {
      const text = await res.text().catch(() => '');
      let message = text.trim() || `HTTP ${res.status}`;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not JSON: the text is the message
      }
      throw new StreamError(`The daemon refused the event stream (${res.status}): ${message}`, res.status);
    }
    options.onOpen?.();
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        arm();
        for (const message of parser.push(decoder.decode(chunk, { stream: true }))) options.onMessage(message);
      }
    } catch (err) {
      if (options.signal.aborted) return;
      throw new StreamError(silent ? `The event stream went silent for ${Math.round(idleMs / 1000)} s.` : `The event stream broke off: ${reason(err)}.`);
    }
    if (!options.signal.aborted) throw new StreamError('The daemon closed the event stream.');
  } finally {
    clearTimeout(idle);
    options.signal.removeEventListener('abort', stop);
  }
}

function reason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
