import { describe, expect, it } from 'vitest';
import { KeyHasher } from '../../src/count/key-hasher.js';

/** Keys that repeat a value already seen among `values`. */
function repeats(values: Uint32Array): number {
  const sorted = values.slice().sort();
  let n = 0;
  for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) n++;
  return n;
}

describe('KeyHasher', () => {
  it('spreads Call-IDs that differ in a few digits over both 32-bit halves as random keys would', () => {
    // 500,000 Call-IDs as a load generator makes them: a counter and a fixed host. Random 32-bit
    // values repeat about n^2 / 2^33 = 29 times here; the unscrambled mix repeated its high half
    // hundreds of thousands of times, which the KPI tables bucket by.
    const n = 500_000;
    const h = new KeyHasher();
    const hi = new Uint32Array(n);
    const lo = new Uint32Array(n);
    const ids = new Set<string>();
    for (let i = 0; i < n; i++) {
      const id = Buffer.from(`${String(i).padStart(10, '0')}@callmix.example.com`, 'latin1');
      h.begin().bytes(id, 0, id.length).end();
      hi[i] = h.hi;
      lo[i] = h.lo;
      ids.add(`${h.hi}:${h.lo}`);
    }
    expect(repeats(hi)).toBeLessThan(200);
    expect(repeats(lo)).toBeLessThan(200);
    expect(ids.size).toBe(n);
  });

  it('hashes a string and the same Latin-1 bytes alike, and a split field apart', () => {
    const h = new KeyHasher();
    const text = 'a84b4c76e66710@pc33.atlanta.example.com';
    h.begin().string(text).end();
    const fromString = [h.hi, h.lo];
    const bytes = Buffer.from(text, 'latin1');
    h.begin().bytes(bytes, 0, bytes.length).end();
    expect([h.hi, h.lo]).toEqual(fromString);
    h.begin().string('ab').string('c').end();
    const split = [h.hi, h.lo];
    h.begin().string('a').string('bc').end();
    expect([h.hi, h.lo]).not.toEqual(split);
  });
});
