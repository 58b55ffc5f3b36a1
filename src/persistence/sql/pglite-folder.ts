import type { PGlite } from '@electric-sql/pglite';
import { closeSync, fsyncSync, lstatSync, openSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { acquireFolderLock } from './folder-lock.js';
import type { FolderLock } from './folder-lock.js';

/** How far a resolved write on PGlite in a folder is safe: see docs/persistence.md#durability. */
export type PGliteDurability = 'fsync' | 'process';

/** @internal An open PGlite database and what to undo once it is closed. */
export interface OpenedPGlite {
  readonly db: PGlite;
  /** Releases the folder lock; call after `db.close()`. */
  readonly release: () => void;
}

/**
 * @internal Opens PGlite on `dataDir`. A folder (anything without `scheme://`) is locked for
 * this process first, so a second opener fails with `STORE_LOCKED` before touching a file.
 *
 * PGlite starts PostgreSQL with fsync off (`-F`), and Emscripten's NODEFS, through which the
 * WASM PostgreSQL writes real files, has no fsync and ignores fdatasync: a COMMIT reaches the
 * page cache (so it survives the process) but not the disk. With `durability: 'fsync'` NODEFS
 * gets an fsync that calls the real one, and PostgreSQL runs with `fsync=on` and
 * `wal_sync_method=fsync` (its default, fdatasync, is a no-op in Emscripten): every COMMIT then
 * fsyncs the WAL before it returns (one per group-commit batch), and checkpoints fsync data
 * files, the control file and directories as on a server.
 */
export async function openPGlite(dataDir: string, durability: PGliteDurability): Promise<OpenedPGlite> {
  // Loaded on demand: users of the PostgreSQL backend never load the WASM build.
  const { PGlite } = await import('@electric-sql/pglite');
  if (dataDir.includes('://')) return { db: await PGlite.create(dataDir), release: () => {} };

  const folder = resolve(dataDir);
  // PGlite creates the folder but not its parents; the lock file lives beside the folder.
  await mkdir(dirname(folder), { recursive: true });
  const lock: FolderLock = acquireFolderLock(folder);
  let db: PGlite | undefined;
  try {
    if (durability === 'process') {
      db = await PGlite.create(folder);
    } else {
      const { NodeFS } = await import('@electric-sql/pglite/nodefs');
      db = await PGlite.create({ fs: flushing(new NodeFS(folder)), startParams: fsyncStartParams(PGlite.defaultStartParams) });
      // initdb (and any earlier run with durability 'process') wrote without fsync: flush the
      // whole folder once, so what the first COMMIT builds on is on disk too (~0.1 s, 1000 files).
      syncTree(folder);
      syncPath(dirname(folder));
    }
    return { db, release: () => lock.release() };
  } catch (err) {
    if (db !== undefined) await db.close().catch(() => {});
    lock.release();
    throw err;
  }
}

/** PGlite's start parameters with fsync on and a WAL sync method Emscripten does not ignore. */
export function fsyncStartParams(defaults: readonly string[]): string[] {
  return [...defaults.filter((p) => p !== '-F'), '-c', 'fsync=on', '-c', 'wal_sync_method=fsync'];
}

/** The slice of Emscripten's module that the patch needs (PGlite's types for it need @types/emscripten). */
interface NodefsModule {
  readonly NODEFS: {
    stream_ops: Record<string, unknown>;
    tryFSOperation<T>(fn: () => T): T;
  };
}

interface FilesystemInit {
  init(pg: unknown, opts: unknown): Promise<{ emscriptenOpts: { preRun?: unknown[] } }>;
}

/** Adds a real fsync to NODEFS before PostgreSQL starts (errors map to errno, as NODEFS's own do). */
function flushing<F extends object>(fs: F): F {
  const target = fs as unknown as FilesystemInit;
  const init = target.init.bind(target);
  target.init = async (pg, opts) => {
    const r = await init(pg, opts);
    const patch = (mod: NodefsModule): void => {
      mod.NODEFS.stream_ops.fsync = (stream: { nfd: number }): number => {
        mod.NODEFS.tryFSOperation(() => fsyncSync(stream.nfd));
        return 0;
      };
    };
    return { ...r, emscriptenOpts: { ...r.emscriptenOpts, preRun: [...(r.emscriptenOpts.preRun ?? []), patch] } };
  };
  return fs;
}

/** fsyncs every file and directory under `root`. */
function syncTree(root: string): void {
  const st = lstatSync(root);
  if (st.isDirectory()) {
    for (const name of readdirSync(root)) syncTree(join(root, name));
  } else if (!st.isFile()) {
    return;
  }
  syncPath(root);
}

function syncPath(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    // Windows cannot open a directory; its entries are flushed with the files there.
    if ((err as NodeJS.ErrnoException).code === 'EISDIR' || (err as NodeJS.ErrnoException).code === 'EPERM') return;
    throw err;
  }
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
