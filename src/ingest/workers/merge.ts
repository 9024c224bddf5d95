import { type Metric, Registry } from 'prom-client';
import type { Metrics } from './protocol.js';

type Value = Metrics[number]['values'][number];

/** Gauges whose value is a count of another family's series, recomputed after the sum. */
const SERIES_GAUGE = 'sip_exporter_series';

function seriesKey(value: Value): string {
  const labels = value.labels as Record<string, string | number>;
  const keys = Object.keys(labels).sort();
  let key = (value as { metricName?: string }).metricName ?? '';
  for (const k of keys) key += `\u0000${k}\u0000${labels[k]}`;
  return key;
}

/**
 * One exposition from the main thread's metrics and each worker's: counters and histograms add
 * up series by series (a label set only a worker has is added, in the order first seen), so the
 * result is what one thread counting everything would show. Gauges are the main thread's: it
 * reads the shared tables (nodes, dedupe entries) and owns the listeners, node senders and
 * reload state. `sip_exporter_series` is recounted from the summed families, since a series two
 * workers both have is one series.
 */
export function mergeMetrics(main: Metrics, workers: readonly Metrics[]): Metrics {
  const byName = new Map<string, Metrics[number][]>();
  for (const metrics of workers)
    for (const metric of metrics) {
      const list = byName.get(metric.name);
      if (list === undefined) byName.set(metric.name, [metric]);
      else list.push(metric);
    }
  const merged: Metrics = main.map((metric) => {
    const others = byName.get(metric.name);
    const type = String(metric.type);
    if (type !== 'counter' && type !== 'histogram') return metric;
    if (others === undefined) return metric;
    const values: Value[] = [];
    const index = new Map<string, number>();
    for (const source of [metric, ...others])
      for (const value of source.values) {
        const key = seriesKey(value);
        const at = index.get(key);
        if (at === undefined) {
          index.set(key, values.length);
          values.push({ ...value });
        } else values[at] = { ...values[at], value: values[at].value + value.value };
      }
    return { ...metric, values };
  });
  const series = merged.find((metric) => metric.name === SERIES_GAUGE);
  if (series !== undefined) {
    const counts = new Map(merged.map((metric) => [metric.name, metric.values.length]));
    series.values = series.values.map((value) => {
      const family = String((value.labels as Record<string, string>).metric);
      return { ...value, value: counts.get(family) ?? value.value };
    });
  }
  return merged;
}

/** The text exposition of merged metrics, formatted by prom-client as the registry would. */
export async function renderMetrics(metrics: Metrics): Promise<string> {
  const registry = new Registry();
  for (const metric of metrics) {
    registry.registerMetric({
      name: metric.name,
      help: metric.help,
      type: metric.type,
      aggregator: metric.aggregator,
      get: async () => metric,
      reset: () => {},
    } as unknown as Metric);
  }
  return registry.metrics();
}
