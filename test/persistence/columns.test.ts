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

  it('string tables store each string once and give it back by index', () => {
    const t = new StringTable();
    const a = t.indexOf('cart|1');
    expect(t.indexOf('cart|2')).not.toBe(a);
    expect(t.indexOf('cart|1')).toBe(a);
    expect(t.at(a)).toBe('cart|1');
  });
});
