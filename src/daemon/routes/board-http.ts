/**
 * HTTP as MicroPython's installers need it, for the upip and mip routes.
 *
 * upip and every released mip read a response's body until the connection closes and
 * parse the head by hand: the status line must carry a reason phrase (upip splits it
 * into three fields), lines must end in CRLF, and a chunked body breaks them. released
 * mip matches `Location:` by its exact case, so header names go out in their canonical
 * case. fastify lowercases every header name it is given (`reply.header`), so these
 * replies are written to Node's response directly (`reply.hijack()`), with the names as
 * written here, always a Content-Length, never a Content-Encoding, and Node's own status
 * text. Node adds `Date` and `Connection`, and closes the connection after the response
 * to an HTTP/1.0 request without keep-alive and to `Connection: close`, which is what
 * upip and mip send. HEAD gets the same head without the body (Node drops it).
 *
 * Errors raised before a handler runs (a 401 from access control, a 500) still go
 * through the root error handler: status line with reason, Content-Length, CRLF, and
 * lowercase header names, which the reference measurements show every client accepts.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HOST_RE } from './base-url.js';

export const JSON_TYPE = 'application/json';
export const TEXT_TYPE = 'text/plain; charset=utf-8';

/** Sends a complete response for a board; `headers` are extra `[name, value]` pairs in canonical case. */
export function sendToBoard(reply: FastifyReply, status: number, contentType: string, body: Buffer | string, headers: [string, string][] = []): FastifyReply {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  // Only for the access log line: a hijacked reply's own headers are never written.
  reply.header('content-type', contentType);
  reply.hijack();
  const flat: string[] = ['Content-Type', contentType, 'Content-Length', String(bytes.length)];
  for (const [name, value] of headers) flat.push(name, value);
  reply.raw.writeHead(status, STATUS_CODES[status] ?? 'Unknown', flat);
  reply.raw.end(bytes);
  return reply;
}

/** A 404 with the reason in the body, which mpremote and `upip.debug` show. */
export function notFoundForBoard(reply: FastifyReply, message: string): FastifyReply {
  return sendToBoard(reply, 404, TEXT_TYPE, `${message}\n`);
}

/**
 * The base URL a board reaches this server at, always with an explicit port: upip
 * connects to port 443 when a URL has none, even for http. The configured public URL
 * wins; else the request's Host header, which upip always sends with the port; a Host
 * without one (mip sends none) gets the port the request came in on.
 */
export function boardBaseUrl(req: FastifyRequest, publicUrl?: string): string {
  if (publicUrl) {
    const url = new URL(publicUrl);
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    return `${url.protocol}//${url.hostname}:${port}${url.pathname.replace(/\/+$/, '')}`;
  }
  const port = req.socket.localPort ?? (req.protocol === 'https' ? 443 : 80);
  const host = req.headers.host;
  if (host && HOST_RE.test(host)) return /:\d+$/.test(host) ? `${req.protocol}://${host}` : `${req.protocol}://${host}:${port}`;
  const address = req.socket.localAddress ?? '127.0.0.1';
  return `${req.protocol}://${address.includes(':') ? `[${address}]` : address}:${port}`;
}
