// npm run bench -- gateway
//
// Open-loop latency (bench/_open-loop.ts, the wrk2 method): the load comes from a separate
// process over loopback (bench/_gateway-load.ts), 32 connections, commands to 1000 entities
// (activated beforehand), sent on a fixed schedule; each latency is measured from the request's
// scheduled send time. Each system is first searched for its saturation (the highest offered
// rate it sustains, as defined in _open-loop.ts), then run at 50 % and 80 % of it.
//
// gateway_saturation_per_s_postgres   commands/s the gateway sustains on DATABASE_URL (one event each)
// gateway_p99_ms_postgres_at_50pct    p99 latency offered 50 % of that rate (target ≤ 10 ms)
// gateway_p99_ms_postgres_at_80pct    p99 offered 80 % of it (target ≤ 30 ms)
//   (with _p50_ and _p999_ beside each, as context)
// ws_echo_saturation_per_s            baseline: a bare `ws` echo server under the same generator
// ws_echo_p99_ms_at_50pct / _at_80pct the echo's p99 offered the same rates as the two gateway runs
// gateway_saturation_per_s_memory     the gateway's saturation on the in-memory store (context)
// idle_connection_bytes               server heap per idle connection, 10 k connections open (forced GC)
//
// Context, measured over the 80 % run (where the tail comes from):
// load_generator_cores_at_80pct        the generator process's CPU, in cores (of 2)
// server_cores / postgres_cores / machine_cores_at_80pct
//                                      CPU of this process, of its PostgreSQL backends, of the
//                                      whole machine (every tenant), in cores
// server_loop_delay_p99_ms / _max_ms_at_80pct   event-loop delay in the server
// server_gc_max_ms / server_gc_share_at_80pct    longest GC pause; share of wall time in GC
// commit_p99_ms_at_80pct, batch_appends_mean_at_80pct  group-commit batches: commit time, size
// and the same CPU split at the saturation trial (_at_saturation), to judge what bounds it.
//
// For investigating (not for the reported figures), environment variables:
//   BENCH_ONLY=postgres,echo,memory,idle   run only these parts
//   BENCH_RATES=16000,32000                skip the searches: run the measured trials at these rates
//   BENCH_IN_FLIGHT, BENCH_MAX_EVENTS      the PostgreSQL store's group-commit options
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { WebSocketServer } from 'ws';
import { z } from 'zod';
import { createActorSystem, createGateway, EntityRuntime, eventSourcedEntity, SUBPROTOCOL_JSON } from '../src/index.js';
import { createStore, type Store } from '../src/persistence/index.js';
import { atFractions, describe, findSaturation, type TrialResult } from './_open-loop.js';
import { backendPids, describeStats, type ProcessStats, watchProcess } from './_process-stats.js';
import { gc, log, report, round } from './_report.js';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CONNECTIONS = 32;
const ENTITIES = 1000;
/** Search trials: short (the search runs up to ~10 of them per system). */
const SEARCH = { warmupMs: 500, durationMs: 2000 };
/** The measured runs at 50 % and 80 % of saturation. */
const MEASURE = { warmupMs: 1000, durationMs: 5000 };
const START_RATE = 8000;
const IDLE_CONNECTIONS = 10_000;
const APP_NAME = `bench_gateway_${process.pid}`;
const env = (name: string): string | undefined => (process.env[name] === '' ? undefined : process.env[name]);
const ONLY = env('BENCH_ONLY')?.split(',');
const part = (name: string): boolean => ONLY === undefined || ONLY.includes(name);
const FIXED_RATES = env('BENCH_RATES')?.split(',').map(Number);
const groupCommit = {
  ...(env('BENCH_IN_FLIGHT') === undefined ? {} : { maxBatchesInFlight: Number(env('BENCH_IN_FLIGHT')) }),
  ...(env('BENCH_MAX_EVENTS') === undefined ? {} : { maxBatchEvents: Number(env('BENCH_MAX_EVENTS')) }),
};

const counter = eventSourcedEntity('counter')
  .initialState(() => ({ value: 0 }))
  .events<{ type: 'Added'; n: number }>({ Added: (s, e) => ({ value: s.value + e.n }) })
  .command('add', z.object({ n: z.number().int() }), (_s, { n }, ctx) => ctx.emit({ type: 'Added', n }).thenReply((st) => st.value))
  .command('get', (s, _i, ctx) => ctx.reply(s.value));

const here = dirname(fileURLToPath(import.meta.url));
let loader: ChildProcess;
let admin: pg.Client;

function call<T>(msg: object, reply: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { op: string; message?: string }): void => {
      if (m.op === 'failed') {
        loader.off('message', onMessage);
        reject(new Error(`load generator: ${m.message}`));
      } else if (m.op === reply) {
        loader.off('message', onMessage);
        resolve(m as T);
      }
    };
    loader.on('message', onMessage);
    loader.send(msg);
  });
}

/** A trial measured on both sides: the generator's result and this (server) process's stats. */
interface Measured {
  readonly r: TrialResult;
  readonly s: ProcessStats;
}

/** Runs open-loop trials against whatever `url` serves, with the server process watched. */
function trials(pgPids: () => Promise<readonly number[]>): { run: (rate: number, phase: typeof SEARCH) => Promise<Measured>; log: Measured[] } {
  const all: Measured[] = [];
  return {
    log: all,
    async run(rate, phase) {
      // Read per trial: the pool may have replaced a connection since the last one.
      const watch = watchProcess(await pgPids());
      const { result } = await call<{ result: TrialResult }>({ op: 'trial', rate, entities: ENTITIES, ...phase }, 'trial');
      const m = { r: result, s: watch.stop() };
      all.push(m);
      return m;
    },
  };
}

const generatorCores = (r: TrialResult): number => r.cpuMs / 1000 / r.seconds;

function logTrial(prefix: string, m: Measured): void {
  log(`${prefix}${describe(m.r)}`);
  log(`      generator ${round(generatorCores(m.r), 2)} cores; server: ${describeStats(m.s)}`);
}

interface SystemRun {
  readonly saturation: number;
  readonly atSaturation: Measured | undefined;
  readonly fractions: Measured[];
}

/**
 * Searches the server at `url` for its saturation, then runs it at `fractions` of that (or at
 * the given `rates` instead, for a baseline offered the same load as another system).
 */
async function measure(label: string, url: string, pgPids: () => Promise<readonly number[]>, rates?: readonly number[]): Promise<SystemRun> {
  await call({ op: 'connect', url, protocol: SUBPROTOCOL_JSON, connections: CONNECTIONS }, 'connected');
  try {
    const t = trials(pgPids);
    let sat = { rate: Number.NaN, at: undefined as TrialResult | undefined };
    if (FIXED_RATES === undefined) {
      log(`${label}: saturation search…`);
      sat = await findSaturation(async (rate) => (await t.run(rate, SEARCH)).r, {
        startRate: START_RATE,
        onTrial: (_r, ok) => logTrial(`  ${ok ? 'sustained  ' : 'not        '}`, t.log[t.log.length - 1] as Measured),
      });
      log(`${label}: saturation ${round(sat.rate)}/s`);
    }
    const atSaturation = t.log.find((m) => m.r === sat.at);
    const wanted = FIXED_RATES ?? rates ?? [0.5, 0.8].map((f) => Math.round(sat.rate * f));
    const fractions: Measured[] = [];
    for (const rate of wanted) {
      const m = await t.run(rate, MEASURE);
      logTrial(`  at ${rate}/s: `, m);
      fractions.push(m);
    }
    return { saturation: sat.rate, atSaturation, fractions };
  } finally {
    await call({ op: 'disconnect' }, 'disconnected');
  }
}

async function withEcho<T>(f: (url: string) => Promise<T>): Promise<T> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false, handleProtocols: (p) => p.values().next().value ?? false });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  await new Promise((r) => wss.once('listening', r));
  const { port } = wss.address() as { port: number };
  try {
    return await f(`ws://127.0.0.1:${port}/`);
  } finally {
    await new Promise((r) => wss.close(r));
  }
}

async function withGateway<T>(store: Store, f: (url: string) => Promise<T>): Promise<T> {
  const system = createActorSystem();
  const runtime = new EntityRuntime(system, { store });
  runtime.register(counter);
  // Activate first: measure commands, not activations (as the entities benchmark does).
  await Promise.all(Array.from({ length: ENTITIES }, (_, i) => runtime.ref(counter, `e${i}`).ask('get')));
  const gateway = await createGateway({ runtime, port: 0, host: '127.0.0.1' });
  try {
    return await f(gateway.url as string);
  } finally {
    await gateway.close();
    await system.stop();
  }
}

async function benchIdle(): Promise<number> {
  const store = await createStore({ kind: 'memory' });
  const system = createActorSystem();
  const runtime = new EntityRuntime(system, { store });
  runtime.register(counter);
  const gateway = await createGateway({ runtime, port: 0, host: '127.0.0.1', limits: { maxConnections: IDLE_CONNECTIONS * 2 } });
  // Warm the upgrade path (and its lazily created objects) before the baseline reading.
  await call({ op: 'idle', url: gateway.url, protocol: SUBPROTOCOL_JSON, connections: 100 }, 'opened');
  await call({ op: 'close' }, 'closed');
  while (gateway.connections > 0) await new Promise((r) => setTimeout(r, 10));
  gc();
  const before = process.memoryUsage().heapUsed;
  await call({ op: 'idle', url: gateway.url, protocol: SUBPROTOCOL_JSON, connections: IDLE_CONNECTIONS }, 'opened');
  while (gateway.connections < IDLE_CONNECTIONS) await new Promise((r) => setTimeout(r, 10));
  gc();
  const perConnection = (process.memoryUsage().heapUsed - before) / IDLE_CONNECTIONS;
  await call({ op: 'close' }, 'closed');
  await gateway.close();
  await system.stop();
  await store.close();
  return perConnection;
}

const noPids = (): Promise<readonly number[]> => Promise.resolve([]);

function withAppName(url: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}application_name=${APP_NAME}`;
}

/** The context metrics of one measured trial, under `suffix`. */
function context(m: Measured | undefined, suffix: string): Record<string, number> {
  if (m === undefined) return {};
  return {
    [`load_generator_cores_${suffix}`]: round(generatorCores(m.r), 2),
    [`server_cores_${suffix}`]: round(m.s.cpuCores, 2),
    [`postgres_cores_${suffix}`]: round(m.s.postgresCores, 2),
    [`machine_cores_${suffix}`]: round(m.s.machineCores, 2),
    [`server_loop_delay_p99_ms_${suffix}`]: round(m.s.loopDelayP99Ms, 2),
    [`server_loop_delay_max_ms_${suffix}`]: round(m.s.loopDelayMaxMs, 2),
    [`server_gc_max_ms_${suffix}`]: round(m.s.gcMaxMs, 2),
    [`server_gc_share_${suffix}`]: round(m.s.gcShare, 3),
    [`commit_p99_ms_${suffix}`]: round(m.s.commitP99Ms, 2),
    [`batch_appends_mean_${suffix}`]: round(m.s.batchAppendsMean, 1),
  };
}

async function main(): Promise<void> {
  const fdLimit = Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim());
  log(`file descriptor limit (ulimit -n): ${fdLimit}`);
  if (fdLimit < IDLE_CONNECTIONS + 1000) log(`  below ${IDLE_CONNECTIONS + 1000}: raise it (ulimit -n 65536) or the idle-connection run will fail`);
  loader = fork(join(here, '_gateway-load.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const schema = `bench_gateway_${Date.now().toString(36)}`;
  admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  try {
    const none: SystemRun = { saturation: Number.NaN, atSaturation: undefined, fractions: [] };
    let pgRun = none;
    if (part('postgres')) {
      const pgStore = await createStore({ kind: 'postgres', connectionString: withAppName(DATABASE_URL), schema, poolSize: 10, groupCommit });
      pgRun = await withGateway(pgStore, async (url) => measure('gateway, PostgreSQL', url, () => backendPids(admin, APP_NAME)));
      await pgStore.close();
    }
    const rates = pgRun.fractions.map((m) => m.r.offered);
    const echo = part('echo') ? await withEcho((url) => measure('ws echo (baseline)', url, noPids, rates)) : none;
    let memRun = none;
    if (part('memory')) {
      const memStore = await createStore({ kind: 'memory' });
      memRun = await withGateway(memStore, (url) => measure('gateway, memory store', url, noPids, []));
      await memStore.close();
    }
    let idle = Number.NaN;
    if (part('idle')) {
      log(`idle connections (${IDLE_CONNECTIONS})…`);
      idle = await benchIdle();
      log(`  ${round(idle)} B per connection`);
    }
    const [pg50, pg80] = pgRun.fractions;
    const [echo50, echo80] = echo.fractions;
    report('gateway', {
      gateway_saturation_per_s_postgres: round(pgRun.saturation),
      gateway_p50_ms_postgres_at_50pct: round(pg50?.r.latency.p50 ?? Number.NaN, 2),
      gateway_p99_ms_postgres_at_50pct: round(pg50?.r.latency.p99 ?? Number.NaN, 2),
      gateway_p999_ms_postgres_at_50pct: round(pg50?.r.latency.p999 ?? Number.NaN, 2),
      gateway_p50_ms_postgres_at_80pct: round(pg80?.r.latency.p50 ?? Number.NaN, 2),
      gateway_p99_ms_postgres_at_80pct: round(pg80?.r.latency.p99 ?? Number.NaN, 2),
      gateway_p999_ms_postgres_at_80pct: round(pg80?.r.latency.p999 ?? Number.NaN, 2),
      ws_echo_saturation_per_s: round(echo.saturation),
      ws_echo_p99_ms_at_50pct: round(echo50?.r.latency.p99 ?? Number.NaN, 2),
      ws_echo_p99_ms_at_80pct: round(echo80?.r.latency.p99 ?? Number.NaN, 2),
      gateway_saturation_per_s_memory: round(memRun.saturation),
      idle_connection_bytes: round(idle),
      ...context(pg80, 'at_80pct'),
      ...context(pgRun.atSaturation, 'at_saturation'),
      ws_echo_load_generator_cores_at_saturation: round(echo.atSaturation === undefined ? Number.NaN : generatorCores(echo.atSaturation.r), 2),
      ws_echo_server_cores_at_saturation: round(echo.atSaturation?.s.cpuCores ?? Number.NaN, 2),
    });
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    loader.kill();
  }
}

await main();
