import type { Config } from '../../config/schema.js';
import { DedupeWindow, type SharedDedupe } from '../../count/dedupe.js';
import { NodeLabels } from '../../count/nodes.js';
import { SharedSeriesCap } from '../../metrics/shared-series.js';
import { monotonicBase } from './clock.js';
import { createKpiRing, type KpiRingMemory } from './kpi-ring.js';

/** The capped families whose cap the ingest threads share, by name. */
export const SHARED_CAP_FAMILIES = [
  'sip_responses_total',
  'sip_requests_total',
  'sip_peer_responses_total',
  'sip_peer_requests_total',
  'sip_peer_retransmissions_total',
] as const;

/** KPI messages a worker may have written and the engine not yet read. */
const KPI_RING_RECORDS = 1 << 15;

/**
 * Everything the ingest threads share, as SharedArrayBuffers that go to each worker in its
 * workerData: the dedupe tables (main and per-peer), the node table, the series caps, and one
 * KPI ring per worker. Every thread passes its times on the main thread's performance.now()
 * clock, so that one table can compare them.
 */
export interface SharedIngestState {
  /** the main thread's performance.timeOrigin: wall time at 0 on its clock */
  readonly origin: number;
  /** the main thread's clock on the monotonic clock all threads share (clock.ts) */
  readonly mainBase: number;
  readonly dedupe: SharedDedupe | null;
  readonly peerDedupe: SharedDedupe | null;
  readonly nodes: SharedArrayBuffer;
  readonly seriesCaps: Readonly<Record<string, SharedArrayBuffer>>;
  readonly maxSeries: number;
  /** by worker, then one for the main thread (HEP over TCP); empty with the call KPIs off */
  readonly kpiRings: readonly KpiRingMemory[];
  /** bumped by a worker that wrote KPI records, waited on by the engine's thread */
  readonly kpiSignal: SharedArrayBuffer;
  /** by worker: its socket's read progress (4 int64, udp-batch.ts UdpBatchOptions.progress) */
  readonly progress: readonly SharedArrayBuffer[];
}

/** Word of a worker's progress: datagrams it has handled, for the landing page. */
export const PROGRESS_PACKETS = 2;
/** Word of a worker's progress: the read time of its last handled batch that emptied the socket. */
export const PROGRESS_DRAINED_AT = 3;

export function createSharedState(config: Config, workers: number): SharedIngestState {
  const now = performance.now();
  const window = config.dedupe.window;
  const entries = config.dedupe.max_entries;
  const seriesCaps: Record<string, SharedArrayBuffer> = {};
  for (const family of SHARED_CAP_FAMILIES)
    seriesCaps[family] = SharedSeriesCap.share(config.metrics.max_series);
  return {
    origin: performance.timeOrigin,
    mainBase: monotonicBase(),
    dedupe: window > 0 ? DedupeWindow.share(entries, now) : null,
    // Allocated up front (its table is built on first use of peers on one thread, but a reload
    // can switch peers on later, and the workers cannot be handed new memory then).
    peerDedupe: window > 0 ? DedupeWindow.share(entries, now) : null,
    nodes: NodeLabels.share(config.nodes.limit),
    seriesCaps,
    maxSeries: config.metrics.max_series,
    kpiRings: config.kpi.enabled
      ? Array.from({ length: workers + 1 }, () => createKpiRing(KPI_RING_RECORDS))
      : [],
    kpiSignal: new SharedArrayBuffer(16),
    progress: Array.from({ length: workers }, () => new SharedArrayBuffer(4 * 8)),
  };
}

/** The process-wide cap of a family, for SipCounterOptions.admitSeries and PeerCounterOptions. */
export function seriesAdmission(
  state: SharedIngestState,
): (family: string) => ((labels: Readonly<Record<string, string>>) => boolean) | undefined {
  const caps = new Map<string, SharedSeriesCap>();
  return (family) => {
    const buffer = state.seriesCaps[family];
    if (buffer === undefined) return undefined;
    let cap = caps.get(family);
    if (cap === undefined) {
      cap = new SharedSeriesCap(buffer, state.maxSeries);
      caps.set(family, cap);
    }
    const shared = cap;
    return (labels) => shared.admit(labels);
  };
}
