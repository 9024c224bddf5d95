import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { SipCounter } from '../count/sip-counter.js';
import type { ArrivalClock } from '../metrics/arrivals.js';
import type { ListenerName, SelfMetrics, Transport } from '../metrics/self-metrics.js';
import type { IngestWorkers } from './workers/pool.js';

/** What a source is built from besides the configuration: where it counts and what it reports to. */
export interface SourceDeps {
  counter: SipCounter;
  /** the self-metric families a source resolves its cells from, once, when it is built */
  self: SelfMetrics;
  /** when packets last arrived, per listener and transport, for the landing page */
  arrivals: ArrivalClock;
  /** read UDP in batches through the native addon when it loads (ingest.udp_batch) */
  udpBatch: boolean;
  /** the threads that read HEP over UDP when --ingest.workers is above 1; null: this thread */
  workers?: IngestWorkers | null;
}

/** One row of the landing page's listener table. */
export interface SourceEndpoint {
  name: string;
  transports: string;
  address: string;
  activity?: Array<{ transport: string; packets: number; lastPacketAt: number | null }>;
}

/**
 * Where SIP messages come from: HEP capture, syslog lines, and whatever comes next. The exporter
 * knows sources only through this, so a new one needs its folder and one entry in SOURCES.
 */
export interface Source {
  /** the listener label its self-metrics carry */
  readonly name: string;
  /**
   * Binds its sockets (or opens its input). A bind failure is a ListenError that names the
   * address and the flag that moves it. `logger` holds "listening" lines until every source is up.
   */
  start(logger: Logger): Promise<void>;
  /** Stops taking input, lets what was read be counted, and releases what it holds. */
  stop(): Promise<void>;
  /** true when every part of it that is configured is bound (a source with nothing on is ready) */
  readonly ready: boolean;
  /** its rows on the landing page; none when it is off */
  endpoints(): SourceEndpoint[];
  /** Packets received per transport since start, for the line logged when the process stops. */
  packetsReceived(): Record<string, number>;
  /** Applies its live keys (those listed in its SOURCES entry) from a reloaded configuration. */
  reload?(next: Config): void;
}

/** One entry of SOURCES: how to build a source, and which of its keys apply on SIGHUP. */
export interface SourceEntry<S extends Source = Source> {
  readonly key: string;
  /** config keys (`section.key`) its reload() applies while running */
  readonly liveKeys: readonly string[];
  build(config: Config, deps: SourceDeps): S;
}

/** The landing page's activity for some of a listener's transports. */
export function activity(
  arrivals: ArrivalClock,
  listener: ListenerName,
  transports: readonly Transport[],
): NonNullable<SourceEndpoint['activity']> {
  return transports.map((transport) => ({ transport, ...arrivals.arrival(listener, transport) }));
}
