import { describe, expect, it } from 'vitest';
import { intArrayLiteral, textArrayLiteral } from '../../src/persistence/sql/array-literals.js';

describe('array literals for the batch statement', () => {
  it('quote every text element and escape only quotes and backslashes', () => {
    expect(textArrayLiteral([])).toBe('{}');
    expect(textArrayLiteral(['a', 'b c', ''])).toBe('{"a","b c",""}');
    expect(textArrayLiteral(['NULL', 'x,y', '{}'])).toBe('{"NULL","x,y","{}"}');
    expect(textArrayLiteral(['q"uote', 'back\\slash'])).toBe('{"q\\"uote","back\\\\slash"}');
  });

  it('join integers', () => {
    expect(intArrayLiteral([])).toBe('{}');
    expect(intArrayLiteral([1, -1, 9007199254740991])).toBe('{1,-1,9007199254740991}');
  });
});
