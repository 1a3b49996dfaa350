/**
 * The front door: plain GETs on kept-alive connections read and answered without node:http.
 *
 * Profiled under load, with the hot paths (hot-paths.ts) answering, node:http itself was
 * the larger part of what was left: its parser's callbacks, an IncomingMessage and a
 * ServerResponse per request, header validation and a writev through the stream machinery.
 * On this kind of machine node:http answering a fixed 2 KiB body reached 59% of nginx, a
 * socket answering the same bytes 99%. So a connection starts here: each request head is
 * read from the socket, and the plain case of a GET the hot paths answer is answered with
 * one write, small ones in a batch with the other connections' answers of the same turn of
 * the event loop (answer-batch.ts). A page not rendered yet is rendered first, the requests
 * behind it waiting: handing the connection over for it would send every later request on
 * it, a pip session's downloads, through node:http. Anything else — another method, a body,
 * `Connection: close`, HTTP/1.0, a header this reader does not take as plain (repeated,
 * unusual characters, a bare LF), a head over 16 KiB, or a request the hot paths leave to
 * the routes — and the connection is handed to node:http from that request on, with the
 * bytes read so far put back in front of the rest: node:http and fastify then answer it,
 * and every later request on it, as they always did.
 *
 * What it writes is what node:http writes for the same answer: the hot path's headers in
 * their order, then Date, Connection and Keep-Alive (test/daemon/front-door.test.ts compares
 * the raw bytes). Idle connections close after the server's keepAliveTimeout (up to a second
 * later: IDLE_CHECK_MS), a head that takes longer than its headersTimeout closes the
 * connection, and closing the server closes the idle connections held here too. Not used with TLS (node:https reads those sockets).
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { Memo } from '../shared/memo.js';
import { AnswerBatch, BATCHED_ANSWER_MAX_BYTES } from './answer-batch.js';
import type { HotAnswer, HotPaths, HotRequest } from './hot-paths.js';

/** Heads up to this size are read here; a larger one is node:http's to refuse (its limit is 16 KiB). */
const MAX_HEAD_BYTES = 16 * 1024;
const END_OF_HEAD = Buffer.from('\r\n\r\n', 'latin1');
const LF = 10;
const CR = 13;
/**
 * A plain request line: a GET of a path, HTTP/1.1. With {@link PLAIN_FIELDS} it checks every
 * byte of a head, one match each; the lines are then cut at their known separators. (Split
 * into lines with a test per name and value it took twice as long, a microsecond of every
 * request.)
 */
const PLAIN_REQUEST_LINE = /^GET (\/[\x21-\x7e]*) HTTP\/1\.1$/;
/** The header lines after a request line: each a name (an RFC 9110 token), a colon and a value of visible ASCII, spaces and tabs. */
const PLAIN_FIELDS = /^(?:\r\n[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e]*)*$/;
/** Headers that make a request more than a bodiless GET on a kept-alive connection. */
const NOT_PLAIN = new Set(['content-length', 'transfer-encoding', 'upgrade', 'expect', 'http2-settings']);
const STATUS_LINES: Record<HotAnswer['status'], string> = { 200: 'HTTP/1.1 200 OK\r\n', 304: 'HTTP/1.1 304 Not Modified\r\n' };
/** Past this much unsent, a connection's next requests wait until its client has read (answers are at most 256 KiB). */
const UNSENT_LIMIT_BYTES = 64 * 1024;
/**
 * An answer up to this size goes out as one buffer (head and body copied together), taken
 * from Node's pool; a larger one as two, in one writev. Copying a 64 KiB page into a buffer of
 * its own cost more than the write itself (fresh memory from malloc, page faults): 36% of
 * the CPU at 25,000 answers a second, against 44,000 a second for node:http's writev.
 */
const ONE_BUFFER_BYTES = 4 * 1024 - 1;
/**
 * Held connections are looked over for idleness this often (or four times per keepAliveTimeout,
 * when that is shorter): one idle closes between keepAliveTimeout and that much later. Each
 * read and write of a socket with a timeout of its own (`socket.setTimeout`) moves its timer
 * in Node's timer lists, twice a request: 1.7% of the daemon's samples under a load of pages.
 * Without them (alternated runs), pages were 1-3% faster and downloads 1-8%.
 */
const IDLE_CHECK_MS = 1000;

type ConnectionListener = (this: Server, socket: Socket) => void;

/** Whether `buf` (up to `end`) has a line feed without a carriage return before it. */
function hasBareLf(buf: Buffer, end: number): boolean {
  for (let at = buf.indexOf(LF); at !== -1 && at < end; at = buf.indexOf(LF, at + 1)) {
    if (at === 0 || buf[at - 1] !== CR) return true;
  }
  return false;
}

/** The headers `fields` (the head after its request line) state, when they are plain; undefined for anything node:http should read. */
function plainHeaders(fields: string): Record<string, string> | undefined {
  if (!PLAIN_FIELDS.test(fields)) return undefined;
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  // Each line starts after a CRLF and ends at the next (or the end); names have no colon.
  for (let at = 0; at !== -1; ) {
    const next = fields.indexOf('\r\n', at + 2);
    const end = next === -1 ? fields.length : next;
    const colon = fields.indexOf(':', at + 2);
    const key = fields.slice(at + 2, colon).toLowerCase();
    if (NOT_PLAIN.has(key) || headers[key] !== undefined) return undefined;
    // Only spaces and tabs are left to trim (PLAIN_FIELDS).
    const value = fields.slice(colon + 1, end).trim();
    if (key === 'connection' && value.toLowerCase() !== 'keep-alive') return undefined;
    headers[key] = value;
    at = next;
  }
  return headers.host === undefined ? undefined : headers;
}

/**
 * Header lines read lately, and what they state. A client sends the same lines with each of
 * its requests (only the request line changes from one page or file to the next), so they are
 * read once: under a load of project pages, reading every head took 1.5 µs of each request's
 * 19. The headers a request is given are the ones kept here, which nothing changes.
 */
const readFields = new Memo(plainHeaders);

/** The request a head states, when it is a plain GET; undefined for anything node:http should read. */
export function plainRequest(head: string): HotRequest | undefined {
  const lineEnd = head.indexOf('\r\n');
  // A head without header lines has no Host.
  if (lineEnd === -1) return undefined;
  const target = PLAIN_REQUEST_LINE.exec(head.slice(0, lineEnd))?.[1];
  if (target === undefined) return undefined;
  const headers = readFields.get(head.slice(lineEnd));
  return headers && { method: 'GET', url: target, headers };
}

/** The Date header as node:http writes it, made once a second. */
let dateSecond = -1;
let dateLine = '';
function dateHeader(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateLine = `Date: ${new Date(second * 1000).toUTCString()}\r\n`;
  }
  return dateLine;
}

/** The response's bytes: status line, the answer's headers, the connection's, then the body. */
function responseBytes(answer: HotAnswer, connectionHeaders: string): Buffer[] {
  let head = STATUS_LINES[answer.status];
  for (const name in answer.headers) head += `${name}: ${answer.headers[name] as string}\r\n`;
  head += dateHeader() + connectionHeaders;
  const body = answer.body;
  if (!body || body.length === 0) return [Buffer.from(head, 'latin1')];
  if (head.length + body.length > ONE_BUFFER_BYTES) return [Buffer.from(head, 'latin1'), body];
  const out = Buffer.allocUnsafe(head.length + body.length);
  out.write(head, 0, 'latin1');
  body.copy(out, head.length);
  return [out];
}

export interface FrontDoor {
  /** Connections held here now (not yet handed to node:http). */
  readonly connections: number;
  /** Requests answered here. */
  readonly answered: number;
  /** Connections handed to node:http. */
  readonly handedOver: number;
}

/**
 * Takes over `server`'s new connections (a plain-HTTP node:http server) and answers their plain
 * GETs with `hot()`'s hot paths (read at each request: they exist once the routes do).
 */
export function openFrontDoor(server: Server, hot: () => HotPaths): FrontDoor {
  const httpListeners = server.listeners('connection') as ConnectionListener[];
  // node:http registers exactly one: its own connection listener, which this one hands over to.
  if (httpListeners.length !== 1) throw new Error(`The front door expects one connection listener on the server, found ${httpListeners.length}.`);
  const toHttp = httpListeners[0] as ConnectionListener;
  server.removeListener('connection', toHttp);

  /** Each held connection, and the idle check during which it was last active. */
  const held = new Map<Socket, { active: number }>();
  /** How many idle checks have run: the clock connections' activity is told by. */
  let checks = 0;
  let checking: NodeJS.Timeout | undefined;
  let checkEveryMs = IDLE_CHECK_MS;
  const checkIdle = () => {
    checks++;
    const timeout = server.keepAliveTimeout;
    // Active during check `active` (anywhere in it): idle for at least the checks after it.
    if (timeout > 0) for (const [socket, conn] of held) if ((checks - conn.active - 1) * checkEveryMs >= timeout) socket.destroy();
    if (held.size === 0) {
      clearInterval(checking);
      checking = undefined;
    }
  };
  const startChecking = () => {
    const timeout = server.keepAliveTimeout;
    checkEveryMs = timeout > 0 ? Math.max(10, Math.min(IDLE_CHECK_MS, Math.floor(timeout / 4))) : IDLE_CHECK_MS;
    checking = setInterval(checkIdle, checkEveryMs).unref();
  };
  /** Small answers go out together, once per turn of the event loop (answer-batch.ts). */
  const batch = new AnswerBatch();
  /** Connections with part of a head read (not idle: closing the server lets them finish it). */
  const reading = new Set<Socket>();
  let answered = 0;
  let handedOver = 0;

  const adopt = (socket: Socket) => {
    let buffered: Buffer | undefined;
    let headSince = 0;
    /** Whether a page is being rendered for the first request buffered. */
    let rendering = false;
    /** Whether the client ended its side while a page was rendered. */
    let clientEnded = false;
    const connectionHeaders = `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(server.keepAliveTimeout / 1000)}\r\n\r\n`;
    /** When the connection was last active: a read, an answer written, or the client reading one. */
    const conn = { active: checks };

    const release = () => {
      for (const [event, listener] of listeners) socket.removeListener(event, listener);
      held.delete(socket);
      reading.delete(socket);
    };
    const handOver = () => {
      release();
      const rest = buffered;
      buffered = undefined;
      handedOver++;
      // With no 'data' listener left the bytes wait in the socket's buffer, in front of
      // anything read later, for node:http's parser (it starts reading on the next tick).
      if (rest) socket.unshift(rest);
      toHttp.call(server, socket);
    };
    /** Writes the answer to the request whose head ends at `end`; false when the client must read first. */
    const send = (answer: HotAnswer, end: number): boolean => {
      buffered = buffered && end + 4 < buffered.length ? buffered.subarray(end + 4) : undefined;
      headSince = 0;
      reading.delete(socket);
      conn.active = checks;
      answered++;
      const parts = responseBytes(answer, connectionHeaders);
      let bytes = 0;
      for (const part of parts) bytes += part.length;
      if (bytes <= BATCHED_ANSWER_MAX_BYTES) batch.join(socket);
      if (parts.length === 1) socket.write(parts[0] as Buffer);
      else {
        // One writev for the head and the body.
        socket.cork();
        for (const part of parts) socket.write(part);
        socket.uncork();
      }
      answer.sent();
      // write() says false for any answer over 16 KiB, even one the kernel took at once;
      // what is still waiting to be sent (or in the batch) tells whether the client is not
      // reading: then no more of its requests are read until it has.
      if (socket.writableLength > UNSENT_LIMIT_BYTES) {
        socket.pause();
        return false;
      }
      return true;
    };
    const answerBuffered = () => {
      while (buffered && !rendering) {
        const end = buffered.indexOf(END_OF_HEAD);
        if (end === -1) {
          if (buffered.length > MAX_HEAD_BYTES || hasBareLf(buffered, buffered.length)) return handOver();
          if (headSince === 0) headSince = Date.now();
          else if (server.headersTimeout > 0 && Date.now() - headSince > server.headersTimeout) return void socket.destroy();
          reading.add(socket);
          return;
        }
        // A bare LF in a whole head fails PLAIN_REQUEST_LINE or PLAIN_FIELDS (handed over
        // below); one in a part of a head is looked for above, as that head may never end
        // with CRLF CRLF.
        if (end > MAX_HEAD_BYTES) return handOver();
        const request = plainRequest(buffered.toString('latin1', 0, end));
        const answer = request && hot().answer(request, true);
        if (!answer) return handOver();
        if (answer instanceof Promise) {
          // A page rendered first: later requests wait (answers go out in order), and the
          // connection is not idle meanwhile (closing the server lets it finish).
          rendering = true;
          reading.add(socket);
          answer.then(
            (rendered) => {
              rendering = false;
              if (socket.destroyed) return;
              if (!rendered) return handOver();
              if (send(rendered, end)) answerBuffered();
              if (clientEnded && !rendering) finish();
            },
            () => {
              // The routes render it again, and answer the failure as they answer any.
              rendering = false;
              if (!socket.destroyed) handOver();
            },
          );
          return;
        }
        if (!send(answer, end)) return;
      }
    };
    function onData(chunk: Buffer) {
      conn.active = checks;
      buffered = buffered ? Buffer.concat([buffered, chunk]) : chunk;
      answerBuffered();
    }
    function onDrain() {
      conn.active = checks;
      if (!socket.isPaused() || socket.writableLength > UNSENT_LIMIT_BYTES) return;
      socket.resume();
      answerBuffered();
    }
    /** The client will send nothing more: answered all it asked, the connection ends. */
    function finish() {
      release();
      socket.end();
    }
    function onEnd() {
      // A page being rendered is answered first, and what was asked after it.
      if (rendering) clientEnded = true;
      else finish();
    }
    const destroy = () => socket.destroy();
    /** What the front door listens to while it holds the connection; all removed when it lets go. */
    const listeners: [string, (chunk: Buffer) => void][] = [
      ['data', onData],
      ['drain', onDrain],
      ['end', onEnd],
      ['error', destroy],
      ['close', release],
    ];

    held.set(socket, conn);
    if (checking === undefined) startChecking();
    socket.setNoDelay(true);
    for (const [event, listener] of listeners) socket.on(event, listener);
  };

  server.on('connection', (socket: Socket) => {
    // A per-connection request limit is node:http's to count.
    if (server.maxRequestsPerSocket) return toHttp.call(server, socket);
    adopt(socket);
  });

  // Closing the server closes idle connections (node:http's closeIdleConnections, which
  // fastify calls on close): those held here too, or close() would wait for their timeout.
  const closeIdle = server.closeIdleConnections.bind(server);
  server.closeIdleConnections = () => {
    closeIdle();
    for (const socket of held.keys()) {
      if (reading.has(socket)) continue;
      // Still sending an answer: it ends once that is sent.
      if (socket.writableLength > 0) socket.end();
      else socket.destroy();
    }
  };
  const closeAll = server.closeAllConnections.bind(server);
  server.closeAllConnections = () => {
    closeAll();
    for (const socket of held.keys()) socket.destroy();
  };

  return {
    get connections() {
      return held.size;
    },
    get answered() {
      return answered;
    },
    get handedOver() {
      return handedOver;
    },
  };
}
