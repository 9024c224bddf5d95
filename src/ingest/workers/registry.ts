import { Registry } from 'prom-client';
import { mergeMetrics, renderMetrics } from './merge.js';
import type { Metrics } from './protocol.js';

/**
 * The exporter's registry. With ingest workers, a scrape asks each for its cells and shows the
 * sum (workers/merge.ts), refreshing first what the main thread reads from the shared tables;
 * without them it is prom-client's registry unchanged.
 */
export class IngestRegistry extends Registry {
  private workers: { snapshots(): Promise<Metrics[]>; beforeScrape(): void } | null = null;

  attachWorkers(workers: { snapshots(): Promise<Metrics[]>; beforeScrape(): void }): void {
    this.workers = workers;
  }

  override async metrics(): Promise<string> {
    const workers = this.workers;
    if (workers === null) return super.metrics();
    const others = await workers.snapshots();
    workers.beforeScrape();
    return renderMetrics(mergeMetrics(await super.getMetricsAsJSON(), others));
  }
}
