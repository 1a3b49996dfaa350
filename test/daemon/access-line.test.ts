/**
 * The hot paths' access line (access-line.ts) is built without pino's general case: its
 * bytes must be the ones `logger.info(fields, 'request')` writes, for every URL a request
 * can carry, and it must follow the logger's level.
 */
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import pino, { type Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { accessLineWriter, type AccessFields } from '../../src/daemon/services/access-line.js';
import { LineBatcher } from '../../src/daemon/services/log-lines.js';

/** A logger as the daemon makes it (fastify's, on a stream), and the lines written to it. */
function fastifyLogger(level = 'info'): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  // pino writes a line synchronously to a stream's write(); the Writable's callback is not waited for.
  const app = Fastify({ logger: { level, stream: { write: (line: string) => stream.write(line) } } });
  return { log: app.log as unknown as Logger, lines };
}

const withoutTime = (line: string) => line.replace(/"time":\d+/, '"time":0');

const cases: AccessFields[] = [
  { reqId: 'req-1', method: 'GET', url: '/simple/alpha/', status: 200, type: 'application/vnd.pypi.simple.v1+json', ms: 0 },
  { reqId: 'req-zz', method: 'GET', url: '/simple/', status: 304, type: undefined, ms: 12 },
  { reqId: 'req-3', method: 'GET', url: '/packages/a"b\\c.whl', status: 200, type: 'application/octet-stream', ms: 1 },
  { reqId: 'req-4', method: 'GET', url: '/packages/\u00e9t\u00e9-1.0.tar.gz', status: 200, type: 'application/x-tar', ms: 3 },
  { reqId: 'req-5', method: 'GET', url: '/packages/\u0001\u001f\u007f', status: 200, type: 'text/html', ms: 2 },
  { reqId: 'req-6', method: 'GET', url: `/simple/${'x'.repeat(300)}/`, status: 200, type: 'text/html', ms: 2 },
];

describe('access line', () => {
  it.each(cases)('writes what logger.info writes for $url', (fields) => {
    const fast = fastifyLogger();
    accessLineWriter(fast.log)(fields);
    const slow = fastifyLogger();
    const { reqId, method, url, status, type, ms } = fields;
    slow.log.info({ reqId, method, url, status, type, ms }, 'request');
    expect(fast.lines).toHaveLength(1);
    expect(withoutTime(fast.lines[0] as string)).toBe(withoutTime(slow.lines[0] as string));
    expect(JSON.parse(fast.lines[0] as string)).toMatchObject({ level: 30, msg: 'request', url });
  });

  it('follows the logger level, also when it changes after the writer is made', () => {
    const { log, lines } = fastifyLogger('warn');
    const write = accessLineWriter(log);
    write(cases[0] as AccessFields);
    expect(lines).toHaveLength(0);
    log.level = 'info';
    write(cases[0] as AccessFields);
    expect(lines).toHaveLength(1);
  });

  it('leaves a logger whose lines pino changes (a mixin) to logger.info', () => {
    const lines: string[] = [];
    const log = pino({ mixin: () => ({ extra: 1 }) }, { write: (line: string) => lines.push(line) });
    accessLineWriter(log)(cases[0] as AccessFields);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ extra: 1, url: '/simple/alpha/' });
  });

  it('writes each line as logger.info does when one writer writes them all, methods and types changing between lines', () => {
    const fast = fastifyLogger();
    const slow = fastifyLogger();
    const write = accessLineWriter(fast.log);
    const all = [...cases, { ...(cases[0] as AccessFields), method: 'HEAD' }, ...cases.slice().reverse(), ...cases];
    for (const fields of all) {
      write(fields);
      const { reqId, method, url, status, type, ms } = fields;
      slow.log.info({ reqId, method, url, status, type, ms }, 'request');
    }
    expect(fast.lines.map(withoutTime)).toEqual(slow.lines.map(withoutTime));
  });

  it('writes through a batcher of lines, as the daemon does: the same bytes, in order with the lines logged between them', async () => {
    const written: string[] = [];
    const batcher = new LineBatcher({ write: (text: string) => written.push(text) });
    const app = Fastify({ logger: { level: 'info', stream: batcher } });
    const log = app.log as unknown as Logger;
    const write = accessLineWriter(log);
    const slow = fastifyLogger();
    for (const fields of cases) {
      write(fields);
      log.info({ between: fields.reqId }, 'between');
      const { reqId, method, url, status, type, ms } = fields;
      slow.log.info({ reqId, method, url, status, type, ms }, 'request');
      slow.log.info({ between: fields.reqId }, 'between');
    }
    expect(written).toEqual([]);
    await nextTurn();
    expect(written).toHaveLength(1);
    expect((written[0] as string).split(/(?<=\n)/).map(withoutTime)).toEqual(slow.lines.map(withoutTime));
  });

  it("writes the time of the line's own millisecond, and a logger's own time function when it has one", async () => {
    const { log, lines } = fastifyLogger();
    const write = accessLineWriter(log);
    for (let i = 0; i < 3; i++) {
      const before = Date.now();
      write(cases[0] as AccessFields);
      const after = Date.now();
      const time = (JSON.parse(lines[i] as string) as { time: number }).time;
      expect(time).toBeGreaterThanOrEqual(before);
      expect(time).toBeLessThanOrEqual(after);
      await new Promise((r) => setTimeout(r, 3));
    }
    const iso: string[] = [];
    const isoLog = pino({ timestamp: pino.stdTimeFunctions.isoTime }, { write: (line: string) => iso.push(line) });
    accessLineWriter(isoLog)(cases[0] as AccessFields);
    expect(iso[0]).toMatch(/^\{"level":30,"time":"\d{4}-\d\d-\d\dT[\d:.]+Z",/);
  });
});
