import { availableParallelism } from 'node:os';

/** Most ingest threads --ingest.workers accepts. */
export const MAX_INGEST_WORKERS = 64;
/** Most the default picks: past this the shared tables' cache lines, not the CPUs, set the pace. */
export const DEFAULT_INGEST_WORKERS_CAP = 8;

/**
 * The default of --ingest.workers: one fewer than the CPUs this process may run on (its affinity
 * mask and cgroup CPU limit as libuv sees them), at most DEFAULT_INGEST_WORKERS_CAP. The CPU left
 * over is the main thread's, which runs the call-state engine for every worker, the scrapes, HEP
 * over TCP and syslog; measured on 2 CPUs, a second worker competing with it (and with the
 * sender) counted less, not more (README, Performance). 1, below 3 CPUs, is the main thread
 * reading the sockets alone as it always has.
 */
export function defaultIngestWorkers(): number {
  return Math.max(1, Math.min(availableParallelism() - 1, DEFAULT_INGEST_WORKERS_CAP));
}
