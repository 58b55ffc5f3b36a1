import type { ClaimedTimer, ClaimQuery, DeadTimer, ShardFilter, TimerInfo, TimerKey, TimerStore, TimerWrites } from '../timer-store.js';
import { keyHash } from '../key-hash.js';
import type { Serializer } from '../serializer.js';
import { decodeValue } from '../serializer.js';
import type { Lifecycle } from '../lifecycle.js';
import { encodeTimerWrites, type EncodedTimerWrites } from '../encoded-timers.js';

interface Row {
  readonly persistenceId: string;
  readonly name: string;
  readonly entityType: string;
  readonly entityId: string;
  /** `keyHash(type|id)`: its shard in a cluster of any size. */
  readonly hash: number;
  scheduleId: string;
  dueAt: number;
  everyMs: number;
  fireAt: number;
  attempts: number;
  claim: string | null;
  command: string;
  payload: Uint8Array;
  lastError: string | null;
}

interface DeadRow extends Omit<DeadTimer, 'payload'> {
  readonly payload: Uint8Array;
}

const key = (persistenceId: string, name: string): string => `${persistenceId}\u0000${name}`;

const ownedSet = (f: ShardFilter | undefined): Set<number> | null => (f === undefined ? null : new Set(f.owned));
const inShards = (r: Row, f: ShardFilter | undefined, owned: Set<number> | null): boolean => f === undefined || owned === null || owned.has(r.hash % f.count);

/**
 * @internal Timers in memory. Every call runs to completion synchronously, which makes it atomic;
 * the journal and durable-state store call `applyNow` inside their own (synchronous) writes, which
 * is what "the same transaction" means here. Survives passivation, not the process.
 */
export class MemoryTimerStore implements TimerStore {
  readonly #serializer: Serializer;
  readonly #lifecycle: Lifecycle;
  readonly #rows = new Map<string, Row>();
  readonly #dead: DeadRow[] = [];

  constructor(serializer: Serializer, lifecycle: Lifecycle) {
    this.#serializer = serializer;
    this.#lifecycle = lifecycle;
  }

  /** Encodes first (may throw), so a caller can encode before it commits anything else. */
  encode(writes: TimerWrites): EncodedTimerWrites {
    return encodeTimerWrites(this.#serializer, writes);
  }

  /** Applies encoded changes at once (inside the caller's write). */
  applyNow(persistenceId: string, w: EncodedTimerWrites): void {
    const hash = w.puts.length > 0 ? keyHash(`${w.entityType}|${w.entityId}`) : 0;
    for (const p of w.puts) {
      this.#rows.set(key(persistenceId, p.name), {
        persistenceId,
        name: p.name,
        entityType: w.entityType,
        entityId: w.entityId,
        hash,
        scheduleId: p.scheduleId,
        dueAt: p.dueAt,
        everyMs: p.everyMs,
        fireAt: p.dueAt,
        attempts: 0,
        claim: null,
        command: p.command,
        payload: p.payload.slice(),
        lastError: null,
      });
    }
    for (const name of w.cancels) this.#rows.delete(key(persistenceId, name));
    for (const c of w.completes) this.#complete(persistenceId, c.name, c.claim, c.nextDueAt);
  }

  async write(persistenceId: string, writes: TimerWrites): Promise<void> {
    this.#lifecycle.check();
    this.applyNow(persistenceId, this.encode(writes));
  }

  async claimDue(q: ClaimQuery): Promise<ClaimedTimer[]> {
    this.#lifecycle.check();
    const types = new Set(q.entityTypes);
    const due: Row[] = [];
    const owned = ownedSet(q.shards);
    for (const r of this.#rows.values()) if (r.fireAt <= q.now && types.has(r.entityType) && inShards(r, q.shards, owned)) due.push(r);
    due.sort((a, b) => a.fireAt - b.fireAt);
    const out: ClaimedTimer[] = [];
    for (const r of due.slice(0, q.max)) {
      r.claim = q.claim;
      r.fireAt = q.now + q.leaseMs;
      out.push({
        persistenceId: r.persistenceId,
        name: r.name,
        entityType: r.entityType,
        entityId: r.entityId,
        scheduleId: r.scheduleId,
        dueAt: r.dueAt,
        everyMs: r.everyMs,
        attempts: r.attempts,
        command: r.command,
        payload: decodeValue(this.#serializer, r.payload.slice(), '', `timer ${r.name} of ${r.persistenceId}`),
        claim: q.claim,
      });
    }
    return out;
  }

  async retry(k: TimerKey, retryAt: number, error: string): Promise<void> {
    this.#lifecycle.check();
    const r = this.#held(k);
    if (r === undefined) return;
    r.attempts++;
    r.fireAt = retryAt;
    r.lastError = error; // the claim stays: see TimerStore.retry

  }

  async deadLetter(t: ClaimedTimer, error: string, now: number, nextDueAt: number | null): Promise<void> {
    this.#lifecycle.check();
    const r = this.#held(t);
    if (r === undefined) return;
    this.#dead.push({
      persistenceId: r.persistenceId,
      name: r.name,
      entityType: r.entityType,
      entityId: r.entityId,
      scheduleId: r.scheduleId,
      dueAt: r.dueAt,
      command: r.command,
      payload: r.payload,
      attempts: r.attempts + 1,
      lastError: error,
      deadAt: now,
    });
    this.#complete(t.persistenceId, t.name, t.claim, nextDueAt);
  }

  async release(keys: readonly TimerKey[], fireAt: number): Promise<void> {
    this.#lifecycle.check();
    for (const k of keys) {
      const r = this.#held(k);
      if (r === undefined) continue;
      r.claim = null;
      r.fireAt = fireAt;
    }
  }

  async nextFireAt(entityTypes: readonly string[], shards?: ShardFilter): Promise<number | undefined> {
    this.#lifecycle.check();
    const types = new Set(entityTypes);
    const owned = ownedSet(shards);
    let best: number | undefined;
    for (const r of this.#rows.values()) if (types.has(r.entityType) && inShards(r, shards, owned) && (best === undefined || r.fireAt < best)) best = r.fireAt;
    return best;
  }

  async list(persistenceId?: string): Promise<TimerInfo[]> {
    this.#lifecycle.check();
    const out: TimerInfo[] = [];
    for (const r of this.#rows.values()) {
      if (persistenceId !== undefined && r.persistenceId !== persistenceId) continue;
      out.push({
        persistenceId: r.persistenceId,
        name: r.name,
        entityType: r.entityType,
        entityId: r.entityId,
        scheduleId: r.scheduleId,
        dueAt: r.dueAt,
        everyMs: r.everyMs,
        fireAt: r.fireAt,
        attempts: r.attempts,
        command: r.command,
        payload: decodeValue(this.#serializer, r.payload.slice(), '', `timer ${r.name}`),
        claimed: r.claim !== null,
        lastError: r.lastError,
      });
    }
    return out.sort((a, b) => (a.persistenceId === b.persistenceId ? (a.name < b.name ? -1 : 1) : a.persistenceId < b.persistenceId ? -1 : 1));
  }

  async deadLetters(): Promise<DeadTimer[]> {
    this.#lifecycle.check();
    return this.#dead.map((d) => ({ ...d, payload: decodeValue(this.#serializer, d.payload.slice(), '', `dead timer ${d.name}`) }));
  }

  #held(k: TimerKey): Row | undefined {
    const r = this.#rows.get(key(k.persistenceId, k.name));
    return r !== undefined && r.claim === k.claim ? r : undefined;
  }

  #complete(persistenceId: string, name: string, claim: string, nextDueAt: number | null): void {
    const k = key(persistenceId, name);
    const r = this.#rows.get(k);
    if (r === undefined || r.claim !== claim) return;
    if (nextDueAt === null) {
      this.#rows.delete(k);
      return;
    }
    r.dueAt = r.fireAt = nextDueAt;
    r.attempts = 0;
    r.claim = null;
    r.lastError = null;
  }
}
