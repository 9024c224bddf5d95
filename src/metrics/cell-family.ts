import { Counter, Gauge, type Registry } from 'prom-client';

/** One series of a family whose value lives in a plain cell its owner writes. */
export interface CellSeries<L extends string> {
  readonly labels: Record<L, string>;
  readonly cell: { value: number };
}

/**
 * Registers a prom-client family that copies `series` (read live, so series added later are
 * exported too) into itself only when scraped, so that the owners of the numbers never pay for
 * prom-client's label hashing.
 */
export function registerCellFamily<L extends string>(
  type: 'counter' | 'gauge',
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  series: readonly CellSeries<L>[],
): void {
  const configuration = { name, help, labelNames, registers: [registry] };
  if (type === 'gauge') {
    new Gauge<L>({
      ...configuration,
      collect() {
        this.reset();
        for (const s of series) this.set(s.labels, s.cell.value);
      },
    });
    return;
  }
  new Counter<L>({
    ...configuration,
    collect() {
      this.reset();
      // prom-client's own types want a mutable label object; ours is never changed after creation.
      for (const s of series) this.inc(s.labels as never, s.cell.value);
    },
  });
}
