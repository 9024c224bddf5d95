import type { Config } from '../../config/schema.js';
import { udpBatchAvailability } from '../udp-batch.js';
import type { WorkerInit, WorkerLiveConfig } from './protocol.js';

/**
 * How many ingest workers to run for `config`: --ingest.workers when it is above 1 and HEP
 * listens and UDP is read in batches through the native addon; otherwise 0, and the main thread
 * reads UDP as it always has (Node's dgram has no SO_REUSEPORT, and a socket cannot move to a
 * worker thread, so without the addon there is one ingest thread).
 */
export function ingestWorkerCount(config: Config): number {
  const asked = config.ingest.workers;
  if (asked <= 1 || config.hep.listen_address === null || !config.ingest.udp_batch) return 0;
  // Forwarding runs on the thread that reads a packet, and only the main thread has the
  // forwarder (docs/forwarding.md): with targets, HEP is read by one thread.
  if (config.hep.forward_address.length > 0) return 0;
  return udpBatchAvailability().available ? asked : 0;
}

/** The keys a worker applies on SIGHUP, from a loaded configuration. */
export function workerLiveConfig(config: Config): WorkerLiveConfig {
  const selfAddresses: Record<string, WorkerLiveConfig['peers']['selfAddresses'][string]> = {};
  for (const [label, set] of Object.entries(config.nodes.self_addresses)) selfAddresses[label] = set.ranges;
  return {
    authKey: config.hep.auth_key,
    nodeNames: config.nodes.names,
    peers: { entries: config.peers.entries, selfAddresses },
  };
}

/** What every worker is started with besides its index, the shared memory and the socket. */
export function workerInit(config: Config): Omit<WorkerInit, 'index' | 'state' | 'socket'> {
  return {
    live: workerLiveConfig(config),
    maxInflatedSize: config.hep.max_inflated_size,
    dedupeWindow: config.dedupe.window,
    dedupeEntries: config.dedupe.max_entries,
    nodeLimit: config.nodes.limit,
    maxSeries: config.metrics.max_series,
  };
}
