/**
 * Requests that Node's HTTP parser refuses before fastify routes them: a body cut short
 * because the client closed its side, a malformed request line, oversized headers. They
 * are answered in plain text like every other error (fastify's default is a JSON
 * "Client Error"), with the reason phrase saying the same, then the connection closes.
 */
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

function answerOf(err: Error & { code?: string }): { status: number; message: string } {
  switch (err.code) {
    case 'HPE_INVALID_EOF_STATE':
      return {
        status: 400,
        message: 'The connection was closed before the request body was complete (fewer bytes arrived than its Content-Length says); nothing was stored.',
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, message: 'The request took too long to arrive; nothing was stored.' };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: 'The request headers are too large.' };
    default:
      return { status: 400, message: `The request is not valid HTTP/1.1 (${err.code ?? err.message}).` };
  }
}

/** fastify's `clientErrorHandler`: answers on the raw socket when nothing was sent on it yet. */
export function clientErrorHandler(this: FastifyInstance, err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, message } = answerOf(err);
  this.log.debug({ err }, `Client error: ${message}`);
  // A response already under way (its headers sent) cannot be followed by another; Node's
  // own handler looks at the socket's current response the same way.
  const current = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !current?.headersSent) {
    const body = `${message}\n`;
    socket.write(
      `HTTP/1.1 ${status} ${message.replace(/[^\x20-\x7e]/g, '?')}\r\n` +
        `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
