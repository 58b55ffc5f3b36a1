/**
 * Reads the running system into the observer's plain-data views. Everything here runs only when
 * someone watches (an update tick, a look-up, a scrape): nothing is kept up to date in between.
 */
import { Actor } from '../actors/actor.js';
import { formatReason } from '../actors/exit-reason.js';
import type { ActorSystem } from '../actors/system.js';
import { EntityCell } from '../entities/entity-cell.js';
import type { EntityRuntime } from '../entities/runtime.js';
import type { ChildState } from '../supervisor/core.js';
import { SupervisorCore } from '../supervisor/core.js';
import { DynamicSupervisor } from '../supervisor/dynamic-supervisor.js';
import type { ProcessDetail, ProcessQuery, ProcessRow, TreeNode } from './protocol.js';

/** A cell's fixed cost, in bytes, for the memory estimate: the object, its context, its list links. */
const CELL_BYTES = 320;
/** Per queued message: the ring buffer's slot and an envelope (the message itself is not measured). */
const QUEUED_BYTES = 48;

export function supervisorOfCell(a: Actor): SupervisorCore | undefined {
  const s = a.state;
  return s instanceof SupervisorCore ? s : undefined;
}

export function behaviourOf(a: Actor): string {
  const s = a.state;
  if (s instanceof SupervisorCore) return s instanceof DynamicSupervisor ? 'dynamic-supervisor' : 'supervisor';
  if (s instanceof EntityCell) return `entity:${s.slot.region.type.name}`;
  return 'actor';
}

function statusOf(a: Actor): ProcessRow['status'] {
  if (a.stopping) return 'stopping';
  if (a.busy || a.current !== undefined) return 'running';
  if (a.scheduled) return 'runnable';
  return 'waiting';
}

export function rowOf(a: Actor, rate: number): ProcessRow {
  const mailbox = a.mailbox?.length ?? 0;
  const info = a.introspect();
  return {
    id: a.id,
    name: a.name,
    behaviour: behaviourOf(a),
    status: statusOf(a),
    mailbox,
    rate,
    owed: info.owed,
    memory: CELL_BYTES + (mailbox + info.stash) * QUEUED_BYTES + (info.links + info.monitors + info.monitoring) * 64,
  };
}

export function detailOf(a: Actor, rate: number): ProcessDetail {
  const info = a.introspect();
  const links: number[] = [];
  for (const l of a.links) links.push(l.id);
  return {
    ...rowOf(a, rate),
    parent: a.parent?.id,
    links,
    monitors: info.monitors,
    monitoring: info.monitoring,
    timers: info.timers,
    stash: info.stash,
    trapExit: info.trapExit,
    handled: a.handled,
  };
}

/**
 * Messages handled per second, per actor, from the `handled` counters of two successive samples.
 * One per page. Only the actors the page was shown are sampled (a page of rows), unless it sorts
 * by rate, which needs every actor's: a table of 100 000 entities costs a map of 50 otherwise.
 */
export class Rates {
  private last = new Map<Actor, number>();
  private rates = new Map<Actor, number>();
  private at = -1;
  /** Sample every actor at the next `sample` (the page sorts by rate). */
  all = false;

  sample(system: ActorSystem, now: number): void {
    const dt = this.at < 0 ? 0 : (now - this.at) / 1000;
    const rates = new Map<Actor, number>();
    const next = new Map<Actor, number>();
    const take = (a: Actor): void => {
      const prev = this.last.get(a);
      next.set(a, a.handled);
      if (prev !== undefined && dt > 0) rates.set(a, Math.round(((a.handled - prev) / dt) * 10) / 10);
    };
    if (this.all) for (const ref of system.actors()) take(ref as Actor);
    else for (const a of this.last.keys()) if (a.alive) take(a);
    this.last = next;
    this.rates = rates;
    this.at = now;
  }

  /** The page shows these: sample them from now on (their first rate comes with the next sample). */
  shown(rows: readonly Actor[]): void {
    for (const a of rows) if (!this.last.has(a)) this.last.set(a, a.handled);
    if (!this.all && this.last.size > rows.length * 4) {
      const keep = new Set(rows);
      for (const a of this.last.keys()) if (!keep.has(a)) this.last.delete(a);
    }
  }

  of(a: Actor): number {
    return this.rates.get(a) ?? 0;
  }
}

const compare: Record<ProcessQuery['sort'], (a: ProcessRow, b: ProcessRow) => number> = {
  id: (a, b) => a.id - b.id,
  name: (a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.id - b.id,
  behaviour: (a, b) => a.behaviour.localeCompare(b.behaviour) || a.id - b.id,
  status: (a, b) => a.status.localeCompare(b.status) || a.id - b.id,
  mailbox: (a, b) => a.mailbox - b.mailbox || a.id - b.id,
  rate: (a, b) => a.rate - b.rate || a.id - b.id,
  owed: (a, b) => a.owed - b.owed || a.id - b.id,
  memory: (a, b) => a.memory - b.memory || a.id - b.id,
};

/** One page of the process table. Sorting by id needs no rows but the page's; other keys build every matching row. */
export function processPage(system: ActorSystem, rates: Rates, q: ProcessQuery): { total: number; rows: ProcessRow[]; actors: Actor[] } {
  const needle = q.search.toLowerCase();
  const matches = (a: Actor): boolean =>
    needle === '' || `<${a.id}>`.includes(needle) || (a.name?.toLowerCase().includes(needle) ?? false) || behaviourOf(a).toLowerCase().includes(needle);
  const start = q.page * q.pageSize;
  if (q.sort === 'id') {
    // Oldest first is the system's own order: one pass, only the page's rows built.
    const picked: Actor[] = [];
    let total = 0;
    for (const ref of system.actors()) {
      const a = ref as Actor;
      if (!matches(a)) continue;
      total++;
      if (!q.desc && total > start && picked.length < q.pageSize) picked.push(a);
      else if (q.desc) picked.push(a);
    }
    const chosen = q.desc ? picked.reverse().slice(start, start + q.pageSize) : picked;
    return { total, rows: chosen.map((a) => rowOf(a, rates.of(a))), actors: chosen };
  }
  const rows: { row: ProcessRow; actor: Actor }[] = [];
  for (const ref of system.actors()) {
    const a = ref as Actor;
    if (matches(a)) rows.push({ row: rowOf(a, rates.of(a)), actor: a });
  }
  const cmp = compare[q.sort];
  rows.sort(q.desc ? (a, b) => cmp(b.row, a.row) : (a, b) => cmp(a.row, b.row));
  const page = rows.slice(start, start + q.pageSize);
  return { total: rows.length, rows: page.map((r) => r.row), actors: page.map((r) => r.actor) };
}

/**
 * The supervision trees: every top-level supervisor (and top-level plain actors with children
 * of their own, as OTP's applications), each child with its restart count. A supervisor with more
 * than `limit` children shows the first `limit` (entity types have thousands): `total` tells all.
 */
export function supervisionTree(system: ActorSystem, limit: number): TreeNode[] {
  const roots: TreeNode[] = [];
  for (const ref of system.actors()) {
    const a = ref as Actor;
    if (a.parent !== null) continue;
    const sup = supervisorOfCell(a);
    if (sup === undefined) continue;
    roots.push(nodeOf(a, sup, undefined, limit, 0));
  }
  return roots;
}

const MAX_DEPTH = 32;

function nodeOf(a: Actor, sup: SupervisorCore | undefined, child: ChildState | undefined, limit: number, depth: number): TreeNode {
  const children: TreeNode[] = [];
  let total = 0;
  if (sup !== undefined && depth < MAX_DEPTH) {
    total = sup.childTotal;
    for (const c of sup.childList()) {
      if (children.length >= limit) break;
      const cell = c.cell;
      const csup = cell === null ? undefined : supervisorOfCell(cell);
      if (cell !== null) children.push(nodeOf(cell, csup, c, limit, depth + 1));
      else children.push(stoppedNode(c));
    }
  }
  return {
    id: a.id,
    name: a.name,
    kind: sup === undefined ? 'worker' : sup instanceof DynamicSupervisor ? 'dynamic-supervisor' : 'supervisor',
    childId: child?.spec.id,
    status: 'running',
    restarts: child?.history?.restarts ?? 0,
    childRestarts: sup?.restartCount ?? 0,
    lastExit: lastExitOf(child),
    total,
    children,
  };
}

function lastExitOf(c: ChildState | undefined): string | undefined {
  const h = c?.history;
  return h === null || h === undefined ? undefined : formatReason(h.reason).slice(0, 200);
}

function stoppedNode(c: ChildState): TreeNode {
  return {
    id: c.last?.id ?? -1,
    name: undefined,
    kind: c.spec.type === 'supervisor' ? 'supervisor' : 'worker',
    childId: c.spec.id,
    status: c.restarting ? 'restarting' : 'stopped',
    restarts: c.history?.restarts ?? 0,
    childRestarts: 0,
    lastExit: lastExitOf(c),
    total: 0,
    children: [],
  };
}

/** Every supervisor's restarts, summed (a gauge of what the supervisors count themselves). */
export function totalRestarts(system: ActorSystem): number {
  let n = 0;
  for (const ref of system.actors()) {
    const sup = supervisorOfCell(ref as Actor);
    if (sup !== undefined) n += sup.restartCount;
  }
  return n;
}

/** Entities per type, read from the runtime's regions. */
export function entityCounts(runtime: EntityRuntime): { type: string; kind: string; active: number; passivating: number }[] {
  const out: { type: string; kind: string; active: number; passivating: number }[] = [];
  for (const [name, type] of runtime.types) {
    const region = runtime.regionNamed(name);
    if (region === undefined) continue;
    let passivating = 0;
    for (const s of region.slots.values()) if (s.passivating) passivating++;
    out.push({ type: name, kind: type.kind, active: region.slots.size, passivating });
  }
  return out;
}
