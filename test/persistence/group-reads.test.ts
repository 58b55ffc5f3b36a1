import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../../src/persistence/lifecycle.js';
import { msgpackSerializer } from '../../src/persistence/serializer.js';
import type { SqlDriver, SqlResult } from '../../src/persistence/sql/driver.js';
import { SqlRecoveryReader } from '../../src/persistence/sql/sql-recovery.js';
import { tables } from '../../src/persistence/sql/tables.js';

/** A driver that records statements and answers them when told. */
function fakeDriver() {
  const calls: { ids: string[]; resolve: (r: SqlResult) => void; reject: (e: unknown) => void }[] = [];
  const driver = {
    kind: 'postgres',
    query: (_text: string, values?: readonly unknown[]) =>
      new Promise<SqlResult>((resolve, reject) => calls.push({ ids: (values?.[0] as string[]) ?? [], resolve, reject })),
  } as unknown as SqlDriver;
  return { driver, calls };
}

const serializer = msgpackSerializer();
const eventRow = (pid: string, seq: number): unknown[] => [1, pid, seq, seq, 'N', serializer.encode({ seq }), null, 0];

describe('group reads for recovery', () => {
  it('loads issued together share one statement; a lone load is sent in the same turn, with no timer', async () => {
    const { driver, calls } = fakeDriver();
    const reader = new SqlRecoveryReader(driver, tables('public', 'beamstate_'), serializer, new Lifecycle(), 1);
    const loads = Array.from({ length: 100 }, (_, i) => reader.load(`id${i}`));
    await Promise.resolve();
    expect(calls).toHaveLength(1);
    expect(calls[0]?.ids).toHaveLength(100);
    // Loads arriving while a statement is in flight wait and go together in the next one.
    const later = Array.from({ length: 30 }, (_, i) => reader.load(`later${i}`));
    await Promise.resolve();
    expect(calls).toHaveLength(1);
    calls[0]?.resolve({ rows: [eventRow('id7', 1), eventRow('id7', 2)], rowCount: 2 });
    const first = await Promise.all(loads);
    expect(first[7]?.events.map((e) => e.sequenceNr)).toEqual([1, 2]);
    expect(first[8]).toEqual({ snapshot: undefined, events: [], complete: true });
    expect(calls).toHaveLength(2);
    expect(calls[1]?.ids).toHaveLength(30);
    calls[1]?.resolve({ rows: [], rowCount: 0 });
    await Promise.all(later);
  });

  it('batches are bounded, run up to maxInFlight at once, and a failed statement fails only its own loads', async () => {
    const { driver, calls } = fakeDriver();
    const reader = new SqlRecoveryReader(driver, tables('public', 'beamstate_'), serializer, new Lifecycle(), 2);
    const loads = Array.from({ length: 600 }, (_, i) => reader.load(`id${i}`).then(() => 'ok', (e: Error) => e.message));
    await Promise.resolve();
    expect(calls.map((c) => c.ids.length)).toEqual([256, 256]);
    calls[0]?.reject(new Error('connection lost'));
    calls[1]?.resolve({ rows: [], rowCount: 0 });
    await new Promise((r) => setImmediate(r));
    expect(calls.map((c) => c.ids.length)).toEqual([256, 256, 88]);
    calls[2]?.resolve({ rows: [], rowCount: 0 });
    const outcomes = await Promise.all(loads);
    expect(outcomes.filter((o) => o === 'connection lost')).toHaveLength(256);
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(344);
  });
});
