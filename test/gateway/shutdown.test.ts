// Graceful shutdown: requests in flight are answered, new ones refused, connections closed with
// 1001, and every command a client saw acknowledged is in the store.
import { describe, expect, it } from 'vitest';
import { createActorSystem, createGateway, EntityRuntime, eventSourcedEntity, SUBPROTOCOL_JSON } from '../../src/index.js';
import { openTestDatabase } from '../persistence/support.js';
import { counter, onCleanup, rawClient, serve, upgradeOutcome, until } from './support.js';

describe('graceful shutdown', () => {
  it('drains requests in flight, refuses new ones, closes with 1001, and loses no acknowledged command', async () => {
    const db = await openTestDatabase('pglite');
    onCleanup(() => db.close());
    const store = await db.openStore();
    const { url, gateway, runtime, system } = await serve({}, store);
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    runtime.register(
      eventSourcedEntity('gated')
        .initialState(() => ({ n: 0 }))
        .events<{ type: 'Inc' }>({ Inc: (s) => ({ n: s.n + 1 }) })
        .command('inc', async (_s, _i, ctx) => {
          await gate;
          return ctx.emit({ type: 'Inc' }).thenReply((s) => s.n);
        }),
    );
    const c = await rawClient(url);
    // Commands that complete at once, and some held in flight by the gate.
    for (let i = 0; i < 20; i++) c.send({ kind: 'command', id: `a${i}`, entity: { type: 'counter', id: 'k' }, command: 'add', input: { n: 1 } });
    for (let i = 0; i < 10; i++) c.send({ kind: 'command', id: `g${i}`, entity: { type: 'gated', id: 'g' }, command: 'inc' });
    await until(() => c.frames.filter((f) => f.kind === 'reply').length === 20, 'the ungated replies');

    const closing = gateway.close();
    let closed = false;
    void closing.then(() => (closed = true));
    // During the drain: new requests are refused, new connections get 503, the connection stays open.
    expect(await c.request({ kind: 'command', id: 'late', entity: { type: 'counter', id: 'k' }, command: 'add', input: { n: 1 } })).toMatchObject({
      kind: 'error',
      error: { code: 'SHUTTING_DOWN' },
    });
    const refused = await upgradeOutcome(url, [SUBPROTOCOL_JSON]);
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body).code).toBe('SHUTTING_DOWN');
    expect(closed).toBe(false);

    release();
    expect(await c.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    await closing;
    // Every gated command was answered before the close frame.
    const replies = c.frames.filter((f) => f.kind === 'reply');
    expect(replies.map((f) => f.id).filter((id) => String(id).startsWith('g'))).toHaveLength(10);
    expect(c.frames.filter((f) => f.kind === 'error').map((f) => f.id)).toEqual(['late']);

    // After a restart on the same store, everything acknowledged is there, and nothing else.
    await system.stop();
    const system2 = createActorSystem();
    onCleanup(() => system2.stop());
    const runtime2 = new EntityRuntime(system2, { store });
    runtime2.register(counter);
    expect(await runtime2.refFor('counter', 'k').ask('get')).toBe(20);
    expect(Math.max(...replies.filter((f) => String(f.id).startsWith('g')).map((f) => f.result as number))).toBe(10);
  });

  it('closes anyway when the drain times out (system clock), failing what is still in flight', async () => {
    const { url, gateway, runtime, clock, system } = await serve({ drainTimeoutMs: 2000 });
    runtime.register(
      eventSourcedEntity('stuck')
        .initialState(() => 0)
        .events<{ type: 'X' }>({ X: (s) => s })
        .command('wait', () => new Promise(() => {})),
    );
    const c = await rawClient(url);
    c.send({ kind: 'command', id: 1, entity: { type: 'stuck', id: 's' }, command: 'wait' });
    await c.request({ kind: 'ping', id: 'p' });
    const closing = gateway.close();
    await new Promise((r) => setImmediate(r));
    clock.advance(2000);
    expect((await c.closed).code).toBe(1001);
    await closing;
    expect(c.frames.some((f) => f.id === 1)).toBe(false);
    // The stuck handler holds the runtime's own drain too: let its clock run out as well.
    let stopped = false;
    void system.stop().then(() => (stopped = true));
    await until(() => {
      clock.advanceToNext();
      return stopped;
    }, 'the system to stop');
  });

  it('on a server of its own: stops listening, and close() is idempotent', async () => {
    const { runtime } = await serve();
    const gateway = await createGateway({ runtime, port: 0, host: '127.0.0.1' });
    const url = gateway.url as string;
    const c = await rawClient(url);
    await c.request({ kind: 'ping', id: 1 });
    const [a, b] = [gateway.close(), gateway.close()];
    expect(a).toBe(b);
    await a;
    expect((await c.closed).code).toBe(1001);
    const err = await rawClient(url).catch((e: unknown) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });
});
