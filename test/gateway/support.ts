// Test support for the gateway: a gateway on a fresh runtime (manual clock, so no timer fires
// unless a test advances it), raw WebSocket clients that speak frames directly, and cleanup.
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { Packr } from 'msgpackr';
import { afterEach } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import {
  type ActorSystem,
  createActorSystem,
  createGateway,
  EntityRuntime,
  eventSourcedEntity,
  type Gateway,
  type GatewayOptions,
  ManualClock,
  silentLogger,
  SUBPROTOCOL_JSON,
  SUBPROTOCOL_MSGPACK,
  statelessFunction,
  valueEntity,
} from '../../src/index.js';
import { createStore, type Store } from '../../src/persistence/index.js';
import { shoppingCart } from '../../examples/shopping-cart.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Runs `fn` after the current test. */
export function onCleanup(fn: () => Promise<unknown> | unknown): void {
  cleanups.push(fn);
}

export const counter = eventSourcedEntity('counter')
  .initialState(() => ({ value: 0 }))
  .events<{ type: 'Added'; n: number }>({ Added: (s, e) => ({ value: s.value + e.n }) })
  .command('add', z.object({ n: z.number().int() }), (_s, { n }, ctx) => ctx.emit({ type: 'Added', n }).thenReply((st) => st.value))
  .command('get', (s, _i, ctx) => ctx.reply(s.value))
  .command('big', z.object({ size: z.number().int() }), (_s, { size }, ctx) => ctx.emit({ type: 'Added', n: 0 }).thenReply(() => 'x'.repeat(size)))
  .command('fail', (_s, _i, ctx) => ctx.fail('refused', { reason: 'because' }))
  .command('bigint', (_s, _i, ctx) => ctx.reply(10n))
  .command('noop', (_s, _i, ctx) => ctx.none());

export const profile = valueEntity('profile')
  .initialState(() => ({ visits: 0 }))
  .command('visit', (s, _i, ctx) => ctx.update({ visits: s.visits + 1 }).thenReply((n) => n.visits));

export const greeter = statelessFunction('greeter').command('greet', z.object({ name: z.string() }), ({ name }, ctx) => ctx.reply(`hello, ${name}`));

export interface Served {
  gateway: Gateway<unknown>;
  url: string;
  runtime: EntityRuntime;
  system: ActorSystem;
  clock: ManualClock;
  store: Store;
  /** The HTTP server (the gateway's own, or the one given). */
  server: Server;
  /** Server-side TCP sockets, to kill connections from the server's end. */
  sockets: Socket[];
}

/**
 * A gateway serving the cart, counter, profile and greeter types on an in-memory store (or the
 * given one), on its own HTTP server on a free port. `gatewayOptions` may override anything.
 */
export async function serve(gatewayOptions: Partial<GatewayOptions<unknown>> = {}, store?: Store): Promise<Served> {
  const s = store ?? (await createStore({ kind: 'memory', logger: silentLogger }));
  if (store === undefined) onCleanup(() => s.close());
  const clock = new ManualClock();
  // Silent: these tests send bad input and break connections on purpose. `gatewayOptions.logger` gives the gateway its own.
  const system = createActorSystem({ clock, logger: silentLogger });
  onCleanup(() => system.stop());
  const runtime = new EntityRuntime(system, { store: s });
  runtime.register(shoppingCart);
  runtime.register(counter);
  runtime.register(profile);
  runtime.register(greeter);
  // An HTTP server of the test's own, so that tests can reach the server side of each socket.
  const server = gatewayOptions.server ?? createServer();
  const sockets: Socket[] = [];
  server.on('connection', (socket: Socket) => sockets.push(socket));
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise((resolve) => server.close(resolve)));
  onCleanup(() => server.closeAllConnections());
  const gateway = await createGateway({ runtime, ...gatewayOptions, server: server as Server });
  onCleanup(() => gateway.close());
  return { gateway, url: gateway.url as string, runtime, system, clock, store: s, server: server as Server, sockets };
}

export type Frame = Record<string, unknown> & { kind: string; id?: unknown };

const packr = new Packr({ useRecords: false, mapsAsObjects: true, encodeUndefinedAsNil: true, variableMapSize: true });

/** msgpack as the protocol uses it. */
export function pack(value: unknown): Buffer {
  return packr.pack(value);
}

/** A WebSocket speaking raw frames: every frame received is queued and can be awaited in order. */
export class RawClient {
  readonly frames: Frame[] = [];
  private waiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private isClosed = false;
  readonly closed: Promise<{ code: number; reason: string }>;
  private read = 0;

  constructor(
    readonly ws: WebSocket,
    readonly format: 'json' | 'msgpack',
  ) {
    ws.on('message', (data, isBinary) => {
      const frame = (isBinary ? packr.unpack(data as Buffer) : JSON.parse(String(data))) as Frame;
      this.frames.push(frame);
      for (const w of this.waiters.splice(0)) w.resolve();
    });
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        this.isClosed = true;
        // A closed socket will never deliver: fail the waiters instead of hanging.
        const err = new Error(`socket closed (${code}); last frames: ${JSON.stringify(this.frames.slice(-3))}`);
        for (const w of this.waiters.splice(0)) w.reject(err);
        resolve({ code, reason: reason.toString() });
      }),
    );
    ws.on('error', () => {});
  }

  /** Sends a frame in the connection's format (objects), or exactly the given string / bytes. */
  send(frame: unknown): void {
    if (typeof frame === 'string' || Buffer.isBuffer(frame)) this.ws.send(frame);
    else this.ws.send(this.format === 'json' ? JSON.stringify(frame) : pack(frame));
  }

  /** The next frame not yet returned by `next`. */
  async next(): Promise<Frame> {
    while (this.frames.length <= this.read) await this.arrival();
    return this.frames[this.read++] as Frame;
  }

  /** Waits for a frame matching `predicate` among those received from index `from` on (read by `next` or not). */
  async waitFor(predicate: (f: Frame) => boolean, from = 0): Promise<Frame> {
    for (;;) {
      for (let i = from; i < this.frames.length; i++) if (predicate(this.frames[i] as Frame)) return this.frames[i] as Frame;
      await this.arrival();
    }
  }

  /** The answer to request `id`, among frames from index `from` on. */
  answer(id: unknown, from = 0): Promise<Frame> {
    return this.waitFor((f) => f.id === id && f.kind !== 'update', from);
  }

  /** Sends a request and waits for its answer (a frame with its id received after sending). */
  async request(frame: Frame): Promise<Frame> {
    const from = this.frames.length;
    this.send(frame);
    return this.answer(frame.id, from);
  }

  private arrival(): Promise<void> {
    if (this.isClosed) return Promise.reject(new Error(`socket closed; last frames: ${JSON.stringify(this.frames.slice(-3))}`));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  close(): void {
    this.ws.close();
  }
}

/** Opens a raw client with the given format (its subprotocol), or exactly `protocols`. */
export async function rawClient(
  url: string,
  format: 'json' | 'msgpack' = 'json',
  options: { protocols?: string[]; headers?: Record<string, string>; autoPong?: boolean } = {},
): Promise<RawClient> {
  const protocols = options.protocols ?? [format === 'json' ? SUBPROTOCOL_JSON : SUBPROTOCOL_MSGPACK];
  const ws = new WebSocket(url, protocols, { perMessageDeflate: false, headers: options.headers ?? {}, autoPong: options.autoPong ?? true });
  const client = new RawClient(ws, format);
  onCleanup(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return client;
}

/**
 * Tries to open a WebSocket and reports how the server answered the upgrade: the HTTP status
 * and body when refused, or 101 when a WebSocket was made.
 */
export function upgradeOutcome(url: string, protocols: string[], headers: Record<string, string> = {}): Promise<{ status: number; body: string; upgraded: boolean }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { perMessageDeflate: false, headers });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, upgraded: false }));
    });
    ws.on('upgrade', (res) => {
      ws.terminate();
      resolve({ status: res.statusCode ?? 0, body: '', upgraded: true });
    });
    ws.on('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

/** A second connection doing a full command round trip: proof that the server still serves and nobody else noticed. */
export async function stillServes(url: string, format: 'json' | 'msgpack' = 'json'): Promise<void> {
  const c = await rawClient(url, format);
  const reply = await c.request({ kind: 'command', id: 'probe', entity: { type: 'counter', id: 'probe' }, command: 'get' });
  if (reply.kind !== 'reply' || typeof reply.result !== 'number') throw new Error(`probe failed: ${JSON.stringify(reply)}`);
  c.close();
}

/** Lets pending I/O and microtasks run (no timers involved). */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Waits until `predicate` holds, letting I/O run; bounded by turns of the event loop, never by a clock. */
export async function until(predicate: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 20_000; i++) {
    if (predicate()) return;
    await turn();
  }
  throw new Error(`gave up waiting for ${what}`);
}
