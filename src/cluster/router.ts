import type { AskOptions } from '../actors/ref.js';
import { isBeamstateError } from '../errors.js';
import type { AskListener } from '../entities/pending.js';
import type { Region } from '../entities/region.js';
import type { EntityRouter, EntityRuntime } from '../entities/runtime.js';
import { ClusterUnavailableError, NotShardOwnerError, ShardFencedError } from './errors.js';
import { PeerUnreachableError } from './peer-client.js';
import { persistenceIdOf } from './shard-hash.js';
import type { EntityUpdate, Subscription } from '../entities/subscriptions.js';

/** What a subscription asks for. */
export interface SubscribeWhat {
  readonly events: boolean;
  readonly state: boolean;
  readonly fromSequenceNr: number | undefined;
}

/** Where the router sends a command: here, to a peer's address, or nowhere yet. */
export type Route =
  | { readonly kind: 'local' }
  | { readonly kind: 'remote'; readonly address: string }
  | { readonly kind: 'none' }
  /** This node has left the cluster: nothing is routed any more. */
  | { readonly kind: 'closed' };

/** What the router needs from the node. */
export interface RouterHost {
  readonly runtime: EntityRuntime;
  shardOf(persistenceId: string): number;
  route(shard: number): Route;
  /** Reads the shard map again (rate-limited); resolves when fresh. */
  refresh(): Promise<void>;
  forward(address: string, type: string, id: string, command: string, input: unknown, timeoutMs: number, wantReply: boolean, traceparent: string | undefined): Promise<unknown>;
  subscribeRemote(
    address: string,
    type: string,
    id: string,
    what: SubscribeWhat,
    timeoutMs: number,
    onUpdate: (kind: 'event' | 'state', n: number, value: unknown) => void,
    onEnd: (err: Error) => void,
  ): Promise<() => void>;
  now(): number;
  readonly log: { warn(fields: Record<string, unknown>, msg: string): void };
}

/** Pause between attempts while a shard has no reachable owner (hand-off, take-over). */
const RETRY_MS = 25;

/**
 * True for a failure that guarantees the command did not run and wrote nothing, so it may be
 * sent again: the node was not (or no longer) the owner, its write was fenced, or the peer
 * could not be reached at all.
 */
export function retryable(err: unknown): boolean {
  if (err instanceof NotShardOwnerError || err instanceof ShardFencedError || err instanceof PeerUnreachableError) return true;
  if (isBeamstateError(err, 'NOT_SHARD_OWNER') || isBeamstateError(err, 'SHARD_FENCED')) return true;
  // The entity wraps a store error: PERSIST_FAILED whose cause is the fence's refusal.
  return isBeamstateError(err, 'PERSIST_FAILED') && isBeamstateError((err as Error).cause, 'SHARD_FENCED');
}

/**
 * The runtime's router in a cluster: a command runs here if this node holds its entity's shard,
 * else goes to the owner; a stale route ("not owner", fenced, owner unreachable) refreshes the
 * map and tries again until the caller's deadline. Never retried: a failure after which the
 * command may have run (a lost connection mid-request), which the caller gets as
 * `CLUSTER_UNAVAILABLE`.
 */
export class ClusterRouter implements EntityRouter {
  constructor(private readonly host: RouterHost) {}

  async subscribe(region: Region, id: string, what: SubscribeWhat, listener: (update: EntityUpdate) => void): Promise<Subscription> {
    const sub = new ClusterSubscription(this.host, region, id, what, listener);
    await sub.establish(this.host.runtime.system.askTimeout);
    return sub;
  }

  send(
    region: Region,
    id: string,
    command: string,
    input: unknown,
    options: AskOptions | undefined,
    wantReply: boolean,
    listener: AskListener | null,
    token: unknown,
  ): Promise<unknown> | undefined {
    const host = this.host;
    const timeout = options?.timeout ?? host.runtime.system.askTimeout;
    const deadline = host.now() + timeout;
    const type = region.type.name;
    const shard = host.shardOf(persistenceIdOf(type, id));
    // A traced command's spans (src/tracing), set by the gateway only around this call: kept for the attempts.
    const trace = host.runtime.tracing;
    const attempt = async (): Promise<unknown> => {
      let last: unknown;
      for (;;) {
        const left = deadline - host.now();
        if (left <= 0) {
          throw last instanceof Error && !retryable(last)
            ? last
            : new ClusterUnavailableError(`no owner of ${type}/${id} (shard ${shard}) answered within ${timeout} ms`, { cause: last });
        }
        const route = host.route(shard);
        if (route.kind === 'closed') throw new ClusterUnavailableError(`this node has left the cluster; ${type}/${id} ${command} was not sent`);
        try {
          if (route.kind === 'local') {
            if (trace === null) return await host.runtime.sendLocal(region, id, command, input, { ...options, timeout: left }, true);
            host.runtime.tracing = trace;
            let sent: Promise<unknown> | undefined;
            try {
              sent = host.runtime.sendLocal(region, id, command, input, { ...options, timeout: left }, true);
            } finally {
              host.runtime.tracing = null;
            }
            return await sent;
          }
          if (route.kind === 'remote') return await host.forward(route.address, type, id, command, input, left, wantReply, trace?.traceparent);
        } catch (err) {
          if (!retryable(err)) throw err;
          last = err;
        }
        await Promise.all([host.refresh(), delay(Math.min(RETRY_MS, Math.max(0, deadline - host.now())))]);
      }
    };
    const run = attempt();
    if (listener !== null) {
      run.then(
        (v) => listener.answered(token, v),
        (e: unknown) => listener.failed(token, e),
      );
      return undefined;
    }
    if (!wantReply) {
      run.catch((err: unknown) => host.log.warn({ entity: `${type}/${id}`, command, err }, 'told command failed'));
      return undefined;
    }
    return run;
  }
}

/**
 * A subscription that follows its entity: held at the entity's owner (here, or over the peer
 * connection), and when that ends (the shard moved, the owner died or left), made again at the
 * next owner, with events from the one after the last delivered, so none is missed or repeated.
 * A state subscription gets the current state again after a move.
 */
class ClusterSubscription implements Subscription {
  #end: (() => void) | null = null;
  #active = true;
  #lastSeq = 0;

  constructor(
    private readonly host: RouterHost,
    private readonly region: Region,
    private readonly id: string,
    private readonly what: SubscribeWhat,
    private readonly listener: (update: EntityUpdate) => void,
  ) {}

  get active(): boolean {
    return this.#active;
  }

  unsubscribe(): void {
    this.#active = false;
    const end = this.#end;
    this.#end = null;
    end?.();
  }

  [Symbol.dispose](): void {
    this.unsubscribe();
  }

  /** Establishes it at the owner, retrying stale routes until `timeoutMs` has passed. */
  async establish(timeoutMs: number): Promise<void> {
    const host = this.host;
    const type = this.region.type.name;
    const shard = host.shardOf(persistenceIdOf(type, this.id));
    const deadline = host.now() + timeoutMs;
    const what: SubscribeWhat = this.#lastSeq > 0 && this.what.events ? { ...this.what, fromSequenceNr: this.#lastSeq + 1 } : this.what;
    let last: unknown;
    for (;;) {
      if (!this.#active) return;
      const left = deadline - host.now();
      if (left <= 0) throw last instanceof Error && !retryable(last) ? last : new ClusterUnavailableError(`no owner of ${type}/${this.id} took the subscription within ${timeoutMs} ms`, { cause: last });
      const route = host.route(shard);
      if (route.kind === 'closed') throw new ClusterUnavailableError(`this node has left the cluster; no subscription to ${type}/${this.id}`);
      try {
        if (route.kind === 'local') {
          const sub = await host.runtime.subscribeLocal(this.region, this.id, what, (u) => this.#deliver(u), (err) => this.#moved(err));
          this.#end = () => sub.unsubscribe();
          if (!this.#active) sub.unsubscribe();
          return;
        }
        if (route.kind === 'remote') {
          const end = await host.subscribeRemote(route.address, type, this.id, what, left, (kind, n, value) => this.#remote(kind, n, value), (err) => this.#moved(err));
          this.#end = end;
          if (!this.#active) end();
          return;
        }
      } catch (err) {
        if (!retryable(err) && !(err instanceof ClusterUnavailableError)) throw err;
        last = err;
      }
      await Promise.all([host.refresh(), delay(Math.min(RETRY_MS, Math.max(0, deadline - host.now())))]);
    }
  }

  #remote(kind: 'event' | 'state', n: number, value: unknown): void {
    const entityType = this.region.type.name;
    const entityId = this.id;
    this.#deliver(kind === 'event' ? { kind: 'event', entityType, entityId, sequenceNr: n, event: value } : { kind: 'state', entityType, entityId, version: n, state: value });
  }

  #deliver(u: EntityUpdate): void {
    if (!this.#active) return;
    if (u.kind === 'event') {
      if (u.sequenceNr <= this.#lastSeq) return; // already delivered before a move
      this.#lastSeq = u.sequenceNr;
    }
    try {
      this.listener(u);
    } catch (err) {
      this.host.log.warn({ err }, 'subscriber threw');
    }
  }

  /** The owner ended it (moved, died, left): made again at the next owner, for as long as it takes. */
  #moved(err: Error): void {
    this.#end = null;
    if (!this.#active) return;
    const again = (): void => {
      this.establish(this.host.runtime.system.askTimeout).catch((e: unknown) => {
        if (!this.#active) return;
        if (this.host.route(this.host.shardOf(persistenceIdOf(this.region.type.name, this.id))).kind === 'closed') {
          this.#active = false; // this node left the cluster: nothing to follow the entity from
          return;
        }
        this.host.log.warn({ err: e, cause: err, entity: `${this.region.type.name}/${this.id}` }, 'subscription not re-established yet; trying again');
        setTimeout(again, 200);
      });
    };
    again();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
