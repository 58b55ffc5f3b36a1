import type { EntityUpdate, Subscription } from '../entities/subscriptions.js';
import type { RequestId } from './protocol.js';
import { CatchUpTooLargeError } from './errors.js';

/** Where a gateway subscription sends what it receives. @internal */
export interface UpdateSink {
  sendUpdate(sub: GatewaySubscription, update: EntityUpdate): void;
  /** The update as a frame of the connection's format; throws if it cannot be encoded. */
  encodeUpdate(sub: GatewaySubscription, update: EntityUpdate): string | Buffer;
}

/**
 * One client subscription, between the entity runtime and a connection.
 *
 * The runtime delivers the current state (and any catch-up replay) while the subscription is
 * being set up, before `subscribe()` resolves; the protocol promises the `subscribed` frame
 * first. So updates are held until the connection has sent it, then flushed in order. They are
 * held encoded, and no more than `maxHeldBytes` of them: a catch-up from the start of a long
 * history would otherwise sit in memory whole, once per such subscription. Beyond the bound, or
 * if one cannot be encoded, the subscription fails (`failure`) instead of going live.
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
  /** Why it cannot go live (its catch-up was too large, or could not be encoded); null if it can. */
  failure: Error | null = null;
  private held: (string | Buffer)[] | null = [];
  private heldBytes = 0;
  readonly listener: (update: EntityUpdate) => void;

  constructor(
    private readonly sink: UpdateSink,
    readonly id: RequestId,
    readonly events: boolean,
    readonly state: boolean,
    private readonly maxHeldBytes: number,
  ) {
    this.listener = (update) => this.receive(update);
  }

  private receive(update: EntityUpdate): void {
    if (this.ended || this.failure !== null) return;
    if (update.kind === 'state') {
      if (this.version < 0) this.version = update.version;
      if (!this.state) return;
    }
    if (this.held !== null) this.hold(this.held, update);
    else this.sink.sendUpdate(this, update);
  }

  private hold(held: (string | Buffer)[], update: EntityUpdate): void {
    let data: string | Buffer;
    try {
      data = this.sink.encodeUpdate(this, update);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.heldBytes += typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (this.heldBytes > this.maxHeldBytes) {
      this.fail(new CatchUpTooLargeError(this.maxHeldBytes));
      return;
    }
    held.push(data);
  }

  private fail(err: Error): void {
    this.failure = err;
    this.held = [];
    this.heldBytes = 0;
  }

  /** The subscription is acknowledged: returns the frames held meanwhile; from now on updates go straight to the sink. */
  goLive(handle: Subscription): readonly (string | Buffer)[] {
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
