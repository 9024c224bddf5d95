import { Counter, type Registry } from 'prom-client';

/** A counter series the hot path bumps with a plain `value++`. */
export interface CounterCell {
  value: number;
}

/**
 * A Prometheus counter whose series are plain number cells, copied into prom-client only when
 * scraped. prom-client hashes the label object on every `inc`, which costs more than all the
 * parsing of a packet; here a series is resolved once, kept by the caller, and bumped for free.
 */
export class HotCounter<L extends string> {
  private readonly series: Array<{ labels: Record<L, string>; cell: CounterCell }> = [];

  constructor(registry: Registry, name: string, help: string, labelNames: readonly L[]) {
    const series = this.series;
    new Counter<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (let i = 0; i < series.length; i++) {
          // prom-client's own types want a mutable label object; ours is never changed after creation.
          this.inc(series[i].labels as never, series[i].cell.value);
        }
      },
    });
  }

  /** Creates the series for `labels`. Call once per label set and keep the cell. */
  cell(labels: Record<L, string>): CounterCell {
    const cell: CounterCell = { value: 0 };
    this.series.push({ labels, cell });
    return cell;
  }

  /** Sum over all series, for tests and health checks. */
  total(): number {
    let sum = 0;
    for (const s of this.series) sum += s.cell.value;
    return sum;
  }

  get seriesCount(): number {
    return this.series.length;
  }
}
