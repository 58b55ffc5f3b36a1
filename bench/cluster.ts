// `npm run bench -- cluster` (needs DATABASE_URL): three node processes on this machine sharing
// one PostgreSQL, with the default cluster settings.
//
// - failover_s: kill -9 of a node under load → until the last of its entities answers again on
//   another node (sent through a survivor's gateway); p50 and max over 5 kills, the victim
//   restarted and rebalanced between kills.
// - forwarded_commands_per_s: open-loop saturation of commands sent to a node that does not own
//   their entities (each is forwarded to the owner); its same-run baseline
//   local_commands_per_s: the same load sent to the owning node directly.
// - forwarded_p99_ms (with p50), and local_p99_ms, at half of the forwarded saturation (open loop,
//   latency from scheduled send times).
//
// The process re-runs itself with `--node <settings>` for each node.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { z } from 'zod';
import { connect, createActorSystem, createGateway, createStore, EntityRuntime, eventSourcedEntity, type GatewayClient, shardOf, silentLogger, startClusterNode } from '../src/index.js';
import { describe, findSaturation, openLoop, type TrialResult } from './_open-loop.js';
import { log, percentile, report, round } from './_report.js';

const counter = eventSourcedEntity('counter')
  .initialState(() => ({ n: 0 }))
  .events<{ readonly type: 'Added' }>({ Added: (s) => ({ n: s.n + 1 }) })
  .command('add', z.object({ k: z.number() }), (_s, _i, ctx) => ctx.emit({ type: 'Added' }).thenReply((s) => s.n))
  .command('get', (s, _i, ctx) => ctx.reply(s.n));

interface NodeSettings {
  readonly url: string;
  readonly schema: string;
  readonly nodeId: string;
}


async function runNode(s: NodeSettings): Promise<void> {
  const node = await startClusterNode({ connectionString: s.url, nodeId: s.nodeId, schema: s.schema, logger: silentLogger });
  const store = await createStore({ kind: 'postgres', connectionString: s.url, schema: s.schema, writeFence: node.writeFence, logger: silentLogger });
  const system = createActorSystem({ logger: silentLogger });
  const runtime = new EntityRuntime(system, { store });
  runtime.register(counter);
  node.attach(runtime);
  const gateway = await createGateway({ runtime, port: 0, heartbeat: false, logger: silentLogger });
  process.stdout.write(`${JSON.stringify({ ready: true, gateway: gateway.url })}\n`);
}

interface Proc {
  readonly nodeId: string;
  readonly gateway: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

const SELF = fileURLToPath(import.meta.url);

async function startNode(url: string, schema: string, nodeId: string): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--node', JSON.stringify({ url, schema, nodeId })], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const gateway = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.once('line', (line) => resolve((JSON.parse(line) as { gateway: string }).gateway));
    void exited.then(() => reject(new Error(`node ${nodeId} exited before it was ready`)));
  });
  return { nodeId, gateway, child, exited };
}

async function until(what: string, ms: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const end = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (url === undefined) {
    log('cluster bench: set DATABASE_URL (a PostgreSQL every node shares)');
    process.exit(2);
  }
  const schema = `bench_cluster_${process.pid}`;
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  await pool.query(`CREATE SCHEMA "${schema}"`);
  const procs: Proc[] = [];
  const shards = 1024;
  const ownersOf = async (): Promise<(string | null)[]> => {
    const r = await pool.query(`SELECT shard, owner FROM "${schema}".beamstate_cluster_shards WHERE lease_until > now() ORDER BY shard`);
    const out = new Array<string | null>(shards).fill(null);
    for (const row of r.rows as { shard: number; owner: string }[]) out[row.shard] = row.owner;
    return out;
  };
  const spread = async (): Promise<boolean> => {
    const o = await ownersOf();
    const counts = new Map<string, number>();
    for (const x of o) if (x !== null) counts.set(x, (counts.get(x) ?? 0) + 1);
    return counts.size === 3 && [...counts.values()].every((n) => n >= 340 && n <= 342);
  };
  try {
    for (const id of ['a', 'b', 'c']) procs.push(await startNode(url, schema, id));
    await until('the shards spread evenly', 30_000, spread);

    // ---- throughput: forwarded (sent to a) vs local (sent to b), entities owned by b
    const owners = await ownersOf();
    const ids: string[] = [];
    for (let i = 0; ids.length < 200; i++) if (owners[shardOf(`counter|e${i}`, shards)] === 'b') ids.push(`e${i}`);
    const toA = await connect(procs[0]!.gateway, { format: 'msgpack' });
    const toB = await connect(procs[1]!.gateway, { format: 'msgpack' });
    await Promise.all(ids.map((id) => toB.ask('counter', id, 'get')));
    const trial = (client: GatewayClient, durationMs: number) => async (rate: number): Promise<TrialResult> => {
      const run = openLoop({ send: (seq) => client.ask('counter', ids[seq % ids.length] as string, 'add', { k: seq }) }, { rate, warmupMs: 300, durationMs });
      const r = await run.result;
      await run.settled;
      return r;
    };
    const search = async (label: string, client: GatewayClient): Promise<number> => {
      const s = await findSaturation(trial(client, 1500), { startRate: 500, maxTrials: 9, onTrial: (r, ok) => log(`  ${label} ${ok ? 'sustained' : 'not      '} ${describe(r)}`) });
      log(`${label}: saturation ${round(s.rate)}/s`);
      return s.rate;
    };
    const local = await search('local', toB);
    const forwarded = await search('forwarded', toA);
    const half = Math.max(1, Math.round(forwarded / 2));
    const fwdHalf = await trial(toA, 3000)(half);
    log(`forwarded at ${half}/s: ${describe(fwdHalf)}`);
    const localHalf = await trial(toB, 3000)(half);
    log(`local at ${half}/s: ${describe(localHalf)}`);
    toA.close();
    toB.close();

    // ---- failover: 5 × kill -9 under load
    const failovers: number[] = [];
    for (let k = 0; k < 5; k++) {
      const victimIndex = 1 + (k % 2); // b, c, b, c, b: the survivor a drives the load
      const victim = procs[victimIndex] as Proc;
      const o = await ownersOf();
      const theirs: string[] = [];
      for (let i = 0; theirs.length < 50; i++) if (o[shardOf(`counter|f${k}-${i}`, shards)] === victim.nodeId) theirs.push(`f${k}-${i}`);
      const client = await connect(procs[0]!.gateway, { format: 'msgpack' });
      await Promise.all(theirs.map((id) => client.ask('counter', id, 'add', { k: 0 })));
      const lastOk = new Map<string, number>();
      let stop = false;
      const loops = theirs.map(async (id) => {
        while (!stop) {
          try {
            await client.ask('counter', id, 'add', { k: 1 }, { timeout: 10_000 });
            lastOk.set(id, performance.now());
          } catch {
            await new Promise((r) => setTimeout(r, 5));
          }
        }
      });
      await new Promise((r) => setTimeout(r, 500)); // under load before the kill
      victim.child.kill('SIGKILL');
      const killedAt = performance.now();
      await victim.exited;
      await until('every entity of the victim answers again', 30_000, () => theirs.every((id) => (lastOk.get(id) ?? 0) > killedAt));
      const s = (Math.max(...theirs.map((id) => lastOk.get(id) as number)) - killedAt) / 1000;
      failovers.push(s);
      log(`kill ${k + 1}: the last of ${theirs.length} entities of ${victim.nodeId} answered again after ${round(s, 2)} s`);
      stop = true;
      await Promise.all(loops);
      client.close();
      procs[victimIndex] = await startNode(url, schema, victim.nodeId);
      await until('the shards spread evenly again', 30_000, spread);
    }
    failovers.sort((x, y) => x - y);
    report('cluster', {
      failover_s_p50: round(percentile(failovers, 50), 2),
      failover_s_max: round(failovers[failovers.length - 1] as number, 2),
      forwarded_commands_per_s: round(forwarded),
      local_commands_per_s: round(local),
      forwarded_ratio: round(forwarded / local, 2),
      forwarded_p50_ms: round(fwdHalf.latency.p50, 2),
      forwarded_p99_ms: round(fwdHalf.latency.p99, 2),
      local_p99_ms_same_rate: round(localHalf.latency.p99, 2),
      rate_at_half_forwarded: half,
    });
  } finally {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`).catch(() => {});
    await pool.end();
  }
}

if (process.argv[2] === '--node') await runNode(JSON.parse(process.argv[3] as string) as NodeSettings);
else await main();
