/** The event-stream parser: however the bytes are cut, the same messages and ids. */
import { describe, expect, it } from 'vitest';
import { SseParser } from '../../src/shared/sse.js';

const STREAM =
  ': pyrepo events\n\n' +
  'id: 1\nevent: upload\ndata: {"type":"upload"}\n\n' +
  ': heartbeat\n\n' +
  'event: download\r\ndata: {"a":\r\ndata: 1}\r\n\r\n' +
  'id: 3\rdata: x\r\r' +
  'retry: 2500\nid\ndata\n\n' +
  'data: unfinished';

describe('SseParser', () => {
  it('reads messages, keeps the last id, skips comments, joins data lines, takes retry', () => {
    const p = new SseParser();
    expect(p.push(STREAM)).toEqual([
      { event: 'upload', data: '{"type":"upload"}', id: '1' },
      { event: 'download', data: '{"a":\n1}', id: '1' },
      { event: 'message', data: 'x', id: '3' },
      { event: 'message', data: '', id: '' },
    ]);
    expect(p.retry).toBe(2500);
  });

  it('gives the same messages when the text arrives a character at a time (a CRLF split in two included)', () => {
    const whole = new SseParser().push(STREAM);
    const p = new SseParser();
    const pieces = [...STREAM].flatMap((ch) => p.push(ch));
    expect(pieces).toEqual(whole);
  });
});
