// Real node processes on loopback sharing one PostgreSQL schema; the checks every scenario ends
// with, read from the database.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const DATABASE_URL = process.env.DATABASE_URL;
const NODE = fileURLToPath(new URL('./fixtures/node-process.ts', import.meta.url));

/** Lease settings of the test clusters: short, so that a take-over happens within a test. */
export const FAST = { shards: 32, leaseMs: 1500, tickMs: 200, guardMs: 500, deadAfterMs: 1500 };

export interface NodeProc {
  readonly nodeId: string;
  readonly gateway: string;
  readonly address: string;
  readonly child: ChildProcess;
  /** Resolves with the next JSON line that has `key`. */
  next<T>(key: string): Promise<T>;
  send(line: string): void;
  readonly exited: Promise<number | null>;
}

export async function startNode(schema: string, nodeId: string, settings: typeof FAST & { peerPort?: number; advertise?: string } = FAST): Promise<NodeProc> {
  const child = spawn(process.execPath, ['--import', 'tsx', NODE, JSON.stringify({ url: DATABASE_URL, schema, nodeId, ...settings })], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiters: { key: string; resolve: (v: never) => void }[] = [];
  const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  rl.on('line', (line) => {
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const i = waiters.findIndex((w) => w.key in v);
    if (i >= 0) {
      const [w] = waiters.splice(i, 1);
      w?.resolve((w.key === 'ready' ? v : v[w.key]) as never);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const next = <T>(key: string): Promise<T> =>
    Promise.race([
      new Promise<T>((resolve) => waiters.push({ key, resolve: resolve as (v: never) => void })),
      exited.then((code) => {
        throw new Error(`node ${nodeId} exited (${String(code)}) before "${key}"`);
      }),
    ]);
  const ready = await next<{ gateway: string; address: string }>('ready');
  return {
    nodeId,
    gateway: ready.gateway,
    address: ready.address,
    child,
    next,
    send: (line) => child.stdin?.write(`${line}\n`),
    exited,
  };
}

export async function withSchema(prefix: string): Promise<{ schema: string; pool: pg.Pool; drop(): Promise<void> }> {
  const schema = `${prefix}_${process.pid}_${Date.now().toString(36)}`;
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  await pool.query(`CREATE SCHEMA "${schema}"`);
  return {
    schema,
    pool,
    async drop() {
      await pool.query(`DROP SCHEMA "${schema}" CASCADE`).catch(() => {});
      await pool.end();
    },
  };
}

export interface JournalCheck {
  /** Events per token (a token written twice is a duplicate). */
  readonly tokens: Map<string, number>;
  readonly events: number;
  /** Entities whose sequence numbers are not 1..n. */
  readonly gaps: string[];
  /** Entities where an event was written under a lower epoch than one before it (a stale owner wrote). */
  readonly staleWrites: string[];
  /** Per (entity, epoch): the nodes that wrote under it (more than one: two owners at one epoch). */
  readonly sharedEpochs: string[];
  /** Events each node wrote after `since` (written_at, ms). */
  writtenBy(node: string, since: number): number;
}

/** Reads the whole journal back and checks it. */
export async function checkJournal(pool: pg.Pool, schema: string): Promise<JournalCheck> {
  const { Unpackr } = await import('msgpackr');
  const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
  const r = await pool.query(`SELECT persistence_id, sequence_nr, payload, written_at FROM "${schema}".beamstate_journal ORDER BY persistence_id, sequence_nr`);
  const tokens = new Map<string, number>();
  const gaps: string[] = [];
  const staleWrites: string[] = [];
  const epochNodes = new Map<string, Set<string>>();
  const rows: { node: string; at: number }[] = [];
  let pid = '';
  let expect = 1;
  let maxEpoch = -1;
  for (const row of r.rows as { persistence_id: string; sequence_nr: string; payload: Buffer; written_at: string }[]) {
    if (row.persistence_id !== pid) {
      pid = row.persistence_id;
      expect = 1;
      maxEpoch = -1;
    }
    const seq = Number(row.sequence_nr);
    if (seq !== expect && !gaps.includes(pid)) gaps.push(pid);
    expect = seq + 1;
    const e = unpackr.unpack(row.payload) as { token: string; node: string; epoch: number };
    tokens.set(e.token, (tokens.get(e.token) ?? 0) + 1);
    if (e.epoch < maxEpoch && !staleWrites.includes(pid)) staleWrites.push(pid);
    maxEpoch = Math.max(maxEpoch, e.epoch);
    const k = `${pid}@${e.epoch}`;
    let set = epochNodes.get(k);
    if (set === undefined) epochNodes.set(k, (set = new Set()));
    set.add(e.node);
    rows.push({ node: e.node, at: Number(row.written_at) });
  }
  return {
    tokens,
    events: r.rows.length,
    gaps,
    staleWrites,
    sharedEpochs: [...epochNodes].filter(([, s]) => s.size > 1).map(([k]) => k),
    writtenBy: (node, since) => rows.filter((x) => x.node === node && x.at > since).length,
  };
}

/** Stops what is still running (SIGKILL: the tests' own processes only). */
export function killAll(nodes: readonly NodeProc[]): void {
  for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
}

export interface Load {
  /** Tokens whose command was acknowledged (answered with success). */
  readonly acked: Set<string>;
  readonly failed: Map<string, number>;
  /** Entity → time (performance.now()) of its latest acknowledgement. */
  readonly lastAck: Map<string, number>;
  stop(): Promise<void>;
}

/**
 * Commands over the gateways, round-robin over `clients` and `entities`, `concurrency` at a time,
 * until stopped or `maxCommands` were sent (bounded either way). Never retried: a failed command
 * is only counted, so an acknowledged one was acknowledged exactly once.
 */
export function runLoad(
  clients: readonly { ask(type: string, id: string, command: string, input?: unknown, options?: { timeout?: number }): Promise<unknown> }[],
  entities: readonly string[],
  { concurrency = 8, maxCommands = 20_000, tokenPrefix = 't' } = {},
): Load {
  const acked = new Set<string>();
  const failed = new Map<string, number>();
  const lastAck = new Map<string, number>();
  let stopped = false;
  let sent = 0;
  const worker = async (w: number): Promise<void> => {
    while (!stopped && sent < maxCommands) {
      const k = sent++;
      const client = clients[(k + w) % clients.length] as (typeof clients)[number];
      const entity = entities[k % entities.length] as string;
      const token = `${tokenPrefix}${k}`;
      try {
        await client.ask('counter', entity, 'add', { token }, { timeout: 10_000 });
        acked.add(token);
        lastAck.set(entity, performance.now());
      } catch (err) {
        const code = String((err as { code?: string }).code ?? 'ERROR');
        failed.set(code, (failed.get(code) ?? 0) + 1);
      }
    }
  };
  const workers = Array.from({ length: concurrency }, (_, w) => worker(w));
  return {
    acked,
    failed,
    lastAck,
    async stop() {
      stopped = true;
      await Promise.all(workers);
    },
  };
}

/** Polls `check` every 50 ms until it holds, or fails after `ms` (a bounded wait on a condition). */
export async function until(what: string, ms: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const end = performance.now() + ms;
  for (;;) {
    if (await check()) return;
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Live shard owners from the table: owner → count. */
export async function owners(pool: pg.Pool, schema: string): Promise<Map<string, number>> {
  const r = await pool.query(`SELECT owner, count(*)::int AS n FROM "${schema}".beamstate_cluster_shards WHERE owner IS NOT NULL AND lease_until > now() GROUP BY owner`);
  return new Map(r.rows.map((row: { owner: string; n: number }) => [row.owner, row.n]));
}

/** Every acknowledged token is in the journal exactly once, and nothing is there twice. */
export function expectSound(check: JournalCheck, acked: ReadonlySet<string>): { lost: string[]; duplicated: string[] } {
  const lost = [...acked].filter((t) => !check.tokens.has(t));
  const duplicated = [...check.tokens].filter(([, n]) => n > 1).map(([t]) => t);
  return { lost, duplicated };
}
