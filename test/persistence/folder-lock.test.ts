// The rules of the PGlite folder lock (src/persistence/sql/folder-lock.ts): who counts as a live
// holder, and that racing openers of a stale lock end with exactly one holder.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireFolderLock, holderState, lockFileOf } from '../../src/persistence/sql/folder-lock.js';
import type { LockRecord } from '../../src/persistence/sql/folder-lock.js';
import { StoreLockedError } from '../../src/persistence/index.js';

const root = mkdtempSync(join(tmpdir(), 'beamstate-folder-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let folders = 0;
const newFolder = (): string => join(root, `db-${folders++}`);

const ownStart = (): string | null => {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
};
const bootId = (): string | null => {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
};
const linux = ownStart() !== null;

function record(over: Partial<LockRecord>): LockRecord {
  return { pid: process.pid, hostname: hostname(), bootId: bootId(), startTime: ownStart(), token: 'feedfacecafebeef', acquiredAt: '2020-01-01T00:00:00.000Z', ...over };
}
function plant(folder: string, r: LockRecord): void {
  writeFileSync(lockFileOf(folder), JSON.stringify(r));
}
/** A pid that certainly ran and certainly exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid as number;
}

describe('the folder lock', () => {
  it('is exclusive within one process and released by release()', () => {
    const folder = newFolder();
    const lock = acquireFolderLock(folder);
    expect(() => acquireFolderLock(folder)).toThrow(StoreLockedError);
    lock.release();
    expect(existsSync(lockFileOf(folder))).toBe(false);
    acquireFolderLock(folder).release();
  });

  it('names the folder, the lock file and the holder', () => {
    const folder = newFolder();
    const lock = acquireFolderLock(folder);
    try {
      acquireFolderLock(folder);
      expect.unreachable();
    } catch (err) {
      const e = err as StoreLockedError;
      expect(e.code).toBe('STORE_LOCKED');
      expect(e.dataDir).toBe(folder);
      expect(e.lockFile).toBe(lockFileOf(folder));
      expect(e.holderPid).toBe(process.pid);
      expect(e.holderHost).toBe(hostname());
      expect(e.message).toContain(folder);
      expect(e.message).toContain(`process ${process.pid}`);
    } finally {
      lock.release();
    }
  });

  it('takes over a lock whose holder has exited', () => {
    const folder = newFolder();
    plant(folder, record({ pid: deadPid(), startTime: '1' }));
    const lock = acquireFolderLock(folder);
    expect(JSON.parse(readFileSync(lockFileOf(folder), 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it.skipIf(!linux)('takes over when the pid now belongs to another process (pid reuse): the start time differs', () => {
    const folder = newFolder();
    // The parent of this process is alive, but it is not the process that took this lock.
    plant(folder, record({ pid: process.ppid, startTime: '1' }));
    expect(holderState(record({ pid: process.ppid, startTime: '1' }))).toBe('dead');
    acquireFolderLock(folder).release();
  });

  it.skipIf(!linux)('a live process with the recorded start time holds it', () => {
    const folder = newFolder();
    const parentStat = readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
    const parentStart = parentStat.slice(parentStat.lastIndexOf(')') + 2).split(' ')[19] as string;
    plant(folder, record({ pid: process.ppid, startTime: parentStart }));
    expect(() => acquireFolderLock(folder)).toThrow(StoreLockedError);
  });

  it.skipIf(!linux)('a lock left by an earlier process that had this pid (a restarted container) is stale', () => {
    const folder = newFolder();
    plant(folder, record({ pid: process.pid, startTime: '1' }));
    acquireFolderLock(folder).release();
  });

  it.skipIf(bootId() === null)('a lock from an earlier boot of this machine is stale', () => {
    const folder = newFolder();
    plant(folder, record({ pid: process.ppid, bootId: '00000000-0000-0000-0000-000000000000' }));
    acquireFolderLock(folder).release();
  });

  it('a lock held on another host is kept (its holder cannot be checked)', () => {
    const folder = newFolder();
    plant(folder, record({ pid: deadPid(), hostname: `${hostname()}-elsewhere` }));
    const err = (() => {
      try {
        acquireFolderLock(folder);
      } catch (e) {
        return e as StoreLockedError;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(StoreLockedError);
    expect(err?.holderHost).toBe(`${hostname()}-elsewhere`);
    expect(err?.message).toContain(lockFileOf(folder));
  });

  it('a lock file that cannot be read is kept, and the error says so', () => {
    const folder = newFolder();
    writeFileSync(lockFileOf(folder), 'not json');
    expect(() => acquireFolderLock(folder)).toThrow(/cannot be read/);
  });

  it('release() leaves a lock that is no longer its own', () => {
    const folder = newFolder();
    const lock = acquireFolderLock(folder);
    const other = record({ token: '0123456789abcdef' });
    plant(folder, other);
    lock.release();
    expect(JSON.parse(readFileSync(lockFileOf(folder), 'utf8')).token).toBe(other.token);
  });

  it('passes over a takeover claim left by a claimer that died', () => {
    const folder = newFolder();
    const stale = record({ pid: deadPid(), startTime: '1' });
    plant(folder, stale);
    writeFileSync(`${lockFileOf(folder)}.${stale.token}.claim-0`, JSON.stringify(record({ pid: deadPid(), startTime: '1', token: 'aaaa' })));
    const lock = acquireFolderLock(folder);
    expect(existsSync(`${lockFileOf(folder)}.${stale.token}.claim-0`)).toBe(false);
    lock.release();
  });

  it('racing processes that find the same stale lock end with exactly one holder', async () => {
    const script = fileURLToPath(new URL('./fixtures/folder-lock-racer.ts', import.meta.url));
    const racers = Array.from({ length: 6 }, () => spawn(process.execPath, ['--import', 'tsx', script], { stdio: 'pipe' }));
    const lines = racers.map((p) => createInterface({ input: p.stdout })[Symbol.asyncIterator]());
    const rounds: string[] = [];
    try {
      for (const l of lines) expect((await l.next()).value).toBe('waiting');
      // Many rounds, each on a fresh folder with a stale lock: a race lost once in a few rounds
      // (as an unlink-then-create takeover does) is caught.
      for (let round = 0; round < 20; round++) {
        const folder = newFolder();
        rounds.push(folder);
        plant(folder, record({ pid: deadPid(), startTime: '1' }));
        for (const p of racers) p.stdin.write(`${folder}\n`);
        const outcomes = await Promise.all(lines.map(async (l) => (await l.next()).value as string));
        expect(outcomes.filter((o) => o === 'won'), `round ${round}`).toHaveLength(1);
        expect(outcomes.filter((o) => o !== 'won').every((o) => o === 'STORE_LOCKED')).toBe(true);
        expect(JSON.parse(readFileSync(lockFileOf(folder), 'utf8')).pid).toBe(racers[outcomes.indexOf('won')]?.pid);
      }
    } finally {
      for (const p of racers) p.stdin.end();
      await Promise.all(racers.map((p) => new Promise((resolve) => (p.exitCode === null ? p.once('exit', resolve) : resolve(undefined)))));
    }
    for (const folder of rounds) expect(existsSync(lockFileOf(folder))).toBe(false);
  }, 60_000);
});
