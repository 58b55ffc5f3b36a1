import { describe, expect, it } from 'vitest';
import { Float64Column, Int32Column, StringTable } from '../../src/persistence/memory/columns.js';

describe('memory journal columns', () => {
  it('keep every value across growth', () => {
    const ints = new Int32Column(2);
    const floats = new Float64Column();
    for (let i = 0; i < 5000; i++) {
      ints.push(i * 3);
      floats.push(i + 0.5 + 2 ** 40);
    }
    expect(ints.length).toBe(5000);
    expect(floats.length).toBe(5000);
    for (let i = 0; i < 5000; i += 97) {
      expect(ints.get(i)).toBe(i * 3);
      expect(floats.get(i)).toBe(i + 0.5 + 2 ** 40);
    }
  });

  it('keep every value across chunks (a column is a list of fixed-size chunks past its first)', () => {
    const ints = new Int32Column(8);
    const floats = new Float64Column(1);
    const n = 3 * 65536 + 17;
    for (let i = 0; i < n; i++) {
      ints.push(1 - i);
      floats.push(i * 1.5);
    }
    expect(ints.length).toBe(n);
    expect(floats.length).toBe(n);
    for (const i of [0, 7, 8, 65535, 65536, 65537, 2 * 65536 - 1, 2 * 65536, 3 * 65536, n - 1]) {
      expect(ints.get(i)).toBe(1 - i);
      expect(floats.get(i)).toBe(i * 1.5);
    }
    for (let i = 0; i < n; i += 911) {
      expect(ints.get(i)).toBe(1 - i);
      expect(floats.get(i)).toBe(i * 1.5);
    }
  });

  it('string tables store each string once and give it back by index', () => {
    const t = new StringTable();
    const a = t.indexOf('cart|1');
    expect(t.indexOf('cart|2')).not.toBe(a);
    expect(t.indexOf('cart|1')).toBe(a);
    expect(t.at(a)).toBe('cart|1');
  });
});
