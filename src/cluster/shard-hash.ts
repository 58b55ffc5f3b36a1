import { keyHash } from '../persistence/key-hash.js';

/**
 * Entity → shard: FNV-1a (32 bits) of the persistence id `type|id`, modulo the shard count.
 * Stable across processes, versions and platforms (no seed, no engine hash), which is all it
 * must be: every node computes the same shard for an entity.
 */
export function shardOf(persistenceId: string, shards: number): number {
  // The hash lives with the store: durable timers keep it per row to be claimed by shard.
  return keyHash(persistenceId) % shards;
}

/** The persistence id of an entity, as the entity runtime names it. */
export function persistenceIdOf(typeName: string, id: string): string {
  return `${typeName}|${id}`;
}
