import type { MetricValue, Registry } from 'prom-client';
import { registerCellFamily } from './cell-family.js';
import { EXEMPLAR, ExemplarSlot } from './exemplar.js';

/** A counter series the hot path bumps with a plain `value++`. */
export interface CounterCell {
  value: number;
}

/**
 * A bound on the series of one family. Past `maxSeries`, a new label set is not refused (its
 * messages must still be counted somewhere, or class ratios stop adding up) but folded into an
 * overflow series whose labels `overflowLabels` picks: it keeps the labels that must stay exact
 * and sets the others to a value no real series can carry. The overflow label sets must form a
 * small set of their own; they come on top of `maxSeries`.
 */
export interface SeriesCap<L extends string> {
  readonly maxSeries: number;
  readonly overflowLabels: (labels: Record<L, string>) => Record<L, string>;
  /**
   * Decides instead of this family's own count, when several threads count into copies of the
   * family and the cap is the process's (metrics/shared-series.ts): true for a regular series.
   */
  readonly admit?: (labels: Record<L, string>) => boolean;
}

/**
 * A Prometheus counter whose series are plain number cells, copied into prom-client only when
 * scraped. prom-client hashes the label object on every `inc`, which costs more than all the
 * parsing of a packet; here a series is resolved once, kept by the caller, and bumped for free.
 * The cap, when there is one, is checked only when a cell is resolved, never per increment.
 */
export class HotCounter<L extends string> {
  private readonly series: Array<{ labels: Record<L, string>; cell: CounterCell }> = [];
  private readonly overflowCells = new Map<string, CounterCell>();
  private regularSeries = 0;
  /** Exemplars by the series' label object, once exemplar() has been asked for one. */
  private exemplarSlots: Map<object, ExemplarSlot> | null = null;

  constructor(
    private readonly registry: Registry,
    readonly name: string,
    help: string,
    private readonly labelNames: readonly L[],
    private readonly cap?: SeriesCap<L>,
  ) {
    registerCellFamily('counter', registry, name, help, labelNames, this.series);
  }

  /**
   * The exemplar slot of the series `cell` counts into (an overflow series' is shared by what
   * folds into it), for the OpenMetrics exposition; the text format ignores it. Call once per
   * cell, where the cell is resolved, never per increment.
   */
  exemplar(cell: CounterCell): ExemplarSlot {
    // From the end: a cell is asked for right after it is made.
    const series = this.series.findLast((s) => s.cell === cell);
    if (series === undefined) throw new RangeError(`${this.name}: not a cell of this family`);
    let slots = this.exemplarSlots;
    if (slots === null) {
      slots = new Map();
      this.exemplarSlots = slots;
      this.tagExemplars(slots);
    }
    let slot = slots.get(series.labels);
    if (slot === undefined) {
      slot = new ExemplarSlot();
      slots.set(series.labels, slot);
    }
    return slot;
  }

  /**
   * Wraps the registered family's get() so that each sample carries its series' exemplar under
   * EXEMPLAR. prom-client keeps the label object a series was incremented with as the sample's
   * labels, so the lookup is by identity; the text format never reads the symbol.
   */
  private tagExemplars(slots: Map<object, ExemplarSlot>): void {
    type Family = { values: Array<MetricValue<string> & { [EXEMPLAR]?: string }> };
    const metric = this.registry.getSingleMetric(this.name) as unknown as { get(): Promise<Family> };
    const get = metric.get.bind(metric);
    metric.get = async () => {
      const family = await get();
      for (const v of family.values) {
        const text = slots.get(v.labels)?.text;
        if (text !== undefined && text !== '') v[EXEMPLAR] = text;
      }
      return family;
    };
  }

  /**
   * The series for `labels`: a new one, or the overflow series once the cap is reached. Call
   * once per label set and keep the cell; a second call for the same labels makes a duplicate.
   */
  cell(labels: Record<L, string>): CounterCell {
    const cap = this.cap;
    if (
      cap !== undefined &&
      (cap.admit !== undefined ? !cap.admit(labels) : this.regularSeries >= cap.maxSeries)
    )
      return this.overflowCell(labels, cap);
    this.regularSeries++;
    const cell: CounterCell = { value: 0 };
    this.series.push({ labels, cell });
    return cell;
  }

  private overflowCell(labels: Record<L, string>, cap: SeriesCap<L>): CounterCell {
    const folded = cap.overflowLabels(labels);
    const key = JSON.stringify(this.labelNames.map((name) => folded[name]));
    let cell = this.overflowCells.get(key);
    if (cell === undefined) {
      cell = { value: 0 };
      this.overflowCells.set(key, cell);
      this.series.push({ labels: folded, cell });
    }
    return cell;
  }

  /** Sum over all series, for tests and health checks. */
  total(): number {
    let sum = 0;
    for (const s of this.series) sum += s.cell.value;
    return sum;
  }

  /** Increments that went to overflow series because the cap was reached. */
  overflowed(): number {
    let sum = 0;
    for (const cell of this.overflowCells.values()) sum += cell.value;
    return sum;
  }

  /**
   * Every series so far, in creation order (append-only, overflow series included), for readers
   * that need the values synchronously between two increments: a replay's timed samples.
   */
  get allSeries(): readonly { readonly labels: Readonly<Record<L, string>>; readonly cell: CounterCell }[] {
    return this.series;
  }

  /** Series exported, overflow series included. */
  get seriesCount(): number {
    return this.series.length;
  }
}
