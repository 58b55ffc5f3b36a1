import type pg from 'pg';
import { InvalidClusterOptionError } from './errors.js';

/** A member as the nodes table holds it. */
export interface MemberRow {
  readonly nodeId: string;
  readonly address: string;
  readonly incarnation: number;
  readonly status: 'up' | 'leaving' | 'dead';
  /** Seconds since its last heartbeat, on the database's clock. */
  readonly silentS: number;
}

/** A shard's ownership row; `live` is whether its lease has not expired (database clock). */
export interface ShardRow {
  readonly shard: number;
  readonly owner: string | null;
  readonly epoch: number;
  readonly live: boolean;
  /** Seconds of lease left (negative: expired), on the database's clock. */
  readonly leaseLeftS: number;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * The cluster's two tables and every statement on them. All times are the database's
 * (`now()`), so the nodes' clocks never have to agree. Every change of ownership is a
 * conditional UPDATE; the epoch rises by one each time a shard is taken. No advisory lock is a
 * lease: a session lock vanishes with its connection while its process runs on (the hazard of
 * effect-cluster #6508); a row with an expiry does not.
 */
export class ClusterTables {
  readonly nodes: string;
  readonly shards: string;
  readonly migrations: string;

  /** @internal The cluster node makes them. */
  constructor(
    private readonly pool: pg.Pool,
    readonly schema: string,
    readonly prefix: string,
  ) {
    if (!IDENTIFIER.test(schema)) throw new InvalidClusterOptionError('schema', `must be a lowercase identifier, got ${JSON.stringify(schema)}`);
    if (prefix !== '' && !IDENTIFIER.test(prefix)) throw new InvalidClusterOptionError('tablePrefix', `must be a lowercase identifier, got ${JSON.stringify(prefix)}`);
    const q = (n: string): string => `"${schema}"."${prefix}${n}"`;
    this.nodes = q('cluster_nodes');
    this.shards = q('cluster_shards');
    this.migrations = q('cluster_migrations');
  }

  /**
   * The cluster's own migrations (its own table, so it never collides with the store's
   * versions), then the shard rows. Two nodes starting at once serialise on a transaction-scoped
   * lock (released at commit: it guards DDL, not ownership).
   */
  async migrate(shardCount: number): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`beamstate-cluster:${this.schema}.${this.prefix}`]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${this.migrations} (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
      const v = Number((await c.query(`SELECT coalesce(max(version), 0) AS v FROM ${this.migrations}`)).rows[0].v);
      if (v < 1) {
        await c.query(`CREATE TABLE ${this.nodes} (
          node_id text PRIMARY KEY,
          address text NOT NULL,
          incarnation int8 NOT NULL,
          status text NOT NULL,
          joined_at timestamptz NOT NULL DEFAULT now(),
          heartbeat_at timestamptz NOT NULL DEFAULT now())`);
        await c.query(`CREATE TABLE ${this.shards} (
          shard int4 PRIMARY KEY,
          owner text,
          epoch int8 NOT NULL DEFAULT 0,
          lease_until timestamptz NOT NULL DEFAULT '-infinity')`);
        await c.query(`INSERT INTO ${this.migrations} (version) VALUES (1)`);
      }
      const n = Number((await c.query(`SELECT count(*) AS n FROM ${this.shards}`)).rows[0].n);
      if (n === 0) await c.query(`INSERT INTO ${this.shards} (shard) SELECT generate_series(0, $1::int4 - 1)`, [shardCount]);
      else if (n !== shardCount) {
        throw new InvalidClusterOptionError('shards', `the cluster's table has ${n} shards; every node must use the same count (got ${shardCount})`);
      }
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }

  /** Joins (or rejoins with the next incarnation): status up, heartbeat now. */
  async register(nodeId: string, address: string): Promise<number> {
    const r = await this.pool.query(
      `INSERT INTO ${this.nodes} AS n (node_id, address, incarnation, status) VALUES ($1, $2, 1, 'up')
       ON CONFLICT (node_id) DO UPDATE SET address = $2, incarnation = n.incarnation + 1, status = 'up', heartbeat_at = now()
       RETURNING incarnation`,
      [nodeId, address],
    );
    return Number(r.rows[0].incarnation);
  }

  /** Heartbeat of this incarnation; false if it was declared dead (or replaced). */
  async heartbeat(nodeId: string, incarnation: number, status: 'up' | 'leaving'): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE ${this.nodes} SET heartbeat_at = now(), status = $3 WHERE node_id = $1 AND incarnation = $2 AND status <> 'dead'`,
      [nodeId, incarnation, status],
    );
    return r.rowCount === 1;
  }

  /** Declares dead every member silent for longer than `timeoutMs`; returns their ids. */
  async declareDead(timeoutMs: number): Promise<string[]> {
    const r = await this.pool.query(
      `UPDATE ${this.nodes} SET status = 'dead' WHERE status <> 'dead' AND heartbeat_at < now() - $1::int8 * interval '1 millisecond' RETURNING node_id`,
      [timeoutMs],
    );
    return r.rows.map((row: { node_id: string }) => row.node_id);
  }

  /** A graceful leave: gone from the membership at once. */
  async leave(nodeId: string, incarnation: number): Promise<void> {
    await this.pool.query(`UPDATE ${this.nodes} SET status = 'dead' WHERE node_id = $1 AND incarnation = $2`, [nodeId, incarnation]);
  }

  async members(): Promise<MemberRow[]> {
    const r = await this.pool.query(
      `SELECT node_id, address, incarnation, status, extract(epoch FROM now() - heartbeat_at)::float8 AS silent FROM ${this.nodes} ORDER BY node_id`,
    );
    return r.rows.map((row: { node_id: string; address: string; incarnation: string; status: MemberRow['status']; silent: number }) => ({
      nodeId: row.node_id,
      address: row.address,
      incarnation: Number(row.incarnation),
      status: row.status,
      silentS: row.silent,
    }));
  }

  async shardMap(): Promise<ShardRow[]> {
    const r = await this.pool.query(
      `SELECT shard, owner, epoch, lease_until > now() AS live,
         CASE WHEN lease_until = '-infinity' THEN -1e9 ELSE extract(epoch FROM lease_until - now())::float8 END AS left_s
       FROM ${this.shards} ORDER BY shard`,
    );
    return r.rows.map((row: { shard: number; owner: string | null; epoch: string; live: boolean; left_s: number }) => ({
      shard: row.shard,
      owner: row.owner,
      epoch: Number(row.epoch),
      live: row.live,
      leaseLeftS: row.left_s,
    }));
  }

  /**
   * Takes the given shards where they are free (no owner, or the lease expired, or a row that
   * still names this node although it no longer holds it, after a lost lease or a rejoin):
   * epoch + 1, so whatever the old epoch still had in flight is fenced; lease for `ttlMs`. Returns what was taken, with the new epochs.
   */
  async acquire(nodeId: string, shards: readonly number[], ttlMs: number): Promise<{ shard: number; epoch: number }[]> {
    if (shards.length === 0) return [];
    const r = await this.pool.query(
      `UPDATE ${this.shards} SET owner = $1, epoch = epoch + 1, lease_until = now() + $3::int8 * interval '1 millisecond'
       WHERE shard = ANY($2::int4[]) AND (owner IS NULL OR lease_until <= now() OR owner = $1)
       RETURNING shard, epoch`,
      [nodeId, shards, ttlMs],
    );
    return r.rows.map((row: { shard: number; epoch: string }) => ({ shard: row.shard, epoch: Number(row.epoch) }));
  }

  /** Renews the leases still held at their epoch and not expired; returns the shards renewed. */
  async renew(nodeId: string, held: readonly { shard: number; epoch: number }[], ttlMs: number): Promise<Set<number>> {
    if (held.length === 0) return new Set();
    const r = await this.pool.query(
      `UPDATE ${this.shards} s SET lease_until = now() + $4::int8 * interval '1 millisecond'
       FROM unnest($2::int4[], $3::int8[]) AS x(shard, epoch)
       WHERE s.shard = x.shard AND s.epoch = x.epoch AND s.owner = $1 AND s.lease_until > now()
       RETURNING s.shard`,
      [nodeId, held.map((h) => h.shard), held.map((h) => h.epoch), ttlMs],
    );
    return new Set(r.rows.map((row: { shard: number }) => row.shard));
  }

  /** Gives a shard up (after its entities stopped): free for the next owner at once. */
  async release(nodeId: string, shard: number, epoch: number): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE ${this.shards} SET owner = NULL, lease_until = '-infinity' WHERE shard = $2 AND epoch = $3 AND owner = $1`,
      [nodeId, shard, epoch],
    );
    return r.rowCount === 1;
  }

  /**
   * The fence: SQL true iff `node` holds shard `key` at `epoch` with a live lease, read
   * FOR SHARE so that a change of owner waits for the write in flight, and a write after it
   * sees the new row.
   */
  fenceCondition(nodeId: string, key: string, epoch: string): string {
    const owner = `'${nodeId.replace(/'/g, "''")}'`;
    return `EXISTS (SELECT 1 FROM ${this.shards} fs WHERE fs.shard = ${key} AND fs.epoch = ${epoch} AND fs.owner = ${owner} AND fs.lease_until > now() FOR SHARE)`;
  }

  /** Removes the cluster's tables (tests). */
  async drop(): Promise<void> {
    await this.pool.query(`DROP TABLE IF EXISTS ${this.nodes}, ${this.shards}, ${this.migrations}`);
  }
}
