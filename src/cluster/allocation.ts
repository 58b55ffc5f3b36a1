/**
 * Where each shard should be: a pure function of the live members and the current owners, so
 * that every node, reading the same table, computes the same plan and acts only on its own part
 * of it (take what is free and meant for it, hand off what is meant for another).
 *
 * Even: with k live nodes, node i (in id order) gets floor(n/k) shards, plus one for the first
 * n mod k. Stable: a shard stays with its current owner while that owner is live and under its
 * quota, so a join moves only the joiner's share and a leave only the leaver's.
 */
export function allocate(shards: number, live: readonly string[], owners: readonly (string | null)[]): (string | null)[] {
  const out = new Array<string | null>(shards).fill(null);
  const k = live.length;
  if (k === 0) return out;
  const sorted = [...live].sort();
  const quota = new Map<string, number>();
  const base = Math.floor(shards / k);
  const extra = shards % k;
  sorted.forEach((node, i) => quota.set(node, base + (i < extra ? 1 : 0)));
  const count = new Map<string, number>(sorted.map((n) => [n, 0]));
  for (let s = 0; s < shards; s++) {
    const o = owners[s] ?? null;
    if (o === null) continue;
    const c = count.get(o);
    if (c !== undefined && c < (quota.get(o) as number)) {
      out[s] = o;
      count.set(o, c + 1);
    }
  }
  let next = 0;
  for (let s = 0; s < shards; s++) {
    if (out[s] !== null) continue;
    while ((count.get(sorted[next] as string) as number) >= (quota.get(sorted[next] as string) as number)) next++;
    const node = sorted[next] as string;
    out[s] = node;
    count.set(node, (count.get(node) as number) + 1);
  }
  return out;
}
