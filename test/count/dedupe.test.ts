import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DedupeWindow } from '../../src/count/dedupe.js';

describe('dedupe window', () => {
  it('reports a key seen again within the window as a duplicate', () => {
    const window = new DedupeWindow(32_000, 100);
    expect(window.seen(1, 2, 0)).toBe(false);
    expect(window.seen(1, 2, 31_999)).toBe(true);
    expect(window.seen(1, 3, 1)).toBe(false);
    expect(window.hits).toBe(1);
    expect(window.size).toBe(2);
  });

  it('forgets a key once the window from its first sighting has passed', () => {
    const window = new DedupeWindow(1000, 100);
    expect(window.seen(7, 7, 0)).toBe(false);
    expect(window.seen(7, 7, 999)).toBe(true);
    expect(window.seen(7, 7, 1000)).toBe(false);
    expect(window.size).toBe(1);
  });

  it('evicts the oldest key when full and counts it', () => {
    const window = new DedupeWindow(60_000, 3);
    for (let k = 1; k <= 4; k++) expect(window.seen(k, k, k)).toBe(false);
    expect(window.evictions).toBe(1);
    expect(window.size).toBe(3);
    expect(window.seen(1, 1, 10)).toBe(false); // evicted, so counted again
    expect(window.seen(4, 4, 10)).toBe(true);
  });

  it('keeps its memory fixed whatever arrives', () => {
    const window = new DedupeWindow(60_000, 1000);
    for (let i = 0; i < 200_000; i++) window.seen(i * 2654435761, i, i);
    expect(window.size).toBe(1000);
    expect(window.evictions).toBe(199_000);
  });

  it('agrees with a plain Map model under random keys, times and collisions in the table', () => {
    const op = fc.record({ key: fc.integer({ min: 0, max: 40 }), advance: fc.integer({ min: 0, max: 400 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), fc.integer({ min: 1, max: 30 }), (ops, capacity) => {
        const window = new DedupeWindow(1000, capacity);
        const firstSeen = new Map<number, number>();
        const order: number[] = [];
        let now = 0;
        for (const { key, advance } of ops) {
          now += advance;
          // Model: expire by time, then evict the oldest while full.
          while (order.length > 0 && firstSeen.get(order[0])! <= now - 1000) firstSeen.delete(order.shift()!);
          const expected = firstSeen.has(key);
          if (!expected) {
            if (order.length === capacity) firstSeen.delete(order.shift()!);
            firstSeen.set(key, now);
            order.push(key);
          }
          // Few distinct low halves force long probe chains and backward shifts.
          expect(window.seen(key * 0x10001, key & 3, now)).toBe(expected);
        }
        expect(window.size).toBe(order.length);
      }),
      { numRuns: 400 },
    );
  });
});
