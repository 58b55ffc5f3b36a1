import type { ClaimedTimer, ClaimQuery, DeadTimer, ShardFilter, TimerInfo, TimerKey, TimerStore, TimerWrites } from '../timer-store.js';
import type { Serializer } from '../serializer.js';
import { decodeValue } from '../serializer.js';
import type { Lifecycle } from '../lifecycle.js';
import { encodeTimerWrites } from '../encoded-timers.js';
import { checkPersistenceId } from '../validation.js';
import type { SqlDriver } from './driver.js';
import type { Tables } from './tables.js';
import { intArrayLiteral, textArrayLiteral } from './array-literals.js';
import { TIMER_WRITE_PARAMS, timerWriteCtes, timerWriteParams } from './timer-writes.js';
import type { WriteFence } from './write-fence.js';

const TIMER_COLUMNS = 'persistence_id, name, entity_type, entity_id, schedule_id, due_at, every_ms, attempts, command, payload';

/**
 * @internal Timers on PostgreSQL or PGlite. Every statement here is safe to run twice (the
 * driver may retry a query whose connection was lost): a schedule is an upsert of the same row,
 * and everything done to a claimed timer is conditional on its claim token, which the first run
 * clears or replaces.
 */
export class SqlTimerStore implements TimerStore {
  readonly #driver: SqlDriver;
  readonly #t: Tables;
  readonly #serializer: Serializer;
  readonly #lifecycle: Lifecycle;
  readonly #sql: {
    readonly write: string;
    readonly claim: string;
    readonly claimShards: string;
    readonly retry: string;
    readonly dead: string;
    readonly release: string;
    readonly next: string;
    readonly nextShards: string;
  };
  readonly #tag: string;
  readonly #fence: WriteFence | undefined;
  #fencedWrite: string | undefined;

  constructor(driver: SqlDriver, t: Tables, serializer: Serializer, lifecycle: Lifecycle, fence?: WriteFence) {
    this.#fence = fence;
    this.#driver = driver;
    this.#t = t;
    this.#serializer = serializer;
    this.#lifecycle = lifecycle;
    this.#tag = t.tag;
    this.#sql = {
      write: `WITH won AS (SELECT 1::int8 AS idx, $1::text AS pid), ${timerWriteCtes(t, 'won', 2)} SELECT 1`,
      claim: claimSql(t, ''),
      // In a cluster: only the shards this node owns ($6 the shard count, $7 the owned shards).
      claimShards: claimSql(t, ' AND shard_hash % $6 = ANY($7::int8[])'),
      // The claim stays (see TimerStore.retry); the next claim replaces it.
      retry: `UPDATE ${t.timers} SET attempts = attempts + 1, fire_at = $4, last_error = $5
        WHERE persistence_id = $1 AND name = $2 AND claim = $3`,
      dead: `WITH gone AS (
          DELETE FROM ${t.timers} WHERE persistence_id = $1 AND name = $2 AND claim = $3 AND $4::int8 < 0 RETURNING payload
        ), moved AS (
          UPDATE ${t.timers} SET due_at = $4, fire_at = $4, attempts = 0, claim = NULL, last_error = NULL
          WHERE persistence_id = $1 AND name = $2 AND claim = $3 AND $4::int8 >= 0 RETURNING payload
        )
        INSERT INTO ${t.timerDeadLetters} (persistence_id, name, entity_type, entity_id, schedule_id, due_at, command, payload, attempts, last_error, dead_at)
        SELECT $1, $2, $5, $6, $7, $8, $9, p.payload, $10, $11, $12 FROM (SELECT payload FROM gone UNION ALL SELECT payload FROM moved) p`,
      release: `UPDATE ${t.timers} tm SET claim = NULL, fire_at = $4
        FROM unnest($1::text[], $2::text[], $3::text[]) AS x(pid, name, claim)
        WHERE tm.persistence_id = x.pid AND tm.name = x.name AND tm.claim = x.claim`,
      next: `SELECT min(fire_at) FROM ${t.timers} WHERE entity_type = ANY($1::text[])`,
      nextShards: `SELECT min(fire_at) FROM ${t.timers} WHERE entity_type = ANY($1::text[]) AND shard_hash % $2 = ANY($3::int8[])`,
    };
  }

  async write(persistenceId: string, writes: TimerWrites): Promise<void> {
    this.#lifecycle.check();
    checkPersistenceId(persistenceId);
    const encoded = encodeTimerWrites(this.#serializer, writes);
    const params = [persistenceId, ...timerWriteParams([{ idx: 1, writes: encoded }], Date.now())];
    const fence = this.#fence;
    const token = fence === undefined ? null : fence.token(persistenceId);
    if (fence === undefined || token === null) {
      await this.#driver.query(this.#sql.write, params, `bs_${this.#tag}_timer_write`);
      return;
    }
    // A command that changed only its timers, under the cluster's fence: written only if this
    // node still holds the entity's shard at the token's epoch, checked in the same statement
    // (as the journal's and durable state's writes are).
    const k = 2 + TIMER_WRITE_PARAMS;
    this.#fencedWrite ??= `WITH won AS (SELECT 1::int8 AS idx, $1::text AS pid WHERE ${fence.condition(`$${k}::int8`, `$${k + 1}::int8`)}), ${timerWriteCtes(this.#t, 'won', 2)} SELECT count(*) FROM won`;
    const r = await this.#driver.query(this.#fencedWrite, [...params, token[0], token[1]], `bs_${this.#tag}_timer_write_fenced`);
    if (Number(r.rows[0]?.[0]) !== 1) throw fence.refused(persistenceId, token[0], token[1]);
  }

  async claimDue(q: ClaimQuery): Promise<ClaimedTimer[]> {
    this.#lifecycle.check();
    const params: unknown[] = [q.claim, q.now, q.leaseMs, textArrayLiteral(q.entityTypes), q.max];
    const s = q.shards;
    const r =
      s === undefined
        ? await this.#driver.query(this.#sql.claim, params, `bs_${this.#tag}_timer_claim`)
        : await this.#driver.query(this.#sql.claimShards, [...params, s.count, intArrayLiteral(s.owned)], `bs_${this.#tag}_timer_claim_shards`);
    const out = r.rows.map((row) => ({
      persistenceId: row[0] as string,
      name: row[1] as string,
      entityType: row[2] as string,
      entityId: row[3] as string,
      scheduleId: row[4] as string,
      dueAt: Number(row[5]),
      everyMs: Number(row[6]),
      attempts: Number(row[7]),
      command: row[8] as string,
      payload: decodeValue(this.#serializer, row[9] as Uint8Array, '', `timer ${row[1] as string} of ${row[0] as string}`),
      claim: q.claim,
    }));
    // Earliest first, as claimed (RETURNING keeps no order).
    return out.sort((a, b) => a.dueAt - b.dueAt);
  }

  async retry(k: TimerKey, retryAt: number, error: string): Promise<void> {
    this.#lifecycle.check();
    await this.#driver.query(this.#sql.retry, [k.persistenceId, k.name, k.claim, retryAt, error]);
  }

  async deadLetter(t: ClaimedTimer, error: string, now: number, nextDueAt: number | null): Promise<void> {
    this.#lifecycle.check();
    await this.#driver.query(this.#sql.dead, [
      t.persistenceId,
      t.name,
      t.claim,
      nextDueAt === null ? -1 : nextDueAt,
      t.entityType,
      t.entityId,
      t.scheduleId,
      t.dueAt,
      t.command,
      t.attempts + 1,
      error,
      now,
    ]);
  }

  async release(keys: readonly TimerKey[], fireAt: number): Promise<void> {
    this.#lifecycle.check();
    if (keys.length === 0) return;
    await this.#driver.query(this.#sql.release, [
      textArrayLiteral(keys.map((k) => k.persistenceId)),
      textArrayLiteral(keys.map((k) => k.name)),
      textArrayLiteral(keys.map((k) => k.claim)),
      fireAt,
    ]);
  }

  async nextFireAt(entityTypes: readonly string[], shards?: ShardFilter): Promise<number | undefined> {
    this.#lifecycle.check();
    const types = textArrayLiteral(entityTypes);
    const r =
      shards === undefined
        ? await this.#driver.query(this.#sql.next, [types], `bs_${this.#tag}_timer_next`)
        : await this.#driver.query(this.#sql.nextShards, [types, shards.count, intArrayLiteral(shards.owned)], `bs_${this.#tag}_timer_next_shards`);
    const v = r.rows[0]?.[0];
    return v === null || v === undefined ? undefined : Number(v);
  }

  async list(persistenceId?: string): Promise<TimerInfo[]> {
    this.#lifecycle.check();
    const where = persistenceId === undefined ? '' : 'WHERE persistence_id = $1';
    const r = await this.#driver.query(
      `SELECT ${TIMER_COLUMNS}, fire_at, claim IS NOT NULL, last_error FROM ${this.#t.timers} ${where} ORDER BY persistence_id, name`,
      persistenceId === undefined ? [] : [persistenceId],
    );
    return r.rows.map((row) => ({
      persistenceId: row[0] as string,
      name: row[1] as string,
      entityType: row[2] as string,
      entityId: row[3] as string,
      scheduleId: row[4] as string,
      dueAt: Number(row[5]),
      everyMs: Number(row[6]),
      attempts: Number(row[7]),
      command: row[8] as string,
      payload: decodeValue(this.#serializer, row[9] as Uint8Array, '', `timer ${row[1] as string}`),
      fireAt: Number(row[10]),
      claimed: row[11] === true,
      lastError: (row[12] as string | null) ?? null,
    }));
  }

  async deadLetters(): Promise<DeadTimer[]> {
    this.#lifecycle.check();
    const r = await this.#driver.query(
      `SELECT persistence_id, name, entity_type, entity_id, schedule_id, due_at, command, payload, attempts, last_error, dead_at
       FROM ${this.#t.timerDeadLetters} ORDER BY id`,
    );
    return r.rows.map((row) => ({
      persistenceId: row[0] as string,
      name: row[1] as string,
      entityType: row[2] as string,
      entityId: row[3] as string,
      scheduleId: row[4] as string,
      dueAt: Number(row[5]),
      command: row[6] as string,
      payload: decodeValue(this.#serializer, row[7] as Uint8Array, '', `dead timer ${row[1] as string}`),
      attempts: Number(row[8]),
      lastError: row[9] as string,
      deadAt: Number(row[10]),
    }));
  }
}

/**
 * The claim. SKIP LOCKED: two runtimes claiming at once take different timers; the locked row's
 * condition is checked again on its newest version, so a timer claimed and committed by another
 * meanwhile (fire_at moved to its lease's end) is not taken. `filter` narrows it (a cluster
 * node's shards); it is applied to the due rows the fire_at index yields.
 */
function claimSql(t: Tables, filter: string): string {
  return `UPDATE ${t.timers} tm SET claim = $1, fire_at = $2::int8 + $3::int8
        FROM (SELECT persistence_id, name FROM ${t.timers}
              WHERE fire_at <= $2 AND entity_type = ANY($4::text[])${filter}
              ORDER BY fire_at LIMIT $5 FOR UPDATE SKIP LOCKED) c
        WHERE tm.persistence_id = c.persistence_id AND tm.name = c.name
        RETURNING ${TIMER_COLUMNS.split(', ').map((c) => `tm.${c}`).join(', ')}`;
}
