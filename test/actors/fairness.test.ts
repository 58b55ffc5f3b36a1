import { createServer } from 'node:net';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createActorSystem } from '../../src/index.js';
import { deferred } from './support.js';

// These tests use the real clock and real I/O on purpose: fairness is about the event loop.
// Nothing sleeps: every loop is bounded by the flood, which ends by itself. Each message does a
// little work so that the flood lasts a few hundred milliseconds even on a fast machine, a wide
// margin over an I/O round trip on a busy one.
const FLOOD = 300_000;

/** About a microsecond of arithmetic the optimizer cannot drop. */
function work(n: number): number {
  let x = n;
  for (let i = 0; i < 200; i++) x = (x * 1103515245 + 12345) % 2147483648;
  return x;
}

function flooded(system: ReturnType<typeof createActorSystem>) {
  const done = deferred();
  let handled = 0;
  let sink = 0;
  const ref = system.spawn<number, undefined>({
    receive(s, n) {
      sink ^= work(n);
      if (++handled === FLOOD) done.resolve(void sink);
      return s;
    },
  });
  for (let i = 0; i < FLOOD; i++) ref.tell(i);
  return { done: done.promise, handled: () => handled };
}

describe('fairness', () => {
  it('a flooded actor does not starve timers: a timer fires while the flood is still draining', async () => {
    await using system = createActorSystem();
    const flood = flooded(system);
    const seenAt: number[] = [];
    const timer = setInterval(() => seenAt.push(flood.handled()), 1);
    await flood.done;
    clearInterval(timer);
    expect(seenAt.some((h) => h > 0 && h < FLOOD)).toBe(true);
  });

  it('a flooded actor does not starve I/O: a socket round trip completes mid-flood', async () => {
    await using system = createActorSystem();
    const server = createServer((sock) => sock.pipe(sock));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const sock = connect(port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', r));
    const flood = flooded(system);
    const echoed = new Promise<number>((resolve) => sock.once('data', () => resolve(flood.handled())));
    sock.write('ping');
    const handledAtEcho = await echoed;
    await flood.done;
    sock.destroy();
    server.close();
    expect(handledAtEcho).toBeLessThan(FLOOD);
  });

  it('a flooded actor does not starve other actors: a later message to another actor is handled mid-flood', async () => {
    await using system = createActorSystem();
    const flood = flooded(system);
    const other = system.spawn<'ping', undefined, number>({
      receive(s, _m, ctx) {
        ctx.reply(flood.handled());
        return s;
      },
    });
    const handledWhenOtherRan = await other.ask('ping');
    await flood.done;
    expect(handledWhenOtherRan).toBeLessThan(FLOOD);
  });

  it('a ping-pong pair of actors does not starve timers either', async () => {
    await using system = createActorSystem();
    const ROUNDS = 200_000;
    const done = deferred();
    let rounds = 0;
    type Ball = { n: number };
    const pong = system.spawn<{ ball: Ball; from: { tell(b: Ball): void } }, undefined>({
      receive(s, m) {
        m.from.tell(m.ball);
        return s;
      },
    });
    const ping = system.spawn<Ball, undefined>({
      receive(s, ball, ctx) {
        if (++rounds === ROUNDS) done.resolve();
        else pong.tell({ ball, from: ctx.self });
        return s;
      },
    });
    const seenAt: number[] = [];
    const timer = setInterval(() => seenAt.push(rounds), 1);
    ping.tell({ n: 0 });
    await done.promise;
    clearInterval(timer);
    expect(seenAt.some((r) => r > 0 && r < ROUNDS)).toBe(true);
  });
});
