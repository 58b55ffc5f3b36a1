import type { PendingAppend } from '../group-commit.js';
import type { SqlQuery } from './driver.js';
import type { Tables } from './tables.js';
import type { WriteFence } from './write-fence.js';
import { intArrayLiteral, textArrayLiteral } from './array-literals.js';
import { JournalConflictError, StoreUnavailableError } from '../errors.js';
import { joinTags } from '../global-order.js';

/**
 * The group-commit statement: a whole batch of appends, for many ids, in one statement, which
 * PostgreSQL runs as one transaction (one round trip, one commit).
 *
 * 1. `a`: the appends (id, expected highest, new highest).
 * 2. `updated`/`inserted`: compare-and-set on each id's metadata row: existing ids advance only
 *    if their highest is the expected one; new ids (expected 0) are inserted unless a row already
 *    exists. The row lock taken here is what serialises two writers of one id.
 * 3. `ev`: the events, inserted only for appends whose compare-and-set won. Payloads and metadata
 *    travel as one binary blob, cut apart with substring(), instead of a bytea[] that `pg` would
 *    send hex-encoded. `ORDER BY e.n` makes the identity (`ordering`) follow sequence numbers:
 *    without it a hash semi-join may emit an id's events in reverse.
 * 4. The result lists the appends that lost (normally none, so nothing comes back).
 *
 * Less to send in the common cases: with one event per append the per-event ids and sequence
 * numbers ($4, $5) are NULL and taken from the per-append arrays; with no metadata in the batch
 * the metadata offsets ($12, $13) are NULL, which unnest pads as NULLs, meaning "no metadata";
 * likewise the tags ($14: each event's tags joined by U+001F, NULL for none) with no tags in the
 * batch. `tx_id` is not sent: its default is the transaction's id, the key of the global order.
 *
 * Two appends for one id never share a batch (the writer sees to that), so no id appears twice
 * in `a`.
 */
export function appendStatement(t: Tables, fence?: WriteFence): string {
  // With a fence (the cluster), `ok` is its condition per append, evaluated once (the CTE is
  // materialised): an append whose fence fails loses like a conflict and is reported as fenced.
  // Its token travels in the two parameters after appendParams' own (NULL: not fenced).
  const key = `($${APPEND_PARAM_COUNT + 1}::int8[])[idx::int4]`;
  const epoch = `($${APPEND_PARAM_COUNT + 2}::int8[])[idx::int4]`;
  const ok = fence === undefined ? 'true' : `(${key} IS NULL OR ${fence.condition(key, epoch)})`;
  const where = fence === undefined ? '' : ' AND a.ok';
  return `WITH a AS (
  SELECT *, ${ok} AS ok FROM unnest($1::text[], $2::int8[], $3::int8[]) WITH ORDINALITY AS a(pid, expected, highest, idx)
), updated AS (
  UPDATE ${t.journalMeta} m SET highest_sequence_nr = a.highest
  FROM a
  WHERE a.expected > 0 AND m.persistence_id = a.pid AND m.highest_sequence_nr = a.expected${where}
  RETURNING m.persistence_id
), inserted AS (
  INSERT INTO ${t.journalMeta} (persistence_id, highest_sequence_nr)
  SELECT pid, highest FROM a WHERE expected = 0${where}
  ON CONFLICT (persistence_id) DO NOTHING
  RETURNING persistence_id
), won AS (
  SELECT persistence_id FROM updated UNION ALL SELECT persistence_id FROM inserted
), ev AS (
  INSERT INTO ${t.journal} (persistence_id, sequence_nr, event_type, payload, metadata, written_at, batch_id, tags)
  SELECT e.pid, e.seq, e.typ,
    substring($9::bytea FROM e.off FOR e.len),
    CASE WHEN e.mlen >= 0 THEN substring($9::bytea FROM e.moff FOR e.mlen) END,
    $10::int8, $11::uuid,
    string_to_array(e.tg, chr(31))
  FROM unnest(coalesce($4::text[], $1::text[]), coalesce($5::int8[], $3::int8[]), $6::text[], $7::int4[], $8::int4[],
    $12::int4[], $13::int4[], $14::text[])
    WITH ORDINALITY AS e(pid, seq, typ, off, len, moff, mlen, tg, n)
  WHERE e.pid IN (SELECT persistence_id FROM won)
  ORDER BY e.n
)
SELECT idx, ok FROM a WHERE pid NOT IN (SELECT persistence_id FROM won)`;
}

/** How many parameters `appendParams` gives (a fence's own follow them): keep in step with it. */
export const APPEND_PARAM_COUNT = 14;

/** The parameters of `appendStatement` for a batch. Arrays are built once per batch. */
export function appendParams(batch: readonly PendingAppend[], timestamp: number, batchId: string): unknown[] {
  const n = batch.length;
  let eventCount = 0;
  let blobSize = 0;
  let anyMetadata = false;
  let anyTags = false;
  for (let i = 0; i < n; i++) {
    const p = batch[i] as PendingAppend;
    eventCount += p.events.count;
    blobSize += p.events.bytes;
    if (p.events.hasMetadata) anyMetadata = true;
    if (p.events.hasTags) anyTags = true;
  }
  const single = eventCount === n;
  const appendIds = new Array<string>(n);
  const expected = new Array<number>(n);
  const highest = new Array<number>(n);
  const eventIds = single ? undefined : new Array<string>(eventCount);
  const seqs = single ? undefined : new Array<number>(eventCount);
  const types = new Array<string>(eventCount);
  const offsets = new Array<number>(eventCount);
  const lengths = new Array<number>(eventCount);
  const metaOffsets = anyMetadata ? new Array<number>(eventCount) : undefined;
  const metaLengths = anyMetadata ? new Array<number>(eventCount) : undefined;
  const tags = anyTags ? new Array<string | null>(eventCount) : undefined;
  const blob = Buffer.allocUnsafe(blobSize);
  let pos = 0; // 0-based write position in blob; SQL substring() is 1-based
  let e = 0;
  for (let i = 0; i < n; i++) {
    const p = batch[i] as PendingAppend;
    const ev = p.events;
    appendIds[i] = p.persistenceId;
    expected[i] = p.expected;
    highest[i] = p.expected + ev.count;
    for (let k = 0; k < ev.count; k++, e++) {
      if (eventIds !== undefined && seqs !== undefined) {
        eventIds[e] = p.persistenceId;
        seqs[e] = p.expected + k + 1;
      }
      types[e] = ev.types[k] as string;
      if (tags !== undefined) {
        const t = ev.tags[k];
        tags[e] = t === null || t === undefined ? null : joinTags(t);
      }
      const payload = ev.payloads[k] as Uint8Array;
      blob.set(payload, pos);
      offsets[e] = pos + 1;
      lengths[e] = payload.byteLength;
      pos += payload.byteLength;
      if (metaOffsets !== undefined && metaLengths !== undefined) {
        const meta = ev.metadata[k];
        if (meta === null || meta === undefined) {
          metaOffsets[e] = 0;
          metaLengths[e] = -1;
        } else {
          blob.set(meta, pos);
          metaOffsets[e] = pos + 1;
          metaLengths[e] = meta.byteLength;
          pos += meta.byteLength;
        }
      }
    }
  }
  return [
    textArrayLiteral(appendIds),
    intArrayLiteral(expected),
    intArrayLiteral(highest),
    eventIds === undefined ? null : textArrayLiteral(eventIds),
    seqs === undefined ? null : intArrayLiteral(seqs),
    textArrayLiteral(types),
    intArrayLiteral(offsets),
    intArrayLiteral(lengths),
    blob,
    timestamp,
    batchId,
    metaOffsets === undefined ? null : intArrayLiteral(metaOffsets),
    metaLengths === undefined ? null : intArrayLiteral(metaLengths),
    tags === undefined ? null : tagsLiteral(tags),
  ];
}

/** A text[] literal whose elements may be NULL (no tags). */
function tagsLiteral(values: readonly (string | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ',';
    out += v === null || v === undefined ? 'NULL' : `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  }
  return out + '}';
}

/**
 * After a connection was lost mid-commit (and the old session is over): which of the batch's
 * appends are in the journal? An append committed iff its first event is there with this
 * batch's id. Returns 0-based indexes.
 */
export async function readBackBatch(
  query: SqlQuery,
  t: Tables,
  batch: readonly PendingAppend[],
  batchId: string,
): Promise<Set<number>> {
  const ids = batch.map((p) => p.persistenceId);
  const firsts = batch.map((p) => p.expected + 1);
  const r = await query(
    `SELECT a.idx FROM unnest($1::text[], $2::int8[]) WITH ORDINALITY AS a(pid, seq, idx)
     WHERE EXISTS (SELECT 1 FROM ${t.journal} j WHERE j.persistence_id = a.pid AND j.sequence_nr = a.seq AND j.batch_id = $3::uuid)`,
    [textArrayLiteral(ids), intArrayLiteral(firsts), batchId],
  );
  return new Set(r.rows.map((row) => Number(row[0]) - 1));
}

/**
 * What to report for each append of a batch whose commit was interrupted, given what was read
 * back (pure, so it is unit-tested on its own). The batch is one transaction: if any append's
 * events are there it committed, and an append without events lost its compare-and-set (a
 * conflict). If none are there, nothing was written: the appends fail as unavailable, which is
 * true whether the transaction rolled back or every compare-and-set lost.
 */
export function interpretReadBack(
  batch: readonly Pick<PendingAppend, 'persistenceId' | 'expected'>[],
  committed: ReadonlySet<number>,
  cause: unknown,
): Map<number, Error> {
  const failed = new Map<number, Error>();
  const transactionCommitted = committed.size > 0;
  for (let i = 0; i < batch.length; i++) {
    if (committed.has(i)) continue;
    const p = batch[i] as Pick<PendingAppend, 'persistenceId' | 'expected'>;
    failed.set(
      i,
      transactionCommitted
        ? new JournalConflictError(p.persistenceId, p.expected)
        : new StoreUnavailableError(
            `the connection was lost while appending to "${p.persistenceId}"; read back: nothing was written`,
            { cause },
          ),
    );
  }
  return failed;
}
