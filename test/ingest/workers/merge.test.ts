import { Counter, Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { mergeMetrics, renderMetrics } from '../../../src/ingest/workers/merge.js';

function registry(values: Record<string, number>, gauge: number, series: number): Registry {
  const r = new Registry();
  const counter = new Counter({
    name: 'sip_responses_total',
    help: 'h',
    labelNames: ['code'],
    registers: [r],
  });
  for (const [code, n] of Object.entries(values)) counter.inc({ code }, n);
  new Gauge({ name: 'sip_exporter_nodes', help: 'h', registers: [r] }).set(gauge);
  new Gauge({ name: 'sip_exporter_series', help: 'h', labelNames: ['metric'], registers: [r] }).set(
    { metric: 'sip_responses_total' },
    series,
  );
  return r;
}

describe('merging the workers into one exposition', () => {
  it('adds counters series by series, keeps the main gauges, and recounts series', async () => {
    const main = registry({ '200': 1 }, 3, 1);
    const one = registry({ '200': 5, '486': 2 }, 1, 2);
    const two = registry({ '503': 4, '486': 1 }, 2, 2);
    const merged = mergeMetrics(await main.getMetricsAsJSON(), [
      await one.getMetricsAsJSON(),
      await two.getMetricsAsJSON(),
    ]);
    const text = await renderMetrics(merged);
    const alone = registry({ '200': 6, '486': 3, '503': 4 }, 3, 3);
    expect(text).toBe(await alone.metrics());
  });
});
