// The load generator of `bench/gateway.ts`, run in a process of its own (forked) so that the
// server under test has its own event loop. Driven over IPC:
//
//   { op: 'load', url, protocol, connections, inflight, entities, warmupMs, durationMs }
//     → { op: 'loaded', requests, seconds, p50, p90, p99, p999, max, errors } (latencies in ms)
//     Each connection keeps `inflight` command frames outstanding; a reply (any frame with the
//     request's id) sends the next one. The frames are the protocol's command frames; the echo
//     baseline sends the same frames back, so the generator does the same work for both.
//   { op: 'idle', url, protocol, connections } → { op: 'opened' }   (opens idle connections)
//   { op: 'close' } → { op: 'closed' }
import type { Socket } from 'node:net';
import WebSocket from 'ws';

type Message =
  | { op: 'load'; url: string; protocol: string; connections: number; inflight: number; entities: number; warmupMs: number; durationMs: number }
  | { op: 'idle'; url: string; protocol: string; connections: number }
  | { op: 'close' };

const send = (msg: object): void => {
  process.send?.(msg);
};

let idle: Conn[] = [];

interface Conn {
  readonly ws: WebSocket;
  readonly socket: Socket;
  corked: boolean;
}

function open(url: string, protocol: string): Promise<Conn> {
  return new Promise((resolve, reject) => {
    // The server's frames are trusted here: validating their UTF-8 would be this process's work,
    // taken from the server under test on the shared cores.
    const ws = new WebSocket(url, [protocol], { perMessageDeflate: false, skipUTF8Validation: true });
    let socket: Socket | undefined;
    ws.once('upgrade', (res) => (socket = res.socket));
    ws.once('open', () => (socket === undefined ? reject(new Error('no upgrade response')) : resolve({ ws, socket, corked: false })));
    ws.once('error', reject);
  });
}

/**
 * The requests a connection sends in one turn of the event loop (one per reply that came in
 * that turn) go out in one write, as the gateway's replies do: without the cork each frame
 * costs this process a system call, and on 2 shared cores that starves the server under test.
 * No request waits longer for it: the cork is released before the next turn.
 */
function uncork(conn: Conn): void {
  conn.corked = false;
  conn.socket.uncork();
}

const ID_KEY = Buffer.from('"id":');
const ERROR_KIND = Buffer.from('{"kind":"error"');

/**
 * The request id of a reply (or echoed command) frame, read off its bytes: every frame the
 * protocol sends starts `{"kind":"…","id":<digits>`, so there is no need to parse all of it.
 * -1 when the frame does not look like that (the caller then parses it).
 */
function frameId(data: Buffer): number {
  const at = data.indexOf(ID_KEY);
  if (at < 0) return -1;
  let n = 0;
  let i = at + ID_KEY.length;
  for (; i < data.length; i++) {
    const c = data[i] as number;
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  return i === at + ID_KEY.length ? -1 : n;
}

async function load(m: Extract<Message, { op: 'load' }>): Promise<void> {
  const sockets = await Promise.all(Array.from({ length: m.connections }, () => open(m.url, m.protocol)));
  const slots = m.inflight;
  // Latencies of the measured window, in a preallocated ring (the newest million).
  const lat = new Float64Array(1 << 20);
  let latN = 0;
  let measuring = false;
  let stopped = false;
  let count = 0;
  let errors = 0;
  let nextEntity = 0;
  const starts = sockets.map(() => new Float64Array(slots));
  const seqs = sockets.map(() => new Float64Array(slots));
  const prefix = '{"kind":"command","id":';
  const entityPart = ',"entity":{"type":"counter","id":"e';
  const suffix = '"},"command":"add","input":{"n":1}}';
  const fire = (c: number, slot: number): void => {
    const seq = (seqs[c] as Float64Array)[slot] as number;
    (seqs[c] as Float64Array)[slot] = seq + 1;
    const id = seq * slots + slot;
    const entity = nextEntity++ % m.entities;
    (starts[c] as Float64Array)[slot] = performance.now();
    const conn = sockets[c] as Conn;
    if (!conn.corked) {
      conn.corked = true;
      conn.socket.cork();
      process.nextTick(uncork, conn);
    }
    conn.ws.send(prefix + id + entityPart + entity + suffix);
  };
  sockets.forEach(({ ws }, c) => {
    ws.on('message', (data: Buffer) => {
      let id = frameId(data);
      if (id < 0 || data.subarray(0, ERROR_KIND.length).equals(ERROR_KIND)) {
        errors++;
        id = Number((JSON.parse(data.toString()) as { id: unknown }).id);
        if (!Number.isInteger(id)) return; // a connection-level error: no request to answer
      }
      const slot = id % slots;
      if (measuring) {
        count++;
        lat[latN++ & (lat.length - 1)] = performance.now() - ((starts[c] as Float64Array)[slot] as number);
      }
      if (!stopped) fire(c, slot);
    });
  });
  for (let c = 0; c < sockets.length; c++) for (let s = 0; s < slots; s++) fire(c, s);
  await new Promise((r) => setTimeout(r, m.warmupMs));
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, m.durationMs));
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  stopped = true;
  const sorted = lat.subarray(0, Math.min(latN, lat.length)).sort();
  const pct = (p: number): number => (sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number));
  // Let the outstanding requests drain before closing, so the server is not left mid-reply.
  await new Promise((r) => setTimeout(r, 200));
  await Promise.all(sockets.map(({ ws }) => new Promise((r) => (ws.once('close', r), ws.close()))));
  send({ op: 'loaded', requests: count, seconds, p50: pct(50), p90: pct(90), p99: pct(99), p999: pct(99.9), max: pct(100), errors });
}

async function openIdle(m: Extract<Message, { op: 'idle' }>): Promise<void> {
  // In waves: 10 k simultaneous handshakes would overflow the listen backlog.
  for (let i = 0; i < m.connections; i += 500) {
    const wave = await Promise.all(Array.from({ length: Math.min(500, m.connections - i) }, () => open(m.url, m.protocol)));
    idle.push(...wave);
  }
  send({ op: 'opened', connections: idle.length });
}

process.on('message', (m: Message) => {
  const run = m.op === 'load' ? load(m) : m.op === 'idle' ? openIdle(m) : closeAll();
  run.catch((err: unknown) => {
    send({ op: 'failed', message: String((err as Error)?.stack ?? err) });
  });
});

async function closeAll(): Promise<void> {
  for (const { ws } of idle) ws.terminate();
  idle = [];
  send({ op: 'closed' });
}
