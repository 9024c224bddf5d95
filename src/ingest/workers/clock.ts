/**
 * Where this thread's performance.now() starts on the monotonic clock every thread shares, in
 * ms. Each thread's performance.now() counts from its own start; a worker adds the difference
 * between its base and the main thread's so that the shared tables compare times on one clock.
 * (performance.timeOrigin is a wall-clock reading, too coarse for copies microseconds apart.)
 */
export function monotonicBase(): number {
  return Number(process.hrtime.bigint()) / 1e6 - performance.now();
}
