// The observer's channel spoken raw: who may connect, what a watch delivers, and hostile frames
// (a clear error, no effect on the system). Also: an observer nobody watches subscribes to
// nothing and runs no timer.
import fc from 'fast-check';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { OBSERVER_SUBPROTOCOL, type ServerFrame, type Update } from '../../src/observer/index.js';
import { counter, RawObserver, setup } from './support.js';

type Reply = Extract<ServerFrame, { type: 'reply' }>;
const isUpdate = (f: ServerFrame): f is Update => f.type === 'update';

async function upgradeStatus(url: string, protocols: string[], headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers });
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('error', (err) => {
      if (!String(err).includes('Unexpected server response')) reject(err);
    });
  });
}

describe('observer channel: who may connect', () => {
  it('needs the observer subprotocol and an authenticated user', async () => {
    const { base } = await setup();
    const url = `${base.replace('http', 'ws')}/observer/ws`;
    expect(await upgradeStatus(url, ['beamstate.v1.json'], { Authorization: 'Bearer admin-token' })).toBe(400);
    expect(await upgradeStatus(url, [OBSERVER_SUBPROTOCOL])).toBe(401);
    expect(await upgradeStatus(url, [OBSERVER_SUBPROTOCOL], { Authorization: 'Bearer wrong' })).toBe(401);
    expect(await upgradeStatus(url, [OBSERVER_SUBPROTOCOL], { Authorization: 'Bearer viewer-token' })).toBe(101);
    // The token as the browser sends it, in a subprotocol entry.
    expect(await upgradeStatus(url, [OBSERVER_SUBPROTOCOL, `beamstate.auth.${Buffer.from('viewer-token').toString('base64url')}`])).toBe(101);
  });

  it('without any authenticate hook the channel is refused unless allowAnonymous', async () => {
    const { createActorSystem, silentLogger } = await import('../../src/index.js');
    const { createObserver } = await import('../../src/observer/index.js');
    const { createServer } = await import('node:http');
    const system = createActorSystem({ logger: silentLogger });
    for (const allowAnonymous of [false, true]) {
      const observer = createObserver({ system, allowAnonymous });
      const server = createServer((req, res) => {
        if (!observer.handle(req, res)) res.writeHead(404).end();
      });
      server.on('upgrade', (req, socket, head) => {
        if (!observer.handleUpgrade(req, socket, head)) socket.destroy();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      expect(await upgradeStatus(`ws://127.0.0.1:${port}/observer/ws`, [OBSERVER_SUBPROTOCOL])).toBe(allowAnonymous ? 101 : 401);
      await observer.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    await system.stop();
  });
});

describe('observer channel: updates', () => {
  it('a watch is answered with an update at once, then one per interval, with the query it asked for', async () => {
    const { base, runtime } = await setup();
    for (let i = 0; i < 30; i++) await runtime.ref(counter, `k-${i}`).ask('add', { n: 1 });
    const o = await RawObserver.open(base, 'viewer-token');
    const hello = await o.next((f) => f.type === 'hello');
    expect(hello).toMatchObject({ type: 'hello', actions: false, system: 'observed' });
    o.send({ op: 'watch', processes: { search: 'entity:counter', sort: 'id', desc: true, page: 1, pageSize: 10 } });
    const u = (await o.next(isUpdate)) as Update;
    expect(u.processes.total).toBe(30);
    expect(u.processes.rows).toHaveLength(10);
    expect(u.processes.rows.every((r) => r.behaviour === 'entity:counter')).toBe(true);
    // Descending by id, second page: ids strictly decreasing.
    const ids = u.processes.rows.map((r) => r.id);
    expect([...ids].sort((a, b) => b - a)).toEqual(ids);
    expect(u.entities).toEqual([expect.objectContaining({ type: 'counter', active: 30 })]);
    expect(u.journal.appends).toBe(30);
    expect(u.tree.map((n) => n.name)).toContain('app');
    expect(u.gateway).toMatchObject({ attached: true, connections: 0, observers: 1, slowConsumersClosed: 0, forbidden: 0 });
    // The next one comes by the interval, not by asking.
    const next = (await o.next((f) => isUpdate(f) && f.at > u.at)) as Update;
    expect(next.processes.query).toEqual({ search: 'entity:counter', sort: 'id', desc: true, page: 1, pageSize: 10 });
  });

  it('messages per second and mailbox depth are measured', async () => {
    const { base, system } = await setup();
    const o = await RawObserver.open(base, 'viewer-token');
    o.send({ op: 'watch', processes: { search: 'worker-a' } });
    await o.next(isUpdate);
    const w = system.whereis('worker-a');
    for (let i = 0; i < 500; i++) w?.tell('tick');
    await system.whenIdle();
    const u = (await o.next((f) => isUpdate(f) && (f.processes.rows[0]?.rate ?? 0) > 0)) as Update;
    expect(u.processes.rows[0]).toMatchObject({ name: 'worker-a', behaviour: 'actor', mailbox: 0 });
    const detail = (await o.request({ op: 'process', id: w?.id })) as Reply;
    expect(detail.ok && (detail.result as { handled: number }).handled).toBe(500);
  });
});

describe('observer channel: hostile input', () => {
  it('answers each bad frame with a clear error code and changes nothing', async () => {
    const { base, system, observer } = await setup({ actions: true });
    const o = await RawObserver.open(base, 'viewer-token');
    await o.next((f) => f.type === 'hello');
    const actors = system.actorCount;
    const cases: [unknown, string][] = [
      ['not json', 'OBSERVER_BAD_FRAME'],
      ['[1,2]', 'OBSERVER_BAD_FRAME'],
      [{ op: 'drop tables' }, 'OBSERVER_BAD_FRAME'],
      [{ op: 'process', ref: 1, id: 'x' }, 'OBSERVER_BAD_FRAME'],
      [{ op: 'process', ref: 2, id: -1 }, 'OBSERVER_BAD_FRAME'],
      [{ op: 'process', ref: 3, id: 999999 }, 'OBSERVER_NOT_FOUND'],
      [{ op: 'entity', ref: 4, type: 'counter', id: 'x'.repeat(600) }, 'OBSERVER_BAD_FRAME'],
      [{ op: 'entity', ref: 5, type: '__proto__', id: 'a' }, 'OBSERVER_NOT_FOUND'],
      [{ op: 'entity', ref: 6, type: 'counter', id: 'never-seen' }, 'OBSERVER_NOT_FOUND'],
      [{ op: 'action', ref: 7, action: 'rm -rf', actor: 1 }, 'OBSERVER_BAD_FRAME'],
      [{ op: 'action', ref: 8, action: 'kill', actor: '1' }, 'OBSERVER_BAD_FRAME'],
      // A viewer: authenticated, not authorized.
      [{ op: 'action', ref: 9, action: 'kill', actor: system.whereis('worker-a')?.id }, 'OBSERVER_FORBIDDEN'],
      [{ op: 'action', ref: 10, action: 'passivate', type: 'counter', id: 'x' }, 'OBSERVER_FORBIDDEN'],
      [{ op: 'watch', processes: { sort: 'constructor' } }, 'OBSERVER_BAD_FRAME'],
      [{ op: 'watch', processes: { pageSize: 1e9 } }, 'OBSERVER_BAD_FRAME'],
      [{ op: 'watch', processes: 'all' }, 'OBSERVER_BAD_FRAME'],
    ];
    for (const [frame, code] of cases) {
      o.send(frame);
      const answer = await o.next((f) => f.type === 'error' || (f.type === 'reply' && !f.ok));
      const error = answer.type === 'error' ? answer.error : (answer as Extract<Reply, { ok: false }>).error;
      expect(error.code, JSON.stringify(frame).slice(0, 80)).toBe(code);
    }
    // A binary frame.
    o.ws.send(Buffer.from([1, 2, 3]));
    const bin = await o.next((f) => f.type === 'error');
    expect(bin.type === 'error' && bin.error.code).toBe('OBSERVER_BAD_FRAME');
    expect(system.actorCount).toBe(actors);
    expect(system.whereis('worker-a')?.alive).toBe(true);
    // A frame over 16 KiB closes the connection (1009), nothing else.
    const closed = new Promise<number>((r) => o.ws.once('close', (code) => r(code)));
    o.ws.send('x'.repeat(17 * 1024));
    expect(await closed).toBe(1009);
    expect(system.actorCount).toBe(actors);
    expect(observer.ready).toBe(true);
  });

  it('actions are refused while disabled, even for an admin', async () => {
    const { base, system } = await setup();
    const o = await RawObserver.open(base, 'admin-token');
    const r = await o.request({ op: 'action', action: 'kill', actor: system.whereis('worker-a')?.id });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.code).toBe('OBSERVER_ACTIONS_DISABLED');
    expect(system.whereis('worker-a')?.alive).toBe(true);
  });

  it('an admin restarts and terminates a static child and passivates an entity', async () => {
    const { base, system, runtime } = await setup({ actions: true });
    await runtime.ref(counter, 'p-1').ask('add', { n: 3 });
    const o = await RawObserver.open(base, 'admin-token');
    const app = system.whereis('app');
    const before = system.whereis('worker-b');
    const restarted = await o.request({ op: 'action', action: 'terminate-child', supervisor: app?.id, child: 'worker-b' });
    expect(restarted.ok).toBe(true);
    expect(before?.alive).toBe(false);
    const again = await o.request({ op: 'action', action: 'restart-child', supervisor: app?.id, child: 'worker-b' });
    expect(again.ok).toBe(true);
    expect(system.whereis('worker-b')?.alive).toBe(true);
    const missing = await o.request({ op: 'action', action: 'restart-child', supervisor: app?.id, child: 'nope' });
    expect(!missing.ok && missing.error.code).toBe('OBSERVER_NOT_FOUND');
    const p = await o.request({ op: 'action', action: 'passivate', type: 'counter', id: 'p-1' });
    expect(p.ok).toBe(true);
    await system.whenIdle();
    await expect.poll(() => runtime.regionNamed('counter')?.slots.has('p-1')).toBe(false);
    // Passivated: found from the journal, not activated by the look-up.
    const found = (await o.request({ op: 'entity', type: 'counter', id: 'p-1' })) as Extract<Reply, { ok: true }>;
    expect(found.result).toMatchObject({ active: false, sequenceNr: 1, recentEvents: [{ sequenceNr: 1, type: 'Added', payload: { type: 'Added', n: 3 } }] });
    expect((found.result as { state?: unknown }).state).toBeUndefined();
    expect(runtime.regionNamed('counter')?.slots.has('p-1')).toBe(false);
  });

  it('property: any JSON frame gets an answer with a code or an update, and the system is untouched', async () => {
    const { base, system } = await setup({ actions: true });
    const o = await RawObserver.open(base, 'viewer-token');
    await o.next((f) => f.type === 'hello');
    const actors = system.actorCount;
    const worker = system.whereis('worker-a');
    let ref = 1000;
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            op: fc.oneof(fc.constantFrom('watch', 'process', 'entity', 'action'), fc.string()),
            action: fc.oneof(fc.constantFrom('kill', 'restart-child', 'terminate-child', 'passivate'), fc.string()),
            actor: fc.oneof(fc.integer(), fc.string(), fc.constant(worker?.id)),
            id: fc.oneof(fc.integer(), fc.string()),
            type: fc.oneof(fc.constant('counter'), fc.string()),
            supervisor: fc.anything(),
            child: fc.anything(),
            processes: fc.anything(),
          },
          { requiredKeys: ['op'] },
        ),
        async (frame) => {
          const r = ++ref;
          const watching = frame.op === 'watch';
          o.send({ ...frame, ref: r });
          const answer = await o.next((f) => (f.type === 'reply' && f.ref === r) || f.type === 'error' || (watching && f.type === 'update'));
          if (answer.type === 'reply' && !answer.ok) expect(answer.error.code).toMatch(/^OBSERVER_[A-Z_]+$/);
          if (answer.type === 'error') expect(answer.error.code).toMatch(/^OBSERVER_[A-Z_]+$/);
          // A viewer's action never succeeds.
          if (frame.op === 'action') expect(answer.type === 'reply' && answer.ok).toBe(false);
          o.frames.length = 0;
        },
      ),
      { numRuns: 150 },
    );
    expect(system.actorCount).toBe(actors);
    expect(worker?.alive).toBe(true);
  });
});

describe('observer: free when unobserved', () => {
  it('subscribes to nothing and runs no timer until a page connects or /metrics is scraped; stops with the last page', async () => {
    const { base, system, observer } = await setup();
    expect(system.events.active).toBe(false);
    const o = await RawObserver.open(base, 'viewer-token');
    await o.next((f) => f.type === 'hello');
    expect(system.events.active).toBe(true);
    o.send({ op: 'watch' });
    await o.next(isUpdate);
    const closed = new Promise((r) => o.ws.once('close', r));
    o.ws.close();
    await closed;
    await expect.poll(() => observer.connections).toBe(0);
    await observer.close();
    expect(system.events.active).toBe(false);
  });
});

describe('observer: closing', () => {
  it('the gateway closing closes the pages too (they would hold its HTTP server open)', async () => {
    const { base, gateway, observer } = await setup();
    const o = await RawObserver.open(base, 'viewer-token');
    await o.next((f) => f.type === 'hello');
    const closed = new Promise<number>((r) => o.ws.once('close', (code) => r(code)));
    await gateway.close();
    expect(await closed).toBe(1001);
    expect(observer.connections).toBe(0);
    expect(observer.ready).toBe(false);
  });
});
