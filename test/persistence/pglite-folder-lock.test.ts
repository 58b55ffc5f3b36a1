// Issue 13 item 10: two processes on one PGlite data folder both started and lost acknowledged
// events. Real processes, a real kill -9: the second opener fails at once while the first lives;
// after the first is killed its lock is stale and a new opener gets the folder with every
// acknowledged event; a clean close releases the folder.
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createStore, StoreLockedError } from '../../src/persistence/index.js';
import { isBeamstateError } from '../../src/errors.js';

const script = fileURLToPath(new URL('./fixtures/pglite-folder-process.ts', import.meta.url));

interface Child {
  readonly proc: ChildProcessWithoutNullStreams;
  /** The next JSON line the child prints. */
  next(): Promise<Record<string, unknown>>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(...args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: 'pipe' });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    exited,
    async next() {
      const r = await lines.next();
      if (r.done === true) throw new Error(`the child printed nothing more (exit ${JSON.stringify(await exited)}): ${stderr}`);
      return JSON.parse(r.value) as Record<string, unknown>;
    },
  };
}

describe('a PGlite data folder belongs to one process', () => {
  const root = mkdtempSync(join(tmpdir(), 'beamstate-lock-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('a second process fails at once while the first lives; after kill -9 the next opener has every acknowledged event; a clean close releases', async () => {
    const dataDir = join(root, 'db');
    const lockFile = `${dataDir}.lock`;

    const first = start('hold', dataDir, 'acct-1', '5');
    try {
      expect(await first.next()).toEqual({ ready: true, pid: first.proc.pid, highest: 5 });

      // The case: a second process on the same folder, writing to the same entity.
      const second = start('hold', dataDir, 'acct-1', '5');
      const refused = await second.next();
      expect(refused.code).toBe('STORE_LOCKED');
      expect(refused.holderPid).toBe(first.proc.pid);
      expect(refused.dataDir).toBe(dataDir);
      expect(String(refused.message)).toContain(dataDir);
      expect(String(refused.message)).toContain(`process ${first.proc.pid}`);
      expect((await second.exited).code).toBe(0);
    } finally {
      first.proc.kill('SIGKILL');
    }
    expect((await first.exited).signal).toBe('SIGKILL');
    // The killed process could not release its lock: the file stays, and its holder is dead.
    expect(existsSync(lockFile)).toBe(true);

    const store = await createStore({ kind: 'pglite', dataDir });
    try {
      const events = await store.journal.read('acct-1');
      expect(events.map((e) => [e.sequenceNr, e.payload])).toEqual([1, 2, 3, 4, 5].map((n) => [n, { n, by: first.proc.pid }]));
      // Another store in this same process is refused too.
      const again = await createStore({ kind: 'pglite', dataDir }).then(
        async (s) => {
          await s.close();
          return undefined;
        },
        (err: unknown) => err,
      );
      expect(again).toBeInstanceOf(StoreLockedError);
      expect(isBeamstateError(again, 'STORE_LOCKED')).toBe(true);
      expect((again as StoreLockedError).holderPid).toBe(process.pid);
    } finally {
      await store.close();
    }
    expect(existsSync(lockFile)).toBe(false);

    // A clean close in another process releases the folder too.
    const third = start('hold', dataDir, 'acct-1', '2');
    expect(await third.next()).toEqual({ ready: true, pid: third.proc.pid, highest: 7 });
    third.proc.stdin.end();
    expect(await third.next()).toEqual({ closed: true });
    expect((await third.exited).code).toBe(0);
    expect(existsSync(lockFile)).toBe(false);

    const fourth = start('open', dataDir, 'acct-1');
    const opened = await fourth.next();
    expect(opened.opened).toBe(true);
    expect((opened.events as unknown[]).length).toBe(7);
    expect((await fourth.exited).code).toBe(0);
  }, 240_000);
});
