import type { Registry } from 'prom-client';
import { registerCellFamily } from './cell-family.js';

/** A gauge series its owner sets with a plain assignment; exported when scraped. */
export interface GaugeCell {
  value: number;
}

/**
 * A Prometheus gauge whose series are cells handed to the components that own the numbers, as
 * the hot counters are: the family knows none of its owners, and a series exists from the moment
 * its owner asks for it. Series are exported in the order they were asked for.
 */
export class GaugeCells<L extends string> {
  private readonly series: Array<{ labels: Record<L, string>; cell: GaugeCell }> = [];

  constructor(registry: Registry, name: string, help: string, labelNames: readonly L[]) {
    registerCellFamily('gauge', registry, name, help, labelNames, this.series);
  }

  /** A new series, starting at `value`; asking again for the same labels gives the same cell. */
  cell(labels: Record<L, string>, value = 0): GaugeCell {
    for (const s of this.series) {
      if (sameLabels(s.labels, labels)) return s.cell;
    }
    const cell = { value };
    this.series.push({ labels: { ...labels }, cell });
    return cell;
  }

  /** Every series so far, in creation order (append-only): a replay samples them between messages. */
  get allSeries(): readonly { readonly labels: Readonly<Record<L, string>>; readonly cell: GaugeCell }[] {
    return this.series;
  }
}

function sameLabels<L extends string>(a: Record<L, string>, b: Record<L, string>): boolean {
  for (const key in a) if (a[key] !== b[key]) return false;
  return true;
}
