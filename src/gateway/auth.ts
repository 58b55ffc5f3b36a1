import type { IncomingMessage } from 'node:http';
import { AUTH_SUBPROTOCOL_PREFIX } from './protocol.js';

/**
 * Decides who is connecting, from the HTTP upgrade request, before any WebSocket exists. Return
 * the principal (anything but `undefined`, `null` or `false`) to accept; return nothing to refuse
 * with HTTP 401. A hook that throws refuses with HTTP 500 and is logged.
 */
export type Authenticate<P> = (request: IncomingMessage) => P | undefined | null | false | Promise<P | undefined | null | false>;

/** What a client asks to do, as `authorize` sees it. */
export type AuthorizeRequest =
  | {
      readonly action: 'command';
      readonly entityType: string;
      readonly entityId: string;
      readonly command: string;
      /** The input as received (not yet validated by the command's schema). */
      readonly input: unknown;
    }
  | {
      readonly action: 'subscribe';
      readonly entityType: string;
      readonly entityId: string;
      readonly events: boolean;
      readonly state: boolean;
    };

/**
 * Decides whether `principal` may run a command or subscribe. `false` answers the request with
 * `FORBIDDEN`; a hook that throws (or rejects) answers `INTERNAL_ERROR` and is logged. Return a
 * plain boolean when you can: a promise costs a turn of the event loop per request.
 */
export type Authorize<P> = (principal: P, request: AuthorizeRequest) => boolean | Promise<boolean>;

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * The token a client presented, for `authenticate` hooks, looked for in this order:
 * 1. `Authorization: Bearer <token>` (Node clients; browsers cannot set headers on a WebSocket),
 * 2. a `beamstate.auth.<base64url(token)>` entry in `Sec-WebSocket-Protocol` (what the
 *    beamstate client does in browsers),
 * 3. a `token` query parameter (works everywhere, but URLs end up in logs and proxies).
 */
export function requestToken(request: IncomingMessage): string | undefined {
  const auth = request.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m !== null) return m[1];
  }
  const protocols = request.headers['sec-websocket-protocol'];
  if (typeof protocols === 'string') {
    for (const p of protocols.split(',')) {
      const entry = p.trim();
      if (!entry.startsWith(AUTH_SUBPROTOCOL_PREFIX)) continue;
      const encoded = entry.slice(AUTH_SUBPROTOCOL_PREFIX.length);
      if (BASE64URL.test(encoded)) return Buffer.from(encoded, 'base64url').toString('utf8');
    }
  }
  const url = request.url;
  if (url !== undefined) {
    const q = url.indexOf('?');
    if (q >= 0) {
      const token = new URLSearchParams(url.slice(q + 1)).get('token');
      if (token !== null && token !== '') return token;
    }
  }
  return undefined;
}
