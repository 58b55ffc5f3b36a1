import { BeamstateError } from '../errors.js';

/**
 * `NOT_SHARD_OWNER`: this node does not own the entity's shard (any more). Carries what this
 * node believes: the owner and its epoch (null: no live owner). The router refreshes its map
 * and retries within the caller's deadline; nothing was written.
 */
export class NotShardOwnerError extends BeamstateError {
  readonly shard: number;
  readonly owner: string | null;
  readonly epoch: number;

  constructor(shard: number, owner: string | null, epoch: number) {
    super('NOT_SHARD_OWNER', `this node does not own shard ${shard} (owner ${owner ?? 'none'}, epoch ${epoch}); nothing was written`);
    this.shard = shard;
    this.owner = owner;
    this.epoch = epoch;
  }
}

/**
 * `SHARD_FENCED`: a write of a sharded entity was refused because this node no longer holds the
 * shard at the epoch the entity was activated under (lost lease, hand-off, or a newer owner):
 * nothing was written. The entity is stopped; the router retries the command on the owner.
 */
export class ShardFencedError extends BeamstateError {
  readonly shard: number;
  readonly epoch: number;

  constructor(shard: number, epoch: number, why: string) {
    super('SHARD_FENCED', `write refused: this node no longer holds shard ${shard} at epoch ${epoch} (${why}); nothing was written`);
    this.shard = shard;
    this.epoch = epoch;
  }
}

/** `CLUSTER_UNAVAILABLE`: no owner of the entity's shard answered within the caller's deadline. */
export class ClusterUnavailableError extends BeamstateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CLUSTER_UNAVAILABLE', message, options);
  }
}

/** `CLUSTER_UNSUPPORTED`: clustering was asked of a store that cannot be shared (PGlite, memory). */
export class ClusterUnsupportedError extends BeamstateError {
  constructor(message: string) {
    super('CLUSTER_UNSUPPORTED', message);
  }
}

/** `INVALID_CLUSTER_OPTION`: a cluster setting is invalid; `field` names it. */
export class InvalidClusterOptionError extends BeamstateError {
  readonly field: string;

  constructor(field: string, message: string) {
    super('INVALID_CLUSTER_OPTION', `${field}: ${message}`);
    this.field = field;
  }
}
