/**
 * The Prometheus endpoint's series, produced with prom-client. Every value is read at scrape
 * time from counters the system keeps anyway (journal stats, supervisor restart counts, region
 * sizes) or from the observer's event counters, which start at the first scrape: an unscraped
 * observer adds nothing to any hot path. Names and labels are listed in docs/observer.md.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { Actor } from '../actors/actor.js';
import type { ActorSystem } from '../actors/system.js';
import type { EntityRuntime } from '../entities/runtime.js';
import { entityCounts, totalRestarts } from './collect.js';
import type { EventCounters, TypeCounters } from './counters.js';
import type { GatewayStats } from '../gateway/connection.js';

export interface MetricsSources {
  readonly system: ActorSystem;
  readonly runtime: EntityRuntime | undefined;
  readonly counters: EventCounters;
  readonly gatewayConnections: () => number | undefined;
  readonly gatewayStats: () => GatewayStats | undefined;
  readonly observerConnections: () => number;
}

/** The metric names, in one place (tests and docs check against it). */
export const METRIC_NAMES = [
  'beamstate_actors',
  'beamstate_actor_mailbox_messages',
  'beamstate_supervisor_restarts_total',
  'beamstate_dead_letters_total',
  'beamstate_dropped_messages_total',
  'beamstate_entities_active',
  'beamstate_entities_passivating',
  'beamstate_entity_activations_refused_total',
  'beamstate_entity_activations_total',
  'beamstate_entity_recoveries_total',
  'beamstate_entity_recovery_failures_total',
  'beamstate_entity_passivations_total',
  'beamstate_entity_poison_commands_total',
  'beamstate_entity_snapshots_total',
  'beamstate_entity_events_persisted_total',
  'beamstate_journal_appends_total',
  'beamstate_journal_events_total',
  'beamstate_journal_batches_total',
  'beamstate_journal_conflicts_total',
  'beamstate_journal_largest_batch_appends',
  'beamstate_gateway_connections',
  'beamstate_gateway_frames_received_total',
  'beamstate_gateway_slow_consumers_closed_total',
  'beamstate_gateway_auth_failures_total',
  'beamstate_gateway_forbidden_total',
  'beamstate_observer_connections',
] as const;


/** Sets a counter to a cumulative value read from elsewhere (prom-client counters only go up by `inc`). */
function setCounter(c: Counter, value: number, labels?: Record<string, string>): void {
  if (labels === undefined) c.inc(value);
  else c.inc(labels, value);
}

export class ObserverMetrics {
  readonly registry = new Registry();
  private defaultsStarted = false;

  constructor(
    private readonly src: MetricsSources,
    private readonly processMetrics: boolean,
  ) {
    const r = this.registry;
    const s = src;
    const gauge = (name: string, help: string, read: (g: Gauge) => void, labelNames: string[] = []): void => {
      new Gauge({
        name,
        help,
        labelNames,
        registers: [r],
        collect() {
          this.reset();
          read(this);
        },
      });
    };
    const counter = (name: string, help: string, read: (c: Counter) => void, labelNames: string[] = []): void => {
      new Counter({
        name,
        help,
        labelNames,
        registers: [r],
        collect() {
          this.reset();
          read(this);
        },
      });
    };
    gauge('beamstate_actors', 'Live actors in the system.', (g) => g.set(s.system.actorCount));
    gauge('beamstate_actor_mailbox_messages', 'Messages waiting in all mailboxes.', (g) => {
      let n = 0;
      for (const a of s.system.actors()) n += (a as Actor).mailbox?.length ?? 0;
      g.set(n);
    });
    counter('beamstate_supervisor_restarts_total', 'Child restarts by the live supervisors, as they count them.', (c) => setCounter(c, totalRestarts(s.system)));
    counter('beamstate_dead_letters_total', 'Messages that reached no live actor (counted from the first scrape or page).', (c) => setCounter(c, s.counters.deadLetters));
    counter('beamstate_dropped_messages_total', 'Messages a bounded mailbox refused or evicted (counted from the first scrape or page).', (c) => setCounter(c, s.counters.dropped));
    const rt = s.runtime;
    if (rt !== undefined) {
      gauge('beamstate_entities_active', 'Active entities, by entity type.', (g) => {
        for (const e of entityCounts(rt)) g.set({ type: e.type }, e.active);
      }, ['type']);
      gauge('beamstate_entities_passivating', 'Active entities asked to passivate, not gone yet.', (g) => g.set(rt.stats().passivating));
      counter('beamstate_entity_activations_refused_total', 'Commands and subscribes refused with TOO_MANY_ACTIVE_ENTITIES.', (c) => setCounter(c, rt.stats().refusedActivations));
      const perType = (name: string, help: string, pick: (t: TypeCounters) => number): void =>
        counter(name, help, (c) => {
          for (const [type, t] of s.counters.byType) setCounter(c, pick(t), { type });
        }, ['type']);
      perType('beamstate_entity_activations_total', 'Entity activations, by type.', (t) => t.activations);
      perType('beamstate_entity_recoveries_total', 'Activations that replayed events or loaded a snapshot, by type.', (t) => t.recoveries);
      perType('beamstate_entity_recovery_failures_total', 'Activations whose recovery failed, by type.', (t) => t.recoveryFailures);
      perType('beamstate_entity_poison_commands_total', 'Commands given up on after crashing the entity maxCommandAttempts times, by type.', (t) => t.poisonCommands);
      perType('beamstate_entity_snapshots_total', 'Snapshots written, by type.', (t) => t.snapshots);
      perType('beamstate_entity_events_persisted_total', 'Events (or state revisions) persisted, by type.', (t) => t.eventsPersisted);
      counter('beamstate_entity_passivations_total', 'Passivations, by type and reason (idle, lru, requested).', (c) => {
        for (const [type, t] of s.counters.byType) for (const reason of ['idle', 'lru', 'requested'] as const) setCounter(c, t.passivationsByReason[reason], { type, reason });
      }, ['type', 'reason']);
      const journal = (): ReturnType<EntityRuntime['store']['journal']['stats']> => rt.store.journal.stats();
      counter('beamstate_journal_appends_total', 'Acknowledged journal appends.', (c) => setCounter(c, journal().appends));
      counter('beamstate_journal_events_total', 'Events in acknowledged appends.', (c) => setCounter(c, journal().events));
      counter('beamstate_journal_batches_total', 'Group-commit batches sent to the database (one per append in memory).', (c) => setCounter(c, journal().batches));
      counter('beamstate_journal_conflicts_total', 'Appends rejected with a sequence-number conflict.', (c) => setCounter(c, journal().conflicts));
      gauge('beamstate_journal_largest_batch_appends', 'The most appends any one batch carried.', (g) => g.set(journal().largestBatch));
    }
    gauge('beamstate_gateway_connections', 'Open gateway WebSocket connections.', (g) => {
      const n = s.gatewayConnections();
      if (n !== undefined) g.set(n);
    });
    const gw = (pick: (g: GatewayStats) => number) => (c: Counter): void => {
      const g = s.gatewayStats();
      if (g !== undefined) setCounter(c, pick(g));
    };
    counter('beamstate_gateway_frames_received_total', 'WebSocket frames received by the gateway.', gw((g) => g.framesIn));
    counter('beamstate_gateway_slow_consumers_closed_total', 'Gateway connections closed because the client did not read (1013).', gw((g) => g.slowConsumers));
    counter('beamstate_gateway_auth_failures_total', 'Upgrades the authenticate hook refused, failed or did not decide in time.', gw((g) => g.authFailures));
    counter('beamstate_gateway_forbidden_total', 'Requests the authorize hook refused (FORBIDDEN).', gw((g) => g.forbidden));
    gauge('beamstate_observer_connections', 'Observer pages connected.', (g) => g.set(s.observerConnections()));
  }

  /** The exposition text. The first scrape starts the event counters (and the process metrics, if enabled). */
  async scrape(): Promise<string> {
    this.src.counters.start();
    if (this.processMetrics && !this.defaultsStarted) {
      this.defaultsStarted = true;
      collectDefaultMetrics({ register: this.registry });
    }
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

