// npm run bench -- entities
//
// commands_per_s_memory        1000 entities receiving asks concurrently (one in flight each), in-memory store,
//                              best of 3 runs of 1 M commands after 200 k of warm-up
// actor_asks_per_s_baseline    the same load (and warm-up) as asks to 1000 plain actors holding a counter (no persistence);
//                              the two are run interleaved, so that both see the machine at the same speed
// commands_to_actor_asks_ratio commands_per_s_memory ÷ actor_asks_per_s_baseline, same run (target ≥ 0.2)
// command_saturation_per_s_postgres  open loop (bench/_open-loop.ts): the highest rate of commands (asks to
//                              1000 entities, one event each, on DATABASE_URL) the runtime sustains
// command_p99_ms_postgres_at_50pct / _at_80pct  p99 latency offered 50 % / 80 % of that rate, measured from
//                              each command's scheduled send time (with _p50_ and _p999_ beside them)
// journal_append_saturation_per_s_baseline  the same open-loop search for direct journal appends
//                              (same store, same group commit, 1000 ids)
// activations_per_s_postgres   activating 100 k entities that each have 10 events
// replay_reads_per_s_baseline  reading those entities' events straight from the journal, same concurrency
// active_entity_bytes          heap per active idle entity with a small state (100 k entities)
// idle_actor_bytes_baseline    heap per idle plain actor with the same state
// passivated_entity_bytes      heap left per entity after all of them passivated
//
// For investigating (not for the reported figures), environment variables:
//   BENCH_ONLY=memory,postgres,activations,resident   run only these parts
//   BENCH_RATES=16000,32000   skip the open-loop searches: run commands and journal appends at these rates
//   BENCH_IN_FLIGHT, BENCH_MAX_EVENTS   the PostgreSQL store's group-commit options
//
// Context over the 80 % run (bench/_process-stats.ts): event-loop delay p99/max, longest GC pause
// and the share of time in GC, group-commit batch sizes and commit p99, CPU of this process
// (which here also runs the schedule), of its PostgreSQL backends and of the whole machine.
import pg from 'pg';
import { z } from 'zod';
import { type ActorRef, createActorSystem, EntityRuntime, eventSourcedEntity, ManualClock } from '../src/index.js';
import { createStore, type Store } from '../src/persistence/index.js';
import { atFractions, describe, findSaturation, openLoop, type TrialResult } from './_open-loop.js';
import { backendPids, describeStats, type ProcessStats, watchProcess } from './_process-stats.js';
import { gc, log, now, report, round } from './_report.js';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ENTITIES = 1000;
const MEMORY_COMMANDS = 1_000_000;
/** Commands run before measuring (JIT warm-up), for the entities and their actor baseline alike. */
const WARMUP = 200_000;
/** In-memory runs are short and this VM's speed varies from second to second: best of 3, both sides. */
const RUNS = 3;
/** Open-loop search trials, and the measured runs at 50 % and 80 % of saturation. */
const SEARCH = { warmupMs: 500, durationMs: 2000 };
const MEASURE = { warmupMs: 1000, durationMs: 5000 };
const START_RATE = 8000;
const APP_NAME = `bench_entities_${process.pid}`;
const env = (name: string): string | undefined => (process.env[name] === '' ? undefined : process.env[name]);
const ONLY = env('BENCH_ONLY')?.split(',');
const part = (name: string): boolean => ONLY === undefined || ONLY.includes(name);
const FIXED_RATES = env('BENCH_RATES')?.split(',').map(Number);
const groupCommit = {
  ...(env('BENCH_IN_FLIGHT') === undefined ? {} : { maxBatchesInFlight: Number(env('BENCH_IN_FLIGHT')) }),
  ...(env('BENCH_MAX_EVENTS') === undefined ? {} : { maxBatchEvents: Number(env('BENCH_MAX_EVENTS')) }),
};
const ACTIVATE = 100_000;
const EVENTS_EACH = 10;
const RESIDENT = 100_000;

const counter = eventSourcedEntity('counter')
  .initialState(() => ({ value: 0 }))
  .events<{ type: 'Added'; n: number }>({ Added: (s, e) => ({ value: s.value + e.n }) })
  .command('add', z.object({ n: z.number().int() }), (_s, { n }, ctx) => ctx.emit({ type: 'Added', n }).thenReply((st) => st.value))
  .command('get', (s, _i, ctx) => ctx.reply(s.value));

/** `loops` concurrent loops, each sending its share of `total` sequentially; returns the rate. */
async function closedLoop(loops: number, total: number, send: (loop: number) => Promise<unknown>): Promise<number> {
  const per = Math.ceil(total / loops);
  const t0 = now();
  await Promise.all(
    Array.from({ length: loops }, async (_, loop) => {
      for (let i = 0; i < per; i++) await send(loop);
    }),
  );
  return (per * loops) / ((now() - t0) / 1000);
}

/** A closed-loop workload to measure: set up, warmed up, run once per call, torn down. */
interface Workload {
  run(): Promise<number>;
  close(): Promise<void>;
}

async function actorWorkload(): Promise<Workload> {
  const system = createActorSystem();
  const actors: ActorRef<number, number>[] = Array.from({ length: ENTITIES }, () =>
    system.spawn<number, number, number>({
      init: () => 0,
      receive(s, n, ctx) {
        ctx.reply(s + n);
        return s + n;
      },
    }),
  );
  const send = (i: number): Promise<number> => (actors[i] as ActorRef<number, number>).ask(1);
  await closedLoop(ENTITIES, WARMUP, send);
  return { run: () => closedLoop(ENTITIES, MEMORY_COMMANDS, send), close: () => system.stop() };
}

async function entityWorkload(): Promise<Workload> {
  const store = await createStore({ kind: 'memory' });
  const system = createActorSystem();
  const runtime = new EntityRuntime(system, { store });
  runtime.register(counter);
  const refs = Array.from({ length: ENTITIES }, (_, i) => runtime.ref(counter, `m${i}`));
  await Promise.all(refs.map((r) => r.ask('get'))); // activate first: measure commands, not activations
  const send = (i: number): Promise<unknown> => refs[i]!.ask('add', { n: 1 });
  await closedLoop(ENTITIES, WARMUP, send);
  return {
    run: () => closedLoop(ENTITIES, MEMORY_COMMANDS, send),
    async close() {
      await system.stop();
      await store.close();
    },
  };
}

/**
 * Entity commands in memory against plain actor asks, run by run interleaved (actor, entity,
 * actor, …) so that the ratio compares the two at the same machine speed; best of RUNS each.
 */
async function benchMemoryRatio(): Promise<{ actor: number; entity: number }> {
  const actors = await actorWorkload();
  const entities = await entityWorkload();
  let actor = 0;
  let entity = 0;
  for (let run = 0; run < RUNS; run++) {
    const a = await actors.run();
    const e = await entities.run();
    log(`  run ${run + 1}: actor asks ${round(a)}/s, entity commands ${round(e)}/s (${round(e / a, 3)})`);
    actor = Math.max(actor, a);
    entity = Math.max(entity, e);
  }
  await entities.close();
  await actors.close();
  return { actor, entity };
}

async function pgStore(schema: string): Promise<Store> {
  // Named, so that the benchmark can find its PostgreSQL backends (and their CPU) by name.
  const url = `${DATABASE_URL}${DATABASE_URL.includes('?') ? '&' : '?'}application_name=${APP_NAME}`;
  return createStore({ kind: 'postgres', connectionString: url, schema, poolSize: 10, groupCommit });
}

interface Measured {
  readonly r: TrialResult;
  readonly s: ProcessStats;
}

interface OpenLoopRun {
  readonly saturation: number;
  readonly fractions: Measured[];
}

/** Open loop, in this process: saturation search, then runs at 50 % and 80 % of it (none when `fractions` is empty). */
async function searchAndMeasure(admin: pg.Client, label: string, send: (seq: number) => Promise<unknown>, fractions: readonly number[], startRate = START_RATE): Promise<OpenLoopRun> {
  const measured = async (rate: number, phase: typeof SEARCH): Promise<Measured> => {
    const watch = watchProcess(await backendPids(admin, APP_NAME));
    const run = openLoop({ send }, { rate, ...phase });
    const r = await run.result;
    const s = watch.stop();
    // An overloaded trial leaves queued commands behind: they would be load on the next one.
    await Promise.race([run.settled, new Promise((resolve) => setTimeout(resolve, 60_000))]);
    return { r, s };
  };
  let saturation = Number.NaN;
  if (FIXED_RATES === undefined) {
    log(`${label}: saturation search…`);
    const sat = await findSaturation(async (rate) => (await measured(rate, SEARCH)).r, {
      startRate,
      onTrial: (r, ok) => log(`  ${ok ? 'sustained  ' : 'not        '}${describe(r)}`),
    });
    saturation = sat.rate;
    log(`${label}: saturation ${round(saturation)}/s`);
  }
  const out: Measured[] = [];
  const at = async (rate: number): Promise<TrialResult> => {
    const m = await measured(rate, MEASURE);
    log(`  at ${rate}/s: ${describe(m.r)}`);
    log(`      ${describeStats(m.s)}`);
    out.push(m);
    return m.r;
  };
  if (FIXED_RATES !== undefined) for (const rate of FIXED_RATES) await at(rate);
  else await atFractions(saturation, fractions, at);
  return { saturation, fractions: out };
}

async function benchPostgres(admin: pg.Client, schema: string): Promise<{ commands: OpenLoopRun; journal: OpenLoopRun }> {
  const store = await pgStore(schema);
  const system = createActorSystem();
  const runtime = new EntityRuntime(system, { store });
  runtime.register(counter);
  const refs = Array.from({ length: ENTITIES }, (_, i) => runtime.ref(counter, `p${i}`));
  await Promise.all(refs.map((r) => r.ask('get')));
  const commands = await searchAndMeasure(admin, 'entity commands, PostgreSQL', (seq) => refs[seq % ENTITIES]!.ask('add', { n: 1 }), [0.5, 0.8]);
  await system.stop();
  // Baseline: the same open loop appending straight to the journal. An id's appends are chained,
  // as an entity's are (one write in flight per id), so the baseline does what the runtime must.
  const seq = new Int32Array(ENTITIES);
  const tail: Promise<unknown>[] = Array.from({ length: ENTITIES }, () => Promise.resolve());
  const payload = { type: 'Added', n: 1 };
  const append = (s: number): Promise<unknown> => {
    const i = s % ENTITIES;
    const p = (tail[i] as Promise<unknown>).then(() => store.journal.append(`base|${i}`, seq[i]!++, [{ payload, type: 'Added' }]));
    tail[i] = p.catch(() => undefined);
    return p;
  };
  const journal = await searchAndMeasure(admin, 'journal appends (baseline)', append, [], Math.max(1000, commands.saturation || START_RATE));
  await store.close();
  return { commands, journal };
}

async function benchActivations(schema: string): Promise<{ rate: number; baseline: number }> {
  const store = await pgStore(schema);
  // Seed 100 k entities × 10 events with multi-row inserts through the store's own journal.
  log(`  seeding ${ACTIVATE} entities × ${EVENTS_EACH} events…`);
  const events = Array.from({ length: EVENTS_EACH }, () => ({ payload: { type: 'Added', n: 1 }, type: 'Added' }));
  for (let i = 0; i < ACTIVATE; i += 1000) {
    await Promise.all(Array.from({ length: 1000 }, (_, j) => store.journal.append(`counter|a${i + j}`, 0, events)));
  }
  const CONCURRENCY = 1000;
  // Baseline: read each entity's events straight from the journal, same concurrency.
  let next = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < ACTIVATE) await store.journal.read(`counter|a${next++}`);
    }),
  );
  const baseline = ACTIVATE / ((now() - t0) / 1000);
  const system = createActorSystem();
  const runtime = new EntityRuntime(system, { store });
  runtime.register(counter);
  next = 0;
  const t1 = now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < ACTIVATE) {
        const v = await runtime.ref(counter, `a${next++}`).ask('get');
        if (v !== EVENTS_EACH) throw new Error(`recovered ${v}`);
      }
    }),
  );
  const rate = ACTIVATE / ((now() - t1) / 1000);
  await system.stop();
  await store.close();
  return { rate, baseline };
}

async function benchMemoryPerEntity(schema: string): Promise<{ active: number; passivated: number; actor: number }> {
  // Baseline: plain actors holding the same small state.
  gc();
  let before = process.memoryUsage().heapUsed;
  const plain = createActorSystem();
  const actors: ActorRef<number>[] = [];
  for (let i = 0; i < RESIDENT; i++) {
    const a = plain.spawn<number, { value: number }>({ init: () => ({ value: 0 }), receive: (s, n) => ({ value: s.value + n }) });
    a.tell(1);
    actors.push(a);
  }
  await plain.whenIdle();
  gc();
  const actor = (process.memoryUsage().heapUsed - before - RESIDENT * 8) / RESIDENT;
  await plain.stop();
  actors.length = 0;

  const store = await pgStore(schema);
  // A manual clock, so that passivation by idle timeout happens when the benchmark says.
  const clock = new ManualClock();
  const system = createActorSystem({ clock, askTimeout: Infinity });
  const runtime = new EntityRuntime(system, { store });
  runtime.register(counter, { idleTimeoutMs: 60_000 });
  // Warm up the paths (and the store's pool) before the baseline heap reading.
  await runtime.ref(counter, 'warm').ask('add', { n: 1 });
  gc();
  before = process.memoryUsage().heapUsed;
  const CONCURRENCY = 500;
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < RESIDENT) await runtime.ref(counter, `r${next++}`).ask('add', { n: 1 });
    }),
  );
  await system.whenIdle();
  gc();
  const active = (process.memoryUsage().heapUsed - before) / RESIDENT;
  if (runtime.activeEntities !== RESIDENT + 1) throw new Error(`active: ${runtime.activeEntities}`);
  clock.advance(60_000); // every entity has been idle for its timeout: all passivate
  while (runtime.activeEntities > 0) await new Promise((r) => setImmediate(r));
  await system.whenIdle();
  gc();
  const passivated = (process.memoryUsage().heapUsed - before) / RESIDENT;
  await system.stop();
  await store.close();
  return { active, passivated, actor };
}

async function main(): Promise<void> {
  const schema = `bench_entities_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  try {
    let mem = { actor: Number.NaN, entity: Number.NaN };
    if (part('memory')) {
      log('plain actor asks (baseline) and entity commands, memory store, interleaved…');
      mem = await benchMemoryRatio();
      log(`  best: actor asks ${round(mem.actor)}/s, entity commands ${round(mem.entity)}/s, ratio ${round(mem.entity / mem.actor, 3)}`);
    }
    const noRun: OpenLoopRun = { saturation: Number.NaN, fractions: [] };
    const pgr = part('postgres') ? await benchPostgres(admin, schema) : { commands: noRun, journal: noRun };
    let act = { rate: Number.NaN, baseline: Number.NaN };
    if (part('activations')) {
      log('activations, PostgreSQL…');
      act = await benchActivations(schema);
      log(`  ${round(act.rate)} activations/s; journal read baseline ${round(act.baseline)} reads/s`);
    }
    let memPer = { active: Number.NaN, passivated: Number.NaN, actor: Number.NaN };
    if (part('resident')) {
      log('memory per entity…');
      memPer = await benchMemoryPerEntity(schema);
      log(`  active ${round(memPer.active)} B, passivated ${round(memPer.passivated)} B, plain actor ${round(memPer.actor)} B`);
    }
    const [at50, at80] = pgr.commands.fractions;
    const ms = (n: number | undefined): number => round(n ?? Number.NaN, 2);
    report('entities', {
      commands_per_s_memory: round(mem.entity),
      actor_asks_per_s_baseline: round(mem.actor),
      commands_to_actor_asks_ratio: round(mem.entity / mem.actor, 3),
      command_saturation_per_s_postgres: round(pgr.commands.saturation),
      command_p50_ms_postgres_at_50pct: ms(at50?.r.latency.p50),
      command_p99_ms_postgres_at_50pct: ms(at50?.r.latency.p99),
      command_p999_ms_postgres_at_50pct: ms(at50?.r.latency.p999),
      command_p50_ms_postgres_at_80pct: ms(at80?.r.latency.p50),
      command_p99_ms_postgres_at_80pct: ms(at80?.r.latency.p99),
      command_p999_ms_postgres_at_80pct: ms(at80?.r.latency.p999),
      journal_append_saturation_per_s_baseline: round(pgr.journal.saturation),
      activations_per_s_postgres: round(act.rate),
      replay_reads_per_s_baseline: round(act.baseline),
      active_entity_bytes: round(memPer.active),
      idle_actor_bytes_baseline: round(memPer.actor),
      passivated_entity_bytes: round(memPer.passivated),
      ...(at80 === undefined
        ? {}
        : {
            loop_delay_p99_ms_at_80pct: ms(at80.s.loopDelayP99Ms),
            loop_delay_max_ms_at_80pct: ms(at80.s.loopDelayMaxMs),
            gc_max_ms_at_80pct: ms(at80.s.gcMaxMs),
            gc_share_at_80pct: round(at80.s.gcShare, 3),
            commit_p99_ms_at_80pct: ms(at80.s.commitP99Ms),
            batch_appends_mean_at_80pct: round(at80.s.batchAppendsMean, 1),
            process_cores_at_80pct: ms(at80.s.cpuCores),
            postgres_cores_at_80pct: ms(at80.s.postgresCores),
            machine_cores_at_80pct: ms(at80.s.machineCores),
          }),
    });
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
}

await main();
