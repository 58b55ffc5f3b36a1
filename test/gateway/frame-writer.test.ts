// The server's data frames, built by hand for speed: checked against `ws`'s own parser (as a
// client receives them), at every length boundary of the frame header.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as wsModule from 'ws';
import { FrameWriter } from '../../src/gateway/frame-writer.js';

/** `ws`'s frame parser (exported at run time, not in its types). */
interface WsReceiver {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  write(chunk: Buffer): void;
}
const Receiver = (wsModule as unknown as { Receiver: new (options: { isServer: boolean; maxPayload: number; skipUTF8Validation: boolean }) => WsReceiver }).Receiver;

/** Parses server frames the way a client does; returns the messages in order. */
function parse(bytes: Buffer): { text: boolean; data: Buffer }[] {
  const messages: { text: boolean; data: Buffer }[] = [];
  const receiver = new Receiver({ isServer: false, maxPayload: 0, skipUTF8Validation: false });
  receiver.on('message', (data: Buffer, isBinary: boolean) => messages.push({ text: !isBinary, data: Buffer.from(data) }));
  receiver.on('error', (err: Error) => {
    throw err;
  });
  receiver.write(bytes);
  return messages;
}

describe('FrameWriter', () => {
  it.each([0, 1, 125, 126, 127, 65535, 65536, 70000])('frames a %i-byte text and binary message as ws parses them', (size) => {
    const out = new FrameWriter();
    const text = 'é'.repeat(Math.floor(size / 2)) + 'x'.repeat(size % 2); // multi-byte UTF-8: bytes, not characters, count
    const binary = Buffer.alloc(size, 7);
    out.add(text);
    out.add(binary);
    expect(out.pendingBytes).toBeGreaterThan(2 * size);
    const parsed = parse(out.take());
    expect(parsed).toHaveLength(2);
    expect(parsed[0]).toEqual({ text: true, data: Buffer.from(text, 'utf8') });
    expect(parsed[1]).toEqual({ text: false, data: binary });
    expect(Buffer.byteLength(text)).toBe(size);
  });

  it('writes many messages of a turn into one buffer, in order, and is empty afterwards', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 })), { minLength: 1, maxLength: 40 }), (items) => {
        const out = new FrameWriter();
        for (const item of items) out.add(typeof item === 'string' ? item : Buffer.from(item));
        const bytes = out.take();
        expect(bytes.length).toBe(items.reduce((n, item) => n + (typeof item === 'string' ? Buffer.byteLength(item) : item.length), 0) + items.reduce((n, item) => n + ((typeof item === 'string' ? Buffer.byteLength(item) : item.length) < 126 ? 2 : 4), 0));
        expect(out.isEmpty).toBe(true);
        expect(out.pendingBytes).toBe(0);
        const parsed = parse(bytes);
        expect(parsed.map((m) => (m.text ? m.data.toString('utf8') : new Uint8Array(m.data)))).toEqual(items.map((item) => (typeof item === 'string' ? Buffer.from(item, 'utf8').toString('utf8') : new Uint8Array(item))));
      }),
    );
  });
});
