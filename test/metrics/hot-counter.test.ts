import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotCounter } from '../../src/metrics/hot-counter.js';
import { openMetrics } from '../../src/metrics/openmetrics.js';
import { samples } from '../helpers/exporter.js';

function capped(maxSeries: number) {
  const registry = new Registry();
  const counter = new HotCounter(registry, 'test_total', 'test', ['code', 'node'], {
    maxSeries,
    overflowLabels: (l) => ({ code: 'other', node: l.node }),
  });
  return { registry, counter };
}

describe('hot counter', () => {
  it('without a cap, makes a series per label set', async () => {
    const registry = new Registry();
    const counter = new HotCounter(registry, 'test_total', 'test', ['code']);
    for (let i = 0; i < 50; i++) counter.cell({ code: String(i) }).value += 2;
    expect(counter.seriesCount).toBe(50);
    expect(counter.overflowed()).toBe(0);
    expect(Object.keys(samples(await registry.metrics(), 'test_total'))).toHaveLength(50);
  });

  it('past the cap, folds new label sets into one overflow series per kept label', async () => {
    const { registry, counter } = capped(3);
    const a = counter.cell({ code: '200', node: 'a' });
    counter.cell({ code: '486', node: 'a' }).value++;
    counter.cell({ code: '200', node: 'b' }).value++;
    const late = [
      counter.cell({ code: '503', node: 'a' }),
      counter.cell({ code: '404', node: 'a' }),
      counter.cell({ code: '503', node: 'b' }),
    ];
    // The cap check is made once, when the cell is resolved: the same cell then counts for free.
    expect(late[0]).toBe(late[1]);
    expect(late[2]).not.toBe(late[0]);
    a.value += 5;
    late[0].value += 2;
    late[1].value += 3;
    late[2].value++;
    expect(counter.seriesCount).toBe(5);
    expect(counter.overflowed()).toBe(6);
    expect(counter.total()).toBe(5 + 1 + 1 + 6);
    expect(samples(await registry.metrics(), 'test_total')).toEqual({
      '{code="200",node="a"}': 5,
      '{code="486",node="a"}': 1,
      '{code="200",node="b"}': 1,
      '{code="other",node="a"}': 5,
      '{code="other",node="b"}': 1,
    });
  });

  it('never exports more than the cap plus the overflow label sets, whatever arrives', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.tuple(fc.integer({ min: 100, max: 699 }), fc.constantFrom('a', 'b', 'c')), {
          maxLength: 300,
        }),
        (max, sets) => {
          const { counter } = capped(max);
          const seen = new Map<string, ReturnType<typeof counter.cell>>();
          let increments = 0;
          for (const [code, node] of sets) {
            const key = `${code}/${node}`;
            let cell = seen.get(key);
            if (cell === undefined) {
              cell = counter.cell({ code: String(code), node });
              seen.set(key, cell);
            }
            cell.value++;
            increments++;
          }
          expect(counter.seriesCount).toBeLessThanOrEqual(max + 3);
          expect(counter.seriesCount).toBe(
            Math.min(seen.size, max) + (seen.size > max ? overflowNodes() : 0),
          );
          expect(counter.total()).toBe(increments);

          function overflowNodes(): number {
            return new Set([...seen.keys()].slice(max).map((k) => k.split('/')[1])).size;
          }
        },
      ),
    );
  });

  it('carries a series exemplar into OpenMetrics only, and leaves the text format as it was', async () => {
    const registry = new Registry();
    const counter = new HotCounter(registry, 'test_total', 'test', ['outcome']);
    const failed = counter.cell({ outcome: 'failed' });
    const answered = counter.cell({ outcome: 'answered' });
    const before = await registry.metrics();
    const slot = counter.exemplar(failed);
    expect(counter.exemplar(failed)).toBe(slot);
    failed.value += 3;
    answered.value++;
    slot.set('call_id="x@y"', 1, 1_795_600_000_000, 0);
    expect(await registry.metrics()).toBe(
      before.replace('"failed"} 0', '"failed"} 3').replace('"answered"} 0', '"answered"} 1'),
    );
    expect(await openMetrics(registry)).toBe(
      [
        '# HELP test test',
        '# TYPE test counter',
        'test_total{outcome="failed"} 3 # {call_id="x@y"} 1 1795600000.000',
        'test_total{outcome="answered"} 1',
        '# EOF',
        '',
      ].join('\n'),
    );
  });

  it('refuses an exemplar for a cell it did not make', () => {
    const counter = new HotCounter(new Registry(), 'test_total', 'test', ['outcome']);
    expect(() => counter.exemplar({ value: 0 })).toThrow(RangeError);
  });
});
