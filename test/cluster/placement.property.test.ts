// The placement logic against a model of the shards table (fast-check): any interleaving of
// joins, kills, pauses, renewals, take-overs and hand-offs, with requests that take time to reach
// the database, never gives one shard two owners at one epoch, and never lets two nodes believe
// at once that they may write a shard (or one believe it while the table says otherwise).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocate } from '../../src/cluster/allocation.js';
import { ShardLeases } from '../../src/cluster/leases.js';

const SHARDS = 8;
const TTL = 1500;
const GUARD = 500;

interface Row {
  owner: string | null;
  epoch: number;
  leaseUntil: number;
}

interface ModelNode {
  readonly id: string;
  readonly leases: ShardLeases;
  alive: boolean;
}

type Op =
  | { kind: 'advance'; ms: number }
  | { kind: 'tick'; node: number; latency: number; view: boolean[] }
  | { kind: 'kill'; node: number }
  | { kind: 'join' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 2000 }) }),
  fc.record({
    kind: fc.constant('tick' as const),
    node: fc.nat(5),
    latency: fc.integer({ min: 0, max: 1200 }),
    view: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
  }),
  fc.record({ kind: fc.constant('kill' as const), node: fc.nat(5) }),
  fc.record({ kind: fc.constant('join' as const) }),
);

/** One tick of a node as ClusterNode does it (renew, then take and hand off by the plan), on the model table. */
function tick(n: ModelNode, rows: Row[], now: { t: number }, latency: number, live: string[], epochOwners: Map<string, string>): void {
  const sentAt = now.t;
  now.t += latency; // the database applies the request later than it was sent
  for (const h of n.leases.held().filter((x) => !x.leaving)) {
    const r = rows[h.shard] as Row;
    if (r.owner === n.id && r.epoch === h.epoch && r.leaseUntil > now.t) {
      r.leaseUntil = now.t + TTL;
      n.leases.renewed(h.shard, h.epoch, sentAt);
    } else n.leases.drop(h.shard);
  }
  const owners = rows.map((r) => (r.leaseUntil > now.t && r.owner !== null && live.includes(r.owner) ? r.owner : null));
  const plan = allocate(SHARDS, live, owners);
  for (let s = 0; s < SHARDS; s++) {
    const r = rows[s] as Row;
    const held = n.leases.get(s);
    if (plan[s] === n.id && held === undefined && (r.leaseUntil <= now.t || r.owner === null || r.owner === n.id)) {
      // acquire: the conditional UPDATE
      r.owner = n.id;
      r.epoch += 1;
      r.leaseUntil = now.t + TTL;
      const k = `${s}@${r.epoch}`;
      const before = epochOwners.get(k);
      if (before !== undefined && before !== n.id) throw new Error(`shard ${s} epoch ${r.epoch} had two owners: ${before}, ${n.id}`);
      epochOwners.set(k, n.id);
      n.leases.granted(s, r.epoch, sentAt);
    } else if (plan[s] !== n.id && held !== undefined) {
      // hand-off: entities stopped, then release
      n.leases.drop(s);
      if (r.owner === n.id && r.epoch === held.epoch) {
        r.owner = null;
        r.leaseUntil = -Infinity;
      }
    }
  }
}

describe('placement against a model', () => {
  it('never two owners at one epoch, never two writers at one time', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 80 }), (ops) => {
        const rows: Row[] = Array.from({ length: SHARDS }, () => ({ owner: null, epoch: 0, leaseUntil: -Infinity }));
        const nodes: ModelNode[] = [];
        const now = { t: 0 };
        const epochOwners = new Map<string, string>();
        const join = (): void => {
          nodes.push({ id: `n${nodes.length}`, leases: new ShardLeases(TTL, GUARD), alive: true });
        };
        join();
        for (const o of ops) {
          if (o.kind === 'advance') now.t += o.ms;
          else if (o.kind === 'join') {
            if (nodes.length < 6) join();
          } else if (o.kind === 'kill') {
            const n = nodes[o.node % nodes.length] as ModelNode;
            n.alive = false;
          } else {
            const n = nodes[o.node % nodes.length] as ModelNode;
            if (!n.alive) continue;
            // Membership as this node last read it: any subset (stale or partial), itself included.
            const live = nodes.filter((m, i) => m.id === n.id || (o.view[i] === true && m.alive)).map((m) => m.id);
            tick(n, rows, now, o.latency, live, epochOwners);
          }
          // The invariant, at this instant: a node that believes it may write a shard is the one
          // the table names, at that epoch, with a live lease; so at most one node believes it.
          for (let s = 0; s < SHARDS; s++) {
            const writers = nodes.filter((n) => n.alive && n.leases.writable(s, now.t) !== null);
            expect(writers.length).toBeLessThanOrEqual(1);
            const w = writers[0];
            if (w !== undefined) {
              const r = rows[s] as Row;
              expect(r.owner).toBe(w.id);
              expect(r.epoch).toBe(w.leases.writable(s, now.t));
              expect(r.leaseUntil).toBeGreaterThan(now.t);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('allocation is even (counts differ by at most one), uses only live nodes, and keeps owners within their quota', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { minLength: 1, maxLength: 5 }),
        fc.array(fc.option(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'x'), { nil: null }), { maxLength: 64 }),
        (shards, live, current) => {
          const owners = Array.from({ length: shards }, (_, i) => current[i] ?? null);
          const plan = allocate(shards, live, owners);
          expect(plan.every((o) => o !== null && (live as readonly string[]).includes(o))).toBe(true);
          const counts = live.map((n) => plan.filter((o) => o === n).length);
          expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
          // Stable: a live owner keeps as many of its shards as its quota allows.
          for (const n of live) {
            const had = owners.filter((o) => o === n).length;
            const kept = owners.filter((o, s) => o === n && plan[s] === n).length;
            expect(kept).toBe(Math.min(had, plan.filter((o) => o === n).length));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
