import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotHistogram } from '../../src/metrics/hot-histogram.js';
import { openMetrics } from '../../src/metrics/openmetrics.js';

describe('HotHistogram', () => {
  it('exports cumulative buckets with le labels, +Inf last, then _sum and _count, per series', async () => {
    const registry = new Registry();
    const h = new HotHistogram(registry, 'x_seconds', 'A test histogram.', ['node'], [0.1, 1]);
    const a = h.cell({ node: 'a' });
    h.cell({ node: 'b' });
    // A value on a bound belongs to that bucket (le is "less than or equal").
    for (const v of [0.05, 0.1, 0.5, 2]) a.observe(v);
    expect(await registry.metrics()).toBe(
      [
        '# HELP x_seconds A test histogram.',
        '# TYPE x_seconds histogram',
        'x_seconds_bucket{node="a",le="0.1"} 2',
        'x_seconds_bucket{node="a",le="1"} 3',
        'x_seconds_bucket{node="a",le="+Inf"} 4',
        'x_seconds_sum{node="a"} 2.65',
        'x_seconds_count{node="a"} 4',
        'x_seconds_bucket{node="b",le="0.1"} 0',
        'x_seconds_bucket{node="b",le="1"} 0',
        'x_seconds_bucket{node="b",le="+Inf"} 0',
        'x_seconds_sum{node="b"} 0',
        'x_seconds_count{node="b"} 0',
        '',
      ].join('\n'),
    );
  });

  it('refuses buckets that do not increase', () => {
    expect(() => new HotHistogram(new Registry(), 'y', 'h', [], [1, 1])).toThrow(/increase/);
  });

  it('with exemplars, puts each on the bucket its value fell in, for OpenMetrics only', async () => {
    const registry = new Registry();
    const h = new HotHistogram(registry, 'x_seconds', 'A test histogram.', ['node'], [0.1, 1], true);
    const a = h.cell({ node: 'a' });
    const slot = a.observe(0.5);
    expect(slot).toBe(1);
    a.exemplars![slot].set('call_id="c1"', 0.5, 1_795_600_000_123, 0);
    a.exemplars![a.observe(5)].set('call_id="c2"', 5, 1_795_600_001_000, 0);
    const om = await openMetrics(registry);
    expect(om).toBe(
      [
        '# HELP x_seconds A test histogram.',
        '# TYPE x_seconds histogram',
        '# UNIT x_seconds seconds',
        'x_seconds_bucket{node="a",le="0.1"} 0',
        'x_seconds_bucket{node="a",le="1"} 1 # {call_id="c1"} 0.5 1795600000.123',
        'x_seconds_bucket{node="a",le="+Inf"} 2 # {call_id="c2"} 5 1795600001.000',
        'x_seconds_sum{node="a"} 5.5',
        'x_seconds_count{node="a"} 2',
        '# EOF',
        '',
      ].join('\n'),
    );
    expect(await registry.metrics()).not.toContain('call_id');
    // A reset forgets the exemplars with the counts.
    registry.resetMetrics();
    expect(await openMetrics(registry)).not.toContain('call_id');
  });

  it('without exemplars, keeps none', () => {
    const h = new HotHistogram(new Registry(), 'z_seconds', 'h', [], [1]);
    expect(h.cell({}).exemplars).toBeNull();
  });
});
