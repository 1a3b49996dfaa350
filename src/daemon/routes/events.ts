/** `GET /-/events`: Server-Sent Events of uploads, downloads, deletions and yanks. */
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { ControlRoutes } from '../../shared/api.js';

/** A comment line every 15 s keeps proxies and idle timeouts from closing the stream. */
const HEARTBEAT_MS = 15_000;

export default async function eventRoutes(app: FastifyInstance): Promise<void> {
  const open = new Set<ServerResponse>();

  app.get(ControlRoutes.events, (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': pyrepo events\n\n');
    open.add(res);
    const unsubscribe = app.events.subscribe((event) => {
      res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    });
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    req.raw.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      open.delete(res);
    });
  });

  // Streams never end on their own; end them so that close() does not wait for clients.
  app.addHook('preClose', async () => {
    for (const res of open) res.end();
    open.clear();
  });
}
