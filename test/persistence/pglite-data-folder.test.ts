import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStore, STORE_DEFAULTS } from '../../src/persistence/index.js';

describe('PGlite in a data folder', () => {
  const root = mkdtempSync(join(tmpdir(), 'beamstate-pglite-'));
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('is the default backend', () => {
    expect(STORE_DEFAULTS.kind).toBe('pglite');
    expect(STORE_DEFAULTS.dataDir).toBe('.beamstate/pglite');
  });

  it('creates missing parent folders and keeps what was acknowledged across a reopen', async () => {
    const dataDir = join(root, 'nested', 'deeper', 'db');
    const first = await createStore({ kind: 'pglite', dataDir });
    await first.journal.append('cart-1', 0, [{ payload: { type: 'ItemAdded', item: 'sku-1', qty: 1 }, type: 'ItemAdded' }]);
    await first.snapshots.save('cart-1', 1, { items: 1 });
    await first.durableState.upsert('counter', 0, 41);
    await first.close();

    const second = await createStore({ kind: 'pglite', dataDir });
    try {
      expect(await second.journal.highestSequenceNr('cart-1')).toBe(1);
      expect((await second.journal.read('cart-1'))[0]?.payload).toEqual({ type: 'ItemAdded', item: 'sku-1', qty: 1 });
      expect((await second.snapshots.loadLatest('cart-1'))?.snapshot).toEqual({ items: 1 });
      expect((await second.durableState.get('counter'))?.value).toBe(41);
    } finally {
      await second.close();
    }
  });
});
