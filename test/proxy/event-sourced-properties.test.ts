// The Kalix protocol's rules for event-sourced entities as properties, against the scripted fake
// user function (a counter): (1) a reply's events are persisted before the reply is delivered,
// whatever the interleaving of entities, write delays and failed writes; (2) a new stream is
// inited with exactly the journal after its latest snapshot (or deletion), in order, whatever the
// mix of the user function's snapshots, requested snapshots, beamstate snapshots, deletes and
// restarts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActorSystem, EntityRuntime, ManualClock, silentLogger } from '../../src/index.js';
import { createStore, StoreUnavailableError, type Store } from '../../src/persistence/index.js';
import type { PersistentEvent } from '../../src/persistence/journal.js';
import { type KalixJournalEvent, type ProxyOptions, startProxy } from '../../src/proxy/index.js';
import { counterRoot, counterScript, type Script, startFake, type StreamIn } from './fake-user-function.js';
import './support.js'; // its afterEach stops the fakes

const Added = counterRoot.lookupType('test.counter.Added');
const Value = counterRoot.lookupType('test.counter.Value');
const nOf = (value: Uint8Array): number => (Added.toObject(Added.decode(value)).n as number | undefined) ?? 0;
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

async function proxied(address: string, store: Store, options: Partial<ProxyOptions> = {}, clock?: ManualClock) {
  const system = createActorSystem({ logger: silentLogger, ...(clock ? { clock } : {}) });
  const runtime = new EntityRuntime(system, { store });
  const proxy = await startProxy({ userFunction: address, runtime, ...options, settings: { backoff: { minMs: 0, maxMs: 0, randomFactor: 0 }, ...options.settings } });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await runtime.stop();
    await proxy.close();
    await system.stop();
  };
  return { runtime, proxy, stop };
}

type Log = { kind: 'commit'; pid: string; sum: number } | { kind: 'reply'; pid: string; value: number };

/**
 * `store` whose appends each wait a number of event-loop turns (taken in turn from `delays`) and
 * fail when told (nothing written); every committed append is logged with the entity's sum of
 * committed `Added` events after it.
 */
function watchedStore(store: Store, delays: readonly number[], log: Log[]): { store: Store; failNext(): void } {
  let fail = false;
  let i = 0;
  const sums = new Map<string, number>();
  const journal = new Proxy(store.journal, {
    get(t, key) {
      if (key === 'append') {
        return async (...args: Parameters<Store['journal']['append']>) => {
          const failing = fail;
          fail = false;
          for (let d = delays.length === 0 ? 0 : (delays[i++ % delays.length] as number); d > 0; d--) await tick();
          if (failing) throw new StoreUnavailableError('database went away');
          const result = await t.append(...args);
          const [pid, , events] = args as unknown as [string, number, readonly { payload: KalixJournalEvent }[]];
          let sum = sums.get(pid) ?? 0;
          for (const e of events) if (e.payload.type === 'KalixEvent') sum += nOf(e.payload.value);
          sums.set(pid, sum);
          log.push({ kind: 'commit', pid, sum });
          return result;
        };
      }
      const v: unknown = Reflect.get(t, key, t);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
  return { store: { ...store, journal, close: () => store.close(), [Symbol.asyncDispose]: () => store.close() }, failNext: () => (fail = true) };
}

// One fake per test, shared by its property's runs (each run uses entity ids of its own).
let run = 0;

describe("a reply's events are persisted before the reply is delivered", () => {
  it('for any interleaving of commands to several entities, write delays and failed writes', async () => {
    const fake = await startFake();
    const Round = fc.array(fc.record({ entity: fc.integer({ min: 0, max: 2 }), n: fc.integer({ min: 1, max: 9 }), failWrite: fc.boolean() }), { minLength: 1, maxLength: 5 });
    await fc.assert(
      fc.asyncProperty(fc.array(Round, { minLength: 1, maxLength: 6 }), fc.array(fc.nat({ max: 6 }), { maxLength: 8 }), async (rounds, delays) => {
        const r = run++;
        const log: Log[] = [];
        const base = await createStore({ kind: 'memory', logger: silentLogger });
        const { store, failNext } = watchedStore(base, delays, log);
        const { runtime, stop } = await proxied(fake.address, store);
        try {
          const pid = (e: number): string => `counter|p${r}-${e}`;
          const acked = new Map<number, number>();
          for (const round of rounds) {
            // A failed write is armed for the round's first append only: which command it hits is up to the interleaving.
            if (round.some((c) => c.failWrite)) failNext();
            const results = await Promise.allSettled(
              round.map((c) =>
                runtime
                  .refFor('counter', `p${r}-${c.entity}`)
                  .ask('Add', { n: c.n })
                  .then((reply) => {
                    // Delivered: its commit must be in the log already, with exactly this sum.
                    const value = (reply as { value: number }).value;
                    log.push({ kind: 'reply', pid: pid(c.entity), value });
                    return value;
                  }),
              ),
            );
            results.forEach((res, i) => {
              const c = round[i] as (typeof round)[number];
              if (res.status === 'fulfilled') acked.set(c.entity, (acked.get(c.entity) ?? 0) + c.n);
              else expect(res.reason).toMatchObject({ code: 'PERSIST_FAILED' });
            });
          }
          for (const [i, entry] of log.entries()) {
            if (entry.kind !== 'reply') continue;
            const committedBefore = log.slice(0, i).some((e) => e.kind === 'commit' && e.pid === entry.pid && e.sum === entry.value);
            expect(committedBefore, `reply ${entry.value} of ${entry.pid} delivered before its commit`).toBe(true);
          }
          // Nothing acknowledged is lost and nothing unacknowledged is kept: the journal sums to the acked adds,
          // and the user function (re-inited after a failed write) agrees.
          for (const [e, sum] of acked) {
            const journal = await base.journal.read(pid(e));
            expect(journal.reduce((s, ev) => s + nOf((ev.payload as { value: Uint8Array }).value), 0)).toBe(sum);
            expect(await runtime.refFor('counter', `p${r}-${e}`).ask('Get', {})).toEqual({ value: sum });
          }
        } finally {
          await stop();
          await base.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});

type Op = { kind: 'add'; n: number } | { kind: 'delete' } | { kind: 'restart' } | { kind: 'passivate' };

/** The counter, adding its own snapshot (its state as a Value) to every reply whose n is a multiple of 4. */
const snapshotting: Script = (msg, write, s) =>
  counterScript(
    msg,
    (out) => {
      const reply = (out as { reply?: { events?: { value: Uint8Array }[] } }).reply;
      const n = reply?.events?.length === 1 ? nOf((reply.events[0] as { value: Uint8Array }).value) : 0;
      if (n > 0 && n % 4 === 0) Object.assign(reply as object, { snapshot: { typeUrl: 'type.googleapis.com/test.counter.Value', value: Value.encode({ value: s.state }).finish() } });
      write(out);
    },
    s,
  );

/**
 * What a new stream must be inited with, read from the journal without the proxy's fold: the
 * latest snapshot or deletion marker, its sequence number counted as the events before it, and
 * every event after it, in journal order, numbered on from there.
 */
function expectedInit(journal: readonly PersistentEvent[]): { snapshot: number[] | undefined; snapshotSequence: number; events: { sequence: number; n: number }[] } {
  const kinds = journal.map((e) => (e.payload as KalixJournalEvent).type);
  const last = Math.max(kinds.lastIndexOf('KalixSnapshot'), kinds.lastIndexOf('KalixDeleted'));
  const eventsBefore = kinds.slice(0, Math.max(last, 0)).filter((k) => k === 'KalixEvent').length;
  const anchor = last < 0 ? undefined : (journal[last]?.payload as KalixJournalEvent);
  const after = journal.slice(last + 1).map((e) => e.payload as KalixJournalEvent);
  return {
    snapshot: anchor?.type === 'KalixSnapshot' ? Array.from(anchor.value) : undefined,
    // Sent with a snapshot only; after a deletion the events still go on numbering from it.
    snapshotSequence: anchor?.type === 'KalixSnapshot' ? eventsBefore : 0,
    events: after.map((e, i) => ({ sequence: eventsBefore + i + 1, n: e.type === 'KalixEvent' ? nOf(e.value) : -1 })),
  };
}

function actualInit(stream: readonly StreamIn[]) {
  const init = stream[0]?.init;
  const events = stream.filter((m) => m.event !== undefined).map((m) => ({ sequence: Number(m.event?.sequence), n: nOf(m.event?.payload.value ?? new Uint8Array()) }));
  const snap = init?.snapshot;
  return { snapshot: snap?.snapshot?.value === undefined ? undefined : Array.from(snap.snapshot.value), snapshotSequence: Number(snap?.snapshotSequence ?? 0), events };
}

describe('recovery replays exactly the journal after the snapshot, in order', () => {
  it("for any mix of adds, the user function's snapshots, requested snapshots, beamstate snapshots, deletes, passivations and restarts", async () => {
    const fake = await startFake({ script: snapshotting });
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('add' as const), n: fc.integer({ min: 1, max: 9 }) }) },
      { weight: 1, arbitrary: fc.constant<Op>({ kind: 'delete' }) },
      { weight: 2, arbitrary: fc.constant<Op>({ kind: 'restart' }) },
      { weight: 1, arbitrary: fc.constant<Op>({ kind: 'passivate' }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 20 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 4 }), async (ops, snapshotRequestEvery, snapshotEvery) => {
        const id = `r${run++}`;
        const store = await createStore({ kind: 'memory', logger: silentLogger });
        const options = { snapshotRequestEvery, settings: { snapshotEvery, idleTimeoutMs: 1000 } };
        const clock = new ManualClock();
        let h = await proxied(fake.address, store, options, clock);
        let model = 0; // the counter's value: the adds since the last delete
        const streamsOf = () => fake.streams.filter((s) => s[0]?.init?.entityId === id);
        /** The next command opens a new stream: it must be inited with exactly the journal after the latest snapshot. */
        const checkNextInit = async (): Promise<void> => {
          const before = streamsOf().length;
          // Read first: the command may append a snapshot the proxy asks for on the new stream.
          const expected = expectedInit(await store.journal.read(`counter|${id}`));
          expect(await h.runtime.refFor('counter', id).ask('Get', {})).toEqual(model === 0 ? {} : { value: model });
          const opened = streamsOf();
          expect(opened.length).toBe(before + 1);
          expect(actualInit(opened[before] as StreamIn[])).toEqual(expected);
        };
        try {
          for (const o of ops) {
            if (o.kind === 'add') {
              model += o.n;
              expect(await h.runtime.refFor('counter', id).ask('Add', { n: o.n })).toEqual({ value: model });
            } else if (o.kind === 'delete') {
              model = 0;
              expect(await h.runtime.refFor('counter', id).ask('Delete', {})).toEqual({});
              await checkNextInit(); // a deleted entity's next stream starts empty
            } else if (o.kind === 'passivate') {
              clock.advance(1001);
              for (let i = 0; i < 10_000 && h.proxy.openStreams > 0; i++) await tick();
              expect(h.proxy.openStreams).toBe(0);
              await checkNextInit();
            } else {
              await h.stop();
              h = await proxied(fake.address, store, options, clock);
              await checkNextInit();
            }
          }
          await h.stop();
          h = await proxied(fake.address, store, options, clock);
          await checkNextInit();
        } finally {
          await h.stop();
          await store.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});
