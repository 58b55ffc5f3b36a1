// npm run bench -- proxy
//
// Event-sourced commands into an unmodified Kalix JavaScript SDK user function (the tests'
// shopping cart, test/proxy/fixtures/shopping-cart, in a child process; snapshot every 100
// events, the SDK's default), 1000 entities, each command `AddItem` with one event. Open loop
// (bench/_open-loop.ts): each system is searched for its saturation (the highest offered rate it
// sustains), the proxy is then run at 50 % of its own.
//
// proxy_commands_per_s       saturation through the whole proxy: a separate load-generator process
//                            (bench/_gateway-load.ts, 32 connections) → beamstate gateway (JSON) →
//                            entity runtime → proxy → the user function's Handle streams → events
//                            and snapshots persisted on DATABASE_URL (group commit) → reply
// grpc_direct_commands_per_s baseline, same run, same user function: a bare grpc-js client in this
//                            process writes the same commands (pre-encoded AddLineItem) into 1000
//                            Handle streams of its own, one command in flight per stream (as the
//                            proxy's single writer), nothing persisted
// proxy_p99_ms               p99 latency through the proxy offered 50 % of proxy_commands_per_s,
//                            from scheduled send times (targets: proxy ≥ 0.5 × direct, p99 ≤ 15 ms)
//   (proxy_p50_ms, proxy_p999_ms beside it; grpc_direct_p99_ms at the same rate, as context)
//
// Context, at the proxy's saturation trial and at its 50 % run: CPU (in cores, of 2) of the
// server process (gateway + runtime + proxy), of its PostgreSQL backends, of the user function
// process, of the load generator and of the whole machine; the server's event-loop delay;
// group-commit batch sizes. And CPU per command of each (`*_cpu_us_per_command_*`; for the
// direct baseline `server_` is the bare client, this process), also for the baseline offered the
// proxy's 50 % rate (`_direct_at_proxy_50pct`): on a shared machine the rates measure the
// neighbours as much as the code, and the cost per command falls as the rate rises (more messages
// per write), so the paths' costs are compared at one rate.
//
// For investigating: BENCH_ONLY=direct,proxy runs only those parts; BENCH_RATES=2000 skips the
// proxy's search and runs its measured trial at that rate.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { createActorSystem, createGateway, EntityRuntime, silentLogger, SUBPROTOCOL_JSON } from '../src/index.js';
import { createStore } from '../src/persistence/index.js';
import { userRoot } from '../src/proxy/descriptors.js';
import { startProxy } from '../src/proxy/index.js';
import { codecOf } from '../src/proxy/protocol.js';
import { compileDescriptor, FIXTURES, linkProtoc } from '../test/proxy/sdk-setup.js';
import { describe, findSaturation, openLoop, type OpenLoopRun, type TrialResult } from './_open-loop.js';
import { backendPids, describeStats, type ProcessStats, watchProcess } from './_process-stats.js';
import { log, report, round } from './_report.js';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ENTITIES = 1000;
const CONNECTIONS = 32;
const SEARCH = { warmupMs: 500, durationMs: 2000 };
const MEASURE = { warmupMs: 1000, durationMs: 5000 };
const START_RATE = 1000;
const SNAPSHOT_EVERY = 100;
const SERVICE = 'com.example.shoppingcart.ShoppingCartService';
const ENTITY_TYPE = 'shopping-cart';
const INPUT = { productId: 'x', name: 'X', quantity: 1 };
const APP_NAME = `bench_proxy_${process.pid}`;
const env = (name: string): string | undefined => (process.env[name] === '' ? undefined : process.env[name]);
const ONLY = env('BENCH_ONLY')?.split(',');
const part = (name: string): boolean => ONLY === undefined || ONLY.includes(name);
const FIXED_RATE = env('BENCH_RATES') === undefined ? undefined : Number(env('BENCH_RATES'));
const here = dirname(fileURLToPath(import.meta.url));

// --- the user function ------------------------------------------------------------------------

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startUserFunction(descriptor: string): Promise<{ child: ChildProcess; address: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(FIXTURES, 'shopping-cart', 'index.js'), String(port)], {
    env: { ...process.env, KALIX_DESCRIPTOR: descriptor, SNAPSHOT_EVERY: String(SNAPSHOT_EVERY) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (/listening \d+/.test(out)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`user function exited (${code}): ${out}`)));
  });
  return { child, address: `127.0.0.1:${port}` };
}

/** CPU time (user + system) of another process so far, ms, from /proc (NaN where unreadable). */
function cpuMsOf(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return Number.NaN;
  }
}

/** A trial with the CPU of this process, its PostgreSQL backends and the user function over it. */
interface Measured {
  readonly r: TrialResult;
  readonly s: ProcessStats;
  readonly userFunctionCores: number;
  /** Commands sent over the whole watched trial (warm-up included): what its CPU was spent on. */
  readonly commands: number;
}

async function measured(ufPid: number | undefined, pgPids: () => Promise<readonly number[]>, phase: typeof SEARCH, rate: number, run: () => Promise<TrialResult>): Promise<Measured> {
  const watch = watchProcess(await pgPids());
  const uf0 = cpuMsOf(ufPid);
  const t0 = performance.now();
  const r = await run();
  const s = watch.stop();
  const commands = Math.ceil(((phase.warmupMs + phase.durationMs) * rate) / 1000) - r.unanswered;
  return { r, s, userFunctionCores: (cpuMsOf(ufPid) - uf0) / (performance.now() - t0), commands };
}

/**
 * CPU per command, µs, of each process over a trial: unlike a rate, it hardly depends on what
 * the machine's other tenants take, so it tells what the two paths cost where the rates cannot.
 */
function cpuPerCommand(m: Measured): { server: number; postgres: number; userFunction: number; generator: number } {
  const us = (cores: number, seconds: number): number => (cores * seconds * 1e6) / m.commands;
  return {
    server: us(m.s.cpuCores, m.s.seconds),
    postgres: us(m.s.postgresCores, m.s.seconds),
    userFunction: us(m.userFunctionCores, m.s.seconds),
    generator: (m.r.cpuMs * 1000) / (m.r.offered * m.r.seconds), // over the measured window only
  };
}

function logTrial(prefix: string, m: Measured): void {
  log(`${prefix}${describe(m.r)}`);
  const c = cpuPerCommand(m);
  log(`      trial process ${round(m.r.cpuMs / 1000 / m.r.seconds, 2)} cores; user function ${round(m.userFunctionCores, 2)} cores; server: ${describeStats(m.s)}`);
  log(`      CPU per command: this process ${round(c.server)} µs, PostgreSQL ${round(c.postgres)} µs, user function ${round(c.userFunction)} µs, trial process (window) ${round(c.generator)} µs`);
}

// --- the baseline: a bare grpc-js client on the user function's Handle streams -----------------

const streamIn = codecOf('kalix.component.eventsourcedentity.EventSourcedStreamIn');
const streamOut = codecOf('kalix.component.eventsourcedentity.EventSourcedStreamOut');

interface DirectStream {
  readonly call: grpc.ClientDuplexStream<object, { reply?: { commandId: number }; failure?: { description?: string } }>;
  readonly entityId: string;
  /** The open-loop seq of the command in flight (-1: none), and those waiting behind it. */
  inFlight: number;
  /** The trial the command in flight belongs to: a late reply from an earlier trial is not this one's. */
  owner: OpenLoopRun | undefined;
  readonly queue: number[];
  nextId: number;
}

/** 1000 Handle streams opened by hand, each `init`ed; commands written as the proxy writes them. */
async function directBaseline(address: string, descriptor: string): Promise<{ saturation: number; atSaturation: Measured | undefined; at: (rate: number) => Promise<Measured>; close: () => void }> {
  const root = userRoot(readFileSync(descriptor));
  const addLineItem = root.lookupType('com.example.shoppingcart.AddLineItem');
  const payload = { typeUrl: 'type.googleapis.com/com.example.shoppingcart.AddLineItem', value: addLineItem.encode(addLineItem.fromObject(INPUT)).finish() };
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  let run: OpenLoopRun | undefined;
  let closing = false;
  let activation: ((s: DirectStream) => void) | undefined;
  const write = (s: DirectStream, seq: number): void => {
    s.inFlight = seq;
    s.owner = run;
    s.call.write({ command: { entityId: s.entityId, id: s.nextId++, name: 'AddItem', payload } });
  };
  const streams: DirectStream[] = Array.from({ length: ENTITIES }, (_, i) => {
    const call = client.makeBidiStreamRequest('/kalix.component.eventsourcedentity.EventSourcedEntities/Handle', streamIn.serialize, streamOut.deserialize as never) as DirectStream['call'];
    const s: DirectStream = { call, entityId: `direct-${i}`, inFlight: -1, owner: undefined, queue: [], nextId: 1 };
    call.on('data', (msg) => {
      if (msg.reply === undefined) throw new Error(`direct baseline: the user function failed: ${msg.failure?.description}`);
      const seq = s.inFlight;
      s.inFlight = -1;
      if (seq === -2) activation?.(s);
      else s.owner?.complete(seq);
      const next = s.queue.shift();
      if (next !== undefined) write(s, next);
    });
    call.on('error', (err) => closing || log(`direct baseline: stream error ${err.message}`));
    call.write({ init: { serviceName: SERVICE, entityId: s.entityId } });
    return s;
  });
  // One command per stream first, so that the trials measure commands, not stream set-up.
  let activated = 0;
  await new Promise<void>((resolve) => {
    activation = () => ++activated === ENTITIES && resolve();
    for (const s of streams) write(s, -2);
  });
  const trial = async (rate: number, phase: typeof SEARCH): Promise<TrialResult> => {
    const r = openLoop(
      {
        send(seq) {
          const s = streams[seq % ENTITIES] as DirectStream;
          if (s.inFlight === -1) write(s, seq);
          else s.queue.push(seq);
        },
      },
      { rate, ...phase },
    );
    run = r;
    const result = await r.result;
    // An overloaded trial's backlog would be load on the next one: let it drain (bounded).
    await Promise.race([r.settled, new Promise((resolve) => setTimeout(resolve, 30_000))]);
    for (const s of streams) s.queue.length = 0;
    run = undefined;
    return result;
  };
  return {
    ...(await searchDirect(trial)),
    at: (rate) => measured(userFunctionPid, noPids, MEASURE, rate, () => trial(rate, MEASURE)),
    close: () => {
      closing = true;
      for (const s of streams) s.call.end();
      client.close();
    },
  };
}

/** The user function's process, whose CPU each trial reads. */
let userFunctionPid: number | undefined;
const noPids = (): Promise<readonly number[]> => Promise.resolve([]);

async function searchDirect(trial: (rate: number, phase: typeof SEARCH) => Promise<TrialResult>): Promise<{ saturation: number; atSaturation: Measured | undefined }> {
  log('grpc direct (baseline): saturation search…');
  const all: Measured[] = [];
  const sat = await findSaturation(
    async (rate) => {
      const m = await measured(userFunctionPid, noPids, SEARCH, rate, () => trial(rate, SEARCH));
      all.push(m);
      return m.r;
    },
    { startRate: START_RATE, onTrial: (_r, ok) => logTrial(`  ${ok ? 'sustained  ' : 'not        '}`, all[all.length - 1] as Measured) },
  );
  log(`grpc direct: saturation ${round(sat.rate)}/s`);
  return { saturation: sat.rate, atSaturation: all.find((m) => m.r === sat.at) };
}

// --- the proxy, through the gateway ------------------------------------------------------------

let loader: ChildProcess;

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

interface ProxyRun {
  readonly saturation: number;
  readonly atSaturation: Measured | undefined;
  readonly half: Measured | undefined;
}

async function proxyRun(address: string, admin: pg.Client, schema: string): Promise<ProxyRun> {
  const store = await createStore({ kind: 'postgres', connectionString: `${DATABASE_URL}${DATABASE_URL.includes('?') ? '&' : '?'}application_name=${APP_NAME}`, schema, poolSize: 10 });
  const system = createActorSystem({ logger: silentLogger });
  const runtime = new EntityRuntime(system, { store });
  const proxy = await startProxy({ userFunction: address, runtime });
  // Activate first (one stream and one command each): measure commands, not activations.
  for (let i = 0; i < ENTITIES; i += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, j) => runtime.refFor(ENTITY_TYPE, `e${i + j}`).ask('AddItem', INPUT)));
  }
  log(`proxy: ${proxy.openStreams} streams open`);
  const gateway = await createGateway({ runtime, port: 0, host: '127.0.0.1' });
  await call({ op: 'connect', url: gateway.url, protocol: SUBPROTOCOL_JSON, connections: CONNECTIONS }, 'connected');
  const pgPids = (): Promise<readonly number[]> => backendPids(admin, APP_NAME);
  const all: Measured[] = [];
  const trial = async (rate: number, phase: typeof SEARCH): Promise<Measured> => {
    const m = await measured(userFunctionPid, pgPids, phase, rate, async () => {
      const { result } = await call<{ result: TrialResult }>({ op: 'trial', rate, entities: ENTITIES, entityType: ENTITY_TYPE, command: 'AddItem', input: JSON.stringify(INPUT), ...phase }, 'trial');
      return result;
    });
    all.push(m);
    return m;
  };
  try {
    let saturation = FIXED_RATE === undefined ? Number.NaN : FIXED_RATE * 2;
    let atSaturation: Measured | undefined;
    if (FIXED_RATE === undefined) {
      log('proxy (gateway → proxy → user function, PostgreSQL): saturation search…');
      const sat = await findSaturation(async (rate) => (await trial(rate, SEARCH)).r, {
        startRate: START_RATE,
        onTrial: (_r, ok) => logTrial(`  ${ok ? 'sustained  ' : 'not        '}`, all[all.length - 1] as Measured),
      });
      saturation = sat.rate;
      atSaturation = all.find((m) => m.r === sat.at);
      log(`proxy: saturation ${round(saturation)}/s`);
    }
    const rate = Math.max(1, Math.round(saturation / 2));
    const half = await trial(rate, MEASURE);
    logTrial(`  proxy at ${rate}/s: `, half);
    return { saturation, atSaturation, half };
  } finally {
    await call({ op: 'disconnect' }, 'disconnected');
    await gateway.close();
    await runtime.stop();
    await proxy.close();
    await system.stop();
    await store.close();
  }
}

function context(m: Measured | undefined, suffix: string): Record<string, number> {
  if (m === undefined) return {};
  const c = cpuPerCommand(m);
  return {
    [`server_cpu_us_per_command_${suffix}`]: round(c.server),
    [`postgres_cpu_us_per_command_${suffix}`]: round(c.postgres),
    [`user_function_cpu_us_per_command_${suffix}`]: round(c.userFunction),
    [`load_generator_cpu_us_per_command_${suffix}`]: round(c.generator),
    [`load_generator_cores_${suffix}`]: round(m.r.cpuMs / 1000 / m.r.seconds, 2),
    [`server_cores_${suffix}`]: round(m.s.cpuCores, 2),
    [`postgres_cores_${suffix}`]: round(m.s.postgresCores, 2),
    [`user_function_cores_${suffix}`]: round(m.userFunctionCores, 2),
    [`machine_cores_${suffix}`]: round(m.s.machineCores, 2),
    [`server_loop_delay_p99_ms_${suffix}`]: round(m.s.loopDelayP99Ms, 2),
    [`batch_appends_mean_${suffix}`]: round(m.s.batchAppendsMean, 1),
  };
}

async function main(): Promise<void> {
  const missing = linkProtoc();
  if (missing !== null) throw new Error(`the proxy bench needs the Kalix SDK's protoc: ${missing}`);
  const descriptor = compileDescriptor('shopping-cart');
  const uf = await startUserFunction(descriptor);
  userFunctionPid = uf.child.pid;
  loader = fork(join(here, '_gateway-load.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const schema = `bench_proxy_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  try {
    let direct: Awaited<ReturnType<typeof directBaseline>> | undefined;
    if (part('direct')) direct = await directBaseline(uf.address, descriptor);
    let directAtHalf: Measured | undefined;
    const p: ProxyRun = part('proxy') ? await proxyRun(uf.address, admin, schema) : { saturation: Number.NaN, atSaturation: undefined, half: undefined };
    if (direct !== undefined && p.half !== undefined) {
      // The baseline offered the same rate as the proxy's 50 % run, for its latency (context).
      directAtHalf = await direct.at(p.half.r.offered);
      logTrial(`  grpc direct at ${p.half.r.offered}/s: `, directAtHalf);
    }
    direct?.close();
    const directRate = direct?.saturation ?? Number.NaN;
    report('proxy', {
      proxy_commands_per_s: round(p.saturation),
      grpc_direct_commands_per_s: round(directRate),
      proxy_to_direct_ratio: round(p.saturation / directRate, 2),
      proxy_p50_ms: round(p.half?.r.latency.p50 ?? Number.NaN, 2),
      proxy_p99_ms: round(p.half?.r.latency.p99 ?? Number.NaN, 2),
      proxy_p999_ms: round(p.half?.r.latency.p999 ?? Number.NaN, 2),
      grpc_direct_p99_ms_at_proxy_half_rate: round(directAtHalf?.r.latency.p99 ?? Number.NaN, 2),
      ...context(p.atSaturation, 'at_saturation'),
      ...context(p.half, 'at_50pct'),
      ...context(direct?.atSaturation, 'direct_at_saturation'),
      // The same rate as the proxy's 50 % run: CPU per command falls as the rate rises (more
      // messages per write), so the two paths' costs compare at one rate.
      ...context(directAtHalf, 'direct_at_proxy_50pct'),
    });
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    loader.kill();
    uf.child.kill('SIGKILL');
  }
}

await main();
