import { CODE, SreError } from '../errors.js';
import type { HotCounter } from '../metrics/hot-counter.js';

/** Most steps an OpenMetrics replay writes; past it the run stops with SRE_ERR_REPLAY_TOO_MANY_STEPS. */
export const MAX_STEPS = 100_000;
/**
 * Most samples (series times steps) it writes, about 2 GB of text; past it likewise. It bounds the
 * memory of the kept changes too, which are never more than the samples.
 */
export const MAX_SAMPLES = 20_000_000;

/** One series' values: the steps where it changed, and its value from that step on. */
interface SeriesHistory {
  steps: number[];
  values: number[];
}

/** A family's series as the timeline saw them, for writing out. */
export interface TimelineFamily {
  readonly family: HotCounter<string>;
  readonly history: SeriesHistory[];
}

/**
 * Samples counter families every `stepMs` of capture time, for the OpenMetrics output. Step k is
 * at `origin + k * stepMs` and holds what was counted from messages captured before it, so the
 * counters are cumulative and monotonic, and a series that appears later reads 0 at the steps
 * before it (which lets `increase()` see its first messages after a backfill).
 *
 * Only changes are kept, so memory grows with the series and how often they change, not with
 * the steps: a quiet hour costs nothing. The steps are bounded (MAX_STEPS), since the output
 * has a line per series and step.
 */
export class Timeline {
  /** capture time of step 0, in ms; set by the first message */
  origin = Number.NaN;
  /** the last step whose values are settled (-1: none yet) */
  private step = -1;
  private readonly families: TimelineFamily[];

  constructor(
    readonly stepMs: number,
    families: readonly HotCounter<string>[],
    private readonly maxSteps = MAX_STEPS,
    private readonly maxSamples = MAX_SAMPLES,
  ) {
    this.families = families.map((family) => ({ family, history: [] }));
  }

  /**
   * Called before a message captured at `nowMs` is counted: settles the steps up to it. A message
   * earlier than the current step (captures merged out of order) counts into the current step.
   */
  advance(nowMs: number): void {
    if (Number.isNaN(this.origin)) {
      this.origin = Math.floor(nowMs / this.stepMs) * this.stepMs;
      this.record(0);
      this.step = 0;
      return;
    }
    const step = Math.floor((nowMs - this.origin) / this.stepMs);
    if (step <= this.step) return;
    this.tooMany(step);
    // Nothing was counted between the last settled step and `step`: they all read the same.
    this.record(this.step + 1);
    this.step = step;
  }

  /** Settles the step after the last message, so the last counts are in a sample; returns the steps. */
  finish(): number {
    if (Number.isNaN(this.origin)) return 0;
    this.tooMany(this.step + 1);
    this.record(this.step + 1);
    return this.step + 2;
  }

  /** Each family's series with its value at every step (0 before it appeared). */
  *samples(steps: number): Generator<{
    family: HotCounter<string>;
    series: Array<{ labels: Record<string, string>; values: Float64Array }>;
  }> {
    for (const { family, history } of this.families) {
      const all = family.allSeries;
      const series = [];
      for (let i = 0; i < history.length; i++) {
        const h = history[i];
        const values = new Float64Array(steps);
        let at = 0;
        let value = 0;
        for (let step = 0; step < steps; step++) {
          while (at < h.steps.length && h.steps[at] <= step) value = h.values[at++];
          values[step] = value;
        }
        series.push({ labels: all[i].labels as Record<string, string>, values });
      }
      yield { family, series };
    }
  }

  private tooMany(step: number): void {
    if (step + 1 > this.maxSteps) {
      throw new SreError(
        CODE.SRE_ERR_REPLAY_TOO_MANY_STEPS,
        `the capture spans more than ${this.maxSteps} steps of ${this.stepMs} ms; choose a larger --replay.step or cut the capture with editcap -A/-B`,
      );
    }
  }

  private record(step: number): void {
    let series = 0;
    for (const { family } of this.families) series += family.allSeries.length;
    if (series * (step + 1) > this.maxSamples) {
      throw new SreError(
        CODE.SRE_ERR_REPLAY_TOO_MANY_STEPS,
        `${series} series over ${step + 1} steps of ${this.stepMs} ms is more than ${this.maxSamples} samples; choose a larger --replay.step or cut the capture with editcap -A/-B`,
      );
    }
    for (const { family, history } of this.families) {
      const all = family.allSeries;
      for (let i = 0; i < all.length; i++) {
        let h = history[i];
        if (h === undefined) {
          h = { steps: [], values: [] };
          history[i] = h;
        }
        const value = all[i].cell.value;
        const last = h.values.length === 0 ? 0 : h.values[h.values.length - 1];
        if (value !== last) {
          h.steps.push(step);
          h.values.push(value);
        }
      }
    }
  }
}
