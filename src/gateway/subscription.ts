import type { EntityUpdate, Subscription } from '../entities/subscriptions.js';
import type { RequestId } from './protocol.js';

/** Where a gateway subscription sends what it receives. @internal */
export interface UpdateSink {
  sendUpdate(sub: GatewaySubscription, update: EntityUpdate): void;
}

/**
 * One client subscription, between the entity runtime and a connection.
 *
 * The runtime delivers the current state (and any catch-up replay) while the subscription is
 * being set up, before `subscribe()` resolves; the protocol promises the `subscribed` frame
 * first. So updates are held until the connection has sent it, then flushed in order.
 *
 * The runtime is always asked for state too, even for an events-only subscription: its first
 * state update tells the entity's version at the moment the subscription was established, which
 * goes in the `subscribed` frame so that a client can resume from it without a gap. Later state
 * updates are dropped here unless the client asked for them.
 * @internal
 */
export class GatewaySubscription {
  handle: Subscription | null = null;
  /** The entity's version when established; -1 until the runtime has said. */
  version = -1;
  ended = false;
  private held: EntityUpdate[] | null = [];
  readonly listener: (update: EntityUpdate) => void;

  constructor(
    private readonly sink: UpdateSink,
    readonly id: RequestId,
    readonly events: boolean,
    readonly state: boolean,
  ) {
    this.listener = (update) => this.receive(update);
  }

  private receive(update: EntityUpdate): void {
    if (this.ended) return;
    if (update.kind === 'state') {
      if (this.version < 0) this.version = update.version;
      if (!this.state) return;
    }
    if (this.held !== null) this.held.push(update);
    else this.sink.sendUpdate(this, update);
  }

  /** The subscription is acknowledged: returns what arrived meanwhile; from now on updates go straight to the sink. */
  goLive(handle: Subscription): readonly EntityUpdate[] {
    this.handle = handle;
    const held = this.held ?? [];
    this.held = null;
    return held;
  }

  end(): void {
    this.ended = true;
    this.held = null;
    this.handle?.unsubscribe();
  }
}
