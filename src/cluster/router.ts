import type { AskOptions } from '../actors/ref.js';
import { isBeamstateError } from '../errors.js';
import type { AskListener } from '../entities/pending.js';
import type { Region } from '../entities/region.js';
import type { EntityRouter, EntityRuntime } from '../entities/runtime.js';
import { ClusterUnavailableError, NotShardOwnerError, ShardFencedError } from './errors.js';
import { PeerUnreachableError } from './peer-client.js';
import { persistenceIdOf } from './shard-hash.js';

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
  forward(address: string, type: string, id: string, command: string, input: unknown, timeoutMs: number, wantReply: boolean): Promise<unknown>;
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
            return await host.runtime.sendLocal(region, id, command, input, { ...options, timeout: left }, true);
          }
          if (route.kind === 'remote') return await host.forward(route.address, type, id, command, input, left, wantReply);
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

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
