import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotCounter } from '../../src/metrics/hot-counter.js';
import { SharedSeriesCap } from '../../src/metrics/shared-series.js';

describe('series cap shared between threads', () => {
  it('admits a label set once for every view, and no new one past the cap', () => {
    const buffer = SharedSeriesCap.share(2);
    const a = new SharedSeriesCap(buffer, 2);
    const b = new SharedSeriesCap(buffer, 2);
    expect(a.admit({ code: '200', node: 'x' })).toBe(true);
    expect(b.admit({ code: '200', node: 'x' })).toBe(true);
    expect(b.admit({ code: '486', node: 'x' })).toBe(true);
    expect(a.admit({ code: '503', node: 'x' })).toBe(false);
    expect(b.admit({ code: '503', node: 'x' })).toBe(false);
    // Values that would run together without their separator are apart.
    expect(a.admit({ code: '20', node: '0x' })).toBe(false);
    expect(a.admitted).toBe(2);
  });

  it('makes copies of a family in several threads fold the same label sets as one family would', () => {
    const label = fc.record({
      code: fc.constantFrom('100', '180', '200', '486', '503'),
      node: fc.constantFrom('a', 'b'),
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(label, fc.integer({ min: 0, max: 2 })), { maxLength: 50 }), (ops) => {
        const fold = (l: Record<'code' | 'node', string>) => ({ code: 'other', node: l.node });
        const one = new HotCounter(new Registry(), 'x_total', 'x', ['code', 'node'], {
          maxSeries: 4,
          overflowLabels: fold,
        });
        const buffer = SharedSeriesCap.share(4);
        const copies = [0, 1, 2].map(() => {
          const cap = new SharedSeriesCap(buffer, 4);
          return new HotCounter(new Registry(), 'x_total', 'x', ['code', 'node'], {
            maxSeries: 4,
            overflowLabels: fold,
            admit: (l) => cap.admit(l),
          });
        });
        const seen = new Set<string>();
        const sums = new Map<string, number>();
        const oneSums = new Map<string, number>();
        for (const [labels, thread] of ops) {
          const key = JSON.stringify(labels);
          // A family resolves each label set once; so does each copy.
          if (!seen.has(key)) {
            seen.add(key);
            one.cell(labels).value++;
          }
          copies[thread].cell(labels).value++;
        }
        const total = (family: HotCounter<'code' | 'node'>, into: Map<string, number>) => {
          for (const s of family.allSeries) {
            const k = JSON.stringify(s.labels);
            into.set(k, (into.get(k) ?? 0) + (s.cell.value > 0 ? 1 : 0));
          }
        };
        total(one, oneSums);
        for (const copy of copies) total(copy, sums);
        // The label sets that exist (regular or folded) are the same as one family's.
        expect(new Set(sums.keys())).toEqual(new Set(oneSums.keys()));
      }),
    );
  });
});
