// Durable timers across a real kill -9 and restart: a child process with an entity runtime on a
// real store (PostgreSQL with DATABASE_URL, else a PGlite data folder) and the real clock is
// killed with SIGKILL, a second one is started on the same store, and the timer fires once,
// within a bound. Waits are bounded loops on real time (these are real restarts).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createStore, silentLogger, type Store } from '../../src/index.js';
import { DATABASE_URL, uniqueName } from '../persistence/support.js';

const childScript = fileURLToPath(new URL('./fixtures/timer-child.ts', import.meta.url));
const POLL_MS = 200;
const LEASE_MS = 3000;
/** Start-up of a child (tsx, the store, migrations) on a busy 2-core machine is not counted against the bounds below; this is. */
const SLACK_MS = 2500;

/** One schema per test (PostgreSQL) or one data folder (PGlite): a fresh store each. */
const schemas: string[] = [];
const folders: string[] = [];
const children: ChildProcess[] = [];

function storeConfig(dataDir: string): { url: string; schema: string } | { dataDir: string } {
  return DATABASE_URL !== undefined ? { url: DATABASE_URL, schema: schemaFor(dataDir) } : { dataDir };
}

function schemaFor(dataDir: string): string {
  return schemas[folders.findIndex((f) => dataDir.startsWith(f))] as string;
}

function openParentStore(dataDir: string): Promise<Store> {
  return DATABASE_URL !== undefined
    ? createStore({ kind: 'postgres', connectionString: DATABASE_URL, schema: schemaFor(dataDir), logger: silentLogger })
    : // Not fsynced: a kill -9 leaves the OS's page cache, so what was written survives it.
      createStore({ kind: 'pglite', dataDir, durability: 'process', logger: silentLogger });
}

interface Child {
  readonly proc: ChildProcess;
  readonly lines: Record<string, unknown>[];
  /** Resolves with the first line that has `key`, or rejects after `ms` of real time (or if the child exits). */
  waitFor(key: string, ms: number): Promise<Record<string, unknown>>;
  kill9(): Promise<void>;
}

function startChild(config: Record<string, unknown>): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', childScript, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  const lines: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  let buffered = '';
  let exited = false;
  proc.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const p of parts) if (p.trim() !== '') lines.push(JSON.parse(p) as Record<string, unknown>);
    for (const w of waiters.splice(0)) w();
  });
  const exit = new Promise<void>((resolve) =>
    proc.once('exit', () => {
      exited = true;
      for (const w of waiters.splice(0)) w();
      resolve();
    }),
  );
  return {
    proc,
    lines,
    async waitFor(key, ms) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = lines.find((l) => key in l);
        if (found !== undefined) return found;
        if (exited) throw new Error(`the child exited before it said ${key}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`the child did not say ${key} within ${ms} ms`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
    async kill9() {
      if (!exited) proc.kill('SIGKILL');
      await exit;
    },
  };
}

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

afterAll(async () => {
  for (const f of folders) rmSync(f, { recursive: true, force: true });
  if (DATABASE_URL !== undefined) {
    const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
});

function freshFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bs-timers-'));
  folders.push(dir);
  schemas.push(uniqueName('bst_timers_kill'));
  return join(dir, 'pglite');
}

async function firedEvents(dataDir: string): Promise<{ fired: string[]; timers: number }> {
  const store = await openParentStore(dataDir);
  try {
    const events = await store.journal.read('wake|e1');
    return { fired: events.filter((e) => e.type === 'Fired').map((e) => (e.payload as { deliveryId: string }).deliveryId), timers: (await store.timers.list('wake|e1')).length };
  } finally {
    await store.close();
  }
}

describe(`durable timers across kill -9 (${DATABASE_URL !== undefined ? 'PostgreSQL' : 'PGlite folder'})`, () => {
  it('a timer scheduled before the process was killed fires once after the restart, soon after its time', async () => {
    const dataDir = freshFolder();
    const base = { store: storeConfig(dataDir), leaseMs: LEASE_MS, pollIntervalMs: POLL_MS };
    const first = startChild({ ...base, scheduleAfterMs: 1500 });
    const { scheduled } = (await first.waitFor('scheduled', 45_000)) as { scheduled: number };
    await first.kill9();
    expect(first.lines.some((l) => 'fired' in l)).toBe(false);

    const second = startChild(base);
    await second.waitFor('ready', 45_000);
    const readyAt = Date.now();
    const { fired, at } = (await second.waitFor('fired', 45_000)) as { fired: string; at: number };
    expect(at).toBeGreaterThanOrEqual(scheduled);
    // Within a bound: its time (or the restart, if later) plus one poll interval, plus slack for a busy machine.
    expect(at - Math.max(scheduled, readyAt)).toBeLessThanOrEqual(POLL_MS + SLACK_MS);
    await second.kill9();
    // Once: one Fired event, and the timer is gone (completed in that command's own write), so nothing can fire it again.
    expect(await firedEvents(dataDir)).toEqual({ fired: [fired], timers: 0 });
  }, 120_000);

  // Two more PGlite-folder processes would take this file past a minute on a busy machine: this one runs on PostgreSQL only (DATABASE_URL, as in CI).
  it.skipIf(DATABASE_URL === undefined)('a timer whose delivery was under way when the process was killed is delivered again, with the same delivery id, once its lease ends', async () => {
    const dataDir = freshFolder();
    const base = { store: storeConfig(dataDir), leaseMs: LEASE_MS, pollIntervalMs: POLL_MS };
    const first = startChild({ ...base, scheduleAfterMs: 300, hang: true });
    const { delivering } = (await first.waitFor('delivering', 45_000)) as { delivering: string };
    await first.kill9();
    // The claim is held by the dead process until the lease ends.
    const store = await openParentStore(dataDir);
    const [held] = await store.timers.list('wake|e1');
    await store.close();
    expect(held).toMatchObject({ name: 'alarm', claimed: true, attempts: 0 });
    const leaseEnd = (held as { fireAt: number }).fireAt;

    const second = startChild(base);
    await second.waitFor('ready', 45_000);
    const readyAt = Date.now();
    const { fired, at } = (await second.waitFor('fired', 45_000)) as { fired: string; at: number };
    expect(fired).toBe(delivering);
    expect(at).toBeGreaterThanOrEqual(leaseEnd);
    // A poll after the lease ends (or after the restart, if later), plus slack for a busy machine.
    expect(at - Math.max(leaseEnd, readyAt)).toBeLessThanOrEqual(POLL_MS + SLACK_MS);
    await second.kill9();
    expect(await firedEvents(dataDir)).toEqual({ fired: [fired], timers: 0 });
  }, 120_000);
});
