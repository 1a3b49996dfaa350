/**
 * The hot paths' access line, written as pino writes it but without pino's general case.
 *
 * Profiled under a load of project pages, `logger.info(fields, 'request')` was 16% of the
 * daemon's CPU: pino walks the object, asks for a serializer and a stringifier per key and
 * escapes each string, for a line whose shape never changes. Here the line is put together
 * from the logger's own parts (its level, its time function, its bindings, its line end) and
 * the fields in a fixed order, and written to the logger's stream: the bytes are the ones
 * `logger.info` writes (test/daemon/access-line.test.ts compares them). A logger with a
 * mixin, a log formatter, a logMethod hook or a message prefix would change the line: such
 * a logger gets `logger.info` itself.
 */
import pino, { type Logger } from 'pino';

const INFO = 30;
const { lsCacheSym, timeSym, chindingsSym, endSym, streamSym, mixinSym, formattersSym, hooksSym, messageKeySym } = pino.symbols;
// Exported by pino at run time, missing from its types.
const msgPrefixSym = (pino.symbols as unknown as Record<string, symbol>).msgPrefixSym as symbol;

/** What one access line says about a request the hot paths answered. */
export interface AccessFields {
  reqId: string;
  method: string;
  url: string;
  status: number;
  /** The content type, absent for a 304. */
  type: string | undefined;
  ms: number;
}

/** Writes one access line at level info, when the logger's level lets it through. */
export type AccessLineWriter = (fields: AccessFields) => void;

/** Pino's own parts, read by the symbols pino exports for that (`pino.symbols`). */
interface PinoParts {
  levelLines: Record<number, string>;
  /** The logger's time function (pino's epochTime unless it was given another). */
  time: () => () => string;
  bindings: () => string;
  end: string;
  stream: () => { write(line: string): unknown } | undefined;
  changesLines: boolean;
}

function partsOf(logger: Logger): PinoParts {
  const of = logger as unknown as Record<symbol, unknown>;
  const formatters = of[formattersSym] as { log?: unknown };
  const hooks = of[hooksSym] as { logMethod?: unknown } | undefined;
  return {
    levelLines: of[lsCacheSym] as Record<number, string>,
    time: () => of[timeSym] as () => string,
    bindings: () => of[chindingsSym] as string,
    end: of[endSym] as string,
    stream: () => of[streamSym] as { write(line: string): unknown } | undefined,
    changesLines: of[mixinSym] !== undefined || formatters.log !== undefined || hooks?.logMethod !== undefined || Boolean(of[msgPrefixSym]) || of[messageKeySym] !== 'msg',
  };
}

// eslint-disable-next-line no-control-regex -- control characters are what needs escaping
const NEEDS_ESCAPING = /["\\\u0000-\u001f\u007f-\uffff]/;

/** A JSON string for `text`: most URLs need no escaping, and are checked for it faster than JSON.stringify escapes. */
function jsonString(text: string): string {
  return NEEDS_ESCAPING.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/**
 * `jsonString` of the value asked for last, kept: a line's method and content type are nearly
 * always the ones of the line before. Under a load of project pages, checking each line's
 * strings for characters to escape was 3% of the pages answered a second.
 */
function lastJsonString(): (text: string) => string {
  let last: string | undefined;
  let json = '';
  return (text) => {
    if (text !== last) {
      last = text;
      json = jsonString(text);
    }
    return json;
  };
}

/** The access-line writer for `logger` (fastify's pino logger). */
export function accessLineWriter(logger: Logger): AccessLineWriter {
  const parts = partsOf(logger);
  if (parts.changesLines || typeof parts.stream()?.write !== 'function') {
    return (f) => logger.info({ reqId: f.reqId, method: f.method, url: f.url, status: f.status, type: f.type, ms: f.ms }, 'request');
  }
  const infoLine = parts.levelLines[INFO] as string;
  const methodJson = lastJsonString();
  const typeJson = lastJsonString();
  // pino's default time, `,"time":<Date.now()>`: the same text for every line of a millisecond
  // (made for each line, it was 2% of the pages answered a second).
  let timeAt = -1;
  let timeText = '';
  const epochTime = () => {
    const now = Date.now();
    if (now !== timeAt) {
      timeAt = now;
      timeText = `,"time":${now}`;
    }
    return timeText;
  };
  return (f) => {
    if (!logger.isLevelEnabled('info')) return;
    // Bindings, stream and time function are read at each line, as pino reads them.
    const time = parts.time();
    let line = infoLine + (time === pino.stdTimeFunctions.epochTime ? epochTime() : time()) + parts.bindings();
    line += `,"reqId":${jsonString(f.reqId)},"method":${methodJson(f.method)},"url":${jsonString(f.url)},"status":${f.status}`;
    if (f.type !== undefined) line += `,"type":${typeJson(f.type)}`;
    line += `,"ms":${f.ms},"msg":"request"${parts.end}`;
    parts.stream()?.write(line);
  };
}
