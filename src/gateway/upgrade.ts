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

/**
 * Reads an upgrade's socket while the gateway waits to answer it. Node does not read an
 * upgrade's socket by itself, so a client that hangs up would go unnoticed; reading makes the
 * end of the stream visible (`onHangUp`). A client sends nothing before the 101 (RFC 6455 §4.1);
 * what it sends anyway is kept for the WebSocket, up to `maxBytes` in all: the bytes that came
 * with the upgrade request (`head`, the rest of the read that ended the request's headers)
 * count, and so does whatever the socket had buffered already (it is emitted as 'data' once
 * this reader listens). Beyond the bound the reader stops and calls `onOverflow`, at once (from
 * the constructor) if `head` alone exceeds it.
 */
export class EarlyReader {
  private readonly chunks: Buffer[];
  private bytes: number;
  private listening = true;
  private readonly onData = (chunk: Buffer): void => {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) this.overflow();
    else this.chunks.push(chunk);
  };

  constructor(
    private readonly socket: Duplex,
    head: Buffer,
    private readonly maxBytes: number,
    private readonly onHangUp: () => void,
    private readonly onOverflow: (bytes: number) => void,
  ) {
    this.chunks = head.length === 0 ? [] : [head];
    this.bytes = head.length;
    socket.on('data', this.onData);
    socket.once('end', onHangUp);
    if (this.bytes > maxBytes) this.overflow();
  }

  /** Stops reading and pauses the socket (whoever takes it resumes it); returns every byte kept, `head` first. */
  stop(): Buffer {
    this.unlisten();
    this.socket.pause();
    const chunks = this.chunks;
    return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  }

  private unlisten(): void {
    if (!this.listening) return;
    this.listening = false;
    this.socket.removeListener('data', this.onData);
    this.socket.removeListener('end', this.onHangUp);
  }

  private overflow(): void {
    this.unlisten();
    this.chunks.length = 0;
    this.onOverflow(this.bytes);
  }
}
