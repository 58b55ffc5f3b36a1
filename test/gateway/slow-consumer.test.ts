// Backpressure: a client that does not read is closed with 4008 once its unsent data passes the
// high-water mark; the server's memory for it stays bounded and nobody else notices.
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/index.js';
import { rawClient, serve, stillServes, until } from './support.js';

function recordingLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: (_obj, msg) => warnings.push(msg ?? ''),
    error: () => {},
    child: () => logger,
  };
  return { logger, warnings };
}

describe('slow consumers', () => {
  it('closes a connection whose unsent data exceeds sendHighWaterMark with 4008, after what was already queued', async () => {
    const { logger, warnings } = recordingLogger();
    const HWM = 256 * 1024;
    const { url, gateway } = await serve({ logger, limits: { sendHighWaterMark: HWM } });
    const reader = await rawClient(url);
    const slow = await rawClient(url);
    // Stop reading: the kernel buffers fill up, then the server's own buffer grows.
    slow.ws.pause();
    const N = 200;
    const size = 256 * 1024;
    for (let i = 0; i < N; i++) slow.send({ kind: 'command', id: i, entity: { type: 'counter', id: 'slow' }, command: 'big', input: { size } });
    await until(() => warnings.includes('closing a slow consumer'), 'the gateway to give up on the slow consumer');
    // Meanwhile another connection is served normally.
    expect(await reader.request({ kind: 'command', id: 'r', entity: { type: 'counter', id: 'other' }, command: 'add', input: { n: 1 } })).toEqual({ kind: 'reply', id: 'r', result: 1 });
    // When the slow client finally reads, it gets what was queued, then the close frame.
    slow.ws.resume();
    const closed = await slow.closed;
    expect(closed).toEqual({ code: 4008, reason: 'slow consumer' });
    const got = slow.frames.filter((f) => f.kind === 'reply').length;
    expect(got).toBeGreaterThan(0);
    expect(got).toBeLessThan(N); // the rest was never queued
    await until(() => gateway.connections === 1, 'the slow connection to be gone');
    await stillServes(url);
  });
});
