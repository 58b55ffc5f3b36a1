import type { ActorRef } from '../actors/ref.js';

/**
 * The admin calls a supervisor actor answers, sent as asks by the supervisor refs so they are
 * serialized with its exit handling (as OTP's `gen_server:call`s to a supervisor).
 * @internal
 */
export type Call =
  /** Static: `spec` is a child spec. Dynamic: `spec` is the argument list. */
  | { readonly op: 'start-child'; readonly spec: unknown }
  | { readonly op: 'terminate-child'; readonly child: string | ActorRef }
  | { readonly op: 'restart-child'; readonly id: string }
  | { readonly op: 'delete-child'; readonly id: string }
  | { readonly op: 'get-child-spec'; readonly id: string }
  | { readonly op: 'which-children' }
  | { readonly op: 'count-children' };

/**
 * A pending restart comes due (OTP's `{try_again_restart, Id}` cast, or a backoff timer). It is
 * stale unless the child is still restarting with the same token.
 * @internal
 */
export class RetryRestart<Child> {
  constructor(
    readonly child: Child,
    readonly token: number,
  ) {}
}
