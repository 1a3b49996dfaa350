/**
 * One HTTP(S) request over `node:http`, for the daemon's own client.
 *
 * Not the global fetch: its first use loads undici and compiles its WebAssembly HTTP
 * parser, which costs more than the rest of a `pyrepo status` together; and it cannot be
 * told which certificate to trust without importing undici itself. `node:https` takes
 * the daemon's certificate as `ca` directly.
 */
import { request as httpRequest, type Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';

/** What {@link sendRequest} sends. */
export interface HttpRequestInit {
  method: string;
  headers: Record<string, string>;
  /** A stream is sent as it is read; its content-length, if any, is the caller's to set. */
  body?: string | Buffer | Readable;
  /** Aborting destroys the request and its answer with the signal's reason. */
  signal?: AbortSignal;
  /** The connections to use: e.g. keep-alive ones, or for https one that trusts a certificate (pinnedAgent). */
  agent?: HttpsAgent | HttpAgent;
}

/** An answer: status and headers at once, the body to be read once. */
export interface HttpReply {
  readonly status: number;
  readonly statusText: string;
  /** 2xx. */
  readonly ok: boolean;
  /** A header's value (the first one when repeated). */
  header(name: string): string | undefined;
  /** The body as it arrives. */
  readonly body: IncomingMessage;
  /** The whole body as bytes. */
  bytes(): Promise<Buffer>;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/** An https agent that trusts exactly `ca` (the daemon's own certificate, for any host name it is reached by). */
export function pinnedAgent(ca: string): HttpsAgent {
  return new HttpsAgent({ ca, keepAlive: true, checkServerIdentity: () => undefined });
}

/**
 * Sends one request; resolves once the status and headers arrived. Rejects with the
 * signal's reason when it aborts (a TimeoutError for `AbortSignal.timeout`), else with
 * node's own error (its `code`: ECONNREFUSED, a certificate problem, …).
 */
export function sendRequest(url: string, init: HttpRequestInit): Promise<HttpReply> {
  const { signal } = init;
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const { body } = init;
  const headers = body !== undefined && !(body instanceof Readable) ? { ...init.headers, 'content-length': String(Buffer.byteLength(body)) } : init.headers;
  return new Promise<HttpReply>((resolve, reject) => {
    const req = send(target, { method: init.method, headers, ...(init.agent ? { agent: init.agent } : {}) });
    const abort = () => req.destroy(signal?.reason as Error);
    signal?.addEventListener('abort', abort, { once: true });
    const done = () => signal?.removeEventListener('abort', abort);
    req.once('error', (err) => {
      done();
      reject(err);
    });
    req.once('response', (res) => {
      res.once('close', done);
      // An abort after the headers ends the body with the same reason.
      res.once('error', () => undefined);
      resolve(replyOf(res));
    });
    if (body instanceof Readable) {
      body.once('error', (err) => req.destroy(err));
      body.pipe(req);
    } else req.end(body);
  });
}

function replyOf(res: IncomingMessage): HttpReply {
  const status = res.statusCode ?? 0;
  const bytes = async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  return {
    status,
    statusText: res.statusMessage ?? '',
    ok: status >= 200 && status < 300,
    header: (name) => {
      const value = res.headers[name.toLowerCase()];
      return Array.isArray(value) ? value[0] : value;
    },
    body: res,
    bytes,
    text: async () => (await bytes()).toString('utf8'),
    json: async () => JSON.parse((await bytes()).toString('utf8')) as unknown,
  };
}
