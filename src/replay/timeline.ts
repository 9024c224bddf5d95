import { CODE, SreError } from '../errors.js';
import type { GaugeCells } from '../metrics/gauge-cells.js';
import type { HotCounter } from '../metrics/hot-counter.js';
import type { HotHistogram } from '../metrics/hot-histogram.js';

/** Most steps an OpenMetrics replay writes; past it the run stops with SRE_ERR_REPLAY_TOO_MANY_STEPS. */
export const MAX_STEPS = 100_000;
/**
 * Most samples (values of every series times steps) it writes, about 2 GB of text; past it
 * likewise. It bounds the memory of the kept changes too, which are never more than the samples.
 */
export const MAX_SAMPLES = 20_000_000;

/**
 * A family the timeline samples, read synchronously between two messages: its series are
 * append-only, and each is `width` numbers (1 for a counter or a gauge; for a histogram the
 * cumulative buckets, +Inf last, then count and sum).
 */
export interface SampledFamily {
  /** the family's name as /metrics shows it (a counter's with `_total`) */
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly width: number;
  /** a histogram's bucket bounds (+Inf not included); empty otherwise */
  readonly buckets: readonly number[];
  /** series so far */
  size(): number;
  labels(series: number): Readonly<Record<string, string>>;
  /** writes the series' `width` values into `out` from `at` */
  read(series: number, out: number[] | Float64Array, at: number): void;
}

/** What a counter and a gauge family share: series of one value each. */
interface ScalarCells {
  readonly allSeries: readonly {
    readonly labels: Readonly<Record<string, string>>;
    readonly cell: { readonly value: number };
  }[];
}

function scalarFamily(name: string, type: 'counter' | 'gauge', family: ScalarCells): SampledFamily {
  return {
    name,
    type,
    width: 1,
    buckets: [],
    size: () => family.allSeries.length,
    labels: (i) => family.allSeries[i].labels,
    read: (i, out, at) => {
      out[at] = family.allSeries[i].cell.value;
    },
  };
}

export function counterFamily(family: HotCounter<string>): SampledFamily {
  return scalarFamily(family.name, 'counter', family);
}

export function gaugeFamily(name: string, family: GaugeCells<string>): SampledFamily {
  return scalarFamily(name, 'gauge', family);
}

export function histogramFamily(family: HotHistogram<string>): SampledFamily {
  const buckets = family.buckets;
  return {
    name: family.name,
    type: 'histogram',
    width: buckets.length + 3,
    buckets,
    size: () => family.allSeries.length,
    labels: (i) => family.allSeries[i].labels,
    read: (i, out, at) => {
      const cell = family.allSeries[i].cell;
      let cumulative = 0;
      for (let b = 0; b <= buckets.length; b++) {
        cumulative += cell.counts[b];
        out[at + b] = cumulative;
      }
      out[at + buckets.length + 1] = cell.count;
      out[at + buckets.length + 2] = cell.sum;
    },
  };
}

/** One series' values: the steps where it changed, and its `width` values from that step on. */
interface SeriesHistory {
  steps: number[];
  values: number[];
}

/**
 * Samples families every `stepMs` of capture time, for the OpenMetrics output. Step k is at
 * `origin + k * stepMs` and holds what was counted from messages captured before it, so the
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
  private readonly families: Array<{ family: SampledFamily; history: SeriesHistory[] }>;
  private readonly scratch: number[] = [];
  /**
   * Called with the last ms of each step before it is sampled, in order: lets a clock-driven
   * measurement (the KPI timeouts) catch up to that time; returns whether it changed anything.
   */
  beforeStep: ((ms: number) => boolean) | null = null;

  constructor(
    readonly stepMs: number,
    families: readonly SampledFamily[],
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
    const catchUp = this.beforeStep;
    if (catchUp === null) {
      // Nothing was counted between the last settled step and `step`: they all read the same.
      this.record(this.step + 1);
    } else {
      // No message either, but timeouts may fall in between: each step is sampled after its
      // time has passed, and only where something changed (history keeps changes only).
      for (let s = this.step + 1; s <= step; s++) {
        const changed = catchUp(this.origin + s * this.stepMs - 1);
        if (s === this.step + 1 || changed) this.record(s);
      }
    }
    this.step = step;
  }

  /** Settles the step after the last message, so the last counts are in a sample; returns the steps. */
  finish(): number {
    if (Number.isNaN(this.origin)) return 0;
    this.tooMany(this.step + 1);
    this.record(this.step + 1);
    return this.step + 2;
  }

  /**
   * Each family's series with its values at every step (0 before it appeared): `values` holds
   * `width` numbers per step, step after step.
   */
  *samples(steps: number): Generator<{
    family: SampledFamily;
    series: Array<{ labels: Record<string, string>; values: Float64Array }>;
  }> {
    for (const { family, history } of this.families) {
      const width = family.width;
      const series = [];
      for (let i = 0; i < history.length; i++) {
        const h = history[i];
        const values = new Float64Array(steps * width);
        let at = 0;
        let from = -1;
        for (let step = 0; step < steps; step++) {
          while (at < h.steps.length && h.steps[at] <= step) from = at++;
          if (from >= 0)
            for (let w = 0; w < width; w++) values[step * width + w] = h.values[from * width + w];
        }
        series.push({ labels: family.labels(i) as Record<string, string>, values });
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
    let values = 0;
    for (const { family } of this.families) values += family.size() * family.width;
    if (values * (step + 1) > this.maxSamples) {
      throw new SreError(
        CODE.SRE_ERR_REPLAY_TOO_MANY_STEPS,
        `${values} series values over ${step + 1} steps of ${this.stepMs} ms is more than ${this.maxSamples} samples; choose a larger --replay.step or cut the capture with editcap -A/-B`,
      );
    }
    const now = this.scratch;
    for (const { family, history } of this.families) {
      const width = family.width;
      const size = family.size();
      for (let i = 0; i < size; i++) {
        let h = history[i];
        if (h === undefined) {
          h = { steps: [], values: [] };
          history[i] = h;
        }
        family.read(i, now, 0);
        const last = h.steps.length - 1;
        let changed = false;
        for (let w = 0; w < width && !changed; w++)
          changed = now[w] !== (last < 0 ? 0 : h.values[last * width + w]);
        if (changed) {
          h.steps.push(step);
          for (let w = 0; w < width; w++) h.values.push(now[w]);
        }
      }
    }
  }
}
