import { availableParallelism } from 'node:os';

/** Most ingest threads --ingest.workers accepts. */
export const MAX_INGEST_WORKERS = 64;
/** Most the default picks: past this the shared tables' cache lines, not the CPUs, set the pace. */
export const DEFAULT_INGEST_WORKERS_CAP = 8;

/**
 * The default of --ingest.workers: the CPUs this process may run on (its affinity mask and
 * cgroup CPU limit as libuv sees them), at most DEFAULT_INGEST_WORKERS_CAP; 1 on a one-CPU box,
 * where the main thread reads the sockets alone as it always has.
 */
export function defaultIngestWorkers(): number {
  return Math.max(1, Math.min(availableParallelism(), DEFAULT_INGEST_WORKERS_CAP));
}
