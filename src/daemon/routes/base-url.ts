/** The server's own base URL as the client reached it, for absolute links in pages. */
import type { FastifyRequest } from 'fastify';

/** A Host header worth echoing: a name or an address, and maybe a port. */
export const HOST_RE = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

/** `publicUrl` when configured, else the request's scheme and Host header (if it is a sane host). */
export function baseUrlOf(req: FastifyRequest, publicUrl?: string): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  const host = req.headers.host;
  if (host && HOST_RE.test(host)) return `${req.protocol}://${host}`;
  const address = req.socket.localAddress ?? '127.0.0.1';
  const safeHost = `${address.includes(':') ? `[${address}]` : address}:${req.socket.localPort ?? ''}`;
  return `${req.protocol}://${safeHost}`;
}
