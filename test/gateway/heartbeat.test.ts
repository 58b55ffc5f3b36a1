// Heartbeats on the system clock (a manual one here): a peer silent for two intervals is dropped.
import { describe, expect, it } from 'vitest';
import { type RawClient, rawClient, serve, until } from './support.js';

/** Resolves when the client has received a WebSocket ping from the server. */
function pinged(c: RawClient): Promise<void> {
  return new Promise((resolve) => c.ws.once('ping', () => resolve()));
}

describe('heartbeats', () => {
  it('pings a silent connection after one interval and terminates it after two; a peer that answers stays', async () => {
    const { url, clock, gateway } = await serve({ heartbeat: { intervalMs: 1000 } });
    const silent = await rawClient(url, 'json', { autoPong: false });
    const alive = await rawClient(url);
    await until(() => gateway.connections === 2);

    const silentPinged = pinged(silent);
    const alivePinged = pinged(alive);
    clock.advance(1000); // nothing heard since they connected: both are pinged
    await Promise.all([silentPinged, alivePinged]);
    // The pong travels before this request, so the server has heard it once the answer is back.
    await alive.request({ kind: 'ping', id: 'after-first' });
    expect(silent.ws.readyState).toBe(silent.ws.OPEN);

    clock.advance(1000);
    // Terminated: no closing handshake, the peer sees an abnormal closure.
    expect((await silent.closed).code).toBe(1006);
    await until(() => gateway.connections === 1);

    // The live one survives any number of intervals, as long as it answers: pinged on every
    // second tick (after a silent one), it pongs before the next.
    for (let i = 0; i < 10; i++) {
      clock.advance(1000); // silent since the last tick: pinged
      await pinged(alive);
      await alive.request({ kind: 'ping', id: `after-${i}` });
      clock.advance(1000); // heard: nothing to do
    }
    expect(alive.ws.readyState).toBe(alive.ws.OPEN);
    expect(gateway.connections).toBe(1);
  });

  it('any frame counts as a sign of life', async () => {
    const { url, clock, gateway } = await serve({ heartbeat: { intervalMs: 1000 } });
    const talker = await rawClient(url, 'json', { autoPong: false });
    for (let i = 0; i < 5; i++) {
      await talker.request({ kind: 'ping', id: i });
      clock.advance(1000);
    }
    expect(talker.ws.readyState).toBe(talker.ws.OPEN);
    expect(gateway.connections).toBe(1);
  });

  it('heartbeat: false never drops anyone', async () => {
    const { url, clock, gateway } = await serve({ heartbeat: false });
    const silent = await rawClient(url, 'json', { autoPong: false });
    clock.advance(60_000);
    await silent.request({ kind: 'ping', id: 1 });
    expect(gateway.connections).toBe(1);
  });
});
