import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DedupeWindow, SharedDedupeWindow } from '../../src/count/dedupe.js';

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

  it('keeps the cells it was built with up to date at each eviction and fill, with no collect', () => {
    const cells = { evictions: { value: 0 }, entries: { value: 0 } };
    const window = new DedupeWindow(60_000, 4, 0, cells); // one bucket of four
    for (let k = 1; k <= 4; k++) window.seen(k, k << 1, k);
    expect([cells.entries.value, cells.evictions.value]).toEqual([4, 0]);
    window.seen(5, 10, 5);
    expect([cells.entries.value, cells.evictions.value]).toEqual([4, 1]);
    window.seen(6, 12, 6);
    expect([cells.entries.value, cells.evictions.value]).toEqual([window.filled, window.evictions]);
    expect(cells.evictions.value).toBe(2);
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

  it('agrees exactly with a set-associative model when the table is small and full', () => {
    // The key pool is larger than any table here, so buckets fill and evict; a few hi/lo pairs
    // differ only in bit 0 of lo, which is not part of the key.
    const key = fc.record({ hi: fc.integer({ min: 0, max: 3 }), lo: fc.integer({ min: 0, max: 11 }) });
    // Steps and windows on a 10 ms grid, so that entries often sit exactly at the window's edge.
    const op = fc.record({ key, advance: fc.integer({ min: 0, max: 4 }).map((n) => n * 10) });
    const exercised = { hits: 0, evictions: 0 };
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 30 }).map((n) => n * 10),
        fc.array(op, { minLength: 1, maxLength: 300, size: 'max' }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        (maxEntries, windowMs, ops, origin) => {
          const window = new DedupeWindow(windowMs, maxEntries, origin);
          const model = new SetAssociativeModel(windowMs, maxEntries);
          expect(window.capacity).toBe(model.buckets.length * 4);
          let now = origin;
          for (const { key, advance } of ops) {
            now += advance;
            const hi = Math.imul(key.hi, 0x2545f491) >>> 0;
            const lo = Math.imul(key.lo, 0x9e3779b9) >>> 0;
            expect(window.seen(hi, lo, now)).toBe(model.seen(hi, lo, now - origin));
          }
          expect([window.hits, window.evictions, window.filled]).toEqual([
            model.hits,
            model.evictions,
            model.filled,
          ]);
          exercised.hits += window.hits;
          exercised.evictions += window.evictions;
        },
      ),
      { numRuns: 500 },
    );
    // The runs must have reached both branches the model is here to check.
    expect(exercised.hits).toBeGreaterThan(1000);
    expect(exercised.evictions).toBeGreaterThan(1000);
  });
});

interface Entry {
  hi: number;
  lo: number;
  time: number;
}

/**
 * The eviction rule written out plainly: a key lives in the four ways of the bucket its hash
 * picks; a live copy is a hit; otherwise it takes the first empty or expired way, or else
 * evicts the live way seen longest ago (the first of equals).
 */
class SetAssociativeModel {
  readonly buckets: Array<Array<Entry | null>> = [];
  hits = 0;
  evictions = 0;
  filled = 0;

  constructor(
    private readonly windowMs: number,
    maxEntries: number,
  ) {
    let count = 1;
    while (count * 4 < maxEntries) count *= 2;
    for (let i = 0; i < count; i++) this.buckets.push([null, null, null, null]);
  }

  seen(hi: number, rawLo: number, time: number): boolean {
    const lo = (rawLo | 1) >>> 0;
    const bucket = this.buckets[((lo ^ Math.imul(hi, 0x9e3779b1)) >>> 0) % this.buckets.length];
    const live = (e: Entry | null): e is Entry => e !== null && time - e.time < this.windowMs;
    if (bucket.some((e) => live(e) && e.hi === hi && e.lo === lo)) {
      this.hits++;
      return true;
    }
    let way = bucket.findIndex((e) => !live(e));
    if (way < 0) {
      const oldest = Math.min(...bucket.map((e) => e!.time));
      way = bucket.findIndex((e) => e!.time === oldest);
      this.evictions++;
    } else if (bucket[way] === null) this.filled++;
    bucket[way] = { hi, lo, time };
    return false;
  }
}

describe('dedupe window shared between threads', () => {
  it('sees in one view the keys another view stored, with one filled count for both', () => {
    const shared = DedupeWindow.share(100, 0);
    const a = new SharedDedupeWindow(32_000, 100, 0, undefined, shared);
    const b = new SharedDedupeWindow(32_000, 100, 0, undefined, shared);
    expect(a.seen(1, 2, 10)).toBe(false);
    expect(b.seen(1, 2, 11)).toBe(true);
    expect(b.seen(3, 4, 12)).toBe(false);
    expect(a.seen(3, 4, 13)).toBe(true);
    expect([a.refreshEntries(), b.refreshEntries()]).toEqual([2, 2]);
  });

  it('takes a copy stamped a little before the stored one as a duplicate, not as an expired entry', () => {
    // Two threads stamp their batches as they read them: one may count its copy, stamped later,
    // before the other counts the copy it stamped earlier. Before the fix that read as an entry
    // 2^32 ms old, so both copies were counted.
    const shared = DedupeWindow.share(100, 0);
    const a = new SharedDedupeWindow(32_000, 100, 0, undefined, shared);
    const b = new SharedDedupeWindow(32_000, 100, 0, undefined, shared);
    expect(a.seen(5, 6, 1003)).toBe(false);
    expect(b.seen(5, 6, 1001)).toBe(true);
    expect(b.seen(5, 6, 400)).toBe(true);
    // One thread alone sees the same: its own clock never goes back, but nothing depends on it.
    const one = new DedupeWindow(32_000, 100, 0);
    expect(one.seen(5, 6, 1000)).toBe(false);
    expect(one.seen(5, 6, 999)).toBe(true);
  });

  it('gives two views on one table the hits of one table, whichever view each message goes to', () => {
    const op = fc.record({
      key: fc.integer({ min: 0, max: 30 }),
      view: fc.integer({ min: 0, max: 1 }),
      advance: fc.integer({ min: 0, max: 300 }),
      // a copy stamped up to 5 ms before the clock, as a thread that read it earlier would
      skew: fc.integer({ min: 0, max: 5 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const single = new DedupeWindow(1000, 16, 0);
        const shared = DedupeWindow.share(16, 0);
        const views = [0, 1].map(() => new SharedDedupeWindow(1000, 16, 0, undefined, shared));
        let now = 10;
        for (const { key, view, advance, skew } of ops) {
          now += advance;
          const at = Math.max(0, now - skew);
          const hi = key * 7919;
          const lo = key << 1;
          expect(views[view].seen(hi, lo, at)).toBe(single.seen(hi, lo, at));
        }
        expect(views[0].hits + views[1].hits).toBe(single.hits);
        expect(views[0].evictions + views[1].evictions).toBe(single.evictions);
        expect(views[0].refreshEntries()).toBe(single.filled);
      }),
    );
  });
});
