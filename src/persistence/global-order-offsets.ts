import type { GlobalOffset } from './global-order.js';
import { formatOffset, parseOffset } from './global-order.js';
import type { Lifecycle } from './lifecycle.js';
import { BeamstateError } from '../errors.js';
import type { SqlDriver, SqlQuery } from './sql/driver.js';
import type { Tables } from './sql/tables.js';
import { PersistenceArgumentError } from './errors.js';

/** A statement in a projection's transaction: rows come back as arrays, in column order. */
export type ProjectionQuery = (text: string, values?: readonly unknown[]) => Promise<{ readonly rows: unknown[][]; readonly rowCount: number }>;

/**
 * Another runner of the same projection saved an offset since this one read it: this runner's
 * transaction was rolled back (nothing it wrote is kept) and it must start again from the stored
 * offset. Code `PROJECTION_OFFSET_CONFLICT`.
 */
export class ProjectionOffsetConflictError extends BeamstateError {
  readonly projection: string;
  constructor(projection: string) {
    super('PROJECTION_OFFSET_CONFLICT', `projection "${projection}": its stored offset was moved by another runner; rolled back, resuming from the stored offset`);
    this.projection = projection;
  }
}

/**
 * Where projections keep their offsets. `commit` is exactly once: it moves the offset from
 * `expected` to `next` with a compare-and-set in a transaction and runs `work` in it, so the
 * handler's writes and the offset commit together or not at all. @internal
 */
export interface ProjectionOffsetStore {
  /** Whether `commit` is available (PostgreSQL and PGlite). */
  readonly transactional: boolean;
  load(name: string): Promise<GlobalOffset | undefined>;
  /** At least once: saves the offset after the handler ran (a plain upsert, last writer wins). */
  save(name: string, offset: GlobalOffset): Promise<void>;
  commit(name: string, expected: GlobalOffset | undefined, next: GlobalOffset, work: (query: ProjectionQuery) => Promise<void>): Promise<void>;
}

const NAME = /^[A-Za-z0-9_.:\-/]{1,200}$/;

/** @internal A projection name: 1-200 characters of letters, digits and `_ . : - /`. */
export function checkProjectionName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new PersistenceArgumentError('name', `a projection name must be 1-200 characters of letters, digits and _ . : - /, got ${JSON.stringify(name)}`);
  }
  return name;
}

/** @internal Offsets in memory (the memory store): at least once only. */
export class MemoryProjectionOffsets implements ProjectionOffsetStore {
  readonly transactional = false;
  readonly #offsets = new Map<string, GlobalOffset>();
  readonly #lifecycle: Lifecycle;
  constructor(lifecycle: Lifecycle) {
    this.#lifecycle = lifecycle;
  }
  async load(name: string): Promise<GlobalOffset | undefined> {
    this.#lifecycle.check();
    return this.#offsets.get(checkProjectionName(name));
  }
  async save(name: string, offset: GlobalOffset): Promise<void> {
    this.#lifecycle.check();
    parseOffset(offset, 'offset');
    this.#offsets.set(checkProjectionName(name), offset);
  }
  commit(name: string): Promise<void> {
    return Promise.reject(new PersistenceArgumentError('delivery', `projection "${name}": exactly-once delivery needs a PostgreSQL or PGlite store`));
  }
}

/** @internal Offsets in the `projection_offsets` table. */
export class SqlProjectionOffsets implements ProjectionOffsetStore {
  readonly transactional = true;
  readonly #driver: SqlDriver;
  readonly #t: Tables;
  readonly #lifecycle: Lifecycle;
  constructor(driver: SqlDriver, t: Tables, lifecycle: Lifecycle) {
    this.#driver = driver;
    this.#t = t;
    this.#lifecycle = lifecycle;
  }

  async load(name: string): Promise<GlobalOffset | undefined> {
    this.#lifecycle.check();
    const r = await this.#driver.query(`SELECT tx_id, ordering FROM ${this.#t.projectionOffsets} WHERE name = $1`, [checkProjectionName(name)]);
    const row = r.rows[0];
    return row === undefined ? undefined : formatOffset(Number(row[0]), Number(row[1]));
  }

  async save(name: string, offset: GlobalOffset): Promise<void> {
    this.#lifecycle.check();
    const o = parseOffset(offset, 'offset');
    await this.#driver.query(
      `INSERT INTO ${this.#t.projectionOffsets} (name, tx_id, ordering, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET tx_id = EXCLUDED.tx_id, ordering = EXCLUDED.ordering, updated_at = EXCLUDED.updated_at`,
      [checkProjectionName(name), o.tx, o.ordering, Date.now()],
    );
  }

  async commit(name: string, expected: GlobalOffset | undefined, next: GlobalOffset, work: (query: ProjectionQuery) => Promise<void>): Promise<void> {
    this.#lifecycle.check();
    checkProjectionName(name);
    const n = parseOffset(next, 'next');
    const t = this.#t.projectionOffsets;
    await this.#driver.transaction(async (query: SqlQuery) => {
      // The compare-and-set first: it takes the row lock, so a second runner of the same
      // projection waits here and then finds the offset moved, instead of both writing.
      let moved: number;
      if (expected === undefined) {
        moved = (
          await query(`INSERT INTO ${t} (name, tx_id, ordering, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING`, [
            name,
            n.tx,
            n.ordering,
            Date.now(),
          ])
        ).rowCount;
      } else {
        const e = parseOffset(expected, 'expected');
        moved = (
          await query(`UPDATE ${t} SET tx_id = $2, ordering = $3, updated_at = $4 WHERE name = $1 AND tx_id = $5 AND ordering = $6`, [
            name,
            n.tx,
            n.ordering,
            Date.now(),
            e.tx,
            e.ordering,
          ])
        ).rowCount;
      }
      if (moved !== 1) throw new ProjectionOffsetConflictError(name);
      await work(query);
    });
  }
}
