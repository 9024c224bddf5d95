import type { Metric, MetricValueWithName, Registry } from 'prom-client';
import { EXEMPLAR, ExemplarSlot } from './exemplar.js';

/**
 * One series of a histogram: per-bucket counts (not cumulative, so an observation touches one
 * slot), their sum and count. Resolved once per label set by its owner, observed for free.
 */
export class HistogramCell {
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot is above every bound */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  /**
   * exemplars[i]: the latest exemplar of an observation in slot i (its own bucket, so the value
   * lies in that bucket's range, as OpenMetrics wants); null when the family has none.
   */
  readonly exemplars: ExemplarSlot[] | null;

  constructor(
    private readonly bounds: Float64Array,
    exemplars = false,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
    this.exemplars = exemplars ? Array.from({ length: bounds.length + 1 }, () => new ExemplarSlot()) : null;
  }

  /**
   * Returns the slot the value landed in, for an exemplar. A NaN lands in +Inf and makes the
   * sum NaN, as a Prometheus client would; callers pass none.
   */
  observe(value: number): number {
    const bounds = this.bounds;
    let i = 0;
    // At most a dozen bounds: a linear walk beats a binary search and needs no branch tuning.
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
    return i;
  }
}

/**
 * A Prometheus histogram whose series are HistogramCells, copied out only when scraped, as
 * HotCounter does for counters: prom-client's Histogram hashes the label object on every
 * observe, which costs more than the measurement. Exported as a classic histogram (`_bucket`
 * with `le`, cumulative, `+Inf` last; `_sum`; `_count`).
 */
export class HotHistogram<L extends string> {
  private readonly series: Array<{ labels: Record<L, string>; cell: HistogramCell }> = [];
  private readonly bounds: Float64Array;

  constructor(
    registry: Registry,
    readonly name: string,
    help: string,
    labelNames: readonly L[],
    buckets: readonly number[],
    /** keep an exemplar per bucket (HistogramCell.exemplars), for the OpenMetrics exposition */
    private readonly exemplars = false,
  ) {
    for (let i = 1; i < buckets.length; i++)
      if (!(buckets[i] > buckets[i - 1])) throw new RangeError(`${name}: buckets must increase`);
    this.bounds = Float64Array.from(buckets);
    const series = this.series;
    const bounds = this.bounds;
    const le = [...buckets.map((b) => String(b)), '+Inf'];
    const metric = {
      name,
      help,
      type: 'histogram',
      labelNames,
      aggregator: 'sum',
      get: async () => {
        const values: MetricValueWithName<string>[] = [];
        for (const s of series) {
          let cumulative = 0;
          const exemplars = s.cell.exemplars;
          for (let i = 0; i <= bounds.length; i++) {
            cumulative += s.cell.counts[i];
            const bucket: MetricValueWithName<string> & { [EXEMPLAR]?: string } = {
              metricName: `${name}_bucket`,
              labels: { ...s.labels, le: le[i] },
              value: cumulative,
            };
            // Read by the OpenMetrics formatter only; prom-client's text format never sees it.
            if (exemplars !== null && exemplars[i].text !== '') bucket[EXEMPLAR] = exemplars[i].text;
            values.push(bucket);
          }
          values.push({ metricName: `${name}_sum`, labels: s.labels, value: s.cell.sum });
          values.push({ metricName: `${name}_count`, labels: s.labels, value: s.cell.count });
        }
        return { name, help, type: 'histogram', values, aggregator: 'sum' };
      },
      reset: () => {
        for (const s of series) {
          s.cell.counts.fill(0);
          s.cell.sum = 0;
          s.cell.count = 0;
          if (s.cell.exemplars !== null) for (const e of s.cell.exemplars) e.clear();
        }
      },
    };
    registry.registerMetric(metric as unknown as Metric);
  }

  /** A new series; call once per label set and keep the cell. */
  cell(labels: Record<L, string>): HistogramCell {
    const cell = new HistogramCell(this.bounds, this.exemplars);
    this.series.push({ labels, cell });
    return cell;
  }

  get seriesCount(): number {
    return this.series.length;
  }

  /** Every series so far, in creation order (append-only): a replay samples them between messages. */
  get allSeries(): readonly { readonly labels: Readonly<Record<L, string>>; readonly cell: HistogramCell }[] {
    return this.series;
  }

  /** The upper bounds of the buckets, +Inf not included. */
  get buckets(): readonly number[] {
    return Array.from(this.bounds);
  }
}
