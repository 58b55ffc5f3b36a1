import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { COMMAND, decodeMessage, END, FAILURE, FrameQueue, REPLY, SUBSCRIBE, UNSUBSCRIBE, UPDATE } from './peer-frames.js';

/** What the server needs to run a forwarded command; `done` answers it exactly once. */
export type PeerHandler = (
  type: string,
  entityId: string,
  command: string,
  input: unknown,
  timeoutMs: number,
  wantReply: boolean,
  /** The forwarding node's span (W3C traceparent) when the command is traced there. */
  traceparent: string | undefined,
  done: (err: { code: string; message: string; owner?: string | null; epoch?: number } | null, value?: unknown) => void,
) => void;

/** A failure as the peer protocol carries it. */
export interface PeerFailureInfo {
  readonly code: string;
  readonly message: string;
  readonly owner?: string | null;
  readonly epoch?: number;
}

/**
 * What the server needs to serve a forwarded subscription: resolves with the function that ends
 * it once established, or rejects with a `PeerFailureInfo`-shaped error.
 */
export type PeerSubscribeHandler = (
  type: string,
  entityId: string,
  options: { readonly events: boolean; readonly state: boolean; readonly fromSequenceNr: number | undefined },
  onUpdate: (kind: 'event' | 'state', n: number, value: unknown) => void,
  onEnd: (err: PeerFailureInfo) => void,
) => Promise<() => void>;

/** The node's internal endpoint: a WebSocket server other nodes forward commands to. */
export class PeerServer {
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  address = '';

  constructor(
    private readonly handler: PeerHandler,
    private readonly subscribeHandler: PeerSubscribeHandler,
  ) {
    this.#http = createServer((_req, res) => {
      res.statusCode = 426;
      res.end();
    });
    this.#wss = new WebSocketServer({ server: this.#http, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
    this.#wss.on('connection', (ws) => this.#serve(ws));
  }

  async listen(host: string, port: number, advertise: string | undefined): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(port, host, () => resolve());
    });
    const a = this.#http.address() as AddressInfo;
    this.address = advertise ?? `ws://${host}:${a.port}`;
    return this.address;
  }

  #serve(ws: WebSocket): void {
    const out = new FrameQueue(
      (data) => {
        if (ws.readyState === ws.OPEN) ws.send(data);
      },
      (frame, err) => [FAILURE, frame[1], 'ENCODE_FAILED', err.message, null, 0],
    );
    // This connection's subscriptions, by id: ended when the subscriber asks or the connection goes.
    const subs = new Map<number, (() => void) | null>();
    ws.on('close', () => {
      for (const end of subs.values()) end?.();
      subs.clear();
    });
    ws.on('message', (data: Buffer) => {
      for (const f of decodeMessage(data)) {
        if (f[0] === SUBSCRIBE) {
          const id = f[1];
          subs.set(id, null);
          this.subscribeHandler(
            f[2],
            f[3],
            { events: f[4], state: f[5], fromSequenceNr: f[6] === 0 ? undefined : f[6] },
            (kind, n, value) => out.push([UPDATE, id, kind, n, value]),
            (err) => {
              if (subs.delete(id)) out.push([END, id, err.code, err.message]);
            },
          ).then(
            (end) => {
              if (!subs.has(id)) return end(); // unsubscribed (or the connection went) meanwhile
              subs.set(id, end);
              out.push([REPLY, id, null]);
            },
            (err: PeerFailureInfo) => {
              subs.delete(id);
              out.push([FAILURE, id, err.code ?? 'INTERNAL_ERROR', err.message ?? String(err), err.owner ?? null, err.epoch ?? 0]);
            },
          );
          continue;
        }
        if (f[0] === UNSUBSCRIBE) {
          const end = subs.get(f[1]);
          subs.delete(f[1]);
          end?.();
          continue;
        }
        if (f[0] !== COMMAND) continue;
        const id = f[1];
        this.handler(f[2], f[3], f[4], f[5], f[6], f[7], f[8], (err, value) => {
          if (err !== null) {
            out.push([FAILURE, id, err.code, err.message, err.owner ?? null, err.epoch ?? 0]);
            return;
          }
          out.push([REPLY, id, value]);
        });
      }
    });
    ws.on('error', () => {});
  }

  close(): Promise<void> {
    for (const c of this.#wss.clients) c.terminate();
    this.#wss.close();
    return new Promise((resolve) => this.#http.close(() => resolve()));
  }
}
