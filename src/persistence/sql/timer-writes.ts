import type { EncodedTimerWrites } from '../encoded-timers.js';
import type { Tables } from './tables.js';
import { intArrayLiteral, textArrayLiteral } from './array-literals.js';
import { keyHash } from '../key-hash.js';

/** How many parameters `timerWriteParams` makes. */
export const TIMER_WRITE_PARAMS = 19;

/**
 * Timer changes as data-modifying CTEs, to be appended to the WITH list of the statement that
 * writes the command's events or state: PostgreSQL runs the whole statement as one transaction,
 * so the timers are written exactly when that write is (and not at all when it loses its
 * compare-and-set). `won` is a relation of `(idx, pid)`: the writes that won, by their 1-based
 * place in the parameters. Parameters `$first …` are `timerWriteParams`'s.
 *
 * Each (pid, name) is touched by one CTE at most (`encodeTimerWrites` keeps one change per
 * name), which a single statement needs: two CTEs must not modify the same row.
 */
export function timerWriteCtes(t: Tables, won: string, first: number): string {
  const p = (i: number): string => `$${first + i}`;
  return `tm_put AS (
  INSERT INTO ${t.timers} (persistence_id, name, entity_type, entity_id, schedule_id, due_at, every_ms, fire_at, attempts, claim, command, payload, created_at, last_error, shard_hash)
  SELECT w.pid, x.name, x.etype, x.eid, x.sid, x.due, x.every, x.due, 0, NULL, x.cmd, substring(${p(8)}::bytea FROM x.off FOR x.len), ${p(11)}::int8, NULL, x.hash
  FROM unnest(${p(0)}::int8[], ${p(1)}::text[], ${p(2)}::text[], ${p(3)}::int8[], ${p(4)}::int8[], ${p(5)}::text[], ${p(6)}::int4[], ${p(7)}::int4[], ${p(9)}::text[], ${p(10)}::text[], ${p(18)}::int8[])
    AS x(idx, name, sid, due, every, cmd, off, len, etype, eid, hash)
  JOIN ${won} w ON w.idx = x.idx
  ON CONFLICT (persistence_id, name) DO UPDATE SET entity_type = EXCLUDED.entity_type, entity_id = EXCLUDED.entity_id,
    shard_hash = EXCLUDED.shard_hash, schedule_id = EXCLUDED.schedule_id, due_at = EXCLUDED.due_at, every_ms = EXCLUDED.every_ms, fire_at = EXCLUDED.fire_at,
    attempts = 0, claim = NULL, command = EXCLUDED.command, payload = EXCLUDED.payload, created_at = EXCLUDED.created_at, last_error = NULL
), tm_cancel AS (
  DELETE FROM ${t.timers} tm USING unnest(${p(12)}::int8[], ${p(13)}::text[]) AS x(idx, name) JOIN ${won} w ON w.idx = x.idx
  WHERE tm.persistence_id = w.pid AND tm.name = x.name
), tm_done AS (
  DELETE FROM ${t.timers} tm USING unnest(${p(14)}::int8[], ${p(15)}::text[], ${p(16)}::text[], ${p(17)}::int8[]) AS x(idx, name, claim, next)
    JOIN ${won} w ON w.idx = x.idx
  WHERE x.next < 0 AND tm.persistence_id = w.pid AND tm.name = x.name AND tm.claim = x.claim
), tm_next AS (
  UPDATE ${t.timers} tm SET due_at = x.next, fire_at = x.next, attempts = 0, claim = NULL, last_error = NULL
  FROM unnest(${p(14)}::int8[], ${p(15)}::text[], ${p(16)}::text[], ${p(17)}::int8[]) AS x(idx, name, claim, next)
    JOIN ${won} w ON w.idx = x.idx
  WHERE x.next >= 0 AND tm.persistence_id = w.pid AND tm.name = x.name AND tm.claim = x.claim
)`;
}

/** One write's timer changes and its 1-based place among the statement's writes. */
export interface IndexedTimerWrites {
  readonly idx: number;
  readonly writes: EncodedTimerWrites;
}

/** The parameters of `timerWriteCtes` (built once per statement). */
export function timerWriteParams(items: readonly IndexedTimerWrites[], now: number): unknown[] {
  const putIdx: number[] = [];
  const putName: string[] = [];
  const putSid: string[] = [];
  const putDue: number[] = [];
  const putEvery: number[] = [];
  const putCmd: string[] = [];
  const putOff: number[] = [];
  const putLen: number[] = [];
  const putType: string[] = [];
  const putEid: string[] = [];
  const putHash: number[] = [];
  const delIdx: number[] = [];
  const delName: string[] = [];
  const doneIdx: number[] = [];
  const doneName: string[] = [];
  const doneClaim: string[] = [];
  const doneNext: number[] = [];
  let size = 0;
  for (const { writes } of items) size += writes.bytes;
  const blob = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const { idx, writes } of items) {
    // The cluster's shard hash of the entity (see key-hash.ts), once per entity, not per timer.
    const hash = writes.puts.length > 0 ? keyHash(`${writes.entityType}|${writes.entityId}`) : 0;
    for (const put of writes.puts) {
      putIdx.push(idx);
      putName.push(put.name);
      putSid.push(put.scheduleId);
      putDue.push(put.dueAt);
      putEvery.push(put.everyMs);
      putCmd.push(put.command);
      blob.set(put.payload, pos);
      putOff.push(pos + 1); // substring() is 1-based
      putLen.push(put.payload.byteLength);
      pos += put.payload.byteLength;
      putType.push(writes.entityType);
      putEid.push(writes.entityId);
      putHash.push(hash);
    }
    for (const name of writes.cancels) {
      delIdx.push(idx);
      delName.push(name);
    }
    for (const done of writes.completes) {
      doneIdx.push(idx);
      doneName.push(done.name);
      doneClaim.push(done.claim);
      doneNext.push(done.nextDueAt === null ? -1 : done.nextDueAt);
    }
  }
  return [
    intArrayLiteral(putIdx),
    textArrayLiteral(putName),
    textArrayLiteral(putSid),
    intArrayLiteral(putDue),
    intArrayLiteral(putEvery),
    textArrayLiteral(putCmd),
    intArrayLiteral(putOff),
    intArrayLiteral(putLen),
    blob,
    textArrayLiteral(putType),
    textArrayLiteral(putEid),
    now,
    intArrayLiteral(delIdx),
    textArrayLiteral(delName),
    intArrayLiteral(doneIdx),
    textArrayLiteral(doneName),
    textArrayLiteral(doneClaim),
    intArrayLiteral(doneNext),
    intArrayLiteral(putHash),
  ];
}

/**
 * A single-row write statement (an INSERT, UPDATE or DELETE of one persistence id) with timer
 * changes in its transaction: `WITH w AS (<write> RETURNING …), <timer CTEs> SELECT 1 FROM w`.
 * It returns one row iff the write happened, and `rowCount` is then that row count (not the rows
 * the CTEs touched), so the caller's compare-and-set check stays `rowCount === 1`.
 */
export function withTimerWrites(
  t: Tables,
  text: string,
  values: readonly unknown[],
  name: string | undefined,
  writes: EncodedTimerWrites,
  now: number,
): [string, unknown[], string | undefined] {
  const first = values.length + 1;
  const wrapped = `WITH w AS (${text} RETURNING 1::int8 AS idx, persistence_id AS pid), ${timerWriteCtes(t, 'w', first)} SELECT 1 FROM w`;
  return [wrapped, [...values, ...timerWriteParams([{ idx: 1, writes }], now)], name];
}

/**
 * The group-commit append statement with timer writes in it: the timers' CTEs join the WITH
 * list before the final SELECT, and touch only the appends that won (`won`, by `a.idx`), so a
 * command's timers commit exactly when its events do. Made from the plain statement's text, so
 * whatever that statement does (fences, tags) it still does.
 */
export function appendStatementWithTimers(appendSql: string, t: Tables, first: number): string {
  const at = appendSql.lastIndexOf('\n)\nSELECT ');
  if (at < 0) throw new Error('the append statement does not end in "WITH … ) SELECT …": timer writes cannot join it');
  const head = appendSql.slice(0, at + 2);
  const tail = appendSql.slice(at + 2);
  return `${head}, tm_won AS (SELECT a.idx, a.pid FROM a WHERE a.pid IN (SELECT persistence_id FROM won)), ${timerWriteCtes(t, 'tm_won', first)}${tail}`;
}

/** The timer parameters of a batch's appends (`timers` by their place in the batch), or undefined if none has any. */
export function batchTimerParams(batch: readonly { readonly timers?: EncodedTimerWrites | undefined }[], now: number): unknown[] | undefined {
  let items: IndexedTimerWrites[] | undefined;
  for (let i = 0; i < batch.length; i++) {
    const w = batch[i]?.timers;
    if (w !== undefined) (items ??= []).push({ idx: i + 1, writes: w });
  }
  return items === undefined ? undefined : timerWriteParams(items, now);
}
