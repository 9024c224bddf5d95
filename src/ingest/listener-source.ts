import type { Logger } from 'pino';
import type { CounterCell } from '../metrics/hot-counter.js';
import type { Transport } from '../metrics/self-metrics.js';
import type { Source, SourceDeps, SourceEndpoint } from './source.js';

/** What a listener-backed source needs of its ingest: the per-transport packet cells. */
interface CountedIngest {
  readonly stats: { readonly packets: Record<Transport, CounterCell> };
}

interface StoppableListener {
  readonly ready: boolean;
  stop(): Promise<void>;
}

/**
 * What the sources that read sockets into an ingest share: the landing page watches the packet
 * cells of their transports from the start, they are ready when their listener (if any) is bound,
 * and stopping stops the listener. The ingest exists even when no listener is configured, so the
 * exposition has the same families whatever is enabled.
 */
export abstract class ListenerSource<I extends CountedIngest, L extends StoppableListener> implements Source {
  /** null until started, and when none of its listen addresses is set */
  listener: L | null = null;

  constructor(
    readonly name: string,
    readonly ingest: I,
    private readonly transports: readonly Transport[],
    protected readonly deps: SourceDeps,
  ) {
    for (const transport of transports) deps.arrivals.watch(name, transport, ingest.stats.packets[transport]);
  }

  get ready(): boolean {
    return this.listener === null || this.listener.ready;
  }

  abstract start(logger: Logger): Promise<void>;

  async stop(): Promise<void> {
    if (this.listener !== null) await this.listener.stop();
  }

  abstract endpoints(): SourceEndpoint[];

  packetsReceived(): Record<string, number> {
    const received: Record<string, number> = {};
    for (const transport of this.transports) received[transport] = this.ingest.stats.packets[transport].value;
    return received;
  }
}
