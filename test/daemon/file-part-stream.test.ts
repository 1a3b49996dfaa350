/**
 * A large file's bytes through two buffers used in turn: exactly the range asked for, a
 * buffer read into again only after the response has taken its part, the descriptor closed
 * once whatever the way the sending ends, and a file that shrank sent as a failure.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync, openSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilePartStream, SEND_PART_BYTES } from '../../src/daemon/routes/file-part-stream.js';
import { isOpen, noted } from '../helpers/descriptors.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
let path: string;
const bytes = randomBytes(SEND_PART_BYTES * 5 + 123);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyrepo-part-stream-'));
  path = join(dir, 'big.whl');
  writeFileSync(path, bytes);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A destination that takes its time: each write's callback comes 2 ms later; it asks to drain past `highWaterMark`. */
class SlowResponse extends Writable {
  readonly received: Buffer[] = [];
  readonly buffersSeen = new Set<ArrayBufferLike>();
  constructor(highWaterMark = SEND_PART_BYTES) {
    super({ highWaterMark });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.buffersSeen.add(chunk.buffer);
    // Copied only when the callback is due: a buffer read into before then would show here.
    setTimeout(() => {
      this.received.push(Buffer.from(chunk));
      done();
    }, 2);
  }
}

describe('FilePartStream', () => {
  it.each([
    ['asks to drain after each part', SEND_PART_BYTES],
    ['takes every part at once, and calls back later', 64 * SEND_PART_BYTES],
  ])('sends exactly the range asked for, through two buffers, and closes the file, to a response that %s', async (_what, highWaterMark) => {
    const fd = noted(openSync(path, 'r'));
    const out = new SlowResponse(highWaterMark);
    const stream = new FilePartStream(fd, 1000, bytes.length - 7);
    const ended = new Promise((resolve) => stream.once('end', resolve));
    stream.pipe(out);
    await new Promise((resolve) => out.once('finish', resolve));
    await ended;
    expect(Buffer.concat(out.received).equals(bytes.subarray(1000, bytes.length - 6))).toBe(true);
    expect(out.buffersSeen.size).toBe(2);
    await waitFor('the file to be closed', () => !isOpen(fd));
  });

  it('sends a whole file to a real client, and stops and closes the file when the client hangs up', async () => {
    const fds: number[] = [];
    const server: Server = createServer((_req, res) => {
      const fd = noted(openSync(path, 'r'));
      fds.push(fd);
      res.setHeader('content-length', String(bytes.length));
      new FilePartStream(fd, 0, bytes.length - 1).on('error', () => undefined).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const whole = await new Promise<Buffer>((resolve, reject) =>
        get(url, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c)).on('end', () => resolve(Buffer.concat(parts))).on('error', reject);
        }),
      );
      expect(whole.equals(bytes)).toBe(true);
      // One that reads one part, then goes.
      await new Promise<void>((resolve) =>
        get(url, (res) => {
          res.once('data', () => {
            res.destroy();
            resolve();
          });
        }),
      );
      await waitFor('both files to be closed', () => fds.length === 2 && fds.every((fd) => !isOpen(fd)));
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('stops and closes the file when the response closes after dropping writes without calling them back, as node:http does', async () => {
    const fd = noted(openSync(path, 'r'));
    // Takes the first part; the connection then goes: later writes are dropped, with no
    // callback, and the response closes a turn later. Nobody destroys the stream.
    let writes = 0;
    const out = Object.assign(new EventEmitter(), {
      write(_chunk: Buffer, done: () => void): boolean {
        writes++;
        if (writes === 1) {
          setImmediate(done);
          return true;
        }
        if (writes === 2) setImmediate(() => out.emit('close'));
        return false;
      },
      end: () => undefined,
    });
    new FilePartStream(fd, 0, bytes.length - 1).pipe(out as unknown as NodeJS.WritableStream);
    await waitFor('the file to be closed', () => !isOpen(fd), 5000);
    expect(writes).toBeLessThan(4);
  });

  it('closes the file when destroyed before it is sent, and then sends nothing', async () => {
    const fd = noted(openSync(path, 'r'));
    const stream = new FilePartStream(fd, 0, 10);
    stream.destroy();
    await waitFor('the file to be closed', () => !isOpen(fd));
    const out = new SlowResponse();
    expect(stream.pipe(out)).toBe(out);
    expect(out.received).toEqual([]);
  });

  it('ends without bytes, and closes the file, when drained instead of sent (fastify does so for HEAD)', async () => {
    const fd = noted(openSync(path, 'r'));
    const stream = new FilePartStream(fd, 0, bytes.length - 1);
    const parts: Buffer[] = [];
    stream.on('data', (c: Buffer) => parts.push(c));
    await new Promise((resolve) => stream.once('end', resolve));
    expect(parts).toEqual([]);
    await waitFor('the file to be closed', () => !isOpen(fd));
  });

  it('fails, and closes the file, when the file turns out shorter', async () => {
    const short = join(dir, 'short.whl');
    writeFileSync(short, bytes);
    const fd = noted(openSync(short, 'r'));
    truncateSync(short, SEND_PART_BYTES);
    const stream = new FilePartStream(fd, 0, bytes.length - 1);
    const failed = new Promise<Error>((resolve) => stream.once('error', resolve));
    stream.pipe(new SlowResponse());
    expect((await failed).message).toMatch(/shorter/);
    await waitFor('the file to be closed', () => !isOpen(fd));
  });
});
