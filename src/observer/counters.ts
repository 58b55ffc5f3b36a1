import type { ActorSystem } from '../actors/system.js';
import type { InspectionEvent, Unsubscribe } from '../actors/inspection.js';

/** What the inspection stream tells per entity type, counted from the moment the observer began watching. */
export interface TypeCounters {
  activations: number;
  recoveries: number;
  recoveryFailures: number;
  passivations: number;
  passivationsByReason: Record<'idle' | 'lru' | 'requested', number>;
  poisonCommands: number;
  snapshots: number;
  eventsPersisted: number;
}

function fresh(): TypeCounters {
  return {
    activations: 0,
    recoveries: 0,
    recoveryFailures: 0,
    passivations: 0,
    passivationsByReason: { idle: 0, lru: 0, requested: 0 },
    poisonCommands: 0,
    snapshots: 0,
    eventsPersisted: 0,
  };
}

const TYPES = [
  'dead-letter',
  'dropped',
  'entity.activated',
  'entity.passivated',
  'entity.persisted',
  'entity.snapshot',
  'entity.recovery-failed',
  'entity.poison-command',
] as const;

/**
 * Counters fed by the inspection stream. Subscribing turns the stream on (every event site then
 * builds its event), so the observer starts them only once someone watches: the first page that
 * connects or the first scrape of `/metrics`. From then on they count until the observer closes.
 */
export class EventCounters {
  deadLetters = 0;
  dropped = 0;
  readonly byType = new Map<string, TypeCounters>();
  private off: Unsubscribe | null = null;

  constructor(private readonly system: ActorSystem) {}

  get started(): boolean {
    return this.off !== null;
  }

  start(): void {
    if (this.off !== null) return;
    this.off = this.system.events.subscribe((e) => this.count(e), TYPES);
  }

  stop(): void {
    this.off?.();
    this.off = null;
  }

  of(type: string): TypeCounters {
    let c = this.byType.get(type);
    if (c === undefined) this.byType.set(type, (c = fresh()));
    return c;
  }

  private count(e: InspectionEvent): void {
    switch (e.type) {
      case 'dead-letter':
        this.deadLetters++;
        return;
      case 'dropped':
        this.dropped++;
        return;
      case 'entity.activated': {
        const c = this.of(e.entityType);
        c.activations++;
        if (e.fromSnapshot || e.replayed > 0) c.recoveries++;
        return;
      }
      case 'entity.passivated': {
        const c = this.of(e.entityType);
        c.passivations++;
        c.passivationsByReason[e.reason]++;
        return;
      }
      case 'entity.persisted':
        this.of(e.entityType).eventsPersisted += e.toSequenceNr - e.fromSequenceNr + 1;
        return;
      case 'entity.snapshot':
        this.of(e.entityType).snapshots++;
        return;
      case 'entity.recovery-failed':
        this.of(e.entityType).recoveryFailures++;
        return;
      case 'entity.poison-command':
        this.of(e.entityType).poisonCommands++;
        return;
      default:
        return;
    }
  }
}
