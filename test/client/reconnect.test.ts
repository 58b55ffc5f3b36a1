// Reconnection: the client comes back with backoff, subscriptions continue without gaps or
// duplicates, requests in flight fail (never retried), requests made meanwhile are sent after.
import { describe, expect, it } from 'vitest';
import { type ClientStatus, connect, type ConnectionLostError, type EntityUpdate, eventSourcedEntity, ManualClock } from '../../src/index.js';
import { onCleanup, serve, until } from '../gateway/support.js';

describe('reconnection', () => {
  it.each(['json', 'msgpack'] as const)('resubscribes after the server side of the socket dies: every event once, in order (%s)', async (format) => {
    const { url, runtime, sockets } = await serve();
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    runtime.register(
      eventSourcedEntity('slow')
        .initialState(() => 0)
        .events<{ type: 'X' }>({ X: (s) => s })
        .command('wait', async (_s, _i, ctx) => {
          await gate;
          return ctx.reply('done');
        }),
    );
    const counter = runtime.refFor('counter', 'r');
    await counter.ask('add', { n: 100 }); // seq 1, before the subscription

    const clock = new ManualClock();
    const statuses: [ClientStatus, string | undefined][] = [];
    const client = await connect(url, {
      format,
      clock,
      heartbeatMs: false,
      reconnect: { minMs: 100, maxMs: 100, randomFactor: 0 },
      onStatusChange: (s, e) => statuses.push([s, (e as { code?: string } | undefined)?.code]),
    });
    onCleanup(() => client.close());
    const events: number[] = [];
    const states: number[] = [];
    await client.subscribe('counter', 'r', { events: true }, (u: EntityUpdate) => u.kind === 'event' && events.push(u.sequenceNr));
    await client.subscribe('counter', 'r', { state: true }, (u: EntityUpdate) => u.kind === 'state' && states.push(u.version));
    for (let i = 0; i < 5; i++) await counter.ask('add', { n: 1 }); // seq 2..6
    await until(() => events.length === 5 && states.length === 6);

    // A command in flight when the connection dies fails; it is not retried.
    const inFlight = client.ask('slow', 's', 'wait').catch((e: unknown) => e);
    await until(() => sockets.some((s) => s.bytesRead > 0));
    for (const s of sockets) s.destroy();
    const lost = (await inFlight) as ConnectionLostError;
    expect(lost.code).toBe('CONNECTION_LOST');
    await until(() => client.status === 'reconnecting');

    // While the client is away, the entity moves on, and the client queues a request.
    for (let i = 0; i < 5; i++) await counter.ask('add', { n: 1 }); // seq 7..11
    const queued = client.ask('counter', 'r', 'get');
    clock.advance(100); // the backoff elapses: reconnect
    expect(await queued).toBe(110);
    for (let i = 0; i < 5; i++) await counter.ask('add', { n: 1 }); // seq 12..16
    await until(() => events.length === 15, 'events after the reconnection');

    expect(events).toEqual(Array.from({ length: 15 }, (_, i) => i + 2));
    // States: each version once, the one current at reconnection included, nothing repeated.
    expect(new Set(states).size).toBe(states.length);
    expect(states.slice(0, 6)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(states.at(-1)).toBe(16);
    expect(states).toContain(11);
    expect(statuses.map(([s]) => s)).toEqual(['open', 'reconnecting', 'open']);
    expect(statuses[1]?.[1]).toBe('CONNECTION_LOST');
    release();
  });

  it('backs off between failed attempts and gives up after maxAttempts', async () => {
    const { url, gateway, server } = await serve();
    const clock = new ManualClock();
    const statuses: ClientStatus[] = [];
    const client = await connect(url, { clock, heartbeatMs: false, reconnect: { minMs: 100, maxMs: 400, randomFactor: 0, maxAttempts: 3 }, onStatusChange: (s) => statuses.push(s) });
    onCleanup(() => client.close());
    // The server goes away for good: its connections close with 1001, then nothing listens.
    server.close();
    await gateway.close();
    await until(() => client.status === 'reconnecting');
    const failures = (): number => statuses.filter((s) => s === 'reconnecting').length;
    expect(failures()).toBe(1);
    clock.advance(99);
    await new Promise((r) => setImmediate(r));
    expect(failures()).toBe(1); // the first delay is 100 ms
    clock.advance(1);
    await until(() => failures() === 2, 'the first attempt to fail');
    clock.advance(199);
    await new Promise((r) => setImmediate(r));
    expect(failures()).toBe(2); // then 200 ms
    clock.advance(1);
    await until(() => failures() === 3, 'the second attempt to fail');
    clock.advance(400); // then 400 ms (the maximum): the third and last attempt
    await until(() => client.status === 'closed', 'giving up');
    expect(((await client.ask('counter', 'x', 'get').catch((e: unknown) => e)) as Error & { code: string }).code).toBe('CLIENT_CLOSED');
  });
});
