/**
 * The HTTP side of a connection: choosing the subprotocol, and refusing an upgrade with a plain
 * HTTP answer so that a refused client never gets a WebSocket.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { UpgradeRejection } from './errors.js';
import { type FrameFormat, SUBPROTOCOL_BARE, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK } from './protocol.js';

/** The subprotocol to answer with, and the frame format it means. */
export interface Negotiated {
  readonly protocol: string;
  readonly format: FrameFormat;
}

/**
 * Picks the first protocol in the client's list that the gateway speaks (the client states its
 * preference by order, RFC 6455 §4.1). Undefined when it offers none.
 */
export function negotiate(header: string | undefined): Negotiated | undefined {
  if (header === undefined) return undefined;
  for (const raw of header.split(',')) {
    const protocol = raw.trim();
    if (protocol === SUBPROTOCOL_JSON || protocol === SUBPROTOCOL_BARE) return { protocol, format: 'json' };
    if (protocol === SUBPROTOCOL_MSGPACK) return { protocol, format: 'msgpack' };
  }
  return undefined;
}

/** Answers the upgrade request with `rejection.status` and a JSON body `{ code, message }`, then closes the socket. */
export function rejectUpgrade(socket: Duplex, rejection: UpgradeRejection | { status: number; code: string; message: string }): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ code: rejection.code, message: rejection.message });
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${rejection.status} ${STATUS_CODES[rejection.status] ?? ''}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      '\r\n' +
      body,
  );
}
