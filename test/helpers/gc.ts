import { PerformanceObserver } from 'node:perf_hooks';
import { expect } from 'vitest';

/**
 * Scavenges during a loop, counted while it runs. The test process itself (the runner's own
 * messages and timers) collects now and then, so a loop under test is compared with
 * {@link boxingScavenges}, a loop that boxes one number per step (a 16-byte heap number).
 */
export async function scavenges(loop: () => number): Promise<number> {
  let collections = 0;
  const observer = new PerformanceObserver((list) => {
    collections += list.getEntries().length;
  });
  observer.observe({ entryTypes: ['gc'] });
  const result = loop();
  await new Promise((resolve) => setTimeout(resolve, 20));
  observer.disconnect();
  expect(result).toBeGreaterThan(0);
  return collections;
}

/** Scavenges during a loop of `steps` steps that allocates 16 bytes per step. */
export function boxingScavenges(steps: number): Promise<number> {
  return scavenges(() => {
    // A string keeps the array's elements generic, so every double stored is boxed.
    const boxes: unknown[] = ['keep generic', 0];
    for (let i = 0; i < steps; i++) boxes[1] = i + 0.5;
    return boxes[1] as number;
  });
}

/**
 * Asserts that `loop`, run for `steps` steps, allocates far less than 4 bytes a step: a quarter of
 * what boxing one number per step (16 bytes) for as many steps costs. The boxing loop runs 4x as
 * long, so that its scavenge count is large enough to compare with whatever the young
 * generation's size is in this process.
 */
export async function expectAllocatesNothing(steps: number, loop: () => number): Promise<void> {
  const allocating = await boxingScavenges(4 * steps);
  const counted = await scavenges(loop);
  expect(allocating).toBeGreaterThanOrEqual(8);
  expect(counted).toBeLessThanOrEqual(Math.floor(allocating / 16));
}
