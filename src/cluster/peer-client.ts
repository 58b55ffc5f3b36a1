import WebSocket from 'ws';
import { BeamstateError } from '../errors.js';
import { ClusterUnavailableError, NotShardOwnerError } from './errors.js';
import { COMMAND, decodeMessage, END, FAILURE, FrameQueue, type PeerFrame, REPLY, SUBSCRIBE, UNSUBSCRIBE, UPDATE } from './peer-frames.js';

/** The request never reached the peer (no connection): safe to send again elsewhere. */
export class PeerUnreachableError extends ClusterUnavailableError {}

interface RemoteSubscriber {
  onUpdate(kind: 'event' | 'state', n: number, value: unknown): void;
  onEnd(err: Error): void;
}

interface Waiter {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * One WebSocket to one peer's internal endpoint, opened on first use, requests multiplexed by
 * id. A connection lost with requests in flight fails them with `CLUSTER_UNAVAILABLE` (outcome
 * unknown: they may have run), never with something a router would retry.
 */
export class PeerConnection {
  #ws: WebSocket | null = null;
  #out: FrameQueue | null = null;
  #open: Promise<WebSocket> | null = null;
  #nextId = 1;
  readonly #waiting = new Map<number, Waiter>();
  /** Established remote subscriptions, by id: their updates and their end. */
  readonly #subs = new Map<number, RemoteSubscriber>();
  #closed = false;

  constructor(readonly address: string) {}

  request(type: string, entityId: string, command: string, input: unknown, timeoutMs: number, wantReply: boolean, traceparent?: string): Promise<unknown> {
    return this.#connect().then((ws) => {
      const id = this.#nextId++;
      const out = this.#out as FrameQueue;
      return new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#waiting.delete(id);
          reject(new ClusterUnavailableError(`no answer from ${this.address} within ${timeoutMs} ms for ${type}/${entityId} ${command}; it may have run`));
        }, timeoutMs + 1000);
        this.#waiting.set(id, { resolve, reject, timer });
        if (ws.readyState !== WebSocket.OPEN) {
          this.#waiting.delete(id);
          clearTimeout(timer);
          reject(new PeerUnreachableError(`the connection to peer ${this.address} is not open`));
          return;
        }
        const t = Math.max(1, Math.floor(timeoutMs));
        out.push(traceparent === undefined ? [COMMAND, id, type, entityId, command, input, t, wantReply] : [COMMAND, id, type, entityId, command, input, t, wantReply, traceparent]);
      });
    });
  }

  /**
   * Subscribes at the peer; resolves once established, with the function that ends it. Its
   * updates go to `onUpdate`; `onEnd` is told once if the peer ends it or the connection is lost.
   */
  subscribe(
    type: string,
    entityId: string,
    options: { readonly events: boolean; readonly state: boolean; readonly fromSequenceNr: number | undefined },
    timeoutMs: number,
    onUpdate: (kind: 'event' | 'state', n: number, value: unknown) => void,
    onEnd: (err: Error) => void,
  ): Promise<() => void> {
    return this.#connect().then((ws) => {
      const id = this.#nextId++;
      const out = this.#out as FrameQueue;
      this.#subs.set(id, { onUpdate, onEnd });
      return new Promise<() => void>((resolve, reject) => {
        const fail = (err: Error): void => {
          this.#subs.delete(id);
          reject(err);
        };
        const timer = setTimeout(() => {
          this.#waiting.delete(id);
          this.#subs.delete(id);
          out.push([UNSUBSCRIBE, id]);
          reject(new ClusterUnavailableError(`no answer from ${this.address} within ${timeoutMs} ms to a subscription to ${type}/${entityId}`));
        }, timeoutMs);
        this.#waiting.set(id, {
          resolve: () =>
            resolve(() => {
              if (this.#subs.delete(id)) out.push([UNSUBSCRIBE, id]);
            }),
          reject: fail,
          timer,
        });
        if (ws.readyState !== WebSocket.OPEN) {
          this.#waiting.delete(id);
          clearTimeout(timer);
          fail(new PeerUnreachableError(`the connection to peer ${this.address} is not open`));
          return;
        }
        out.push([SUBSCRIBE, id, type, entityId, options.events, options.state, options.fromSequenceNr ?? 0]);
      });
    });
  }

  #connect(): Promise<WebSocket> {
    if (this.#ws !== null && this.#ws.readyState === WebSocket.OPEN) return Promise.resolve(this.#ws);
    if (this.#open !== null) return this.#open;
    if (this.#closed) return Promise.reject(new PeerUnreachableError(`peer connection to ${this.address} is closed`));
    this.#open = new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(this.address, { perMessageDeflate: false, handshakeTimeout: 2000 });
      ws.binaryType = 'nodebuffer';
      ws.once('open', () => {
        this.#ws = ws;
        this.#out = new FrameQueue((data) => {
          if (ws.readyState === WebSocket.OPEN) ws.send(data);
        });
        this.#open = null;
        resolve(ws);
      });
      ws.on('message', (data: Buffer) => {
        for (const f of decodeMessage(data)) this.#onFrame(f);
      });
      ws.once('error', (err) => {
        if (this.#ws !== ws) {
          this.#open = null;
          reject(new PeerUnreachableError(`cannot reach peer ${this.address}: ${err.message}`, { cause: err }));
        }
      });
      ws.once('close', () => {
        if (this.#ws === ws) this.#ws = null;
        if (this.#open !== null) {
          this.#open = null;
          reject(new PeerUnreachableError(`peer ${this.address} closed the connection before it opened`));
        }
        this.#failAll(new ClusterUnavailableError(`the connection to peer ${this.address} was lost; a command in flight may have run`));
      });
    });
    return this.#open;
  }

  #onFrame(frame: PeerFrame | undefined): void {
    if (frame === undefined || frame[0] === COMMAND || frame[0] === SUBSCRIBE || frame[0] === UNSUBSCRIBE) return;
    if (frame[0] === UPDATE) {
      this.#subs.get(frame[1])?.onUpdate(frame[2], frame[3], frame[4]);
      return;
    }
    if (frame[0] === END) {
      const sub = this.#subs.get(frame[1]);
      this.#subs.delete(frame[1]);
      const err = new BeamstateError(frame[2], frame[3]);
      const w = this.#waiting.get(frame[1]);
      if (w !== undefined) {
        // Ended before it was established: the subscribe fails instead.
        this.#waiting.delete(frame[1]);
        clearTimeout(w.timer);
        w.reject(err);
        return;
      }
      sub?.onEnd(err);
      return;
    }
    const w = this.#waiting.get(frame[1]);
    if (w === undefined) return;
    this.#waiting.delete(frame[1]);
    clearTimeout(w.timer);
    if (frame[0] === REPLY) {
      w.resolve(frame[2]);
      return;
    }
    const [, , code, message, owner, epoch] = frame;
    if (code === 'NOT_SHARD_OWNER') w.reject(new NotShardOwnerError(-1, owner, epoch));
    else w.reject(new BeamstateError(code, message));
  }

  #failAll(err: Error): void {
    for (const [id, sub] of this.#subs) {
      if (this.#waiting.has(id)) continue; // not established: its waiter is failed below
      this.#subs.delete(id);
      sub.onEnd(err);
    }
    for (const [id, w] of this.#waiting) {
      this.#waiting.delete(id);
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  close(): void {
    this.#closed = true;
    this.#ws?.close();
    this.#failAll(new ClusterUnavailableError(`the peer connection to ${this.address} was closed`));
  }
}
