// Journal benchmark: group-commit appends and replay against baselines measured in the same run.
//   npm run bench -- journal
// Uses DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) and a schema of its own,
// dropped at the end. Progress goes to stderr; the last stdout line is the JSON result.
//
// Append latency is measured open-loop (bench/_open-loop.ts: a fixed offered rate, each latency
// from the request's scheduled send time, so a stall counts against every append that should
// have been sent during it): first the saturation rate, then a run at 50 % of it.
// Trial lengths (ms): BENCH_TRIAL_MS (saturation search, default 3000), BENCH_RUN_MS (the 50 %
// run, default 10000), BENCH_WARMUP_MS (before each, default 1000).
import pg from 'pg';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { createStore, msgpackSerializer } from '../src/persistence/index.js';
import type { Store, StoreOptions } from '../src/persistence/index.js';
import { gc, log, now, report, round } from './_report.js';
import { describe as describeTrial, findSaturation, openLoop } from './_open-loop.js';
import type { TrialResult } from './_open-loop.js';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `bench_journal_${process.pid}`;
const IDS = 1000;
const EVENTS_PER_ID = 100; // 100 k events in all
const REPLAY_EVENTS = 200_000;
const env = (name: string): number | undefined => (process.env[name] === undefined ? undefined : Number(process.env[name]));
const TRIAL_MS = env('BENCH_TRIAL_MS') ?? 3000;
const RUN_MS = env('BENCH_RUN_MS') ?? 10_000;
const WARMUP_MS = env('BENCH_WARMUP_MS') ?? 1000;

const serializer = msgpackSerializer();
const event = (i: number): { type: string; item: string; qty: number } => ({ type: 'ItemAdded', item: `sku-${i % 1000}`, qty: 2 });

interface Run {
  readonly eventsPerS: number;
}

/**
 * The append workload: `IDS` writers, each appending `perId` events one at a time and awaiting
 * each, all concurrently. `append(writer, n)` appends writer's n-th event (0-based).
 */
async function appendWorkload(perId: number, append: (writer: number, n: number) => Promise<unknown>, writers = IDS): Promise<Run> {
  gc();
  const start = now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let n = 0; n < perId; n++) await append(w, n);
    }),
  );
  const elapsed = now() - start;
  return { eventsPerS: (writers * perId) / (elapsed / 1000) };
}

async function journalAppends(store: Store, label: string, perId: number, writers = IDS): Promise<Run> {
  const tag = `${label}-${Math.random().toString(36).slice(2, 8)}`;
  return appendWorkload(perId, (w, n) => store.journal.append(`${tag}-${w}`, n, [{ payload: event(n), type: 'ItemAdded' }]), writers);
}

/**
 * One open-loop trial: appends offered at `rate`/s, spread round-robin over `IDS` ids. An id's
 * appends are sequential (as an entity's are): one scheduled while the id's previous append is
 * still running waits for it, and that wait counts in its latency.
 */
async function openLoopAppends(store: Store, rate: number, durationMs: number): Promise<TrialResult> {
  const tag = `ol-${rate}-${Math.random().toString(36).slice(2, 8)}`;
  const next = new Float64Array(IDS);
  const tail: (Promise<unknown> | undefined)[] = new Array(IDS);
  const appendTo = (w: number, seq: number) => (): Promise<unknown> => store.journal.append(`${tag}-${w}`, next[w]!++, [{ payload: event(seq), type: 'ItemAdded' }]);
  gc();
  const run = openLoop(
    {
      send(seq) {
        const w = seq % IDS;
        const prev = tail[w];
        const go = appendTo(w, seq);
        const p = prev === undefined ? go() : prev.then(go, go);
        tail[w] = p;
        return p;
      },
    },
    { rate, warmupMs: WARMUP_MS, durationMs },
  );
  const result = await run.result;
  await run.settled; // an overloaded trial's backlog is not load on the next one
  return result;
}

/** Event-loop delay and GC pauses while `fn` runs: where an append's tail comes from. */
async function observed<T>(fn: () => Promise<T>): Promise<{ value: T; loopP99Ms: number; loopMaxMs: number; gcMs: number; gcMaxMs: number }> {
  const loop = monitorEventLoopDelay({ resolution: 5 });
  let gcMs = 0;
  let gcMaxMs = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      gcMaxMs = Math.max(gcMaxMs, e.duration);
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  loop.enable();
  try {
    const value = await fn();
    return { value, loopP99Ms: loop.percentile(99) / 1e6, loopMaxMs: loop.max / 1e6, gcMs, gcMaxMs };
  } finally {
    loop.disable();
    obs.disconnect();
  }
}

function storeOptions(extra: Partial<StoreOptions> = {}): StoreOptions {
  const groupCommit = {
    ...(env('BENCH_MAX_EVENTS') === undefined ? {} : { maxBatchEvents: env('BENCH_MAX_EVENTS') as number }),
    ...(env('BENCH_IN_FLIGHT') === undefined ? {} : { maxBatchesInFlight: env('BENCH_IN_FLIGHT') as number }),
  };
  return { kind: 'postgres', connectionString: url, schema, groupCommit, ...extra } as StoreOptions;
}

async function main(): Promise<void> {
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  const store = await createStore(storeOptions());
  const metrics: Record<string, number> = {};
  try {
    // --- group-commit appends ------------------------------------------------------------
    log('warming up the group-commit writer');
    await journalAppends(store, 'warm', 10);
    const before = store.journal.stats();
    const appendRun = await journalAppends(store, 'gc', EVENTS_PER_ID);
    const after = store.journal.stats();
    const batches = after.batches - before.batches;
    log(
      `group commit (closed loop, ${IDS} writers): ${round(appendRun.eventsPerS)} events/s, ` +
        `${batches} batches (${round((after.appends - before.appends) / batches, 1)} appends/batch, largest ${after.largestBatch})`,
    );
    metrics.append_events_per_s = round(appendRun.eventsPerS);

    // --- open-loop latency: saturation, then 50 % of it ------------------------------------
    log(`open loop: saturation search (${TRIAL_MS} ms trials after ${WARMUP_MS} ms warm-up, ${IDS} ids)`);
    const saturation = await findSaturation((rate) => openLoopAppends(store, rate, TRIAL_MS), {
      startRate: 10_000,
      onTrial: (r, ok) => log(`  ${ok ? 'sustained  ' : 'unsustained'} ${describeTrial(r)}`),
    });
    if (saturation.rate === 0) throw new Error('no offered rate was sustained');
    const half = Math.round(saturation.rate / 2);
    const b0 = store.journal.stats();
    const at50 = await observed(() => openLoopAppends(store, half, RUN_MS));
    const b1 = store.journal.stats();
    const r50 = at50.value;
    log(`saturation ${saturation.rate} appends/s; at 50 % (${RUN_MS} ms): ${describeTrial(r50)}`);
    log(
      `  during it: ${round((b1.appends - b0.appends) / Math.max(1, b1.batches - b0.batches), 1)} appends/batch; ` +
        `event-loop delay p99 ${round(at50.loopP99Ms, 2)} ms, max ${round(at50.loopMaxMs, 1)} ms; ` +
        `GC ${round(at50.gcMs)} ms in all, longest pause ${round(at50.gcMaxMs, 1)} ms; ` +
        `generator CPU ${round((100 * r50.cpuMs) / (r50.seconds * 1000))} % of a core (in process, with the store)`,
    );
    metrics.append_saturation_per_s = round(saturation.rate);
    metrics.append_p50_ms_at_50pct = round(r50.latency.p50, 2);
    metrics.append_p99_ms_at_50pct = round(r50.latency.p99, 2);
    metrics.append_p999_ms_at_50pct = round(r50.latency.p999, 2);

    // --- baseline: one INSERT per append on a pool of 16 ---------------------------------
    await admin.query(`CREATE TABLE "${schema}".naive (
      persistence_id text NOT NULL, sequence_nr bigint NOT NULL, event_type text NOT NULL, payload bytea NOT NULL,
      PRIMARY KEY (persistence_id, sequence_nr))`);
    const pool16 = new pg.Pool({ connectionString: url, max: 16 });
    const naiveInsert = `INSERT INTO "${schema}".naive (persistence_id, sequence_nr, event_type, payload) VALUES ($1, $2, $3, $4)`;
    const naive = (label: string, perId: number): Promise<Run> =>
      appendWorkload(perId, (w, n) => pool16.query(naiveInsert, [`${label}-${w}`, n + 1, 'ItemAdded', serializer.encode(event(n))]));
    log('warming up the naive baseline');
    await naive('warm', 10);
    const naiveRun = await naive('naive', EVENTS_PER_ID);
    await pool16.end();
    log(`naive (INSERT per append, pool of 16): ${round(naiveRun.eventsPerS)} events/s`);
    metrics.naive_events_per_s = round(naiveRun.eventsPerS);

    // --- baseline: multi-row INSERTs of 1000 rows -----------------------------------------
    const rawBatch = async (label: string, total: number): Promise<number> => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const rows = 1000;
      const placeholders = Array.from({ length: rows }, (_, r) => `($${r * 4 + 1}, $${r * 4 + 2}, $${r * 4 + 3}, $${r * 4 + 4})`).join(',');
      const text = `INSERT INTO "${schema}".naive (persistence_id, sequence_nr, event_type, payload) VALUES ${placeholders}`;
      // Payloads encoded up front: the baseline is the database's insert rate, nothing else.
      const payloads = Array.from({ length: total }, (_, i) => serializer.encode(event(i)));
      gc();
      const start = now();
      for (let done = 0; done < total; done += rows) {
        const values: unknown[] = [];
        for (let r = 0; r < rows; r++) {
          const i = done + r;
          values.push(`${label}-${i % IDS}`, Math.floor(i / IDS) + 1, 'ItemAdded', payloads[i]);
        }
        await client.query({ name: 'raw_batch_insert', text, values }); // prepared once, like the journal's statement
      }
      const elapsed = now() - start;
      await client.end();
      return total / (elapsed / 1000);
    };
    await rawBatch('rawwarm', 10_000);
    const rawBatchRate = await rawBatch('raw', IDS * EVENTS_PER_ID);
    log(`raw batch (1000-row INSERTs): ${round(rawBatchRate)} events/s`);
    metrics.raw_batch_events_per_s = round(rawBatchRate);

    // --- replay of one id with 200 k events -----------------------------------------------
    log(`writing ${REPLAY_EVENTS} events for the replay`);
    const pid = 'replay-1';
    for (let written = 0; written < REPLAY_EVENTS; written += 1000) {
      await store.journal.append(
        pid,
        written,
        Array.from({ length: 1000 }, (_, k) => ({ payload: event(written + k), type: 'ItemAdded' })),
      );
    }
    await admin.query(`VACUUM ANALYZE "${schema}".beamstate_journal`);
    const replayOnce = async (): Promise<number> => {
      let count = 0;
      let qty = 0;
      gc();
      const start = now();
      await store.journal.replay(pid, {}, (e) => {
        count++;
        qty += (e.payload as { qty: number }).qty;
      });
      const elapsed = now() - start;
      if (count !== REPLAY_EVENTS || qty !== 2 * REPLAY_EVENTS) throw new Error(`replay delivered ${count} events`);
      return count / (elapsed / 1000);
    };
    const rawSelectOnce = async (client: pg.Client): Promise<number> => {
      gc();
      const start = now();
      const r = await client.query(
        `SELECT sequence_nr, ordering, event_type, payload, metadata, written_at FROM "${schema}".beamstate_journal
         WHERE persistence_id = $1 ORDER BY sequence_nr`,
        [pid],
      );
      const elapsed = now() - start;
      if (r.rows.length !== REPLAY_EVENTS) throw new Error(`select returned ${r.rows.length} rows`);
      return REPLAY_EVENTS / (elapsed / 1000);
    };
    const selectClient = new pg.Client({ connectionString: url });
    await selectClient.connect();
    const replays: number[] = [];
    const selects: number[] = [];
    await replayOnce();
    await rawSelectOnce(selectClient);
    for (let i = 0; i < 3; i++) {
      replays.push(await replayOnce());
      selects.push(await rawSelectOnce(selectClient));
    }
    await selectClient.end();
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    log(`replay: ${replays.map((x) => round(x)).join(', ')} events/s; raw select: ${selects.map((x) => round(x)).join(', ')} rows/s`);
    metrics.replay_events_per_s = round(median(replays));
    metrics.raw_select_events_per_s = round(median(selects));
  } finally {
    await store.close();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }

  // --- PGlite, in a data folder (the default backend), with and without fsync ---------------
  for (const durability of ['fsync', 'process'] as const) {
    const dir = mkdtempSync(join(process.env.BENCH_PGLITE_DIR ?? tmpdir(), 'beamstate-bench-'));
    const pglite = await createStore({ kind: 'pglite', dataDir: dir, durability });
    const suffix = durability === 'fsync' ? '' : '_no_fsync';
    try {
      log(`PGlite in ${dir}, durability '${durability}': warming up`);
      await journalAppends(pglite, 'warm', 5);
      const run = await journalAppends(pglite, 'gc', EVENTS_PER_ID);
      // One writer, one append at a time: every append is its own commit (and fsync).
      const lone = await journalAppends(pglite, 'lone', 500, 1);
      log(`PGlite '${durability}': ${round(run.eventsPerS)} events/s (${IDS} writers); a lone writer ${round(lone.eventsPerS)} appends/s`);
      metrics[`pglite_append_events_per_s${suffix}`] = round(run.eventsPerS);
      metrics[`pglite_lone_appends_per_s${suffix}`] = round(lone.eventsPerS);
    } finally {
      await pglite.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  log(
    `targets: append >= 5x naive (${round(metrics.append_events_per_s! / metrics.naive_events_per_s!, 2)}x), ` +
      `>= 35% of raw batch (${round((100 * metrics.append_events_per_s!) / metrics.raw_batch_events_per_s!, 1)}%), ` +
      `p99 at 50% of saturation <= 10 ms (${metrics.append_p99_ms_at_50pct}), replay >= 60% of raw select (${round((100 * metrics.replay_events_per_s!) / metrics.raw_select_events_per_s!, 1)}%)`,
  );
  report('journal', metrics);
}

await main();
