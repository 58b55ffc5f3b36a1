// Journal benchmark: group-commit appends and replay against baselines measured in the same run.
//   npm run bench -- journal
// Uses DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) and a schema of its own,
// dropped at the end. Progress goes to stderr; the last stdout line is the JSON result.
import pg from 'pg';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStore, msgpackSerializer } from '../src/persistence/index.js';
import type { Store, StoreOptions } from '../src/persistence/index.js';
import { gc, log, now, percentile, report, round } from './_report.js';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `bench_journal_${process.pid}`;
const IDS = 1000;
const EVENTS_PER_ID = 100; // 100 k events in all
const REPLAY_EVENTS = 200_000;
const env = (name: string): number | undefined => (process.env[name] === undefined ? undefined : Number(process.env[name]));

const serializer = msgpackSerializer();
const event = (i: number): { type: string; item: string; qty: number } => ({ type: 'ItemAdded', item: `sku-${i % 1000}`, qty: 2 });

interface Run {
  readonly eventsPerS: number;
  readonly p99Ms: number;
}

/**
 * The append workload: `IDS` writers, each appending `perId` events one at a time and awaiting
 * each, all concurrently. `append(writer, n)` appends writer's n-th event (0-based).
 */
async function appendWorkload(perId: number, append: (writer: number, n: number) => Promise<unknown>): Promise<Run> {
  const latencies = new Float64Array(IDS * perId);
  let k = 0;
  gc();
  const start = now();
  await Promise.all(
    Array.from({ length: IDS }, async (_, w) => {
      for (let n = 0; n < perId; n++) {
        const t0 = now();
        await append(w, n);
        latencies[k++] = now() - t0;
      }
    }),
  );
  const elapsed = now() - start;
  latencies.sort();
  return { eventsPerS: (IDS * perId) / (elapsed / 1000), p99Ms: percentile(latencies, 99) };
}

async function journalAppends(store: Store, label: string, perId: number): Promise<Run> {
  const tag = `${label}-${Math.random().toString(36).slice(2, 8)}`;
  return appendWorkload(perId, (w, n) => store.journal.append(`${tag}-${w}`, n, [{ payload: event(n), type: 'ItemAdded' }]));
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
      `group commit: ${round(appendRun.eventsPerS)} events/s, p99 ${round(appendRun.p99Ms, 2)} ms, ` +
        `${batches} batches (${round((after.appends - before.appends) / batches, 1)} appends/batch, largest ${after.largestBatch})`,
    );
    metrics.append_events_per_s = round(appendRun.eventsPerS);
    metrics.append_p99_ms = round(appendRun.p99Ms, 2);

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
    log(`naive (INSERT per append, pool of 16): ${round(naiveRun.eventsPerS)} events/s, p99 ${round(naiveRun.p99Ms, 2)} ms`);
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

  // --- PGlite, in a data folder (the default backend) ---------------------------------------
  const dir = process.env.BENCH_PGLITE_DIR ?? mkdtempSync(join(tmpdir(), 'beamstate-bench-'));
  const pglite = await createStore({ kind: 'pglite', dataDir: dir });
  try {
    log(`PGlite in ${dir}: warming up`);
    await journalAppends(pglite, 'warm', 5);
    const run = await journalAppends(pglite, 'gc', EVENTS_PER_ID);
    log(`PGlite group commit: ${round(run.eventsPerS)} events/s, p99 ${round(run.p99Ms, 2)} ms`);
    metrics.pglite_append_events_per_s = round(run.eventsPerS);
  } finally {
    await pglite.close();
    if (process.env.BENCH_PGLITE_DIR === undefined) rmSync(dir, { recursive: true, force: true });
  }

  log(
    `targets: append >= 5x naive (${round(metrics.append_events_per_s! / metrics.naive_events_per_s!, 2)}x), ` +
      `>= 35% of raw batch (${round((100 * metrics.append_events_per_s!) / metrics.raw_batch_events_per_s!, 1)}%), ` +
      `p99 <= 20 ms (${metrics.append_p99_ms}), replay >= 60% of raw select (${round((100 * metrics.replay_events_per_s!) / metrics.raw_select_events_per_s!, 1)}%)`,
  );
  report('journal', metrics);
}

await main();
