/**
 * FNV-1a (32 bits, unsigned) of an entity's key `type|id`, over its UTF-16 code units: the hash
 * the cluster's shard of an entity is taken from (`shardOf` = this mod the shard count). Durable
 * timers store it (`shard_hash`) so that a cluster node can claim only the timers of the shards
 * it owns, whatever the shard count, with one `shard_hash % N = ANY(…)` in the claim.
 * Stable across processes, versions and platforms (no seed, no engine hash).
 */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The same hash in PL/pgSQL, as statements that fill `column` of `table` from `keyExpr` (for a
 * migration's backfill of rows written before the column existed). `ascii()` gives code points;
 * one above U+FFFF is hashed as its two UTF-16 surrogates, as JavaScript's `charCodeAt` sees it.
 * Products stay below 2^57, inside bigint.
 */
export function keyHashBackfill(table: string, column: string, keyExpr: string, rowKey: readonly string[]): string {
  const where = rowKey.map((c) => `${c} = r.${c}`).join(' AND ');
  return `DO $bs_hash$
DECLARE r record; h bigint; c bigint;
BEGIN
  FOR r IN SELECT ${rowKey.join(', ')}, ${keyExpr} AS k FROM ${table} LOOP
    h := 2166136261;
    FOR i IN 1..length(r.k) LOOP
      c := ascii(substr(r.k, i, 1));
      IF c > 65535 THEN
        h := ((h # (55296 + ((c - 65536) >> 10))) * 16777619) % 4294967296;
        h := ((h # (56320 + ((c - 65536) & 1023))) * 16777619) % 4294967296;
      ELSE
        h := ((h # c) * 16777619) % 4294967296;
      END IF;
    END LOOP;
    UPDATE ${table} SET ${column} = h WHERE ${where};
  END LOOP;
END
$bs_hash$`;
}
