/**
 * `GET /-/events`: Server-Sent Events of uploads, downloads (batched), deletions and yanks,
 * each with an increasing `id:`. A client that comes back with `Last-Event-ID` gets the
 * events it missed from the bus's ring, or one `resync` event (with the current position as
 * its id) when they are gone or the id is from before this daemon started.
 */
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { ControlRoutes, type IndexEvent } from '../../shared/api.js';
import type { NumberedEvent } from '../services/events.js';

/** A comment line every 15 s keeps proxies and idle timeouts from closing the stream. */
const HEARTBEAT_MS = 15_000;
/** How long a browser's EventSource waits before reconnecting (the dashboard has its own backoff). */
const RETRY_MS = 1000;

/** One SSE frame, with the JSON the bus made once for every stream. */
function frame({ id, event, json }: NumberedEvent): string {
  return `id: ${id}\nevent: ${event.type}\ndata: ${json}\n\n`;
}

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
    // What was missed and what comes next, written in the same tick: nothing falls between.
    let head = `: pyrepo events\nretry: ${RETRY_MS}\n\n`;
    const lastEventId = req.headers['last-event-id'];
    if (typeof lastEventId === 'string' && lastEventId.trim() !== '') {
      const replay = app.events.since(lastEventId.trim());
      if ('events' in replay) for (const e of replay.events) head += frame(e);
      else {
        const resync: IndexEvent = { type: 'resync', time: new Date().toISOString(), reason: replay.resync };
        head += frame({ id: app.events.lastId, event: resync, json: JSON.stringify(resync) });
      }
    }
    res.write(head);
    open.add(res);
    const unsubscribe = app.events.subscribe((_event, _id, numbered) => {
      res.write(frame(numbered));
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
