import { randomUUID } from 'node:crypto';
import { type Clock, keepAlive, systemTimeOf, type TimerHandle } from '../../actors/clock.js';
import { InvalidOptionError } from '../../actors/errors.js';
import type { Logger } from '../../logger.js';
import type { ClaimedTimer, DeadTimer, ShardFilter, TimerInfo, TimerStore } from '../../persistence/timer-store.js';
import { isBeamstateError } from '../../errors.js';
import { EntityStoppedError } from '../errors.js';
import { nextOccurrence, type TimerDelivery } from './schedule.js';

/** How a runtime fires durable timers. Defaults: {@link timerDefaults}. */
export interface TimerServiceOptions {
  /** Fire timers in this runtime. false: it still schedules and cancels, another runtime fires them. Default true. */
  readonly enabled?: boolean;
  /**
   * How often to look for due timers that this runtime did not schedule itself (written by
   * another process, retries, expired leases). Its own are fired at their time. Default 1000 ms.
   */
  readonly pollIntervalMs?: number;
  /**
   * How long a claim holds: a timer claimed by a runtime that dies is fired by another (or by it
   * after a restart) this long after it was claimed. Must exceed `deliveryTimeoutMs`. Default 30 000 ms.
   */
  readonly leaseMs?: number;
  /** How long a delivery may take before it counts as failed. Default 10 000 ms. */
  readonly deliveryTimeoutMs?: number;
  /** Most timers claimed (and delivered concurrently) at once. Default 1000. */
  readonly batchSize?: number;
  /** Deliveries of one occurrence before it goes to the dead letters. Default 10. */
  readonly maxAttempts?: number;
  /** Delay before retry n: min(maxMs, minMs · 2^(n-1)). Defaults 1000 and 60 000 ms. */
  readonly backoff?: { readonly minMs?: number; readonly maxMs?: number };
}

/** Every default of {@link TimerServiceOptions}, in one place. */
export const timerDefaults = {
  enabled: true,
  pollIntervalMs: 1000,
  leaseMs: 30_000,
  deliveryTimeoutMs: 10_000,
  batchSize: 1000,
  maxAttempts: 10,
  backoff: { minMs: 1000, maxMs: 60_000 },
} as const;

/** What `runtime.timers.stats()` tells; counts since the runtime started. */
export interface TimerStats {
  /** Deliveries whose command succeeded. */
  readonly fired: number;
  /** Deliveries whose command failed (each retried later or dead-lettered). */
  readonly failed: number;
  /** Occurrences given up on (moved to the dead letters). */
  readonly deadLettered: number;
  /** Deliveries running now. */
  readonly inFlight: number;
}

/** @internal A delivery as the entity sees it, with what its write needs to complete the timer. */
export interface Delivery extends TimerDelivery {
  readonly claim: string;
  /** A periodic timer's next occurrence; null for a one-shot timer. */
  readonly nextDueAt: number | null;
}

/** @internal What the service needs from its runtime. */
export interface TimerHost {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly store: { readonly timers: TimerStore };
  deliverTimer(entityType: string, entityId: string, command: string, payload: unknown, delivery: Delivery, timeoutMs: number): Promise<unknown>;
}

/**
 * @internal Set by a cluster node (`ClusterNode.attach`): which shards this node may fire the
 * timers of. Null on a single node, where every due timer of the registered types is claimed.
 */
export interface TimerOwnership {
  /** The cluster's shard count (`shardOf(pid) = keyHash(pid) % count`). */
  readonly count: number;
  /** The shards this node holds and may write now. */
  owned(): readonly number[];
}

/** The entity's shard moved while its delivery ran: the delivery is not the command's failure. */
function ownerMoved(err: unknown): boolean {
  if (isBeamstateError(err, 'NOT_SHARD_OWNER') || isBeamstateError(err, 'SHARD_FENCED')) return true;
  return isBeamstateError(err, 'PERSIST_FAILED') && isBeamstateError((err as Error).cause, 'SHARD_FENCED');
}

interface Resolved {
  readonly enabled: boolean;
  readonly pollIntervalMs: number;
  readonly leaseMs: number;
  readonly deliveryTimeoutMs: number;
  readonly batchSize: number;
  readonly maxAttempts: number;
  readonly minMs: number;
  readonly maxMs: number;
}

function resolve(o: TimerServiceOptions | undefined): Resolved {
  const opts = o ?? {};
  const int = (field: keyof TimerServiceOptions, v: unknown, min: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new InvalidOptionError(`timers.${field}`, `must be an integer >= ${min}, got ${String(v)}`);
    return v;
  };
  const enabled = opts.enabled ?? timerDefaults.enabled;
  if (typeof enabled !== 'boolean') throw new InvalidOptionError('timers.enabled', `must be a boolean, got ${String(enabled)}`);
  const r: Resolved = {
    enabled,
    pollIntervalMs: int('pollIntervalMs', opts.pollIntervalMs ?? timerDefaults.pollIntervalMs, 1),
    leaseMs: int('leaseMs', opts.leaseMs ?? timerDefaults.leaseMs, 1),
    deliveryTimeoutMs: int('deliveryTimeoutMs', opts.deliveryTimeoutMs ?? timerDefaults.deliveryTimeoutMs, 1),
    batchSize: int('batchSize', opts.batchSize ?? timerDefaults.batchSize, 1),
    maxAttempts: int('maxAttempts', opts.maxAttempts ?? timerDefaults.maxAttempts, 1),
    minMs: opts.backoff?.minMs ?? timerDefaults.backoff.minMs,
    maxMs: opts.backoff?.maxMs ?? timerDefaults.backoff.maxMs,
  };
  for (const k of ['minMs', 'maxMs'] as const) {
    const v = r[k];
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw new InvalidOptionError(`timers.backoff.${k}`, `must be a finite number >= 0, got ${String(v)}`);
  }
  // A delivery still running when its lease ends could be fired a second time by another runtime.
  if (r.deliveryTimeoutMs >= r.leaseMs) {
    throw new InvalidOptionError('timers.deliveryTimeoutMs', `must be less than leaseMs (${r.leaseMs}), got ${r.deliveryTimeoutMs}`);
  }
  return r;
}

/** The delay before retry `attempt` (1-based): exponential, capped. Pure, for tests. @internal */
export function retryDelay(attempt: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
}

/**
 * Fires an entity runtime's durable timers: claims due ones (a conditional UPDATE with a lease,
 * so one runtime fires each), delivers each as a command to its entity, and on failure retries
 * with backoff until the dead letters. A delivered command that commits completes its timer in
 * its own write (the entity cell adds that change); a failed one is retried here.
 *
 * It polls: at the earliest due time it knows of (its own schedules tell it, see `scheduled`), and
 * at least every `pollIntervalMs` for the rest. All time is the runtime clock's wall-clock time,
 * so a `ManualClock` drives it in tests.
 */
export class TimerService {
  readonly #host: TimerHost;
  readonly #o: Resolved;
  readonly #types: string[] = [];
  /** Claim tokens are this plus a counter: unique per claim round, and telling which runtime holds it. */
  readonly #node = randomUUID();
  #round = 0;
  #handle: TimerHandle | null = null;
  /** The wall-clock time the armed poll is for (Infinity: none armed). */
  #armedFor = Infinity;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;
  /** Deliveries in flight, to give their claims back if the runtime stops under them. */
  readonly #inFlight = new Set<ClaimedTimer>();
  #fired = 0;
  #failed = 0;
  #dead = 0;
  #ownership: TimerOwnership | null = null;

  /** @internal The runtime makes it. */
  constructor(host: TimerHost, options: TimerServiceOptions | undefined) {
    this.#host = host;
    this.#o = resolve(options);
  }

  /** The resolved settings. */
  get settings(): Readonly<Required<Omit<TimerServiceOptions, 'backoff'>>> & { readonly backoff: { readonly minMs: number; readonly maxMs: number } } {
    const o = this.#o;
    return {
      enabled: o.enabled,
      pollIntervalMs: o.pollIntervalMs,
      leaseMs: o.leaseMs,
      deliveryTimeoutMs: o.deliveryTimeoutMs,
      batchSize: o.batchSize,
      maxAttempts: o.maxAttempts,
      backoff: { minMs: o.minMs, maxMs: o.maxMs },
    };
  }

  stats(): TimerStats {
    return { fired: this.#fired, failed: this.#failed, deadLettered: this.#dead, inFlight: this.#inFlight.size };
  }

  /** The stored timers (of one entity's persistence id, or all). */
  list(persistenceId?: string): Promise<TimerInfo[]> {
    return this.#host.store.timers.list(persistenceId);
  }

  /** The occurrences given up on. */
  deadLetters(): Promise<DeadTimer[]> {
    return this.#host.store.timers.deadLetters();
  }

  /**
   * @internal A cluster node says which shards are this node's: from now on only their timers
   * are claimed. `ownershipChanged` after it takes shards makes it look at once.
   */
  set ownership(o: TimerOwnership | null) {
    this.#ownership = o;
  }

  /** @internal */
  get ownership(): TimerOwnership | null {
    return this.#ownership;
  }

  /** @internal This node took shards: their due timers (a dead owner's expired claims among them) are looked for now. */
  ownershipChanged(): void {
    if (this.#o.enabled && !this.#stopped) void this.poll();
  }

  /** @internal An entity type was registered: its timers are this runtime's to fire from now on. */
  typeRegistered(name: string): void {
    this.#types.push(name);
    if (this.#o.enabled && !this.#stopped) queueMicrotask(() => void this.poll());
  }

  /** @internal A committed write scheduled a timer due at `dueAt` (epoch ms): poll then, if sooner than planned. */
  scheduled(dueAt: number): void {
    if (!this.#o.enabled || this.#stopped) return;
    if (dueAt <= this.#now()) void this.poll(); // already due: now, not after a timer of 0 ms
    else if (dueAt < this.#armedFor) this.#arm(dueAt);
  }

  /**
   * Looks for due timers now and delivers them; resolves when the round (and any round it
   * asked for meanwhile) is over. Rounds never overlap: a call during one makes one more after it.
   */
  poll(): Promise<void> {
    if (!this.#o.enabled || this.#stopped || this.#types.length === 0) return Promise.resolve();
    if (this.#running !== null) {
      this.#again = true;
      return this.#running;
    }
    const running = this.#loop().finally(() => {
      this.#running = null;
      if (this.#again && !this.#stopped) {
        this.#again = false;
        return this.poll();
      }
      return undefined;
    });
    this.#running = running;
    return running;
  }

  /** Resolves when no round is running (tests: advance the clock, then await this). */
  async idle(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }

  /** @internal Stops claiming; deliveries in flight go on (the runtime drains them). */
  stop(): void {
    this.#stopped = true;
    if (this.#handle !== null) this.#host.clock.clearTimeout(this.#handle);
    this.#handle = null;
    this.#armedFor = Infinity;
  }

  /** @internal After `stop`: resolves once the last round has ended and given back what it could not deliver. */
  async stopped(): Promise<void> {
    await this.idle();
  }

  #now(): number {
    return systemTimeOf(this.#host.clock);
  }

  #arm(at: number): void {
    const clock = this.#host.clock;
    if (this.#handle !== null) clock.clearTimeout(this.#handle);
    this.#armedFor = at;
    this.#handle = clock.setTimeout(
      () => {
        this.#handle = null;
        this.#armedFor = Infinity;
        void this.poll();
      },
      Math.max(0, at - this.#now()),
    );
    // Like the actor system's own timers: a pending poll does not keep the process alive.
    keepAlive(this.#handle, false);
  }

  async #loop(): Promise<void> {
    const store = this.#host.store.timers;
    const o = this.#o;
    try {
      // Rounds that found nothing although something was due (claimed by another runtime
      // meanwhile, say): bounded, so that such a race cannot spin.
      let empty = 0;
      // Double-buffered: while one claimed batch is being delivered, the next is claimed and
      // started, so the database and the entities are not idle between rounds; a third waits
      // for the first to finish. At most 2 · batchSize deliveries run at once.
      let previous: Promise<unknown> = Promise.resolve();
      for (;;) {
        const now = this.#now();
        const shards = this.#shards();
        if (shards !== undefined && shards.owned.length === 0) {
          // A cluster node holding no shard has no timer to fire; it looks again when it takes some.
          await previous;
          if (!this.#stopped) this.#arm(this.#now() + o.pollIntervalMs);
          return;
        }
        const claimed = await store.claimDue({ now, leaseMs: o.leaseMs, claim: `${this.#node}:${++this.#round}`, max: o.batchSize, entityTypes: this.#types, ...(shards === undefined ? {} : { shards }) });
        const delivering = claimed.length > 0 ? Promise.all(claimed.map((t) => this.#deliver(t, now))) : Promise.resolve();
        if (claimed.length === o.batchSize && !this.#stopped) {
          // A full batch: more may be due at once (10 000 timers at the same time), claim again now.
          await previous;
          previous = delivering;
          continue;
        }
        await previous;
        await delivering;
        if (this.#stopped) return;
        if (claimed.length === 0) empty++;
        const next = await store.nextFireAt(this.#types, shards);
        if (this.#stopped) return;
        // Due already (time went on while this round ran, or a retry is due): another round
        // now, rather than a timer of 0 ms.
        if (next !== undefined && next <= this.#now() && empty < 3) continue;
        this.#arm(Math.min(this.#now() + o.pollIntervalMs, next ?? Infinity));
        return;
      }
    } catch (err) {
      if (this.#stopped) return; // the store may be closing under a stopping runtime
      this.#host.logger.warn({ err }, 'timer poll failed; trying again after pollIntervalMs');
      this.#arm(this.#now() + o.pollIntervalMs);
    }
  }

  /** The claim's shard filter: undefined on a single node (the statement is the one it always was). */
  #shards(): ShardFilter | undefined {
    const own = this.#ownership;
    return own === null ? undefined : { count: own.count, owned: own.owned() };
  }

  async #deliver(t: ClaimedTimer, now: number): Promise<void> {
    const delivery: Delivery = {
      name: t.name,
      deliveryId: `${t.scheduleId}:${t.dueAt}`,
      attempt: t.attempts + 1,
      scheduledFor: t.dueAt,
      claim: t.claim,
      nextDueAt: nextOccurrence(t.dueAt, t.everyMs, now),
    };
    this.#inFlight.add(t);
    try {
      await this.#host.deliverTimer(t.entityType, t.entityId, t.command, t.payload, delivery, this.#o.deliveryTimeoutMs);
      this.#fired++;
    } catch (err) {
      await this.#deliveryFailed(t, delivery, err);
    } finally {
      this.#inFlight.delete(t);
    }
  }

  async #deliveryFailed(t: ClaimedTimer, d: Delivery, err: unknown): Promise<void> {
    const store = this.#host.store.timers;
    const now = this.#now();
    try {
      if (err instanceof EntityStoppedError) {
        // Not the command's fault: the runtime is stopping. The claim goes back, due at once, so
        // the next runtime fires it without waiting for the lease (nor counting an attempt).
        await store.release([t], t.dueAt);
        return;
      }
      if (this.#ownership !== null && ownerMoved(err)) {
        // In a cluster, the shard moved under the delivery (handed off, lease lost, fenced):
        // not an attempt either. The claim goes back due now, and this node no longer claims the
        // shard's timers, so its new owner fires it, with the same delivery id.
        await store.release([t], now);
        return;
      }
      this.#failed++;
      const message = err instanceof Error ? `${(err as { code?: unknown }).code ?? err.name}: ${err.message}` : String(err);
      if (d.attempt >= this.#o.maxAttempts) {
        this.#dead++;
        await store.deadLetter(t, message, now, d.nextDueAt);
        this.#host.logger.warn({ timer: t.name, entity: `${t.entityType}/${t.entityId}`, attempts: d.attempt, err }, 'timer delivery failed for the last time: dead-lettered');
        if (d.nextDueAt !== null) this.scheduled(d.nextDueAt);
      } else {
        const retryAt = now + retryDelay(d.attempt, this.#o.minMs, this.#o.maxMs);
        await store.retry(t, retryAt, message);
        this.scheduled(retryAt);
      }
    } catch (e) {
      // The store failed too: the lease runs out and the timer is claimed again then.
      if (!this.#stopped) this.#host.logger.warn({ err: e, timer: t.name }, 'could not record a failed timer delivery');
    }
  }
}
