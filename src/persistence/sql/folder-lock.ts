import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { StoreLockedError } from '../errors.js';

/**
 * @internal An exclusive lock on a PGlite data folder: the file `<folder>.lock` beside it, holding
 * who holds it. Node has no `flock`, so "released on process death" is a liveness check: a lock
 * whose holder is gone is stale and the next opener takes it over.
 *
 * The holder is identified by pid plus the process's start time (`/proc/<pid>/stat`), the host
 * name and the kernel's boot id, so a pid reused after the holder died (a restarted container
 * whose new process got the same pid, or any process that inherited it) is not taken for the
 * holder. Where the holder cannot be checked (another host name: another machine on a shared
 * volume, or another container) the lock is treated as held: two writers lose acknowledged
 * events, a refused start only needs the file removed by hand, so the error names it.
 */
export interface LockRecord {
  readonly pid: number;
  readonly hostname: string;
  /** Linux: /proc/sys/kernel/random/boot_id; null elsewhere. */
  readonly bootId: string | null;
  /** Linux: the process's start time in clock ticks since boot; null elsewhere. */
  readonly startTime: string | null;
  /** Unique per acquisition, so a takeover can tell the stale record from a fresh one. */
  readonly token: string;
  readonly acquiredAt: string;
}

export interface FolderLock {
  readonly path: string;
  /** Removes the lock file if it is still this lock's. Idempotent, never throws. */
  release(): void;
}

/** Liveness of a recorded holder as far as this process can tell. */
export type HolderState = 'alive' | 'dead' | 'unknown';

/** Takeover attempts before giving up: each needs a racing opener or a claimer that died. */
const MAX_ATTEMPTS = 20;

export function lockFileOf(dataDir: string): string {
  return `${dataDir}.lock`;
}

/** Takes the lock of `dataDir` (an absolute path) or throws `StoreLockedError`. */
export function acquireFolderLock(dataDir: string): FolderLock {
  const path = lockFileOf(dataDir);
  const me = ownRecord();
  const temp = join(dirname(path), `.${basename(path)}.${me.token}.tmp`);
  writeFileSync(temp, JSON.stringify(me), { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // link() publishes the whole record atomically: a reader never sees a half-written file.
      try {
        linkSync(temp, path);
        return held(path, me.token);
      } catch (err) {
        if (errno(err) !== 'EEXIST') throw err;
      }
      const current = readRecord(path);
      if (current === 'missing') continue; // released meanwhile: try to create it again
      if (current === 'unreadable') throw locked(dataDir, path, undefined, 'its content cannot be read');
      const state = holderState(current);
      if (state === 'alive') throw locked(dataDir, path, current, undefined);
      if (state === 'unknown') throw locked(dataDir, path, current, `on host ${JSON.stringify(current.hostname)}, which this process cannot check`);
      if (takeOver(path, temp, current)) return held(path, me.token);
    }
    throw locked(dataDir, path, undefined, 'another process is taking it over right now');
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // already gone
    }
  }
}

/**
 * Replaces the stale record `stale` with ours. Racing openers that found the same stale record
 * are serialized by claim files created exclusively (`<lock>.<stale token>.claim-<n>`); only
 * the claimer re-reads the lock and swaps it by rename, so a fresh lock is never removed. A
 * claimer that died mid-takeover leaves its claim, and the next opener moves to the next `n`.
 */
function takeOver(path: string, temp: string, stale: LockRecord): boolean {
  for (let n = 0; n < MAX_ATTEMPTS; n++) {
    const claim = `${path}.${stale.token}.claim-${n}`;
    try {
      linkSync(temp, claim); // our record, published whole, like the lock itself
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err;
      const claimer = readRecord(claim);
      // Only a claimer that died mid-takeover is passed over; a live one is swapping the lock
      // right now, and a claim just removed means it is done: re-read the lock from the start.
      if (claimer !== 'missing' && claimer !== 'unreadable' && holderState(claimer) === 'dead') continue;
      return false;
    }
    try {
      const current = readRecord(path);
      if (current === 'missing' || current === 'unreadable' || current.token !== stale.token) return false;
      renameSync(temp, path); // atomic: the lock file is never missing, so no one can create it meanwhile
      removeClaims(path, stale.token);
      return true;
    } finally {
      try {
        unlinkSync(claim);
      } catch {
        // removed with the others
      }
    }
  }
  return false;
}

function removeClaims(path: string, token: string): void {
  const prefix = `${basename(path)}.${token}.claim-`;
  for (const name of readdirSync(dirname(path))) {
    if (name.startsWith(prefix)) {
      try {
        unlinkSync(join(dirname(path), name));
      } catch {
        // a racing claimer removed it
      }
    }
  }
}

function held(path: string, token: string): FolderLock {
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      const current = readRecord(path);
      // Only our own record: never remove a lock someone else holds.
      if (current !== 'missing' && current !== 'unreadable' && current.token === token) {
        try {
          unlinkSync(path);
        } catch {
          // already gone
        }
      }
    },
  };
}

/** @internal Exported for tests: whether the recorded holder still runs. */
export function holderState(r: LockRecord): HolderState {
  const me = ownRecord();
  if (r.hostname !== me.hostname) return 'unknown';
  // Another boot of this kernel: every process of the old one is gone.
  if (r.bootId !== null && me.bootId !== null && r.bootId !== me.bootId) return 'dead';
  if (r.pid === process.pid) {
    // Our pid: either this very process holds it (another store, thread or module copy), or a
    // process that died before we got its pid (a restarted container). The start time tells.
    if (r.startTime === null || me.startTime === null) return 'alive';
    return r.startTime === me.startTime ? 'alive' : 'dead';
  }
  try {
    process.kill(r.pid, 0);
  } catch (err) {
    if (errno(err) === 'ESRCH') return 'dead';
    // EPERM: it exists but belongs to another user; fall through to the start-time check.
  }
  const start = startTimeOf(r.pid);
  if (r.startTime !== null && start !== null) return start === r.startTime ? 'alive' : 'dead';
  return 'alive';
}

let own: LockRecord | undefined;
function ownRecord(): LockRecord {
  own ??= { pid: process.pid, hostname: hostname(), bootId: bootId(), startTime: startTimeOf(process.pid), token: '', acquiredAt: '' };
  return { ...own, token: randomBytes(8).toString('hex'), acquiredAt: new Date().toISOString() };
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

/** Field 22 of /proc/<pid>/stat (after the command name, which may hold spaces and parentheses). */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function readRecord(path: string): LockRecord | 'missing' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (errno(err) === 'ENOENT') return 'missing';
    throw err;
  }
  try {
    const r = JSON.parse(text) as Partial<LockRecord>;
    if (!Number.isSafeInteger(r.pid) || (r.pid as number) <= 0 || typeof r.hostname !== 'string' || typeof r.token !== 'string') return 'unreadable';
    return {
      pid: r.pid as number,
      hostname: r.hostname,
      bootId: typeof r.bootId === 'string' ? r.bootId : null,
      startTime: typeof r.startTime === 'string' ? r.startTime : null,
      token: r.token,
      acquiredAt: typeof r.acquiredAt === 'string' ? r.acquiredAt : '',
    };
  } catch {
    return 'unreadable';
  }
}

function locked(dataDir: string, path: string, holder: LockRecord | undefined, detail: string | undefined): StoreLockedError {
  return new StoreLockedError(dataDir, path, holder?.pid, holder?.hostname, detail);
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}
