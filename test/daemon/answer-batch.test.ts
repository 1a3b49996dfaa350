/**
 * AnswerBatch (src/daemon/answer-batch.ts) over real loopback sockets: what connections in the
 * batch write waits until the turn of the event loop ends, or until a connection past the
 * limit joins; then it goes out whole and in order.
 */
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AnswerBatch } from '../../src/daemon/answer-batch.js';

let server: Server;
/** Server-side sockets, and what each client received. */
let pairs: { socket: Socket; received: () => string }[];

async function connectPairs(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const client = connect((server.address() as { port: number }).port, '127.0.0.1');
    let text = '';
    client.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const [socket] = await accepted;
    pairs.push({ socket, received: () => text });
  }
}

/** Waits until the clients received what was sent (loopback: a few turns). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await nextTurn();
}

beforeEach(async () => {
  pairs = [];
  server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});
afterEach(async () => {
  for (const { socket } of pairs) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

describe('AnswerBatch', () => {
  it('holds what its connections write until the end of the turn, then sends it in order', async () => {
    await connectPairs(2);
    const batch = new AnswerBatch(16);
    const [a, b] = pairs as [(typeof pairs)[0], (typeof pairs)[0]];
    batch.join(a.socket);
    a.socket.write('one ');
    batch.join(b.socket);
    b.socket.write('other');
    batch.join(a.socket);
    a.socket.write('two');
    // Nothing has left yet: the writes wait in each socket.
    expect([a.socket.writableLength, b.socket.writableLength, batch.connections]).toEqual([7, 5, 2]);
    await settle();
    expect([a.received(), b.received(), batch.connections]).toEqual(['one two', 'other', 0]);
    expect([a.socket.writableCorked, b.socket.writableCorked]).toEqual([0, 0]);
  });

  it('sends the batch first when one connection more than its limit joins', async () => {
    await connectPairs(3);
    const batch = new AnswerBatch(2);
    pairs.forEach(({ socket }, i) => {
      batch.join(socket);
      socket.write(`answer ${i}`);
    });
    // The third joined a new batch: the first two went out then.
    expect(pairs.map(({ socket }) => socket.writableLength)).toEqual([0, 0, 8]);
    expect(batch.connections).toBe(1);
    await settle();
    expect(pairs.map(({ received }) => received())).toEqual(['answer 0', 'answer 1', 'answer 2']);
  });

  it('lets a connection ended or destroyed while in the batch go', async () => {
    await connectPairs(2);
    const batch = new AnswerBatch(16);
    const [a, b] = pairs as [(typeof pairs)[0], (typeof pairs)[0]];
    batch.join(a.socket);
    a.socket.write('last words');
    a.socket.end();
    batch.join(b.socket);
    b.socket.write('gone');
    b.socket.destroy();
    await settle();
    expect(a.received()).toBe('last words');
    expect(batch.connections).toBe(0);
  });

  it('sends a connection that joins while the batch is being sent, full or not', () => {
    const batch = new AnswerBatch(2);
    const uncorked: string[] = [];
    const fake = (name: string, onUncork?: () => void) =>
      ({
        cork: () => undefined,
        uncork: () => {
          uncorked.push(name);
          onUncork?.();
        },
      }) as unknown as Socket;
    const late = fake('late');
    const again = fake('again');
    // The first one's uncork has two more join a full batch, one of them twice.
    batch.join(
      fake('a', () => {
        batch.join(late);
        batch.join(again);
        batch.join(late);
      }),
    );
    batch.join(fake('b'));
    batch.join(fake('c'));
    // The third joined a full batch: a and b were sent, and the two that joined meanwhile with them.
    expect(uncorked).toEqual(['a', 'b', 'late', 'again']);
    expect(batch.connections).toBe(1);
    batch.send();
    expect(uncorked).toEqual(['a', 'b', 'late', 'again', 'c']);
    expect(batch.connections).toBe(0);
  });
});
