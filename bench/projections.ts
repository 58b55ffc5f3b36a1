// `npm run bench -- projections`: the cost of the gap-free global order and what projections get
// out of it, on PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test), each
// against a baseline measured in the same run:
//
// - append_per_s_with_global_order vs append_per_s_baseline: closed-loop appends (many ids, one
//   event each, group commit) on the journal as migrated, and on a copy of the schema without what
//   the global order adds (the tx_id column and its (tx_id, ordering) index) — the journal as it
//   was. Trials interleaved (base, global, lock, base, …), medians reported. For comparison,
//   append_per_s_commit_order_lock: the alternative design (a commit-order sequence taken under a
//   lock held to the commit), simulated with triggers on a third schema.
// - projection_events_per_s vs raw_replay_per_s_baseline: an exactly-once projection (each batch
//   upserted into a PostgreSQL table in the transaction that saves its offset) over 200 000 events
//   already in the journal, against a plain read of the same events in global order.
// - tail_lag_p99_ms: an open-loop writer at 10 000 appends/s (scheduled send times) and a tail in
//   the same process; lag is from an event's scheduled send time to the tail handing it over.
import pg from 'pg';
import { createActorSystem, EntityRuntime, silentLogger, START_OFFSET, tailJournal } from '../src/index.js';
import type { GlobalEvent, Store } from '../src/index.js';
import { createStore } from '../src/persistence/index.js';
import { log, now, percentile, report, round } from './_report.js';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `bench_proj_${process.pid}`;
const baseSchema = `bench_proj_base_${process.pid}`;
const lockSchema = `bench_proj_lock_${process.pid}`;
const TRIAL_MS = Number(process.env.TRIAL_MS ?? 3000);
const WRITERS = 64;
const REPLAY_EVENTS = Number(process.env.REPLAY_EVENTS ?? 200_000);
const TAIL_RATE = 10_000;
const TAIL_MS = Number(process.env.TAIL_MS ?? 5000);

const admin = new pg.Pool({ connectionString: url, max: 2 });
const open = (s: string): Promise<Store> => createStore({ kind: 'postgres', connectionString: url, schema: s, poolSize: 8, logger: silentLogger });

async function appendTrial(store: Store, label: string): Promise<number> {
  let count = 0;
  let stop = false;
  const t0 = now();
  const end = t0 + TRIAL_MS;
  const payload = { type: 'Added', n: 1, note: 'a small event of some forty bytes' };
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      const pid = `${label}-${w}-${Math.random().toString(36).slice(2)}`;
      let seq = 0;
      while (!stop) {
        await store.journal.append(pid, seq, [{ payload, type: 'Added' }]);
        seq++;
        count++;
        if (now() >= end) stop = true;
      }
    }),
  );
  return (count * 1000) / (now() - t0);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function main(): Promise<void> {
  for (const s of [schema, baseSchema, lockSchema]) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  const store = await open(schema);
  const base = await open(baseSchema);
  // The journal as it was before the global order: no tx_id, no (tx_id, ordering) index.
  await admin.query(`ALTER TABLE "${baseSchema}".beamstate_journal DROP COLUMN tx_id`);
  // The alternative not taken, for comparison: a commit-order sequence assigned under a lock held
  // to the commit. A statement trigger takes a transaction-level advisory lock before the events
  // are inserted and numbers them from a sequence, so append transactions commit one at a time.
  const locked = await open(lockSchema);
  await admin.query(`ALTER TABLE "${lockSchema}".beamstate_journal DROP COLUMN tx_id`);
  await admin.query(`ALTER TABLE "${lockSchema}".beamstate_journal ADD COLUMN commit_seq bigint`);
  await admin.query(`CREATE SEQUENCE "${lockSchema}".commit_seq`);
  await admin.query(`CREATE FUNCTION "${lockSchema}".take_lock() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_advisory_xact_lock(7177); RETURN NULL; END $$`);
  await admin.query(`CREATE FUNCTION "${lockSchema}".number() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN NEW.commit_seq := nextval('"${lockSchema}".commit_seq'); RETURN NEW; END $$`);
  await admin.query(`CREATE TRIGGER a_lock BEFORE INSERT ON "${lockSchema}".beamstate_journal FOR EACH STATEMENT EXECUTE FUNCTION "${lockSchema}".take_lock()`);
  await admin.query(`CREATE TRIGGER b_number BEFORE INSERT ON "${lockSchema}".beamstate_journal FOR EACH ROW EXECUTE FUNCTION "${lockSchema}".number()`);

  // 1. Append throughput, interleaved trials.
  const baseRates: number[] = [];
  const globalRates: number[] = [];
  const lockRates: number[] = [];
  await appendTrial(base, 'warm');
  await appendTrial(store, 'warm');
  for (let i = 0; i < 5; i++) {
    baseRates.push(await appendTrial(base, `b${i}`));
    globalRates.push(await appendTrial(store, `g${i}`));
    lockRates.push(await appendTrial(locked, `l${i}`));
    log(
      `append trial ${i}: baseline ${round(baseRates[i] as number)}/s, with global order ${round(globalRates[i] as number)}/s, commit order under a lock ${round(lockRates[i] as number)}/s`,
    );
  }

  // 2. Projection vs raw replay over the same events.
  const rs = `bench_proj_replay_${process.pid}`;
  await admin.query(`DROP SCHEMA IF EXISTS "${rs}" CASCADE`);
  const replayStore = await open(rs);
  {
    const ids = 500;
    const per = Math.ceil(REPLAY_EVENTS / ids);
    await Promise.all(
      Array.from({ length: ids }, async (_, i) => {
        for (let s = 0; s < per; s += 10) {
          await replayStore.journal.append(
            `acct|${i}`,
            s,
            Array.from({ length: 10 }, () => ({ payload: { type: 'Added', n: 1 }, type: 'Added' })),
          );
        }
      }),
    );
  }
  await admin.query(`VACUUM ANALYZE "${rs}".beamstate_journal`);
  const total = Number((await admin.query(`SELECT count(*) AS n FROM "${rs}".beamstate_journal`)).rows[0].n);
  const BATCH = Number(process.env.BATCH ?? 1000);
  const replayOnce = async (): Promise<number> => {
    const t0 = now();
    let offset = START_OFFSET;
    let n = 0;
    for (;;) {
      const page = await replayStore.journal.readGlobal({ afterOffset: offset, max: BATCH, persistenceIdPrefixes: ['acct|'] });
      if (page.length === 0) break;
      n += page.length;
      offset = (page[page.length - 1] as GlobalEvent).offset;
    }
    if (n !== total) throw new Error(`replay read ${n} of ${total}`);
    return (n * 1000) / (now() - t0);
  };
  const projectOnce = async (run: number): Promise<number> => {
    const table = `"${rs}".model_${run}`;
    await admin.query(`CREATE TABLE ${table} (id text PRIMARY KEY, total bigint NOT NULL)`);
    const system = createActorSystem({ logger: silentLogger });
    const runtime = new EntityRuntime(system, { store: replayStore });
    const t0 = now();
    const projection = runtime.projection(`bench-${run}`, {
      source: { entityTypes: ['acct'] },
      batchSize: BATCH,
      handleBatch: async (events, ctx) => {
        // The read model: per id, the sum of n, in one statement per batch.
        const sums = new Map<string, number>();
        for (const e of events) sums.set(e.persistenceId, (sums.get(e.persistenceId) ?? 0) + (e.payload as { n: number }).n);
        await ctx.query(
          `INSERT INTO ${table} (id, total) SELECT * FROM unnest($1::text[], $2::int8[])
           ON CONFLICT (id) DO UPDATE SET total = ${table}.total + EXCLUDED.total`,
          [[...sums.keys()], [...sums.values()]],
        );
      },
    });
    // Done when the last batch's transaction (and with it the offset) has committed.
    while (projection.stats().eventsProcessed < total) await new Promise((r) => setTimeout(r, 1));
    const elapsed = now() - t0;
    await system.stop();
    const sum = Number((await admin.query(`SELECT sum(total) AS s FROM ${table}`)).rows[0].s);
    if (sum !== total) throw new Error(`projection counted ${sum} of ${total}`);
    return (total * 1000) / elapsed;
  };
  const replayRates: number[] = [];
  const projectionRates: number[] = [];
  await replayOnce();
  await projectOnce(99); // warm-up: JIT, the pool's connections, the statements
  for (let i = 0; i < 5; i++) {
    replayRates.push(await replayOnce());
    projectionRates.push(await projectOnce(i));
    log(`replay ${round(replayRates[i] as number)}/s, projection ${round(projectionRates[i] as number)}/s (${total} events)`);
  }

  // 3. Tail lag at 10k appends/s, open loop from scheduled send times.
  const lags: number[] = [];
  const ids = 2000;
  const seqs = new Int32Array(ids);
  const inFlight = new Uint8Array(ids);
  const start = await (async () => {
    let offset = START_OFFSET;
    for (;;) {
      const page = await store.journal.eventsAfter(offset, 5000);
      if (page.length === 0) return offset;
      offset = (page[page.length - 1] as GlobalEvent).offset;
    }
  })();
  const tail = tailJournal(store.journal, {
    afterOffset: start,
    persistenceIdPrefixes: ['tail-'],
    batchSize: 1000,
    pollIntervalMs: 20,
    onEvents: (events) => {
      const t = now();
      for (const e of events) lags.push(t - (e.payload as { at: number }).at);
    },
  });
  const t0 = now();
  const totalSends = Math.floor((TAIL_RATE * TAIL_MS) / 1000);
  let sent = 0;
  let skipped = 0;
  const pending: Promise<unknown>[] = [];
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(totalSends, Math.floor(((now() - t0) * TAIL_RATE) / 1000));
      for (; sent < due; sent++) {
        const at = t0 + (sent * 1000) / TAIL_RATE; // scheduled send time
        const i = sent % ids;
        if (inFlight[i] === 1) {
          skipped++; // that id's previous append is still in flight (one writer per id)
          continue;
        }
        inFlight[i] = 1;
        const p = store.journal.append(`tail-${i}`, seqs[i] as number, [{ payload: { at }, type: 'T' }]).then(() => {
          seqs[i] = (seqs[i] as number) + 1;
          inFlight[i] = 0;
        });
        pending.push(p);
      }
      if (sent >= totalSends) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(pending);
  const appended = totalSends - skipped;
  for (let i = 0; i < 100_000 && lags.length < appended; i++) await new Promise((r) => setTimeout(r, 5));
  await tail.stop();
  const achieved = (appended * 1000) / (now() - t0);
  lags.sort((a, b) => a - b);
  log(`tail: ${appended} appends at ${round(achieved)}/s offered ${TAIL_RATE}/s (${skipped} skipped: id busy), lag p50 ${round(percentile(lags, 50), 1)} ms p99 ${round(percentile(lags, 99), 1)} ms`);

  const metrics = {
    append_per_s_baseline: round(median(baseRates)),
    append_per_s_with_global_order: round(median(globalRates)),
    append_per_s_commit_order_lock: round(median(lockRates)),
    // Ratios: the median of each interleaved pair's ratio (steadier than a ratio of medians on a busy machine).
    append_ratio: round(median(globalRates.map((g, i) => g / (baseRates[i] as number))), 3),
    append_lock_ratio: round(median(lockRates.map((l, i) => l / (baseRates[i] as number))), 3),
    raw_replay_per_s_baseline: round(median(replayRates)),
    projection_events_per_s: round(median(projectionRates)),
    projection_ratio: round(median(projectionRates.map((p, i) => p / (replayRates[i] as number))), 3),
    tail_appends_per_s: round(achieved),
    tail_lag_p50_ms: round(percentile(lags, 50), 1),
    tail_lag_p99_ms: round(percentile(lags, 99), 1),
    tail_events_seen: lags.length,
  };
  await Promise.all([store.close(), base.close(), locked.close(), replayStore.close()]);
  for (const s of [schema, baseSchema, lockSchema, rs]) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await admin.end();
  report('projections', metrics);
}

await main();
