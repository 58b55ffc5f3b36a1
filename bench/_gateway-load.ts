// The load generator of `bench/gateway.ts`, run in a process of its own (forked) so that the
// server under test has its own event loop. Open loop (bench/_open-loop.ts): requests leave on a
// fixed schedule, spread round-robin over the connections, and each latency is measured from the
// request's scheduled send time. Driven over IPC:
//
//   { op: 'connect', url, protocol, connections } → { op: 'connected' }
//   { op: 'trial', rate, warmupMs, durationMs, entities } → { op: 'trial', result: TrialResult }
//     Request seq goes to connection seq % connections, as a `command` frame (`add` to entity
//     e<seq % entities>). The echo baseline sends the same frames back, so the generator does the
//     same work for both. result.cpuMs is this process's CPU over the measured window.
//     Optional `entityType`, `command` and `input` (JSON text) change the frame (bench/proxy.ts:
//     a Kalix service's method); the default is counter / add / {"n":1}.
//   { op: 'disconnect' } → { op: 'disconnected' }
//   { op: 'idle', url, protocol, connections } → { op: 'opened' }   (opens idle connections)
//   { op: 'close' } → { op: 'closed' }                                (closes them)
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { openLoop, type OpenLoopRun } from './_open-loop.js';

type Message =
  | { op: 'connect'; url: string; protocol: string; connections: number }
  | { op: 'trial'; rate: number; warmupMs: number; durationMs: number; entities: number; entityType?: string; command?: string; input?: string }
  | { op: 'disconnect' }
  | { op: 'idle'; url: string; protocol: string; connections: number }
  | { op: 'close' };

const send = (msg: object): void => {
  process.send?.(msg);
};

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

let conns: Conn[] = [];
let idle: Conn[] = [];
/** The running trial, and the request id its seq 0 has: ids only grow, so no id is ever reused. */
let run: OpenLoopRun | undefined;
let base = 0;
let nextBase = 0;
/** Requests sent and not answered, over all trials (a new trial waits for earlier ones' answers). */
let outstanding = 0;
let errors = 0;

function onReply(data: Buffer): void {
  let id = frameId(data);
  const failed = id < 0 || data.subarray(0, ERROR_KIND.length).equals(ERROR_KIND);
  if (failed) {
    errors++;
    id = Number((JSON.parse(data.toString()) as { id: unknown }).id);
    if (!Number.isInteger(id)) {
      process.stderr.write(`load generator: connection-level error ${data.toString().slice(0, 300)}\n`);
      return;
    }
    if (errors === 1) process.stderr.write(`load generator: first error of this trial: ${data.toString().slice(0, 300)}\n`);
  }
  outstanding--;
  run?.complete(id - base, failed);
}

async function connect(m: Extract<Message, { op: 'connect' }>): Promise<void> {
  conns = await Promise.all(Array.from({ length: m.connections }, () => open(m.url, m.protocol)));
  for (const { ws } of conns) ws.on('message', onReply);
  send({ op: 'connected' });
}

async function trial(m: Extract<Message, { op: 'trial' }>): Promise<void> {
  // The answers to an earlier (overloaded) trial would be load on this one: let them arrive.
  for (let waited = 0; outstanding > 0 && waited < 30_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
  const n = conns.length;
  const prefix = '{"kind":"command","id":';
  const entityPart = `,"entity":{"type":${JSON.stringify(m.entityType ?? 'counter')},"id":"e`;
  const suffix = `"},"command":${JSON.stringify(m.command ?? 'add')},"input":${m.input ?? '{"n":1}'}}`;
  base = nextBase;
  errors = 0;
  const corked: Conn[] = [];
  const r = openLoop(
    {
      send(seq) {
        const conn = conns[seq % n] as Conn;
        // The requests a connection sends in one tick leave in one write, as the gateway's
        // replies do: a system call per frame would be this process's CPU, taken from the
        // server under test on the shared cores. No request waits for it: flush() runs in the
        // same tick.
        if (!conn.corked) {
          conn.corked = true;
          conn.socket.cork();
          corked.push(conn);
        }
        outstanding++;
        conn.ws.send(prefix + (base + seq) + entityPart + (seq % m.entities) + suffix);
      },
      flush() {
        for (const conn of corked) {
          conn.corked = false;
          conn.socket.uncork();
        }
        corked.length = 0;
      },
    },
    // The gateway refuses more than limits.maxInFlight (1024) requests per connection: stop the
    // schedule below that (the trial then fails as overloaded) rather than provoke refusals.
    { rate: m.rate, warmupMs: m.warmupMs, durationMs: m.durationMs, maxOutstanding: n * 1000 },
  );
  run = r;
  nextBase = base + Math.ceil(((m.warmupMs + m.durationMs) * m.rate) / 1000) + 1;
  const result = await r.result;
  run = undefined;
  send({ op: 'trial', result });
}

async function disconnect(): Promise<void> {
  await Promise.all(conns.map(({ ws }) => new Promise((r) => (ws.once('close', r), ws.close()))));
  conns = [];
  outstanding = 0;
  send({ op: 'disconnected' });
}

async function openIdle(m: Extract<Message, { op: 'idle' }>): Promise<void> {
  // In waves: 10 k simultaneous handshakes would overflow the listen backlog.
  for (let i = 0; i < m.connections; i += 500) {
    const wave = await Promise.all(Array.from({ length: Math.min(500, m.connections - i) }, () => open(m.url, m.protocol)));
    idle.push(...wave);
  }
  send({ op: 'opened', connections: idle.length });
}

async function closeIdle(): Promise<void> {
  for (const { ws } of idle) ws.terminate();
  idle = [];
  send({ op: 'closed' });
}

process.on('message', (m: Message) => {
  const step =
    m.op === 'connect' ? connect(m) : m.op === 'trial' ? trial(m) : m.op === 'disconnect' ? disconnect() : m.op === 'idle' ? openIdle(m) : closeIdle();
  step.catch((err: unknown) => {
    send({ op: 'failed', message: String((err as Error)?.stack ?? err) });
  });
});
