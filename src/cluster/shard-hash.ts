/**
 * Entity → shard: FNV-1a (32 bits) of the persistence id `type|id`, modulo the shard count.
 * Stable across processes, versions and platforms (no seed, no engine hash), which is all it
 * must be: every node computes the same shard for an entity.
 */
export function shardOf(persistenceId: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < persistenceId.length; i++) {
    h ^= persistenceId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

/** The persistence id of an entity, as the entity runtime names it. */
export function persistenceIdOf(typeName: string, id: string): string {
  return `${typeName}|${id}`;
}
