// The client on its own terms: timeouts and aborts on its clock, closing, refusing servers that
// do not speak beamstate, its heartbeat, its types, and the platform WebSocket (as in browsers).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { type ClientStatus, connect, eventSourcedEntity, ManualClock, reconnectDefaults, SUBPROTOCOL_JSON } from '../../src/index.js';
import { backoffDelay } from '../../src/client/backoff.js';
import type { shoppingCart } from '../../examples/shopping-cart.js';
import { onCleanup, serve, until } from '../gateway/support.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

/** A gateway with an entity whose `wait` command is answered only after the test. */
async function withStuckEntity(): Promise<string> {
  const { url, runtime } = await serve();
  let release = (): void => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  runtime.register(
    eventSourcedEntity('stuck')
      .initialState(() => 0)
      .events<{ type: 'X' }>({ X: (s) => s })
      .command('wait', async (_s, _i, ctx) => {
        await gate;
        return ctx.reply('late');
      }),
  );
  onCleanup(release);
  return url;
}

describe('the client', () => {
  it('times out a request on its clock with REQUEST_TIMEOUT, and ignores the late answer', async () => {
    const url = await withStuckEntity();
    const clock = new ManualClock();
    const client = await connect(url, { clock, timeout: 1000, heartbeatMs: false });
    onCleanup(() => client.close());
    const stuck = client.ask('stuck', 's', 'wait').catch((e: unknown) => e);
    const custom = client.ask('stuck', 's', 'wait', undefined, { timeout: 50 }).catch((e: unknown) => e);
    clock.advance(50);
    expect(await custom).toMatchObject({ code: 'REQUEST_TIMEOUT', timeout: 50 });
    clock.advance(950);
    expect(await stuck).toMatchObject({ code: 'REQUEST_TIMEOUT', timeout: 1000 });
    // The connection is fine.
    expect(await client.ask('counter', 'c', 'add', { n: 1 })).toBe(1);
  });

  it('aborts a request with REQUEST_ABORTED when its signal fires', async () => {
    const url = await withStuckEntity();
    const client = await connect(url, { heartbeatMs: false });
    onCleanup(() => client.close());
    const controller = new AbortController();
    const pending = client.ask('stuck', 's', 'wait', undefined, { signal: controller.signal }).catch((e: unknown) => e);
    controller.abort(new Error('user left'));
    const err = (await pending) as Error & { code: string; cause: Error };
    expect(err.code).toBe('REQUEST_ABORTED');
    expect(err.cause.message).toBe('user left');
    const already = await client.ask('counter', 'c', 'get', undefined, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(already).toMatchObject({ code: 'REQUEST_ABORTED' });
  });

  it('close() fails what is pending with CLIENT_CLOSED and refuses new requests', async () => {
    const url = await withStuckEntity();
    const statuses: ClientStatus[] = [];
    const client = await connect(url, { heartbeatMs: false, onStatusChange: (s) => statuses.push(s) });
    const pending = client.ask('stuck', 's', 'wait').catch((e: unknown) => e);
    const sub = await client.subscribe('counter', 'c', { state: true });
    await client.close();
    expect(await pending).toMatchObject({ code: 'CLIENT_CLOSED' });
    expect(await client.ask('counter', 'c', 'get').catch((e: unknown) => e)).toMatchObject({ code: 'CLIENT_CLOSED' });
    expect(sub.active).toBe(false);
    expect(statuses).toEqual(['open', 'closed']);
    await client.close(); // idempotent
  });

  it('with reconnect: false, a lost connection closes the client', async () => {
    const { url, sockets } = await serve();
    const client = await connect(url, { reconnect: false, heartbeatMs: false });
    await client.ask('counter', 'c', 'get');
    for (const s of sockets) s.destroy();
    await until(() => client.status === 'closed');
    expect(await client.ask('counter', 'c', 'get').catch((e: unknown) => e)).toMatchObject({ code: 'CLIENT_CLOSED' });
  });

  it('refuses a server that does not speak beamstate', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => false }); // accepts, but picks no subprotocol
    onCleanup(() => new Promise((r) => wss.close(r)));
    await new Promise((r) => wss.once('listening', r));
    const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
    const err = await connect(url).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONNECT_FAILED' });
    expect(await connect('http://example.com').catch((e: unknown) => e)).toMatchObject({ code: 'INVALID_OPTION' });
    expect(await connect(url, { format: 'xml' as never }).catch((e: unknown) => e)).toMatchObject({ code: 'INVALID_OPTION' });
  });

  it('drops a connection whose server sends an undecodable frame (4002): in-flight requests fail at once, then it reconnects', async () => {
    // A server that answers every request with garbage on its first connection, properly later.
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => SUBPROTOCOL_JSON });
    onCleanup(() => new Promise((r) => wss.close(r)));
    let connections = 0;
    const closeCodes: number[] = [];
    wss.on('connection', (ws) => {
      const n = ++connections;
      ws.on('close', (code) => closeCodes.push(code));
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { kind: string; id: number };
        if (n === 1) ws.send('{"kind":"reply","id":'); // cut short: not JSON
        else ws.send(JSON.stringify({ kind: 'reply', id: frame.id, result: 'fine' }));
      });
    });
    await new Promise((r) => wss.once('listening', r));
    const clock = new ManualClock();
    const statuses: ClientStatus[] = [];
    const client = await connect(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`, {
      clock,
      heartbeatMs: false,
      reconnect: { minMs: 10, maxMs: 10, randomFactor: 0 },
      onStatusChange: (s) => statuses.push(s),
    });
    onCleanup(() => client.close());
    // No time passes on the client's clock: the failure comes from the frame, not a timeout.
    const err = (await client.ask('counter', 'a', 'get').catch((e: unknown) => e)) as { code: string; closeCode: number };
    expect(err).toMatchObject({ code: 'CONNECTION_LOST', closeCode: 4002 });
    expect(client.status).toBe('reconnecting');
    clock.advance(10);
    await until(() => client.status === 'open' && connections === 2, 'the reconnection');
    expect(await client.ask('counter', 'a', 'get')).toBe('fine');
    await until(() => closeCodes.length === 1, 'the first connection to close');
    expect(closeCodes).toEqual([4002]);
    expect(statuses).toEqual(['open', 'reconnecting', 'open']);
  });

  it('drops a connection whose server went silent for two heartbeat intervals, and reconnects', async () => {
    // A server that accepts the subprotocol and then never says anything.
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => SUBPROTOCOL_JSON });
    onCleanup(() => new Promise((r) => wss.close(r)));
    let connections = 0;
    wss.on('connection', () => connections++);
    await new Promise((r) => wss.once('listening', r));
    const clock = new ManualClock();
    const statuses: ClientStatus[] = [];
    const client = await connect(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`, {
      clock,
      heartbeatMs: 1000,
      reconnect: { minMs: 10, maxMs: 10, randomFactor: 0 },
      onStatusChange: (s) => statuses.push(s),
    });
    onCleanup(() => client.close());
    clock.advance(1000); // silent once: pinged
    expect(client.status).toBe('open');
    clock.advance(1000); // silent twice: dead
    expect(client.status).toBe('reconnecting');
    clock.advance(10);
    await until(() => client.status === 'open' && connections === 2, 'the reconnection');
    expect(statuses).toEqual(['open', 'reconnecting', 'open']);
  });

  it('types refs from an entity definition imported as a type', async () => {
    const { url } = await serve();
    const client = await connect(url, { heartbeatMs: false });
    onCleanup(() => client.close());
    const cart = client.ref<typeof shoppingCart>('cart', 't1');
    const typed: { items: readonly { sku: string }[] } = await cart.ask('addItem', { sku: 'a', name: 'A', quantity: 1 });
    expect(typed.items).toHaveLength(1);
    expect(String(cart)).toBe('cart/t1');
    // Compile-time checks (never run): a wrong command or input is a type error.
    const never = (): void => {
      // @ts-expect-error: no such command
      void cart.ask('fly');
      // @ts-expect-error: quantity must be a number
      void cart.ask('addItem', { sku: 'a', name: 'A', quantity: 'two' });
      // @ts-expect-error: removeItem takes { sku }
      void cart.ask('removeItem', { nope: 1 });
    };
    void never;
  });

  it('computes backoff delays from min to max with bounded jitter', () => {
    const o = { ...reconnectDefaults, minMs: 100, maxMs: 1000, randomFactor: 0.2 };
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, o, 0.5))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(0, o, 0)).toBe(80);
    expect(backoffDelay(0, o, 0.999999)).toBe(120);
    expect(backoffDelay(1000, o, 0.5)).toBe(1000);
  });

  it('works on the platform WebSocket (as in browsers): token by subprotocol, msgpack as ArrayBuffers', async () => {
    const { url } = await serve({ authenticate: (req) => (req.headers['sec-websocket-protocol']?.includes('beamstate.auth.') ? { user: 'web' } : undefined) });
    const script = join(root, 'test', 'client', 'fixtures', 'platform-client.ts');
    const { stdout } = await run(process.execPath, ['--experimental-websocket', '--no-warnings', '--import', 'tsx', script, url], { cwd: root, timeout: 30_000 });
    expect(JSON.parse(stdout.trim().split('\n').at(-1) as string)).toEqual({ platform: true, reply: 3, events: [1, 2], forbiddenHeader: 'INVALID_OPTION' });
  });
});
