// Subscriptions over the wire: acknowledged first, then the current state, then every change in order.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { connect, type EntityUpdate, eventSourcedEntity, type RemoteError } from '../../src/index.js';
import { type Frame, onCleanup, rawClient, serve, until } from './support.js';

const updates = (frames: Frame[], sub: unknown): Frame[] => frames.filter((f) => f.kind === 'update' && f.subscription === sub);

describe('subscriptions', () => {
  it.each(['json', 'msgpack'] as const)('acknowledge first, then deliver the current state, then each event and state in order (%s)', async (format) => {
    const { url, runtime } = await serve();
    const counter = runtime.refFor('counter', 'c');
    await counter.ask('add', { n: 10 });
    const c = await rawClient(url, format);
    c.send({ kind: 'subscribe', id: 's1', entity: { type: 'counter', id: 'c' }, events: true, state: true });
    const first = await c.next();
    expect(first).toEqual({ kind: 'subscribed', id: 's1', version: 1 });
    expect(await c.next()).toEqual({ kind: 'update', subscription: 's1', change: 'state', version: 1, state: { value: 10 } });
    // Changes made elsewhere (in process here) reach the subscriber in order.
    for (let i = 1; i <= 50; i++) await counter.ask('add', { n: i });
    await until(() => updates(c.frames, 's1').length === 1 + 50 * 2, 'all updates');
    const rest = updates(c.frames, 's1').slice(1);
    for (let i = 0; i < 50; i++) {
      expect(rest[2 * i]).toMatchObject({ change: 'event', sequenceNr: 2 + i, event: { type: 'Added', n: i + 1 } });
      expect(rest[2 * i + 1]).toMatchObject({ change: 'state', version: 2 + i });
    }
    expect(rest.at(-1)?.state).toEqual({ value: 10 + (50 * 51) / 2 });
  });

  it('events only: the acknowledgement carries the version to resume from, and no state is sent', async () => {
    const { url, runtime } = await serve();
    const counter = runtime.refFor('counter', 'c');
    for (let i = 0; i < 3; i++) await counter.ask('add', { n: 1 });
    const c = await rawClient(url);
    expect(await c.request({ kind: 'subscribe', id: 1, entity: { type: 'counter', id: 'c' }, events: true })).toEqual({ kind: 'subscribed', id: 1, version: 3 });
    await counter.ask('add', { n: 7 });
    expect(await c.waitFor((f) => f.kind === 'update')).toMatchObject({ kind: 'update', subscription: 1, change: 'event', sequenceNr: 4, event: { n: 7 } });
    const pong = await c.request({ kind: 'ping', id: 2 });
    expect(pong).toEqual({ kind: 'pong', id: 2 });
    expect(c.frames.filter((f) => f.change === 'state')).toEqual([]);
  });

  it('fromSequenceNr replays the journal after the acknowledgement, then goes live without a gap', async () => {
    const { url, runtime } = await serve();
    const counter = runtime.refFor('counter', 'c');
    for (let i = 1; i <= 5; i++) await counter.ask('add', { n: i });
    const c = await rawClient(url, 'msgpack');
    c.send({ kind: 'subscribe', id: 'r', entity: { type: 'counter', id: 'c' }, events: true, fromSequenceNr: 2 });
    expect(await c.next()).toEqual({ kind: 'subscribed', id: 'r', version: 5 });
    await counter.ask('add', { n: 6 });
    await until(() => updates(c.frames, 'r').length === 5);
    expect(updates(c.frames, 'r').map((f) => f.sequenceNr)).toEqual([2, 3, 4, 5, 6]);
  });

  it('unsubscribe stops the updates; unknown subscriptions, stateless types and reused ids are refused', async () => {
    const { url, runtime } = await serve();
    const c = await rawClient(url);
    await c.request({ kind: 'subscribe', id: 's', entity: { type: 'counter', id: 'u' }, state: true });
    // The id of an active subscription is in use.
    expect(await c.request({ kind: 'command', id: 's', entity: { type: 'counter', id: 'u' }, command: 'get' })).toMatchObject({ kind: 'error', error: { code: 'DUPLICATE_ID' } });
    expect(await c.request({ kind: 'unsubscribe', id: 'u1', subscription: 'nope' })).toMatchObject({ kind: 'error', id: 'u1', error: { code: 'UNKNOWN_SUBSCRIPTION' } });
    expect(await c.request({ kind: 'unsubscribe', id: 'u2', subscription: 's' })).toEqual({ kind: 'unsubscribed', id: 'u2' });
    await runtime.refFor('counter', 'u').ask('add', { n: 1 });
    await c.request({ kind: 'ping', id: 'p' });
    expect(updates(c.frames, 's')).toHaveLength(1); // the initial state only
    expect(await c.request({ kind: 'subscribe', id: 'g', entity: { type: 'greeter', id: 'x' }, state: true })).toMatchObject({ error: { code: 'NOT_SUBSCRIBABLE' } });
    expect(await c.request({ kind: 'subscribe', id: 't', entity: { type: 'nope', id: 'x' }, state: true })).toMatchObject({ error: { code: 'UNKNOWN_ENTITY_TYPE' } });
    // After unsubscribing, the id is free again.
    expect(await c.request({ kind: 'subscribe', id: 's', entity: { type: 'counter', id: 'u' }, state: true })).toMatchObject({ kind: 'subscribed', version: 1 });
  });

  it('value entities deliver each new state with its revision', async () => {
    const { url } = await serve();
    const client = await connect(url);
    onCleanup(() => client.close());
    const seen: EntityUpdate[] = [];
    await client.subscribe('profile', 'p', { state: true }, (u) => seen.push(u));
    await client.ask('profile', 'p', 'visit');
    await client.ask('profile', 'p', 'visit');
    await until(() => seen.length === 3);
    expect(seen.map((u) => (u.kind === 'state' ? [u.version, u.state] : null))).toEqual([
      [0, { visits: 0 }],
      [1, { visits: 1 }],
      [2, { visits: 2 }],
    ]);
  });

  it('the client delivers changes made by another connection, in order, to an async iterator', async () => {
    const { url } = await serve();
    const watcher = await connect(url, { format: 'msgpack' });
    const writer = await connect(url);
    onCleanup(() => watcher.close());
    onCleanup(() => writer.close());
    const sub = await watcher.ref('counter', 'it').subscribe({ events: true });
    const writes = Array.from({ length: 100 }, (_, i) => writer.ask('counter', 'it', 'add', { n: i }));
    const seen: number[] = [];
    for await (const update of sub) {
      if (update.kind === 'event') seen.push((update.event as { n: number }).n);
      if (seen.length === 100) break; // breaking out unsubscribes
    }
    await Promise.all(writes);
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(sub.active).toBe(false);
  });

  it('limits subscriptions per connection', async () => {
    const { url } = await serve({ limits: { maxSubscriptions: 2 } });
    const c = await rawClient(url);
    await c.request({ kind: 'subscribe', id: 1, entity: { type: 'counter', id: 'a' }, state: true });
    await c.request({ kind: 'subscribe', id: 2, entity: { type: 'counter', id: 'b' }, state: true });
    expect(await c.request({ kind: 'subscribe', id: 3, entity: { type: 'counter', id: 'c' }, state: true })).toMatchObject({ error: { code: 'TOO_MANY_SUBSCRIPTIONS' } });
    await c.request({ kind: 'unsubscribe', id: 4, subscription: 1 });
    expect(await c.request({ kind: 'subscribe', id: 5, entity: { type: 'counter', id: 'c' }, state: true })).toMatchObject({ kind: 'subscribed' });
  });

  it('ends a subscription whose update cannot be encoded with an error frame carrying its id', async () => {
    const { url, runtime } = await serve();
    runtime.register(
      eventSourcedEntity('bigstate')
        .initialState(() => ({ n: 0n }))
        .events<{ type: 'Inc' }>({ Inc: (s) => ({ n: s.n + 1n }) })
        .command('inc', z.undefined(), (_s, _i, ctx) => ctx.emit({ type: 'Inc' })),
    );
    const client = await connect(url);
    onCleanup(() => client.close());
    let ended: Error | undefined;
    const subscribed = await client.subscribe('bigstate', 'b', { state: true, onEnd: (e) => (ended = e) }).then(
      (s) => s,
      (e: unknown) => e,
    );
    // JSON has no BigInt: the current state cannot be sent, so the subscription ends at once.
    await until(() => ended !== undefined || !(subscribed as { active?: boolean }).active);
    expect((ended as RemoteError | undefined)?.code).toBe('ENCODE_FAILED');
    // The connection is fine.
    expect(await client.ask('counter', 'x', 'get')).toBe(0);
  });
});

describe('a catch-up larger than the send limit', () => {
  it.each(['json', 'msgpack'] as const)('fails that subscribe with CATCH_UP_TOO_LARGE instead of holding it in memory; a later start works, and the connection goes on (%s)', async (format) => {
    const HWM = 16 * 1024;
    const { url, store } = await serve({ limits: { sendHighWaterMark: HWM } });
    // 1 000 events (a frame each, ~80 bytes in JSON): far more than 16 KiB from the start.
    await store.journal.append('counter|long', 0, Array.from({ length: 1000 }, () => ({ payload: { type: 'Added', n: 1 }, type: 'Added' })));
    const c = await rawClient(url, format);
    const refused = await c.request({ kind: 'subscribe', id: 'all', entity: { type: 'counter', id: 'long' }, events: true, fromSequenceNr: 1 });
    expect(refused).toMatchObject({ kind: 'error', id: 'all', error: { code: 'CATCH_UP_TOO_LARGE' } });
    // From near the end it fits: acknowledged, then the rest of the history, then live changes.
    expect(await c.request({ kind: 'subscribe', id: 'tail', entity: { type: 'counter', id: 'long' }, events: true, fromSequenceNr: 951 })).toEqual({
      kind: 'subscribed',
      id: 'tail',
      version: 1000,
    });
    await until(() => updates(c.frames, 'tail').length === 50, 'the catch-up');
    expect(updates(c.frames, 'tail').map((f) => f.sequenceNr)).toEqual(Array.from({ length: 50 }, (_, i) => 951 + i));
    expect(await c.request({ kind: 'command', id: 'add', entity: { type: 'counter', id: 'long' }, command: 'add', input: { n: 1 } })).toMatchObject({ kind: 'reply', result: 1001 });
    await until(() => updates(c.frames, 'tail').length === 51, 'the live event');
    expect(updates(c.frames, 'all')).toEqual([]); // the refused one never went live
    // Its id is free again, and the refused subscription holds no place.
    expect(await c.request({ kind: 'subscribe', id: 'all', entity: { type: 'counter', id: 'long' }, events: true, fromSequenceNr: 990 })).toMatchObject({ kind: 'subscribed' });
  });
});
