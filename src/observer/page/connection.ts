// The page's side of the observer channel: one WebSocket, reconnecting, with request/reply by ref.
import { type ClientFrame, OBSERVER_SUBPROTOCOL, type ServerFrame, type Update } from '../protocol.js';

export type Status = 'connecting' | 'open' | 'closed' | 'refused';

export interface Handlers {
  status(s: Status, detail?: string): void;
  hello(actions: boolean, system: string): void;
  update(u: Update): void;
}

type Reply = Extract<ServerFrame, { type: 'reply' }>;

/** The token to watch with: `?token=` or `#token=` in the page's URL. */
function token(): string | undefined {
  const fromQuery = new URLSearchParams(location.search).get('token');
  if (fromQuery !== null && fromQuery !== '') return fromQuery;
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  return fromHash !== null && fromHash !== '' ? fromHash : undefined;
}

function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export class Channel {
  private ws: WebSocket | null = null;
  private nextRef = 1;
  private readonly pending = new Map<number, (r: Reply) => void>();
  private watch: Extract<ClientFrame, { op: 'watch' }> = { op: 'watch' };
  private retryMs = 500;

  constructor(
    private readonly path: string,
    private readonly on: Handlers,
  ) {
    this.connect();
  }

  private connect(): void {
    const t = token();
    const protocols = t === undefined ? [OBSERVER_SUBPROTOCOL] : [OBSERVER_SUBPROTOCOL, `beamstate.auth.${base64url(t)}`];
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}${this.path}/ws`, protocols);
    this.ws = ws;
    this.on.status('connecting');
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.retryMs = 500;
      this.on.status('open');
      ws.send(JSON.stringify(this.watch));
    };
    ws.onmessage = (ev: MessageEvent<string>) => {
      const f = JSON.parse(ev.data) as ServerFrame;
      if (f.type === 'hello') this.on.hello(f.actions, f.system);
      else if (f.type === 'update') this.on.update(f);
      else if (f.type === 'reply') {
        const done = this.pending.get(f.ref);
        this.pending.delete(f.ref);
        done?.(f);
      }
    };
    ws.onclose = () => {
      for (const [ref, done] of this.pending) done({ type: 'reply', ref, ok: false, error: { code: 'CONNECTION_LOST', message: 'the connection closed' } });
      this.pending.clear();
      // Refused at the upgrade (401, 503): say so, and try again more slowly.
      this.on.status(opened ? 'closed' : 'refused', opened ? undefined : 'the server refused the connection (authentication?)');
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    };
  }

  /** Changes what the table shows; kept for reconnects. */
  setWatch(w: Extract<ClientFrame, { op: 'watch' }>): void {
    this.watch = w;
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(w));
  }

  request(frame: Record<string, unknown>): Promise<Reply> {
    const ref = this.nextRef++;
    return new Promise((resolve) => {
      if (this.ws?.readyState !== WebSocket.OPEN) {
        resolve({ type: 'reply', ref, ok: false, error: { code: 'NOT_CONNECTED', message: 'not connected' } });
        return;
      }
      this.pending.set(ref, resolve);
      this.ws.send(JSON.stringify({ ...frame, ref }));
    });
  }
}
