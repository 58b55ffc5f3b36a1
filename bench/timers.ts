// npm run bench -- timers
//
// timers_fired_per_s             50 000 durable timers on 1000 entities, all due at the same moment, on DATABASE_URL:
//                                timers delivered (claimed, the command run, its event and the timer's completion
//                                committed in one write) per second of wall time, until the last is done (target ≥ 10 000)
// commands_per_s_baseline        the same command (one event) sent as plain asks to the same 1000 entities, 50 000 of
//                                them with 1000 in flight (one per entity), same store, same run
// timers_to_commands_ratio       timers_fired_per_s ÷ commands_per_s_baseline
// schedule_commands_per_s        commands that each schedule 50 timers (and write one event), 1000 in flight
//
// Best of 3 interleaved runs each (the VM's speed varies). The timer service's clock is a ManualClock (moved
// once, to make every timer due at once); the database and the measurement use real time.
import pg from 'pg';
import { z } from 'zod';
import { createActorSystem, EntityRuntime, eventSourcedEntity, ManualClock, silentLogger } from '../src/index.js';
import { createStore, type Store } from '../src/persistence/index.js';
import { log, now, report, round } from './_report.js';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ENTITIES = 1000;
const PER_ENTITY = 50;
const TIMERS = ENTITIES * PER_ENTITY;
const RUNS = 3;
const SCHEMA = `bench_timers_${process.pid}`;
const T0 = Date.UTC(2030, 0, 1);

const ticker = eventSourcedEntity('ticker')
  .initialState(() => ({ ticks: 0 }))
  .events<{ type: 'Ticked' } | { type: 'Set' }>({ Ticked: (s) => ({ ticks: s.ticks + 1 }), Set: (s) => s })
  .command('tick', (_s, _i, ctx) => ctx.emit({ type: 'Ticked' }).reply(true))
  .command('setMany', z.object({ n: z.number(), at: z.number(), round: z.number() }), (_s, i, ctx) => {
    for (let k = 0; k < i.n; k++) ctx.schedule(`r${i.round}-${k}`, { at: i.at }, 'tick');
    return ctx.emit({ type: 'Set' }).reply(true);
  });

async function withRuntime<T>(store: Store, clock: ManualClock, fn: (rt: EntityRuntime) => Promise<T>): Promise<T> {
  const system = createActorSystem({ clock, logger: silentLogger });
  const runtime = new EntityRuntime(system, { store, timers: { batchSize: 2000, leaseMs: 120_000, deliveryTimeoutMs: 60_000 } });
  runtime.register(ticker, { idleTimeoutMs: Infinity });
  try {
    return await fn(runtime);
  } finally {
    // Stopping drains on the manual clock; nothing is in flight by now.
    const stopped = system.stop();
    clock.advance(10_000);
    await stopped;
  }
}

/** `total` asks, `ENTITIES` in flight (one per entity), each entity in turn. */
async function plainCommands(rt: EntityRuntime, total: number): Promise<number> {
  const refs = Array.from({ length: ENTITIES }, (_, i) => rt.ref(ticker, `e${i}`));
  const start = now();
  await Promise.all(
    refs.map(async (ref) => {
      for (let k = 0; k < total / ENTITIES; k++) await ref.ask('tick', undefined, { timeout: 60_000 });
    }),
  );
  return total / ((now() - start) / 1000);
}

async function main(): Promise<void> {
  const store = await createStore({ kind: 'postgres', connectionString: DATABASE_URL, schema: SCHEMA, poolSize: 8, logger: silentLogger });
  const metrics: Record<string, number> = {};
  const best = (k: string, v: number): void => {
    metrics[k] = Math.max(metrics[k] ?? 0, round(v));
  };
  try {
    for (let run = 0; run < RUNS; run++) {
      // Baseline: plain commands to the same entities (activated, so both sides run warm).
      const clockA = new ManualClock({ wall: T0 });
      const cps = await withRuntime(store, clockA, async (rt) => {
        await plainCommands(rt, ENTITIES * 5); // activation and warm-up
        return plainCommands(rt, TIMERS);
      });
      best('commands_per_s_baseline', cps);
      log(`run ${run + 1}: plain commands ${round(cps)}/s`);

      // Timers: schedule 50 000 due at one moment, move the clock there, time until all are delivered.
      const clockB = new ManualClock({ wall: T0 });
      await withRuntime(store, clockB, async (rt) => {
        await plainCommands(rt, ENTITIES * 5);
        const at = T0 + 60_000;
        const s0 = now();
        await Promise.all(Array.from({ length: ENTITIES }, (_, i) => rt.ref(ticker, `e${i}`).ask('setMany', { n: PER_ENTITY, at, round: run }, { timeout: 60_000 })));
        best('schedule_commands_per_s', ENTITIES / ((now() - s0) / 1000));
        await rt.timers.idle();
        const before = rt.timers.stats().fired;
        const start = now();
        clockB.advance(60_000);
        await rt.timers.idle();
        const elapsed = (now() - start) / 1000;
        const fired = rt.timers.stats().fired - before;
        if (fired !== TIMERS) throw new Error(`expected ${TIMERS} deliveries, got ${fired} (${JSON.stringify(rt.timers.stats())})`);
        const left = (await store.timers.list()).length;
        if (left !== 0) throw new Error(`${left} timers left after delivery`);
        best('timers_fired_per_s', TIMERS / elapsed);
        log(`run ${run + 1}: ${TIMERS} timers in ${round(elapsed, 2)} s: ${round(TIMERS / elapsed)}/s`);
      });
    }
    metrics.timers_to_commands_ratio = round((metrics.timers_fired_per_s ?? 0) / (metrics.commands_per_s_baseline ?? 1), 2);
  } finally {
    await store.close();
    const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
    await admin.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
    await admin.end();
  }
  report('timers', metrics);
}

await main();
