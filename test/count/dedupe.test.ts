import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DedupeWindow } from '../../src/count/dedupe.js';

// Bit 0 of the low half is not part of the key (it marks a used entry), so keys here differ above it.
describe('dedupe window', () => {
  it('reports a key seen again within the window as a duplicate', () => {
    const window = new DedupeWindow(32_000, 100, 0);
    expect(window.seen(1, 2, 0)).toBe(false);
    expect(window.seen(1, 2, 31_999)).toBe(true);
    expect(window.seen(1, 4, 1)).toBe(false);
    expect(window.seen(2, 2, 1)).toBe(false);
    expect(window.hits).toBe(1);
    expect(window.filled).toBe(3);
  });

  it('forgets a key once the window from its first sighting has passed, and reuses its entry', () => {
    const window = new DedupeWindow(1000, 4, 0);
    expect(window.seen(7, 14, 0)).toBe(false);
    expect(window.seen(7, 14, 999)).toBe(true);
    expect(window.seen(7, 14, 1000)).toBe(false);
    expect(window.filled).toBe(1);
    expect(window.evictions).toBe(0);
  });

  it('evicts the oldest live entry of a full bucket and counts it', () => {
    const window = new DedupeWindow(60_000, 4, 0); // one bucket of four
    for (let k = 1; k <= 5; k++) expect(window.seen(k, k << 1, k)).toBe(false);
    expect(window.evictions).toBe(1);
    expect(window.seen(1, 2, 10)).toBe(false); // the oldest was evicted, so counted again
    expect(window.seen(5, 10, 10)).toBe(true);
    expect(window.capacity).toBe(4);
  });

  it('keeps its memory fixed whatever arrives', () => {
    const window = new DedupeWindow(60_000, 1000, 0);
    for (let i = 0; i < 200_000; i++) window.seen(Math.imul(i, 2654435761) >>> 0, i << 1, i);
    expect(window.capacity).toBe(1024);
    expect(window.filled).toBeLessThanOrEqual(1024);
    expect(window.evictions).toBeGreaterThan(190_000);
  });

  it('agrees exactly with a Map model while it has room, across time and clock origins', () => {
    const op = fc.record({ key: fc.integer({ min: 0, max: 40 }), advance: fc.integer({ min: 0, max: 400 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), fc.integer({ min: 0, max: 2 ** 40 }), (ops, origin) => {
        const window = new DedupeWindow(1000, 4096, origin);
        const firstSeen = new Map<number, number>();
        let now = origin;
        for (const { key, advance } of ops) {
          now += advance;
          const first = firstSeen.get(key);
          const expected = first !== undefined && now - first < 1000;
          if (!expected) firstSeen.set(key, now);
          expect(window.seen(Math.imul(key, 0x9e3779b1) >>> 0, key << 1, now)).toBe(expected);
        }
        expect(window.evictions).toBe(0);
      }),
      { numRuns: 400 },
    );
  });

  it('never reports a key it was not given, however full', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 500 }), (keys) => {
        const window = new DedupeWindow(60_000, 16, 0);
        const given = new Set<number>();
        let now = 0;
        for (const key of keys) {
          now++;
          const hit = window.seen(key, key << 1, now);
          if (hit) expect(given.has(key)).toBe(true);
          given.add(key);
        }
      }),
      { numRuns: 300 },
    );
  });
});
