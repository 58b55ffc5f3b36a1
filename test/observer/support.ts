// Test support for the observer: a runtime with a counter entity and a small supervision tree,
// behind a gateway on a free port, with the observer mounted on it; cleanup after each test.
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
  requestToken,
  silentLogger,
  startSupervisor,
  type SupervisorRef,
} from '../../src/index.js';
import { createStore } from '../../src/persistence/index.js';
import { createObserver, type Observer, OBSERVER_SUBPROTOCOL, type ObserverOptions, type ServerFrame } from '../../src/observer/index.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

export function onCleanup(fn: () => Promise<unknown> | unknown): void {
  cleanups.push(fn);
}

export const counter = eventSourcedEntity('counter')
  .initialState(() => ({ value: 0 }))
  .events<{ type: 'Added'; n: number }>({ Added: (s, e) => ({ value: s.value + e.n }) })
  .command('add', z.object({ n: z.number().int() }), (_s, { n }, ctx) => ctx.emit({ type: 'Added', n }).thenReply((st) => st.value))
  .command('get', (s, _i, ctx) => ctx.reply(s.value));

export interface User {
  readonly name: string;
  readonly admin: boolean;
}

/** Tokens the test's authenticate hook knows. */
export const TOKENS: Record<string, User> = { 'admin-token': { name: 'ada', admin: true }, 'viewer-token': { name: 'vic', admin: false } };

export interface Setup {
  readonly system: ActorSystem;
  readonly runtime: EntityRuntime;
  readonly gateway: Gateway<User>;
  readonly observer: Observer<User>;
  readonly app: SupervisorRef;
  /** http://127.0.0.1:port */
  readonly base: string;
}

/** A crashable worker: `'crash'` throws, anything else is counted. */
const worker = {
  init: () => 0,
  receive: (n: number, msg: unknown) => {
    if (msg === 'crash') throw new Error('crashed on purpose');
    return n + 1;
  },
};

export async function setup(options: Partial<ObserverOptions<User>> = {}): Promise<Setup> {
  const system = createActorSystem({ logger: silentLogger, name: 'observed' });
  const store = await createStore({ kind: 'memory', logger: silentLogger });
  const runtime = new EntityRuntime(system, { store, logger: silentLogger });
  runtime.register(counter);
  const app = await startSupervisor(system, {
    name: 'app',
    strategy: 'one-for-one',
    intensity: 1000,
    periodMs: 1000,
    children: [
      { id: 'worker-a', start: (ctx) => ctx.spawn(worker, { name: 'worker-a' }) },
      { id: 'worker-b', start: (ctx) => ctx.spawn(worker, { name: 'worker-b' }) },
    ],
  });
  const gateway = await createGateway<User>({
    runtime,
    port: 0,
    host: '127.0.0.1',
    logger: silentLogger,
    authenticate: (req) => TOKENS[requestToken(req) ?? ''],
    // Viewers may read (get), not write: for the gateway's forbidden counter.
    authorize: (user, req) => user.admin || (req.action === 'command' && req.command === 'get'),
  });
  const observer = createObserver<User>({
    runtime,
    gateway,
    intervalMs: 100,
    authorizeAction: (user) => user.admin,
    ...options,
  });
  onCleanup(async () => {
    await observer.close();
    await gateway.close();
    await runtime.stop();
    await system.stop();
    await store.close();
  });
  return { system, runtime, gateway, observer, app, base: `http://127.0.0.1:${gateway.port}` };
}

/** A raw observer channel client: frames in arrival order, and a wait for the next one that matches. */
export class RawObserver {
  readonly frames: ServerFrame[] = [];
  private waiters: { test: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void }[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as ServerFrame;
      // The first waiter that wants it takes it; otherwise it is kept for a later `next`.
      const i = this.waiters.findIndex((w) => w.test(f));
      if (i < 0) this.frames.push(f);
      else this.waiters.splice(i, 1)[0]?.resolve(f);
    });
  }

  static async open(base: string, token: string | undefined, path = '/observer/ws'): Promise<RawObserver> {
    const headers: Record<string, string> = token === undefined ? {} : { Authorization: `Bearer ${token}` };
    const ws = new WebSocket(`${base.replace('http', 'ws')}${path}`, [OBSERVER_SUBPROTOCOL], { headers });
    const raw = new RawObserver(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    onCleanup(() => ws.close());
    return raw;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  next(test: (f: ServerFrame) => boolean): Promise<ServerFrame> {
    const seen = this.frames.find(test);
    if (seen !== undefined) {
      this.frames.splice(this.frames.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  private ref = 0;
  /** Sends a request and waits for its reply. */
  async request(frame: Record<string, unknown>): Promise<Extract<ServerFrame, { type: 'reply' }>> {
    const ref = ++this.ref;
    this.send({ ...frame, ref });
    return (await this.next((f) => f.type === 'reply' && f.ref === ref)) as Extract<ServerFrame, { type: 'reply' }>;
  }
}
