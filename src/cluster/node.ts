import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { EntityRuntime } from '../entities/runtime.js';
import { defaultLogger, type Logger } from '../logger.js';
import type { WriteFence } from '../persistence/sql/write-fence.js';
import { allocate } from './allocation.js';
import { ClusterTables, type MemberRow, type ShardRow } from './cluster-tables.js';
import { ClusterUnsupportedError, InvalidClusterOptionError, NotShardOwnerError, ShardFencedError } from './errors.js';
import { ShardLeases } from './leases.js';
import { PeerConnection } from './peer-client.js';
import { PeerServer } from './peer-server.js';
import { ClusterRouter, retryable, type Route } from './router.js';
import { shardOf } from './shard-hash.js';

/** Settings of a cluster node; every node of a cluster must agree on `shards`, `schema` and `tablePrefix`. */
export interface ClusterOptions {
  /** The PostgreSQL every node shares (the store's database). PGlite cannot cluster. */
  readonly connectionString: string;
  /** This node's id, stable across restarts if you want its row reused. Default a random UUID. */
  readonly nodeId?: string;
  /** Interface the internal endpoint listens on. Default `127.0.0.1`. */
  readonly host?: string;
  /** Port of the internal endpoint. Default 0 (any free port). */
  readonly port?: number;
  /** The address other nodes reach this one at (`ws://host:port`). Default from host and port. */
  readonly advertise?: string;
  /** Shards. Default 1024. */
  readonly shards?: number;
  /** Lease of a shard, on the database clock. Default 3000 ms. */
  readonly leaseMs?: number;
  /** Heartbeat, renewal and rebalancing period. Default 500 ms (leaseMs / 6). */
  readonly tickMs?: number;
  /** A node stops a shard's entities this long before its lease could expire. Default 1000 ms. */
  readonly guardMs?: number;
  /** A member silent for this long is declared dead. Default 3000 ms. */
  readonly deadAfterMs?: number;
  /** Schema of the cluster's tables. Default `public`. */
  readonly schema?: string;
  /** Prefix of the cluster's tables. Default `beamstate_`. */
  readonly tablePrefix?: string;
  /** Connections of the cluster's own pool (renewals, membership and rebalancing, fences read by nothing else). Default 3. */
  readonly poolSize?: number;
  readonly logger?: Logger;
}

/** The defaults of `ClusterOptions`. */
export const clusterDefaults = {
  host: '127.0.0.1',
  port: 0,
  shards: 1024,
  leaseMs: 3000,
  tickMs: 500,
  guardMs: 1000,
  deadAfterMs: 3000,
  schema: 'public',
  tablePrefix: 'beamstate_',
  poolSize: 3,
} as const;

/** What `status()` tells: members, the shard map with epochs, and this node's part. */
export interface ClusterStatus {
  readonly nodeId: string;
  readonly incarnation: number;
  readonly address: string;
  readonly members: readonly MemberRow[];
  readonly shards: readonly ShardRow[];
  /** Shards this node holds and may write now. */
  readonly held: readonly { readonly shard: number; readonly epoch: number }[];
}

/**
 * One node of a cluster: membership, shard leases, fencing and routing, all on the shared
 * PostgreSQL. Start it, give its `writeFence` to the store, then `attach` the runtime:
 *
 * ```ts
 * const node = await startClusterNode({ connectionString: url });
 * const store = await createStore({ kind: 'postgres', connectionString: url, writeFence: node.writeFence });
 * const runtime = new EntityRuntime(system, { store });
 * runtime.register(cart);
 * node.attach(runtime);           // takes its shards; runtime.ref(...) now works on any node
 * ```
 */
export class ClusterNode implements AsyncDisposable {
  readonly nodeId: string;
  readonly shards: number;
  readonly #o: Required<Omit<ClusterOptions, 'advertise' | 'logger' | 'nodeId' | 'connectionString'>>;
  readonly #pool: pg.Pool;
  readonly #tables: ClusterTables;
  readonly #leases: ShardLeases;
  readonly #server: PeerServer;
  readonly #peers = new Map<string, PeerConnection>();
  readonly #log: Logger;
  #incarnation = 0;
  #runtime: EntityRuntime | null = null;
  #members: MemberRow[] = [];
  #map: ShardRow[] = [];
  #addresses = new Map<string, string>();
  #refreshing: Promise<void> | null = null;
  #lastRefresh = 0;
  #loop: NodeJS.Timeout | null = null;
  #guard: NodeJS.Timeout | null = null;
  #ticking: Promise<void> | null = null;
  #renewTimer: NodeJS.Timeout | null = null;
  #renewing: Promise<void> | null = null;
  #leaving = false;
  #stopped = false;
  /** Forwarded commands being run here. */
  #serving = 0;
  /** Shards being handed off (entities stopping, then released). */
  readonly #handing = new Set<number>();

  /** The fence the store checks in every write of a sharded entity (see `createStore`'s `writeFence`). */
  readonly writeFence: WriteFence;

  /** @internal Use `startClusterNode`. */
  constructor(options: ClusterOptions) {
    if (typeof options?.connectionString !== 'string' || !/^postgres(ql)?:\/\//.test(options.connectionString)) {
      throw new ClusterUnsupportedError('a cluster needs PostgreSQL shared by every node (connectionString postgres://…); PGlite and the memory store are single-node');
    }
    const o = { ...clusterDefaults, ...stripUndefined(options) };
    for (const f of ['shards', 'leaseMs', 'tickMs', 'deadAfterMs', 'poolSize'] as const) {
      if (!(Number.isInteger(o[f]) && o[f] > 0)) throw new InvalidClusterOptionError(f, `must be a positive integer, got ${String(o[f])}`);
    }
    if (!(Number.isInteger(o.guardMs) && o.guardMs >= 0 && o.guardMs + o.tickMs * 2 <= o.leaseMs)) {
      throw new InvalidClusterOptionError('guardMs', `must be an integer >= 0 with guardMs + 2 × tickMs <= leaseMs (a lease is renewed at least twice before the guard), got ${String(o.guardMs)}`);
    }
    this.#o = o;
    this.nodeId = options.nodeId ?? randomUUID();
    this.shards = o.shards;
    this.#log = (options.logger ?? defaultLogger).child({ component: 'cluster', node: this.nodeId });
    this.#pool = new pg.Pool({ connectionString: options.connectionString, max: o.poolSize, application_name: `beamstate-cluster:${this.nodeId}`, keepAlive: true });
    this.#pool.on('error', (err) => this.#log.warn({ err }, 'cluster database connection lost'));
    this.#tables = new ClusterTables(this.#pool, o.schema, o.tablePrefix);
    this.#leases = new ShardLeases(o.leaseMs, o.guardMs);
    this.#server = new PeerServer(
      (type, id, command, input, timeoutMs, wantReply, traceparent, done) => this.#serveForwarded(type, id, command, input, timeoutMs, wantReply, traceparent, done),
      (type, id, what, onUpdate, onEnd) => this.#serveSubscription(type, id, what, onUpdate, onEnd),
    );
    const tables = this.#tables;
    const nodeId = this.nodeId;
    this.writeFence = {
      token: (pid) => {
        const shard = shardOf(pid, this.shards);
        const epoch = this.#leases.writable(shard, performance.now());
        if (epoch === null) {
          const h = this.#leases.get(shard);
          throw new ShardFencedError(shard, h?.epoch ?? 0, h === undefined ? 'not held' : h.leaving ? 'being handed off' : 'lease about to expire');
        }
        return [shard, epoch];
      },
      condition: (key, epoch) => tables.fenceCondition(nodeId, key, epoch),
      refused: (_pid, shard, epoch) => {
        // The database says another node holds it (or our lease is gone): stop its entities now.
        void this.#lose(shard, epoch, 'a write was fenced');
        return new ShardFencedError(shard, epoch, 'the database holds another owner or epoch');
      },
    };
  }

  /** @internal The epoch this node may write `persistenceId`'s shard under now, or null (tests, diagnostics). */
  epochFor(persistenceId: string): number | null {
    return this.#leases.writable(shardOf(persistenceId, this.shards), performance.now());
  }

  get incarnation(): number {
    return this.#incarnation;
  }

  get address(): string {
    return this.#server.address;
  }

  /** @internal Migrates, listens, registers. */
  async start(advertise: string | undefined): Promise<void> {
    await this.#tables.migrate(this.shards);
    await this.#server.listen(this.#o.host, this.#o.port, advertise);
    this.#incarnation = await this.#tables.register(this.nodeId, this.#server.address);
    this.#log.info({ address: this.#server.address, incarnation: this.#incarnation }, 'cluster node registered');
    await this.#readMap();
  }

  /**
   * Serves `runtime`'s entities in the cluster: its commands to entities are routed from now
   * on, and the node starts taking its share of the shards.
   */
  attach(runtime: EntityRuntime): void {
    if (this.#runtime !== null) throw new InvalidClusterOptionError('runtime', 'a cluster node serves one entity runtime');
    this.#runtime = runtime;
    const node = this;
    runtime.router = new ClusterRouter({
      runtime,
      shardOf: (pid) => shardOf(pid, this.shards),
      route: (shard) => this.#route(shard),
      refresh: () => this.#refresh(),
      forward: (address, type, id, command, input, timeoutMs, wantReply, traceparent) => this.#peer(address).request(type, id, command, input, timeoutMs, wantReply, traceparent),
      subscribeRemote: (address, type, id, what, timeoutMs, onUpdate, onEnd) => this.#peer(address).subscribe(type, id, what, timeoutMs, onUpdate, onEnd),
      now: () => performance.now(),
      get log() {
        return node.#log;
      },
    });
    // Durable timers: this node claims only the timers of the shards it may write now.
    runtime.timers.ownership = {
      count: this.shards,
      owned: () => {
        const now = performance.now();
        return this.#leases
          .held()
          .filter((h) => this.#leases.writable(h.shard, now) !== null)
          .map((h) => h.shard);
      },
    };
    this.#guard = setInterval(() => this.#checkGuard(), Math.max(10, Math.floor(this.#o.tickMs / 5)));
    this.#schedule(0);
    // Renewals on their own fixed-rate timer: a slow rebalancing round (many shards to take, a
    // busy database) must not delay them past the guard.
    this.#renewTimer = setInterval(() => {
      if (this.#renewing !== null || this.#stopped) return;
      this.#renewing = this.#renew()
        .catch((err: unknown) => this.#log.warn({ err }, 'lease renewal failed'))
        .finally(() => (this.#renewing = null));
    }, this.#o.tickMs);
  }

  /** Members, shard map with epochs, and what this node holds (read from the database now). */
  async status(): Promise<ClusterStatus> {
    const [members, shards] = await Promise.all([this.#tables.members(), this.#tables.shardMap()]);
    const now = performance.now();
    return {
      nodeId: this.nodeId,
      incarnation: this.#incarnation,
      address: this.address,
      members,
      shards,
      held: this.#leases
        .held()
        .filter((h) => this.#leases.writable(h.shard, now) !== null)
        .map((h) => ({ shard: h.shard, epoch: h.epoch })),
    };
  }

  /**
   * Graceful leave (rolling restart, scale-in): stops taking shards, hands every held shard off
   * (its entities stop, then the lease is released so the next owner takes it at once), leaves
   * the membership, and closes. Commands meanwhile are routed to the new owners.
   */
  async leave(): Promise<void> {
    if (this.#stopped) return;
    this.#leaving = true;
    await this.#ticking;
    await this.#tables.heartbeat(this.nodeId, this.#incarnation, 'leaving').catch(() => false);
    await Promise.all(this.#leases.held().map((h) => this.#handOff(h.shard, h.epoch)));
    await this.#tables.leave(this.nodeId, this.#incarnation).catch(() => {});
    await this.close();
  }

  /** Stops at once, without handing off (its leases run out). Idempotent. */
  async close(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#loop !== null) clearTimeout(this.#loop);
    if (this.#guard !== null) clearInterval(this.#guard);
    if (this.#renewTimer !== null) clearInterval(this.#renewTimer);
    await this.#ticking;
    await this.#renewing;
    for (const h of this.#leases.held()) this.#leases.drop(h.shard);
    await this.#runtime?.evictWhere(() => true, new NotShardOwnerError(-1, null, 0));
    // The router stays: from now on it refuses (CLUSTER_UNAVAILABLE) rather than run a command
    // here unrouted. Forwarded commands still running are answered before the endpoint closes.
    const end = performance.now() + 2000;
    while (this.#serving > 0 && performance.now() < end) await new Promise((r) => setTimeout(r, 10));
    for (const p of this.#peers.values()) p.close();
    await this.#server.close();
    await this.#pool.end().catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ------------------------------------------------------------ the loop

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#loop = setTimeout(() => {
      this.#ticking = this.#tick()
        .catch((err: unknown) => this.#log.warn({ err }, 'cluster tick failed'))
        .finally(() => {
          this.#ticking = null;
          this.#schedule(this.#o.tickMs);
        });
    }, ms);
  }

  /** One round: heartbeat, declare the silent dead, renew, rebalance. */
  async #tick(): Promise<void> {
    if (this.#stopped) return;
    const t = this.#tables;
    const alive = await t.heartbeat(this.nodeId, this.#incarnation, this.#leaving ? 'leaving' : 'up');
    if (!alive) {
      // Declared dead by the others (we were paused or cut off): stop everything, rejoin.
      this.#log.warn({ incarnation: this.#incarnation }, 'this node was declared dead: stopping its entities and registering again');
      await this.#loseAll('this node was declared dead');
      this.#incarnation = await t.register(this.nodeId, this.#server.address);
      return;
    }
    await t.declareDead(this.#o.deadAfterMs);
    await this.#readMap();
    if (!this.#leaving) await this.#rebalance();
  }

  async #renew(): Promise<void> {
    const held = this.#leases.held().filter((h) => !h.leaving);
    if (held.length === 0) return;
    const sentAt = performance.now();
    const renewed = await this.#tables.renew(this.nodeId, held, this.#o.leaseMs);
    const lost = held.filter((h) => !renewed.has(h.shard));
    for (const h of held) if (renewed.has(h.shard)) this.#leases.renewed(h.shard, h.epoch, sentAt);
    if (lost.length > 0) await this.#loseMany(lost, 'the lease could not be renewed');
  }

  async #rebalance(): Promise<void> {
    const live = this.#members.filter((m) => m.status === 'up').map((m) => m.nodeId);
    if (!live.includes(this.nodeId)) live.push(this.nodeId);
    const owners = this.#map.map((r) => (r.live && r.owner !== null && live.includes(r.owner) ? r.owner : null));
    const plan = allocate(this.shards, live, owners);
    const take: number[] = [];
    for (let s = 0; s < this.shards; s++) {
      const row = this.#map[s];
      if (row === undefined) continue;
      const mine = plan[s] === this.nodeId;
      const held = this.#leases.get(s);
      if (mine && held === undefined && (!row.live || row.owner === null || row.owner === this.nodeId)) take.push(s);
      // Held here but planned elsewhere: hand off to let the new owner take it.
      if (!mine && held !== undefined && !held.leaving && plan[s] !== null && plan[s] !== undefined) void this.#handOff(s, held.epoch);
    }
    if (take.length === 0) return;
    const sentAt = performance.now();
    const got = await this.#tables.acquire(this.nodeId, take, this.#o.leaseMs);
    for (const g of got) this.#leases.granted(g.shard, g.epoch, sentAt);
    if (got.length > 0) {
      this.#log.info({ shards: got.length, held: this.#leases.size }, 'shards taken');
      await this.#readMap();
      this.#runtime?.timers.ownershipChanged(); // their due timers now, not at the next poll
    }
  }

  /** Stops the shard's entities, waits for their writes, releases the lease. */
  async #handOff(shard: number, epoch: number): Promise<void> {
    if (this.#handing.has(shard)) return;
    const h = this.#leases.get(shard);
    if (h === undefined || h.epoch !== epoch) return;
    this.#handing.add(shard);
    h.leaving = true;
    try {
      await this.#evictShard(shard, epoch);
      if (this.#leases.get(shard) === h) {
        this.#leases.drop(shard);
        await this.#tables.release(this.nodeId, shard, epoch);
      }
    } catch (err) {
      this.#log.warn({ err, shard }, 'hand-off of a shard failed; its lease will run out');
    } finally {
      this.#handing.delete(shard);
    }
  }

  /** The shard is no longer ours (fenced, lease lost or about to expire). */
  #lose(shard: number, epoch: number, why: string): Promise<void> {
    return this.#loseMany([{ shard, epoch }], why);
  }

  /** Shards no longer ours: dropped at once (nothing more is written), their entities stopped; one log line. */
  async #loseMany(which: readonly { shard: number; epoch: number }[], why: string): Promise<void> {
    const gone = new Set<number>();
    for (const { shard, epoch } of which) {
      const h = this.#leases.get(shard);
      if (h === undefined || h.epoch !== epoch) continue;
      this.#leases.drop(shard);
      gone.add(shard);
    }
    if (gone.size === 0) return;
    this.#log.warn({ shards: [...gone].slice(0, 20), count: gone.size, held: this.#leases.size, why }, 'shards lost: their entities are stopped');
    const runtime = this.#runtime;
    if (runtime !== null) await runtime.evictWhere((type, id) => gone.has(shardOf(`${type}|${id}`, this.shards)), new NotShardOwnerError(-1, null, 0));
  }

  async #loseAll(why: string): Promise<void> {
    const all = this.#leases.held();
    for (const h of all) this.#leases.drop(h.shard);
    if (all.length > 0) this.#log.warn({ shards: all.length, why }, 'every shard lost: entities are stopped');
    await this.#runtime?.evictWhere(() => true, new NotShardOwnerError(-1, null, 0));
  }

  #evictShard(shard: number, epoch: number): Promise<void> {
    const runtime = this.#runtime;
    if (runtime === null) return Promise.resolve();
    return runtime.evictWhere((type, id) => shardOf(`${type}|${id}`, this.shards) === shard, new NotShardOwnerError(shard, null, epoch));
  }

  /** By the local monotonic clock: a lease about to run out stops its entities before anyone may take over. */
  #checkGuard(): void {
    const expired = this.#leases.expired(performance.now());
    if (expired.length > 0) void this.#loseMany(expired, 'lease not renewed in time (local clock)');
  }

  // ------------------------------------------------------------ routing

  async #readMap(): Promise<void> {
    const [members, map] = await Promise.all([this.#tables.members(), this.#tables.shardMap()]);
    this.#members = members;
    this.#map = map;
    this.#addresses = new Map(members.filter((m) => m.status !== 'dead').map((m) => [m.nodeId, m.address]));
    this.#lastRefresh = performance.now();
  }

  #refresh(): Promise<void> {
    if (this.#refreshing !== null) return this.#refreshing;
    if (performance.now() - this.#lastRefresh < 20) return Promise.resolve();
    this.#refreshing = this.#readMap()
      .catch((err: unknown) => this.#log.warn({ err }, 'could not read the shard map'))
      .finally(() => (this.#refreshing = null));
    return this.#refreshing;
  }

  #route(shard: number): Route {
    if (this.#stopped) return { kind: 'closed' };
    if (this.#leases.writable(shard, performance.now()) !== null) return { kind: 'local' };
    const row = this.#map[shard];
    if (row === undefined || !row.live || row.owner === null || row.owner === this.nodeId) return { kind: 'none' };
    const address = this.#addresses.get(row.owner);
    return address === undefined ? { kind: 'none' } : { kind: 'remote', address };
  }

  #peer(address: string): PeerConnection {
    let p = this.#peers.get(address);
    if (p === undefined) {
      p = new PeerConnection(address);
      this.#peers.set(address, p);
    }
    return p;
  }

  /** A subscription another node forwarded: held here while this node owns the entity. */
  async #serveSubscription(
    type: string,
    id: string,
    what: { readonly events: boolean; readonly state: boolean; readonly fromSequenceNr: number | undefined },
    onUpdate: (kind: 'event' | 'state', n: number, value: unknown) => void,
    onEnd: (err: { code: string; message: string }) => void,
  ): Promise<() => void> {
    const runtime = this.#runtime;
    const region = runtime?.regionNamed(type);
    const shard = shardOf(`${type}|${id}`, this.shards);
    const row = this.#map[shard];
    const notOwner = { code: 'NOT_SHARD_OWNER', message: `not the owner of shard ${shard}`, owner: row?.owner ?? null, epoch: row?.epoch ?? 0 };
    if (runtime === null) throw notOwner;
    if (region === undefined) throw { code: 'UNKNOWN_ENTITY_TYPE', message: `unknown entity type ${JSON.stringify(type)} on node ${this.nodeId}` };
    if (this.#leases.writable(shard, performance.now()) === null) throw notOwner;
    try {
      const sub = await runtime.subscribeLocal(
        region,
        id,
        what,
        (u) => (u.kind === 'event' ? onUpdate('event', u.sequenceNr, u.event) : onUpdate('state', u.version, u.state)),
        (err) => onEnd({ code: (err as { code?: string }).code ?? 'ENTITY_STOPPED', message: err.message }),
      );
      return () => sub.unsubscribe();
    } catch (err) {
      throw { code: (err as { code?: string })?.code ?? 'INTERNAL_ERROR', message: (err as Error)?.message ?? String(err) };
    }
  }

  /** A command another node forwarded: run it if this node holds the shard, else say who does. */
  #serveForwarded(
    type: string,
    id: string,
    command: string,
    input: unknown,
    timeoutMs: number,
    wantReply: boolean,
    traceparent: string | undefined,
    done: (err: { code: string; message: string; owner?: string | null; epoch?: number } | null, value?: unknown) => void,
  ): void {
    const runtime = this.#runtime;
    const region = runtime?.regionNamed(type);
    const shard = shardOf(`${type}|${id}`, this.shards);
    const notOwner = (): void => {
      const row = this.#map[shard];
      done({ code: 'NOT_SHARD_OWNER', message: `not the owner of shard ${shard}`, owner: row?.owner ?? null, epoch: row?.epoch ?? 0 });
    };
    if (runtime === null || region === undefined) {
      if (runtime !== null) done({ code: 'UNKNOWN_ENTITY_TYPE', message: `unknown entity type ${JSON.stringify(type)} on node ${this.nodeId}` });
      else notOwner();
      return;
    }
    if (this.#leases.writable(shard, performance.now()) === null) {
      notOwner();
      return;
    }
    // Traced on the forwarding node: this node's spans join its trace (src/tracing), if this node traces.
    const trace = traceparent !== undefined && runtime.tracer !== null ? runtime.tracer.forwarded(type, id, command, traceparent) : null;
    let ask: Promise<unknown>;
    if (trace === null) ask = runtime.sendLocal(region, id, command, input, { timeout: timeoutMs }, true) as Promise<unknown>;
    else {
      runtime.tracing = trace;
      try {
        ask = runtime.sendLocal(region, id, command, input, { timeout: timeoutMs }, true) as Promise<unknown>;
      } finally {
        runtime.tracing = null;
      }
      ask.then(
        () => trace.end(null, undefined),
        (err: unknown) => trace.end(null, err),
      );
    }
    this.#serving++;
    ask.finally(() => this.#serving--).catch(() => {});
    ask.then(
      (v) => done(null, wantReply ? v : null),
      (err: unknown) => {
        if (retryable(err)) notOwner();
        else done({ code: (err as { code?: string })?.code ?? 'COMMAND_FAILED', message: (err as Error)?.message ?? String(err) });
      },
    );
  }
}

/** Starts a cluster node: migrates the cluster's tables, opens its internal endpoint, joins. */
export async function startClusterNode(options: ClusterOptions): Promise<ClusterNode> {
  const node = new ClusterNode(options);
  try {
    await node.start(options.advertise);
  } catch (err) {
    await node.close().catch(() => {});
    throw err;
  }
  return node;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
